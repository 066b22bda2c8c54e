//! What one scrape shows: a plain copy of the daemon's numbers, made by the
//! daemon's task when asked (`daemon::metrics`) and encoded by the HTTP
//! task, so the daemon never waits on a client and needs no lock.
use carp_common::Stats;

use crate::{control::VhidState, engine::State};

/// The agent's numbers at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The host demotion, every source summed (`net.inet.carp.demotion`).
    pub demotion: u32,
    /// The host demotion by source (`source`, value), when the agent keeps
    /// it per source; empty otherwise. Encoded as `carp_demotion_source`.
    pub demotion_sources: Vec<(String, u32)>,
    /// One entry per configured vhid, in the daemon's order.
    pub vhids: Vec<VhidSnapshot>,
    /// The agent's own counters by name ([`crate::daemon::AgentCounters::named`]).
    pub agent_counters: Vec<(&'static str, u64)>,
    /// The XDP program's counters summed over CPUs; `None` when the map
    /// could not be read (then `carp_xdp_counters_readable` is 0 and no
    /// `carp_xdp_*` counter is shown, rather than zeros that would read as
    /// "nothing counted").
    pub xdp: Option<Stats>,
}

/// One vhid's state, timing and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhidSnapshot {
    pub interface: String,
    pub vhid: u8,
    pub state: VhidState,
    pub advbase: u8,
    /// As configured.
    pub advskew: u8,
    /// As advertised, demotion included.
    pub advskew_effective: u8,
    pub counters: VhidCounters,
}

/// Counters the agent keeps per vhid (the XDP program's are per host: its
/// statistics map has a single slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhidCounters {
    /// Adverts sent over IPv4 / IPv6.
    pub sent_v4: u64,
    pub sent_v6: u64,
    /// Adverts the kernel refused to send.
    pub send_errors: u64,
    /// Adverts accepted from peers (HMAC and counter checks passed).
    pub received: u64,
    /// Adverts that reached the agent and failed its HMAC check.
    pub badauth: u64,
    /// Authenticated adverts refused as replays / for a missing carp-agent tag.
    pub replayed: u64,
    pub badtag: u64,
    /// Transitions, by the state entered: INIT, BACKUP, MASTER.
    pub entered: [u64; 3],
}

impl VhidCounters {
    /// One advert's frame from `source` went out (`ok`) or failed.
    pub fn count_send(&mut self, source: std::net::IpAddr, ok: bool) {
        match (ok, source.is_ipv4()) {
            (false, _) => self.send_errors += 1,
            (true, true) => self.sent_v4 += 1,
            (true, false) => self.sent_v6 += 1,
        }
    }

    /// The vhid entered `to`.
    pub fn count_transition(&mut self, to: State) {
        self.entered[state_index(to)] += 1;
    }

    /// Transitions into `state`.
    pub fn entered(&self, state: VhidState) -> u64 {
        self.entered[state_number(state) as usize]
    }
}

fn state_index(state: State) -> usize {
    state_number(state.into()) as usize
}

/// The value of `carp_vhid_state`: keepalived's numbering of VRRP states
/// (INIT 0, BACKUP 1, MASTER 2, FAULT 3), which the common keepalived
/// exporters publish as `keepalived_vrrp_state`, so dashboards and alerts
/// written for them read carp-agent's the same way. CARP has no FAULT state:
/// a vhid whose link is down is INIT, as on the BSDs, so 3 never appears.
pub const fn state_number(state: VhidState) -> i64 {
    match state {
        VhidState::Init => 0,
        VhidState::Backup => 1,
        VhidState::Master => 2,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn states_are_numbered_as_keepalived_numbers_them() {
        assert_eq!(state_number(VhidState::Init), 0);
        assert_eq!(state_number(VhidState::Backup), 1);
        assert_eq!(state_number(VhidState::Master), 2);
    }

    #[test]
    fn counters_count_by_family_and_by_state_entered() {
        let mut c = VhidCounters::default();
        c.count_send(IpAddr::V4(Ipv4Addr::LOCALHOST), true);
        c.count_send(IpAddr::V6(Ipv6Addr::LOCALHOST), true);
        c.count_send(IpAddr::V6(Ipv6Addr::LOCALHOST), true);
        c.count_send(IpAddr::V4(Ipv4Addr::LOCALHOST), false);
        assert_eq!((c.sent_v4, c.sent_v6, c.send_errors), (1, 2, 1));
        c.count_transition(State::Backup);
        c.count_transition(State::Master);
        c.count_transition(State::Master);
        assert_eq!(c.entered(VhidState::Init), 0);
        assert_eq!(c.entered(VhidState::Backup), 1);
        assert_eq!(c.entered(VhidState::Master), 2);
    }
}
