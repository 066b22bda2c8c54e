//! Time as an input: the engine never reads a clock.

use std::{
    fmt,
    ops::{Add, AddAssign},
    time::Duration,
};

/// A point on the caller's monotonic clock, as a duration since an arbitrary epoch.
///
/// The daemon maps `tokio::time::Instant` onto it; the simulation starts at
/// [`Time::ZERO`]. Nanosecond resolution keeps CARP's 1/256 s ticks exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The instant `since_epoch` after the epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Time(since_epoch)
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Time(Duration::from_millis(millis))
    }

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Time(Duration::from_secs(secs))
    }

    /// How long after the epoch this instant is.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl fmt::Display for Time {
    /// Seconds with millisecond precision, e.g. `13.391s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{}.{:03}s", self.0.as_secs(), self.0.subsec_millis());
        f.pad(&text)
    }
}

/// CARP expresses sub-second time in 1/256 s ("advskew") steps; 1/256 s is
/// exactly 3 906 250 ns, so tick arithmetic never rounds.
pub(crate) const fn ticks(count: u32) -> Duration {
    Duration::from_nanos(count as u64 * 3_906_250)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_exact_fractions_of_a_second() {
        assert_eq!(ticks(256), Duration::from_secs(1));
        assert_eq!(ticks(128), Duration::from_millis(500));
        assert_eq!(ticks(3 * 256 + 100), Duration::from_nanos(3_390_625_000));
    }

    #[test]
    fn display_pads_to_width() {
        assert_eq!(format!("{:>9}", Time::from_millis(3_390)), "   3.390s");
        assert_eq!(Time::ZERO.to_string(), "0.000s");
    }

    #[test]
    fn duration_since_saturates() {
        let early = Time::from_secs(1);
        let late = Time::from_secs(3);
        assert_eq!(
            late.saturating_duration_since(early),
            Duration::from_secs(2)
        );
        assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
    }
}
