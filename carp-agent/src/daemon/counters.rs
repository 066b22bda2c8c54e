//! Counters the agent keeps itself (the XDP program counts the rest), and
//! the limits on the warnings a packet can trigger: a peer with the wrong
//! password sends one advert a second, a hostile host on the link millions
//! from random sources; neither may flood the log or grow memory (see
//! [`warn_limit`]).
pub mod warn_limit;

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    net::IpAddr,
    time::Instant,
};

use tracing::warn;
use warn_limit::{LINES_PER_WINDOW, Summary, Verdict, WINDOW, WarnLimiter};

use crate::{engine::VhidKey, metrics::VhidCounters};

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
    /// Authenticated adverts whose counter was used before, or that arrived
    /// late (`node::replay`).
    pub replayed: u64,
    /// Authenticated adverts without the carp-agent tag where one is
    /// required: fields changed after signing.
    pub badtag: u64,
    /// Counters per vhid, for the metrics. Keys come from configured vhids
    /// only (a packet for another vhid is `badvhid`), so the map stays small.
    pub per_vhid: BTreeMap<VhidKey, VhidCounters>,
    /// One limiter per kind of per-packet warning (`"badauth"`, ...): the
    /// kinds are names in the code, so this map stays small.
    warnings: HashMap<&'static str, WarnLimiter>,
}

impl AgentCounters {
    /// Named values for `carp-agent status`.
    pub fn named(&self) -> [(&'static str, u64); 11] {
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
            // `replayed` is the XDP program's (see docs/protocol.md, "What
            // XDP verifies"); this counts the agent's own replay checks.
            ("agent_replayed", self.replayed),
            ("badtag", self.badtag),
        ]
    }

    /// The counters of vhid `key`.
    pub fn vhid(&mut self, key: VhidKey) -> &mut VhidCounters {
        self.per_vhid.entry(key).or_default()
    }

    /// Warns about an advert from `source` that fails authentication,
    /// within the limits of `counters::warn_limit` (the caller counts it).
    /// Returns whether it was logged (not held back by the limits).
    pub fn warn_badauth(&mut self, source: IpAddr, interface: &str, vhid: u8) -> bool {
        self.warn_packet("badauth", source, |f| {
            write!(
                f,
                "vhid {vhid} on {interface}: advert from {source} fails authentication \
                 (badauth): password or virtual address set differs; further ones from \
                 {source} are counted, warned about once a minute"
            )
        })
    }

    /// Logs `message`, a warning of kind `kind` (a counter's name, for the
    /// summary) caused by a packet from `source`, unless the limits of
    /// `counters::warn_limit` hold it back. Every per-packet warning goes through
    /// here; `message` is only formatted when logged. Returns whether it was.
    pub fn warn_packet(
        &mut self,
        kind: &'static str,
        source: IpAddr,
        message: impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> bool {
        self.warn_packet_at(Instant::now(), kind, source, message)
    }

    fn warn_packet_at(
        &mut self,
        now: Instant,
        kind: &'static str,
        source: IpAddr,
        message: impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> bool {
        let (verdict, summary) = self.warnings.entry(kind).or_default().check(now, source);
        if let Some(summary) = summary {
            log_summary(kind, summary);
        }
        if verdict == Verdict::Warn {
            warn!("{}", Lazy(message));
        }
        verdict == Verdict::Warn
    }

    /// Logs the summary of every warning window that is over; for a
    /// periodic timer, so the last summary of a flood is not left waiting
    /// for the next packet.
    pub fn flush_warnings(&mut self) {
        self.flush_warnings_at(Instant::now());
    }

    fn flush_warnings_at(&mut self, now: Instant) {
        for (kind, limiter) in &mut self.warnings {
            if let Some(summary) = limiter.tick(now) {
                log_summary(kind, summary);
            }
        }
    }
}

fn log_summary(kind: &str, summary: Summary) {
    warn!(
        "{} more {kind} adverts from {} sources suppressed in the last {} s \
         (at most {LINES_PER_WINDOW} such warnings per {} s; all are counted)",
        summary.packets,
        summary.sources,
        summary.window.as_secs(),
        WINDOW.as_secs()
    );
}

/// Formats with a closure, so a suppressed warning costs no formatting.
struct Lazy<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::{warn_limit::MAX_SOURCES, *};

    /// The log lines written while `f` runs, as text.
    fn captured(f: impl FnOnce()) -> Vec<String> {
        let buffer = crate::testdata::LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        buffer.lines()
    }

    #[test]
    fn a_badauth_flood_from_random_sources_logs_a_bounded_number_of_lines() {
        let mut counters = AgentCounters::default();
        let start = Instant::now();
        let n: u32 = 200_000;
        let lines = captured(|| {
            for i in 0..n {
                let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
                counters.warn_packet_at(start, "badauth", source, |f| {
                    write!(f, "advert from {source} fails authentication (badauth)")
                });
            }
        });
        assert_eq!(lines.len(), LINES_PER_WINDOW as usize, "{lines:#?}");
        assert!(lines.iter().all(|l| l.contains("(badauth)")));
        assert_eq!(counters.warnings["badauth"].sources(), MAX_SOURCES);
        // The periodic flush after the window: exactly one summary line.
        let summary = captured(|| counters.flush_warnings_at(start + WINDOW));
        let held = n - LINES_PER_WINDOW;
        assert_eq!(summary.len(), 1, "{summary:#?}");
        assert!(
            summary[0].contains(&format!(
                "{held} more badauth adverts from {held} sources suppressed in the last 60 s"
            )),
            "{summary:#?}"
        );
        assert!(captured(|| counters.flush_warnings_at(start + WINDOW)).is_empty());
    }

    #[test]
    fn warn_badauth_names_the_vhid_and_the_source_once() {
        let mut counters = AgentCounters::default();
        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let lines = captured(|| {
            for _ in 0..100 {
                counters.warn_badauth(source, "eth0", 7);
            }
        });
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].contains("vhid 7 on eth0: advert from 10.0.0.9 fails authentication"),
            "{lines:#?}"
        );
    }

    #[test]
    fn kinds_have_their_own_limits() {
        let mut counters = AgentCounters::default();
        let now = Instant::now();
        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let lines = captured(|| {
            for kind in ["badauth", "replayed"] {
                counters.warn_packet_at(now, kind, source, |f| write!(f, "{kind}"));
            }
        });
        assert_eq!(lines.len(), 2, "{lines:#?}");
    }
}
