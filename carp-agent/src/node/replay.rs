//! Per-vhid replay state: which counters each sender has used.
//!
//! Three kinds of peer, three levels of strictness (docs/protocol.md and
//! SECURITY.md say what each leaves open):
//! - **carp-agent** (sealed counters, [`super::seal`]): the sequence must
//!   grow, the tag must match, and the advert must not arrive later than its
//!   sender's usual delay plus half an interval. A source that sent sealed
//!   adverts is only accepted sealed from then on.
//! - **FreeBSD and ucarp** (random start, +1 per advert): the counter must
//!   not be one already used, i.e. not within 2^40 at or below the last one
//!   from that source. A restarted peer draws a new random counter, which is
//!   that close below the last only once in 16.7 million restarts.
//! - **OpenBSD** (one constant cookie): nothing can be checked per source;
//!   only a counter seen recently from another source is refused (a capture
//!   replayed under a rewritten source address).
use std::{collections::VecDeque, net::IpAddr, time::Duration};

use super::seal::sequence_time;
use crate::engine::Time;

/// How strictly a vhid checks its peers' counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReplayProtection {
    /// Sealed adverts (carp-agent peers) strictly, unsealed ones (FreeBSD,
    /// OpenBSD, ucarp) as strictly as their counters allow.
    #[default]
    Auto,
    /// Only sealed adverts: every peer is carp-agent.
    Strict,
    /// No counter checks, as the BSDs and ucarp do.
    Off,
}

/// Why an authenticated advert was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its counter was used before (by its source, or recently by another).
    Replayed,
    /// A sealed advert released later than its sender's adverts arrive.
    Late,
    /// No valid tag where one is required: a sealed sender's advert with
    /// changed fields, or any unsealed advert under `strict`.
    Unsealed,
}

impl Refused {
    /// The counter the refusal is counted in.
    pub fn counter_name(self) -> &'static str {
        match self {
            Refused::Replayed | Refused::Late => "replayed",
            Refused::Unsealed => "badtag",
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Replayed => "its counter was used before (a replay)",
            Refused::Late => "it arrived later than its sender's adverts do (held back and replayed)",
            Refused::Unsealed => {
                "its counter carries no valid carp-agent tag (fields changed after signing, or an unsealed advert where only sealed ones are accepted)"
            }
        })
    }
}

/// Counters within this distance at or below a source's last one are used.
const STALE_WINDOW: u64 = 1 << 40;
/// Senders remembered per vhid; beyond it the longest silent is forgotten
/// (unsealed ones first).
const MAX_SOURCES: usize = 32;
/// Counters remembered per vhid across sources.
const RECENT_COUNTERS: usize = 64;
/// Delay samples kept per sealed sender, and how long one counts.
const DELAY_SAMPLES: usize = 8;
const DELAY_SAMPLE_LIFETIME: Duration = Duration::from_secs(10);
/// The least lateness ever refused: scheduling noise on a busy receiver.
const MIN_LATE: Duration = Duration::from_millis(20);

#[derive(Clone, Debug)]
struct SourceRecord {
    source: IpAddr,
    /// Sealed: the last sequence; unsealed: the last counter.
    last: u64,
    sealed: bool,
    seen: Time,
    /// (arrival, arrival minus the sequence's time in ns) of recent adverts.
    delays: VecDeque<(Time, i128)>,
    /// The delay of the last advert refused as late, if the one before this
    /// was refused so: two late in a row with the same delay are a path
    /// that got slower, not adverts held back one by one.
    late_streak: Option<i128>,
}

/// The replay state of one vhid.
#[derive(Clone, Debug)]
pub struct ReplayGuard {
    mode: ReplayProtection,
    /// False for OpenBSD peers, whose counter is a constant cookie.
    per_source_counters: bool,
    sources: Vec<SourceRecord>,
    recent: VecDeque<(u64, IpAddr)>,
}

impl ReplayGuard {
    pub fn new(mode: ReplayProtection, per_source_counters: bool) -> Self {
        Self {
            mode,
            per_source_counters,
            sources: Vec::new(),
            recent: VecDeque::new(),
        }
    }

    pub fn mode(&self) -> ReplayProtection {
        self.mode
    }

