//! The rate limit on warnings that a packet can trigger (an advert with the
//! wrong password, ...). Anyone on the link can send such packets, from as
//! many source addresses as they like, as fast as the link allows: neither
//! the memory kept per source nor the number of log lines may grow with
//! them.
//!
//! - One warning per source per [`PER_SOURCE_EVERY`]: a misconfigured peer
//!   (one advert a second) is named once a minute.
//! - At most [`MAX_SOURCES`] sources are remembered; a new one makes the
//!   oldest forgotten (it may then be warned about again, within the global
//!   limit).
//! - At most [`LINES_PER_WINDOW`] warning lines per [`WINDOW`], over all
//!   sources. What the limit held back is summed up in one line when the
//!   window is over: "N more ... from M sources suppressed".
use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    net::IpAddr,
    time::{Duration, Instant},
};

/// How long a source stays quiet after a warning about it.
pub const PER_SOURCE_EVERY: Duration = Duration::from_secs(60);
/// Sources remembered at most.
pub const MAX_SOURCES: usize = 1024;
/// The period of the global limit and of the summary line.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Warning lines per [`WINDOW`], over all sources.
pub const LINES_PER_WINDOW: u32 = 10;

/// What to do about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log a warning naming the source.
    Warn,
    /// The source was warned about less than [`PER_SOURCE_EVERY`] ago: only
    /// counted.
    Quiet,
    /// A warning was due, but the window's lines are used up: counted into
    /// the window's summary.
    Suppressed,
}

/// What one window held back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets whose warning was suppressed.
    pub packets: u64,
    /// Distinct sources among them (a source forgotten for lack of room
    /// and seen again counts twice).
    pub sources: u64,
    /// How long the window lasted (at least [`WINDOW`]).
    pub window: Duration,
}

#[derive(Clone, Copy, Debug)]
struct SourceState {
    warned_at: Option<Instant>,
    /// The window in which it was last counted as a suppressed source.
    suppressed_in: Option<u64>,
}

/// Per-source and global warning limits of one kind of warning.
#[derive(Debug, Default)]
pub struct WarnLimiter {
    sources: HashMap<IpAddr, SourceState>,
    /// Sources in the order they were first seen: the front is forgotten
    /// first.
    order: VecDeque<IpAddr>,
    /// Start and number of the current window; none before the first packet.
    window: Option<(Instant, u64)>,
    lines: u32,
    held: Summary,
}

impl WarnLimiter {
    /// Decides about a packet from `source` at `now`. Also returns the
    /// summary of the previous window if it is over and held something
    /// back: log it before the packet's own warning.
    pub fn check(&mut self, now: Instant, source: IpAddr) -> (Verdict, Option<Summary>) {
        let summary = self.tick(now);
        let (_, window) = *self.window.get_or_insert((now, 0));
        let state = remember(&mut self.sources, &mut self.order, source);
        let quiet = state
            .warned_at
            .is_some_and(|at| now.saturating_duration_since(at) < PER_SOURCE_EVERY);
        let verdict = if quiet {
            Verdict::Quiet
        } else if self.lines < LINES_PER_WINDOW {
            self.lines += 1;
            state.warned_at = Some(now);
            Verdict::Warn
        } else {
            self.held.packets += 1;
            if state.suppressed_in != Some(window) {
                state.suppressed_in = Some(window);
                self.held.sources += 1;
            }
            Verdict::Suppressed
        };
        (verdict, summary)
    }

    /// Ends the current window if it is over: the summary of what it held
    /// back, if anything. Called by [`check`](Self::check), and meant for a
    /// periodic timer so the last summary of a flood is not left waiting for
    /// the next packet.
    pub fn tick(&mut self, now: Instant) -> Option<Summary> {
        let (start, number) = self.window?;
        let elapsed = now.saturating_duration_since(start);
        if elapsed < WINDOW {
            return None;
        }
        self.window = Some((now, number.wrapping_add(1)));
        self.lines = 0;
        let held = std::mem::take(&mut self.held);
        (held.packets > 0).then_some(Summary {
            window: elapsed,
            ..held
        })
    }

