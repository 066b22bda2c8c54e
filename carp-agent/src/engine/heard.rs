//! The masters a BACKUP has heard lately.
//!
//! Adverts from different hosts can arrive out of order: the old master's last
//! regular advert may land after the new master's first. Remembering every
//! master heard within about one of its intervals lets a BACKUP see that another
//! master is already in charge before it takes over on a bow-out or preempts.

use std::net::IpAddr;

use super::{time::Time, timing::PeerAdvert};

/// One master's last advert.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heard {
    pub(crate) advert: PeerAdvert,
    pub(crate) at: Time,
}

impl Heard {
    pub(crate) fn source(&self) -> IpAddr {
        self.advert.source
    }

    /// A live master is heard every interval plus jitter; allowing half an
    /// interval of jitter, silence beyond that means it stopped (crashed,
    /// yielded or bowed out).
    pub(crate) fn is_alive(&self, now: Time) -> bool {
        now <= self.alive_until()
    }

    /// The last moment this master is presumed alive without another advert.
    pub(crate) fn alive_until(&self) -> Time {
        let interval = self.advert.interval();
        self.at + interval + interval / 2
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct HeardMasters {
    entries: Vec<Heard>,
}

impl HeardMasters {
    /// Records an advert, replacing the sender's previous entry and dropping
    /// masters no longer alive.
    pub(crate) fn record(&mut self, heard: Heard) {
        self.entries
            .retain(|h| h.source() != heard.source() && h.is_alive(heard.at));
        self.entries.push(heard);
    }

    pub(crate) fn forget(&mut self, source: IpAddr) {
        self.entries.retain(|h| h.source() != source);
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Masters heard recently enough to be presumed alive at `now`.
    pub(crate) fn alive(&self, now: Time) -> impl Iterator<Item = &Heard> {
        self.entries.iter().filter(move |h| h.is_alive(now))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn heard(last: u8, advskew: u8, at_ms: u64) -> Heard {
        Heard {
            advert: PeerAdvert {
                source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
                advbase: 1,
                advskew,
                demote: 0,
            },
            at: Time::from_millis(at_ms),
        }
    }

    #[test]
    fn masters_expire_after_an_interval_and_a_half() {
        let mut masters = HeardMasters::default();
        masters.record(heard(1, 0, 0));
        masters.record(heard(2, 128, 100));
        let alive = |m: &HeardMasters, ms| m.alive(Time::from_millis(ms)).count();
        assert_eq!(alive(&masters, 1_500), 2);
        assert_eq!(alive(&masters, 1_501), 1, "1 s interval: gone after 1.5 s");
        assert_eq!(
            alive(&masters, 2_350),
            1,
            "1.5 s interval: gone after 2.25 s"
        );
        assert_eq!(alive(&masters, 2_351), 0);
        masters.record(heard(1, 0, 1_000));
        assert_eq!(alive(&masters, 2_000), 2, "re-recorded, not duplicated");
        masters.forget(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(alive(&masters, 1_000), 1);
        masters.clear();
        assert_eq!(alive(&masters, 1_000), 0);
    }
}