    /// Checks an authenticated advert that arrived at `at` from `source`
    /// with `counter`; `sealed` is its sequence if its tag is right.
    /// `interval` is the sender's advert interval. Accepting records it.
    pub fn check(
        &mut self,
        at: Time,
        source: IpAddr,
        counter: u64,
        sealed: Option<u64>,
        interval: Duration,
    ) -> Result<(), Refused> {
        if self.mode == ReplayProtection::Off {
            return Ok(());
        }
        let index = self.sources.iter().position(|r| r.source == source);
        match sealed {
            Some(sequence) => self.check_sealed(at, index, source, sequence, interval),
            None => self.check_unsealed(at, index, source, counter),
        }
    }

    fn check_sealed(
        &mut self,
        at: Time,
        index: Option<usize>,
        source: IpAddr,
        sequence: u64,
        interval: Duration,
    ) -> Result<(), Refused> {
        let delay =
            at.since_epoch().as_nanos() as i128 - sequence_time(sequence).as_nanos() as i128;
        if let Some(record) = index.map(|i| &mut self.sources[i]) {
            if record.sealed && sequence <= record.last {
                return Err(Refused::Replayed);
            }
            record
                .delays
                .retain(|(t, _)| at.saturating_duration_since(*t) < DELAY_SAMPLE_LIFETIME);
            // The clocks differ by an unknown offset, so lateness is measured
            // against the quickest recent arrival of the same sender's adverts.
            let tolerance = (interval / 2).max(MIN_LATE).as_nanos() as i128;
            if let Some(quickest) = record.delays.iter().map(|(_, d)| *d).min() {
                if delay - quickest > tolerance {
                    // An attacker releasing held-back adverts one at a time
                    // cannot keep a steady delay without delaying every
                    // advert, which a man in the middle can do anyway; a
                    // path that got slower does exactly that. So a second
                    // late advert in a row at the same delay starts the
                    // window afresh instead of refusing the sender until
                    // its quick samples age out (a split brain meanwhile).
                    match record.late_streak {
                        Some(previous) if (delay - previous).abs() <= tolerance => {
                            record.delays.clear();
                        }
                        _ => {
                            record.late_streak = Some(delay);
                            return Err(Refused::Late);
                        }
                    }
                }
            }
        }
        let record = self.record(at, index, source);
        record.last = sequence;
        record.sealed = true;
        record.late_streak = None;
        if record.delays.len() == DELAY_SAMPLES {
            record.delays.pop_front();
        }
        record.delays.push_back((at, delay));
        Ok(())
    }

    fn check_unsealed(
        &mut self,
        at: Time,
        index: Option<usize>,
        source: IpAddr,
        counter: u64,
    ) -> Result<(), Refused> {
        if self.mode == ReplayProtection::Strict {
            return Err(Refused::Unsealed);
        }
        if let Some(record) = index.map(|i| &self.sources[i]) {
            if record.sealed {
                return Err(Refused::Unsealed);
            }
            if self.per_source_counters && record.last.wrapping_sub(counter) < STALE_WINDOW {
                return Err(Refused::Replayed);
            }
        }
        if self
            .recent
            .iter()
            .any(|&(c, s)| c == counter && s != source)
        {
            return Err(Refused::Replayed);
        }
        let record = self.record(at, index, source);
        record.last = counter;
        if !self.recent.contains(&(counter, source)) {
            if self.recent.len() == RECENT_COUNTERS {
                self.recent.pop_front();
            }
            self.recent.push_back((counter, source));
        }
        Ok(())
    }

