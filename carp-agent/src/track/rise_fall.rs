//! keepalived's `rise`/`fall` for scripts: `fall` failures in a row make a
//! healthy source failing, `rise` successes in a row make a failing one
//! healthy again; a result that agrees with the current state resets the
//! count toward the other, so a flapping check changes nothing.

/// The state of one checked source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    failing: bool,
    /// Results in a row against the current state.
    streak: u32,
}

impl RiseFall {
    /// A healthy source (keepalived's default: scripts start as passing).
    pub fn new(rise: u32, fall: u32) -> Self {
        RiseFall {
            rise: rise.max(1),
            fall: fall.max(1),
            failing: false,
            streak: 0,
        }
    }

    pub fn failing(&self) -> bool {
        self.failing
    }

    /// Records one result; returns whether the state changed.
    pub fn record(&mut self, ok: bool) -> bool {
        if ok != self.failing {
            // Agrees with the state: the streak toward the other is broken.
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if self.failing { self.rise } else { self.fall };
        if self.streak >= needed {
            self.failing = !self.failing;
            self.streak = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `results` ("+" success, "-" failure) and returns the state
    /// after each ("F" failing, "." healthy).
    fn run(rise: u32, fall: u32, results: &str) -> String {
        let mut rf = RiseFall::new(rise, fall);
        results
            .chars()
            .map(|c| {
                rf.record(c == '+');
                if rf.failing() { 'F' } else { '.' }
            })
            .collect()
    }

    #[test]
    fn fall_failures_in_a_row_then_rise_successes_in_a_row() {
        // rise 2, fall 3
        assert_eq!(run(2, 3, "--+---++"), ".....FF.");
        assert_eq!(run(2, 3, "---+-++"), "..FFFF.");
        // A single success between failures resets the count.
        assert_eq!(run(2, 3, "--+--+--"), "........");
        // A single failure between successes keeps it failing.
        assert_eq!(run(2, 3, "---+-+-++"), "..FFFFFF.");
    }

    #[test]
    fn rise_and_fall_of_one_follow_every_result() {
        assert_eq!(run(1, 1, "-+-+"), "F.F.");
        let mut rf = RiseFall::new(1, 1);
        assert!(rf.record(false), "state changed");
        assert!(!rf.record(false), "still failing: no change");
        assert!(rf.record(true));
    }
}
