//! What the agent follows by polling, once a second from the event loop:
//!
//! - each interface's IPv6 `forwarding` sysctl, mirrored into
//!   `IFACE_FLAG_ROUTER` of its `CARP_IFACES` entry so the Neighbor
//!   Advertisements for its VIPs (the XDP program's solicited ones, the
//!   agent's unsolicited ones) carry the Router flag while it routes. Polled
//!   because the netlink crates the agent uses have no netconf messages
//!   (RTM_NEWNETCONF); one small /proc read per interface a second is cheap,
//!   and a change takes effect within that second.
//! - VRRP routers whose virtual router id is a local vhid, which the XDP
//!   program records in `CARP_VRRP` (one record per vhid, so one poll reads
//!   at most `MAX_VHIDS` of them). Each (interface, id, source) is warned
//!   about at most once a minute; the `vrrp_clash` counter counts every packet.
use std::{
    collections::{BTreeMap, HashMap},
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use carp_common::{IFACE_FLAG_ROUTER, IfaceEntry, VhidKey as MapKey, virtual_mac};
use tracing::{info, warn};

use super::Daemon;
use crate::{engine::State, net::sysctl};

/// How often the event loop calls [`Daemon::poll_watch`].
pub(super) const POLL_EVERY: Duration = Duration::from_secs(1);
/// At most one VRRP warning per (interface, id, source) in this time.
const VRRP_WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct Watch {
    /// Per ifindex: does the interface forward IPv6 (as last read)?
    router: BTreeMap<u32, bool>,
    /// Interfaces whose sysctl could not be read at the last try (warned once).
    unreadable: BTreeMap<u32, String>,
    /// The newest `CARP_VRRP` timestamp already handled, per key.
    vrrp_seen: HashMap<MapKey, u64>,
    /// When each (ifindex, vrid, source) was last warned about.
    vrrp_warned: HashMap<(u32, u8, Ipv4Addr), Instant>,
}

impl Watch {
    /// Reads the sysctl of a new interface; the map entry to write for it.
    pub(super) fn add_interface(&mut self, index: u32, name: &str, mac: [u8; 6]) -> IfaceEntry {
        let router = self.read_forwarding(index, name).unwrap_or(false);
        info!(
            "{name}: IPv6 forwarding {}",
            if router {
                "on: Neighbor Advertisements for its VIPs carry the Router flag"
            } else {
                "off"
            }
        );
        self.router.insert(index, router);
        iface_entry(mac, router)
    }

    /// Whether NAs sent on `ifindex` carry the Router flag.
    pub(super) fn router(&self, ifindex: u32) -> bool {
        self.router.get(&ifindex).copied().unwrap_or(false)
    }

    /// The sysctl's value, or `None` after warning (once per failure spell)
    /// that it cannot be read.
    fn read_forwarding(&mut self, index: u32, name: &str) -> Option<bool> {
        match sysctl::ipv6_forwarding(name) {
            Ok(value) => {
                if self.unreadable.remove(&index).is_some() {
                    info!("{name}: the IPv6 forwarding sysctl is readable again");
                }
                Some(value)
            }
            Err(err) => {
                let text = err.to_string();
                if self.unreadable.get(&index) != Some(&text) {
                    warn!("{name}: {text}; keeping the Router flag as it was");
                    self.unreadable.insert(index, text);
                }
                None
            }
        }
    }
}

fn iface_entry(mac: [u8; 6], router: bool) -> IfaceEntry {
    IfaceEntry::new(mac, if router { IFACE_FLAG_ROUTER } else { 0 })
}

impl Daemon {
    pub(super) fn poll_watch(&mut self) {
        self.poll_forwarding();
        self.poll_vrrp();
        // The summary of suppressed per-packet warnings, once their window
        // is over, even when no further packet comes.
        self.counters.flush_warnings();
    }

    fn poll_forwarding(&mut self) {
        let interfaces: Vec<(u32, String, [u8; 6])> = self
            .interfaces
            .values()
            .map(|i| (i.index, i.name.clone(), i.mac))
            .collect();
        for (index, name, mac) in interfaces {
            let Some(router) = self.watch.read_forwarding(index, &name) else {
                continue;
            };
            if self.watch.router(index) == router {
                continue;
            }
            self.watch.router.insert(index, router);
            info!(
                "{name}: IPv6 forwarding turned {}: Neighbor Advertisements for its VIPs {} \
                 the Router flag",
                if router { "on" } else { "off" },
                if router {
                    "now carry"
                } else {
                    "no longer carry"
                }
            );
            if let Err(err) = self.dataplane.set_iface(index, iface_entry(mac, router)) {
                warn!("{name}: updating the XDP interface entry: {err}");
            }
            // Hosts learn the change at once instead of at their next
            // solicitation (a host keeps a reachable entry for up to 30 s).
            let masters: Vec<_> = self
                .vhids
                .iter()
                .filter(|(_, rt)| rt.ifindex == index && rt.state == State::Master)
                .map(|(key, _)| *key)
                .collect();
            for key in masters {
                self.announce_only(key, IpAddr::is_ipv6);
            }
        }
    }

    fn poll_vrrp(&mut self) {
        let records = match self.dataplane.vrrp_seen() {
            Ok(records) => records,
            Err(err) => {
                warn!("reading VRRP records: {err}");
                return;
            }
        };
        let now = Instant::now();
        let watch = &mut self.watch;
        watch
            .vrrp_warned
            .retain(|_, last| now.duration_since(*last) < VRRP_WARN_EVERY);
        for (key, seen) in records {
            if watch.vrrp_seen.insert(key, seen.timestamp_ns) == Some(seen.timestamp_ns) {
                continue; // nothing heard since the last poll
            }
            let source = Ipv4Addr::from(seen.source);
            let triple = (key.ifindex, key.vhid, source);
            if watch.vrrp_warned.contains_key(&triple) {
                continue;
            }
            watch.vrrp_warned.insert(triple, now);
            let interface = self
                .interfaces
                .get(&key.ifindex)
                .map_or_else(|| format!("interface {}", key.ifindex), |i| i.name.clone());
            let mac = virtual_mac(key.vhid)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            warn!(
                "{interface}: VRRP router {source} (VRRPv{}) uses virtual router id {}, \
                 the id of our vhid {}: VRRP's virtual MAC for it is {mac}, the vhid's too, \
                 so switches send frames for either to whichever of the two sent last; give \
                 one of them another id (counter vrrp_clash; warned once a minute per router)",
                seen.version, key.vhid, key.vhid
            );
        }
    }
}