    /// The record of `source`, made (evicting another if full) if new.
    fn record(&mut self, at: Time, index: Option<usize>, source: IpAddr) -> &mut SourceRecord {
        let index = match index {
            Some(i) => i,
            None => {
                if self.sources.len() == MAX_SOURCES {
                    let victim = self
                        .sources
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, r)| (r.sealed, r.seen))
                        .map(|(i, _)| i);
                    if let Some(victim) = victim {
                        self.sources.swap_remove(victim);
                    }
                }
                self.sources.push(SourceRecord {
                    source,
                    last: 0,
                    sealed: false,
                    seen: at,
                    delays: VecDeque::new(),
                    late_streak: None,
                });
                self.sources.len() - 1
            }
        };
        let record = &mut self.sources[index];
        record.seen = at;
        record
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::node::seal::SEQUENCE_HZ;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const SECOND: Duration = Duration::from_secs(1);

    fn at(secs: u64) -> Time {
        Time::from_secs(secs)
    }

    #[test]
    fn sealed_sequences_must_grow_and_arrive_on_time() {
        let mut guard = ReplayGuard::new(ReplayProtection::Auto, true);
        // Sender clock 1000 s ahead of ours; adverts every second.
        let seq = |t: u64| (t + 1000) * SEQUENCE_HZ;
        for t in 1..=5 {
            assert_eq!(guard.check(at(t), A, 0, Some(seq(t)), SECOND), Ok(()));
        }
        assert_eq!(
            guard.check(at(6), A, 0, Some(seq(5)), SECOND),
            Err(Refused::Replayed)
        );
        assert_eq!(
            guard.check(at(6), A, 0, Some(seq(3)), SECOND),
            Err(Refused::Replayed)
        );
        // Sequence 6 never arrived; released at 8, two seconds late.
        assert_eq!(
            guard.check(at(8), A, 0, Some(seq(6)), SECOND),
            Err(Refused::Late)
        );
        assert_eq!(guard.check(at(8), A, 0, Some(seq(8)), SECOND), Ok(()));
        // Held-back adverts released one by one at other delays stay refused.
        let late = Err(Refused::Late);
        assert_eq!(guard.check(at(12), A, 0, Some(seq(9)), SECOND), late);
        assert_eq!(guard.check(at(14), A, 0, Some(seq(10)), SECOND), late);
        // The path got slower by 0.8 s for good: the second late advert at
        // the same delay is accepted, and so is everything after it.
        let slow = |t: u64| Time::from_millis(t * 1000 + 800);
        assert_eq!(guard.check(slow(15), A, 0, Some(seq(15)), SECOND), late);
        assert_eq!(guard.check(slow(16), A, 0, Some(seq(16)), SECOND), Ok(()));
        assert_eq!(guard.check(slow(17), A, 0, Some(seq(17)), SECOND), Ok(()));
        // And back to quick: earlier than usual is never late.
        assert_eq!(guard.check(at(18), A, 0, Some(seq(18)), SECOND), Ok(()));
        // A sealed sender's unsealed advert: fields were changed.
        assert_eq!(
            guard.check(at(9), A, 77, None, SECOND),
            Err(Refused::Unsealed)
        );
    }

    #[test]
    fn bsd_counters_must_not_repeat_but_may_restart_anywhere() {
        let mut guard = ReplayGuard::new(ReplayProtection::Auto, true);
        let start = 0x1234_5678_9abc_def0_u64;
        for i in 0..5 {
            assert_eq!(guard.check(at(i), B, start + i, None, SECOND), Ok(()));
        }
        assert_eq!(
            guard.check(at(6), B, start + 4, None, SECOND),
            Err(Refused::Replayed)
        );
        assert_eq!(
            guard.check(at(6), B, start + 1, None, SECOND),
            Err(Refused::Replayed)
        );
        // A restart: a new random counter.
        assert_eq!(guard.check(at(7), B, 0x0042, None, SECOND), Ok(()));
        // The same counter under another source: a rewritten capture.
        assert_eq!(
            guard.check(at(8), A, 0x0042, None, SECOND),
            Err(Refused::Replayed)
        );
    }

    #[test]
    fn openbsd_cookies_repeat_and_strict_refuses_them() {
        let mut guard = ReplayGuard::new(ReplayProtection::Auto, false);
        for i in 0..3 {
            assert_eq!(guard.check(at(i), B, 99, None, SECOND), Ok(()));
        }
        assert_eq!(
            guard.check(at(4), A, 99, None, SECOND),
            Err(Refused::Replayed)
        );
        let mut strict = ReplayGuard::new(ReplayProtection::Strict, false);
        assert_eq!(
            strict.check(at(1), B, 99, None, SECOND),
            Err(Refused::Unsealed)
        );
        let mut off = ReplayGuard::new(ReplayProtection::Off, true);
        for _ in 0..3 {
            assert_eq!(off.check(at(1), B, 99, None, SECOND), Ok(()));
        }
    }

    #[test]
    fn sources_are_bounded() {
        let mut guard = ReplayGuard::new(ReplayProtection::Auto, true);
        for i in 0..1000u32 {
            let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(
                guard.check(at(u64::from(i)), source, u64::from(i) << 20, None, SECOND),
                Ok(())
            );
        }
        assert!(guard.sources.len() <= MAX_SOURCES);
        assert!(guard.recent.len() <= RECENT_COUNTERS);
    }
}
