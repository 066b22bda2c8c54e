//! Carrying out the engine's actions, in order. On a state change the XDP
//! map is updated before anything else, so the dataplane never answers ARP
//! for a VIP this host has just given up (nor stays silent for one it took).
use std::net::IpAddr;

use tracing::{info, warn};

use super::Daemon;
use crate::{
    engine::{Action, PeerAdvert, Reason, State, VhidKey, timing::BOW_OUT},
    hooks::Transition,
    proto::Advertisement,
};

impl Daemon {
    pub(super) async fn carry_out_actions(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::SendAdvert {
                    key,
                    advbase,
                    advskew,
                    demote,
                } => self.send_advert(key, advbase, advskew, demote),
                Action::StateChange {
                    key,
                    from,
                    to,
                    reason,
                } => self.change_state(key, from, to, &reason).await,
                Action::Reassert { key, peer } => self.reassert(key, &peer),
            }
        }
    }

    fn send_advert(&mut self, key: VhidKey, advbase: u8, advskew: u8, demote: u8) {
        let Some(rt) = self.vhids.get_mut(&key) else {
            return;
        };
        rt.counter = rt.counter.wrapping_add(1);
        let mut advert = Advertisement {
            vhid: key.vhid,
            advskew,
            advbase,
            demote,
            counter: rt.counter,
            md: [0; 20],
        };
        advert.sign(&rt.auth);
        let bytes = advert.encode();
        let Some(sender) = self.senders.get(&rt.ifindex) else {
            return;
        };
        let mut ok = true;
        for source in [rt.source_v4.map(IpAddr::V4), rt.source_v6.map(IpAddr::V6)]
            .into_iter()
            .flatten()
        {
            match sender.send_advert(rt.mac, source, &bytes) {
                Ok(()) if source.is_ipv4() => self.counters.opackets += 1,
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
        // A new master repeats its announcements after two more adverts.
        let repeat_now = rt.state == State::Master && rt.announce_repeat == 1;
        rt.announce_repeat = rt.announce_repeat.saturating_sub(1);
        let is_bow_out = advbase == BOW_OUT && advskew == BOW_OUT;
        if repeat_now && !is_bow_out {
            self.announce(key);
        }
        let now = self.now();
        let _ = self.engine.report_send(now, key, ok);
    }

    async fn change_state(&mut self, key: VhidKey, from: State, to: State, reason: &Reason) {
        let advskew = self
            .engine
            .status(key)
            .map(|s| s.advertised.advskew)
            .unwrap_or_default();
        let Some(rt) = self.vhids.get_mut(&key) else {
            return;
        };
        rt.state = to;
        if let Err(err) = self
            .dataplane
            .set_vhid(rt.map_key(), rt.map_entry(to, advskew))
        {
            // Never lose the VIP silently: say loudly that the dataplane is stale.
            warn!(
                "vhid {} on {}: updating the XDP map: {err}",
                key.vhid, rt.interface
            );
        }
        self.counters.transitions += 1;
        info!(
            "vhid {} on {}: {from} -> {to} ({reason})",
            key.vhid, rt.interface
        );
        let (ifindex, interface) = (rt.ifindex, rt.interface.clone());
        let vips = rt.settings.vips.clone();
        if to == State::Master {
            for vip in &vips {
                if let Err(err) = self
                    .netlink
                    .add_address(ifindex, vip.addr, vip.prefix)
                    .await
                {
                    warn!(
                        "vhid {} on {interface}: adding {}: {err}",
                        key.vhid, vip.addr
                    );
                }
            }
            self.announce_and_repeat(key);
        } else if from == State::Master {
            for vip in &vips {
                if let Err(err) = self
                    .netlink
                    .remove_address(ifindex, vip.addr, vip.prefix)
                    .await
                {
                    warn!(
                        "vhid {} on {interface}: removing {}: {err}",
                        key.vhid, vip.addr
                    );
                }
            }
        }
        let rt = &self.vhids[&key];
        self.hooks.transition(
            &rt.settings.hooks,
            Transition {
                interface,
                vhid: key.vhid,
                from,
                to,
                vips: rt.settings.vip_strings(),
            },
        );
    }

    /// Another master that should yield is advertising: our advert went out
    /// already; announce the VIPs again so neighbours it drew away come back.
    fn reassert(&mut self, key: VhidKey, peer: &PeerAdvert) {
        if let Some(rt) = self.vhids.get(&key) {
            info!(
                "vhid {} on {}: less preferred master {peer} heard; re-announcing the VIPs",
                key.vhid, rt.interface
            );
        }
        self.counters.reasserts += 1;
        self.announce_and_repeat(key);
    }

    /// Announces now and again after two more adverts (OpenBSD repeats a new
    /// master's ARP so): a neighbour that updated its entry from another
    /// master less than its locktime (1 s on Linux) ago ignores the first.
    fn announce_and_repeat(&mut self, key: VhidKey) {
        self.announce(key);
        if let Some(rt) = self.vhids.get_mut(&key) {
            // Counted down per advert sent; the announcement goes out at 1.
            rt.announce_repeat = 3;
        }
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
        let Some(sender) = self.senders.get(&rt.ifindex) else {
            return;
        };
        let router = self.watch.router(rt.ifindex);
        for vip in rt.settings.vips.iter().filter(|v| which(&v.addr)) {
            let result = match vip.addr {
                IpAddr::V4(a) => sender.send_gratuitous_arp(rt.mac, a),
                IpAddr::V6(a) => sender.send_unsolicited_na(rt.mac, a, router),
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
