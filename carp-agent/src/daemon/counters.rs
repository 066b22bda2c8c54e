//! Counters the agent keeps itself (the XDP program counts the rest), and
//! the rate limit on the badauth warning: a peer with the wrong password
//! sends one advert a second, which must not flood the log.
use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use tracing::warn;

const BADAUTH_WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct AgentCounters {
    pub accepted: u64,
    pub badauth: u64,
    pub badvhid: u64,
    pub malformed: u64,
    pub opackets: u64,
    pub opackets6: u64,
    pub oerrors: u64,
    pub transitions: u64,
    /// Times a MASTER re-announced against a less preferred master.
    pub reasserts: u64,
    last_badauth_warning: HashMap<IpAddr, Instant>,
}

impl AgentCounters {
    /// Named values for `carp-agent status`.
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("accepted", self.accepted),
            // `badauth` is the XDP program's (every wrong digest); this
            // counts those that reached the agent.
            ("agent_badauth", self.badauth),
            ("agent_badvhid", self.badvhid),
            ("malformed", self.malformed),
            ("opackets", self.opackets),
            ("opackets6", self.opackets6),
            ("oerrors", self.oerrors),
            ("transitions", self.transitions),
            ("reasserts", self.reasserts),
        ]
    }

    pub fn warn_badauth(&mut self, source: IpAddr, interface: &str, vhid: u8) {
        let now = Instant::now();
        let due = self
            .last_badauth_warning
            .get(&source)
            .is_none_or(|last| now.duration_since(*last) >= BADAUTH_WARN_EVERY);
        if due {
            self.last_badauth_warning.insert(source, now);
            warn!(
                "vhid {vhid} on {interface}: advert from {source} fails authentication \
                 (badauth): password or virtual address set differs; further ones from \
                 {source} are counted, warned about once a minute"
            );
        }
    }
}