    /// Sources remembered now (at most [`MAX_SOURCES`]).
    #[cfg(test)]
    pub fn sources(&self) -> usize {
        self.sources.len()
    }
}

/// The state of `source`, making room for it first if it is new.
fn remember<'a>(
    sources: &'a mut HashMap<IpAddr, SourceState>,
    order: &mut VecDeque<IpAddr>,
    source: IpAddr,
) -> &'a mut SourceState {
    if !sources.contains_key(&source) && sources.len() >= MAX_SOURCES {
        if let Some(oldest) = order.pop_front() {
            sources.remove(&oldest);
        }
    }
    match sources.entry(source) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => {
            order.push_back(source);
            entry.insert(SourceState {
                warned_at: None,
                suppressed_in: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn source(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn a_flood_of_sources_keeps_the_map_and_the_lines_bounded() {
        let mut limiter = WarnLimiter::default();
        let start = Instant::now();
        let mut warned = 0;
        let n = 100_000;
        for i in 0..n {
            let (verdict, summary) = limiter.check(start, source(i));
            assert_eq!(summary, None);
            warned += u32::from(verdict == Verdict::Warn);
            assert!(limiter.sources() <= MAX_SOURCES);
        }
        assert_eq!(warned, LINES_PER_WINDOW);
        assert_eq!(limiter.sources(), MAX_SOURCES);
        assert_eq!(limiter.order.len(), MAX_SOURCES);
        // The window ends: one summary of everything held back.
        let later = start + WINDOW;
        let summary = limiter.tick(later).unwrap();
        let held = u64::from(n - LINES_PER_WINDOW);
        assert_eq!((summary.packets, summary.sources), (held, held));
        assert_eq!(summary.window, WINDOW);
        assert_eq!(limiter.tick(later), None, "one summary per window");
        // And the next window may warn again.
        assert_eq!(limiter.check(later, source(n + 1)).0, Verdict::Warn);
    }

    #[test]
    fn the_map_is_bounded_exactly_at_its_capacity() {
        let mut limiter = WarnLimiter::default();
        let now = Instant::now();
        let capacity = u32::try_from(MAX_SOURCES).unwrap();
        for i in 0..capacity {
            limiter.check(now, source(i));
        }
        assert_eq!(limiter.sources(), MAX_SOURCES);
        assert!(limiter.sources.contains_key(&source(0)));
        // One more: the oldest is forgotten, the newest kept.
        limiter.check(now, source(capacity));
        assert_eq!(limiter.sources(), MAX_SOURCES);
        assert!(!limiter.sources.contains_key(&source(0)));
        assert!(limiter.sources.contains_key(&source(capacity)));
    }

    #[test]
    fn one_source_is_warned_about_once_a_minute_and_counted_once() {
        let mut limiter = WarnLimiter::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(limiter.check(at(0), source(1)).0, Verdict::Warn);
        assert_eq!(limiter.check(at(1), source(1)).0, Verdict::Quiet);
        assert_eq!(limiter.check(at(59), source(1)).0, Verdict::Quiet);
        // Nothing suppressed: the window closes without a summary.
        let (verdict, summary) = limiter.check(at(60), source(1));
        assert_eq!((verdict, summary), (Verdict::Warn, None));
    }

    #[test]
    fn suppressed_sources_are_counted_once_per_window() {
        let mut limiter = WarnLimiter::default();
        let now = Instant::now();
        for i in 0..LINES_PER_WINDOW {
            assert_eq!(limiter.check(now, source(i)).0, Verdict::Warn);
        }
        for _ in 0..5 {
            assert_eq!(limiter.check(now, source(100)).0, Verdict::Suppressed);
            assert_eq!(limiter.check(now, source(101)).0, Verdict::Suppressed);
        }
        // The summary comes with the first packet after the window.
        let (verdict, summary) = limiter.check(now + WINDOW, source(100));
        assert_eq!(verdict, Verdict::Warn);
        let summary = summary.unwrap();
        assert_eq!((summary.packets, summary.sources), (10, 2));
    }
}
