//! Carrying out the node's outputs, in order. On a state change the XDP
//! map is updated before anything else, so the dataplane never answers ARP
//! for a VIP this host has just given up (nor stays silent for one it took).
use std::net::IpAddr;

use tracing::{info, warn};

use super::{Daemon, address_queue::Direction};
use crate::{
    engine::{PeerAdvert, Reason, State, VhidKey},
    hooks::Transition,
    node::{Frame, Output},
};

impl Daemon {
    pub(super) async fn carry_out_actions(&mut self) {
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Transmit { key, frames } => self.transmit(key, &frames),
                Output::StateChange {
                    key,
                    from,
                    to,
                    reason,
                    advskew,
                } => self.change_state(key, from, to, &reason, advskew),
                Output::Announce { key } => self.announce(key),
                Output::Reassert { key, peer } => self.reassert(key, &peer),
            }
        }
        // After every announcement and advert of this input: the VIPs'
        // netlink round trips delay none of them (address_queue.rs).
        self.apply_address_changes().await;
        self.notice_demotion();
    }

    /// Sends one advert's frames (one per address family) and tells the
    /// node how it went.
    fn transmit(&mut self, key: VhidKey, frames: &[Frame]) {
        let Some(rt) = self.vhids.get(&key) else {
            return;
        };
        let Some(sender) = self.senders.get(&rt.port.ifindex) else {
            return;
        };
        let mut ok = true;
        for frame in frames {
            // With peers of its family, the advert goes to each of them
            // instead of the group (config::peers, docs/unicast.md).
            // A vhid tagged on a trunk has no interface of its own to route
            // from: the configuration refuses peers there.
            let peers = match rt.address_ifindex() {
                Some(_) => &rt.settings.peers[..],
                None => &[],
            };
            let mut peers = crate::config::peers::of_family(peers, frame.source)
                .map(Some)
                .peekable();
            let multicast = peers.peek().is_none().then_some(None);
            for peer in peers.chain(multicast) {
                let sent = match peer {
                    None => sender.send_advert(rt.mac, frame.source, &frame.header, rt.port.vlan),
                    Some(peer) => {
                        self.unicast
                            .send_advert(rt.ifindex, frame.source, peer, &frame.header)
                    }
                };
                self.counters
                    .vhid(key)
                    .count_send(frame.source, sent.is_ok());
                match sent {
                    Ok(()) if frame.source.is_ipv4() => self.counters.opackets += 1,
                    Ok(()) => self.counters.opackets6 += 1,
                    Err(err) => {
                        ok = false;
                        self.counters.oerrors += 1;
                        warn!(
                            "vhid {} on {}: sending advert: {err}",
                            key.vhid, rt.interface
                        );
                    }
                }
            }
        }
        let now = self.now();
        if rt.state == State::Master {
            // The dead-man deadline moves with every advert (VhidEntry::master_until_ns).
            let until = now.mono.since_epoch() + rt.master_hold();
            let entry = rt.map_entry(State::Master, rt.advskew, until.as_nanos() as u64);
            if let Err(err) = self.dataplane.set_vhid(rt.map_key(), entry) {
                warn!(
                    "vhid {} on {}: updating the XDP map: {err}",
                    key.vhid, rt.interface
                );
            }
        }
        self.node.report_send(now, key, ok);
    }

    fn change_state(&mut self, key: VhidKey, from: State, to: State, reason: &Reason, advskew: u8) {
        let Some(rt) = self.vhids.get_mut(&key) else {
            return;
        };
        // Leaving MASTER before the pre-MASTER hooks ended: the VIPs were
        // never added (daemon::pre_master).
        let vips_held_back = to != State::Master && rt.pre_master.take().is_some();
        rt.advskew = advskew;
        if to != State::Master {
            rt.state = to;
            if let Err(err) = self
                .dataplane
                .set_vhid(rt.map_key(), rt.map_entry(to, advskew, 0))
            {
                // Never lose the VIP silently: say loudly that the dataplane is stale.
                warn!(
                    "vhid {} on {}: updating the XDP map: {err}",
                    key.vhid, rt.interface
                );
            }
        }
        self.counters.transitions += 1;
        self.counters.vhid(key).count_transition(to);
        // The fields go to the journal as VHID=, INTERFACE=, STATE=
        // (service::logging); stderr shows the message only.
        info!(
            vhid = key.vhid,
            interface = %rt.interface,
            state = %to,
            "vhid {} on {}: {from} -> {to} ({reason})",
            key.vhid,
            rt.interface
        );
        let transition = Transition {
            interface: rt.interface.clone(),
            vhid: key.vhid,
            from,
            to,
            reason: reason.token().to_string(),
            reason_text: reason.to_string(),
            vips: rt.settings.vip_strings(),
        };
        self.publish_transition(&transition);
        if to == State::Master {
            // An adopted MASTER never stopped answering (the previous
            // agent's dataplane did): its pre-master hooks ran then.
            let adopted = matches!(reason, Reason::Adopted);
            if !adopted && self.start_pre_master(key, transition.clone()) {
                return;
            }
            self.take_vips(key);
        } else if from == State::Master && !vips_held_back {
            self.queue_vips(key, Direction::Remove);
        }
        // Carrying on a previous agent's MASTER is no transition for the
        // host: its MASTER hooks ran under that agent.
        if *reason == Reason::Adopted {
            return;
        }
        let rt = &self.vhids[&key];
        self.hooks.transition(&rt.settings.hooks, transition);
    }

    /// Another master that should yield to us is advertising: our advert
    /// goes out at once and the node announces the VIPs again, so
    /// neighbours it drew away come back.
    fn reassert(&mut self, key: VhidKey, peer: &PeerAdvert) {
        if let Some(rt) = self.vhids.get(&key) {
            info!(
                "vhid {} on {}: less preferred master {peer} heard; re-announcing the VIPs",
                key.vhid, rt.interface
            );
        }
        self.counters.reasserts += 1;
    }

    /// Gratuitous ARP per IPv4 VIP and unsolicited NA per IPv6 VIP, from the
    /// vhid's MAC, so switches and neighbours learn where the VIP lives now.
    fn announce(&mut self, key: VhidKey) {
        self.announce_only(key, |_| true);
    }

    /// [`Self::announce`] for the VIPs `which` accepts. The NAs carry the
    /// Router flag while the interface forwards IPv6.
    pub(super) fn announce_only(&mut self, key: VhidKey, which: impl Fn(&IpAddr) -> bool) {
        let Some(rt) = self.vhids.get(&key) else {
            return;
        };
        // Nothing on this host answers for the VIPs yet.
        if self.waits_for_pre_master(key) {
            return;
        }
        let Some(sender) = self.senders.get(&rt.port.ifindex) else {
            return;
        };
        let router = self.watch.router(rt.ifindex);
        let vlan = rt.port.vlan;
        for vip in rt.settings.vips.iter().filter(|v| which(&v.addr)) {
            let result = match vip.addr {
                IpAddr::V4(a) => sender.send_gratuitous_arp(rt.mac, a, vlan),
                IpAddr::V6(a) => sender.send_unsolicited_na(rt.mac, a, router, vlan),
            };
            if let Err(err) = result {
                warn!(
                    "vhid {} on {}: announcing {}: {err}",
                    key.vhid, rt.interface, vip.addr
                );
            }
        }
    }
}
