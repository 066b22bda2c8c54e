//! Advertisement timing: what a host puts on the wire, how often it advertises,
//! and how long a BACKUP waits before declaring the master down.

use std::{fmt, net::IpAddr, time::Duration};

use super::{
    config::{Flavor, VhidConfig},
    time::ticks,
};

/// FreeBSD's `CARP_MAXSKEW`: the advskew a FreeBSD host puts on the wire never
/// exceeds this, however large the configured skew plus demotion.
pub const MAX_WIRE_ADVSKEW: u8 = 240;

/// advbase and advskew of OpenBSD's bow-out advert (a master going down).
pub const BOW_OUT: u8 = 255;

/// The timing fields of an advert this host sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Advertised {
    /// Base interval in seconds.
    pub advbase: u8,
    /// Effective skew in 1/256 s, as on the wire.
    pub advskew: u8,
    /// Header byte 4: OpenBSD's demote counter, 0 in FreeBSD mode.
    pub demote: u8,
}

impl Advertised {
    /// The fields a host with `config` and host demotion `demotion` advertises.
    ///
    /// FreeBSD adds the demotion to advskew and clamps the sum to 240 (so a
    /// configured advskew of 241..=254 also goes out as 240, as with FreeBSD's
    /// `DEMOTE_ADVSKEW`). OpenBSD leaves advskew alone and sends the demotion,
    /// saturated to a byte, in header byte 4.
    pub fn for_config(config: &VhidConfig, demotion: u32) -> Self {
        match config.flavor {
            Flavor::FreeBsd => {
                let skew = u32::from(config.advskew).saturating_add(demotion);
                Advertised {
                    advbase: config.advbase,
                    advskew: skew.min(u32::from(MAX_WIRE_ADVSKEW)) as u8,
                    demote: 0,
                }
            }
            Flavor::OpenBsd => Advertised {
                advbase: config.advbase,
                advskew: config.advskew,
                demote: demotion.min(u32::from(u8::MAX)) as u8,
            },
        }
    }

    /// The bow-out advert a master sends when it shuts down.
    pub fn bow_out(demote: u8) -> Self {
        Advertised {
            advbase: BOW_OUT,
            advskew: BOW_OUT,
            demote,
        }
    }

    /// Time between two adverts: `advbase + advskew/256` s, at least 1/256 s
    /// (OpenBSD's floor for advbase 0, advskew 0).
    pub fn interval(self) -> Duration {
        ticks(interval_ticks(self.advbase, self.advskew))
    }

    /// How long a BACKUP advertising these fields waits for a master.
    pub fn master_down(self, flavor: Flavor) -> Duration {
        let ticks_down = match flavor {
            Flavor::FreeBsd => 3 * 256 * u32::from(self.advbase) + u32::from(self.advskew),
            Flavor::OpenBsd => 3 * interval_ticks(self.advbase, self.advskew),
        };
        ticks(ticks_down)
    }
}

fn interval_ticks(advbase: u8, advskew: u8) -> u32 {
    (256 * u32::from(advbase) + u32::from(advskew)).max(1)
}

/// An advert received from a peer, already authenticated by the caller; also
/// the peer named in a transition's [`Reason`](super::Reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAdvert {
    /// IP source address of the advert.
    pub source: IpAddr,
    pub advbase: u8,
    pub advskew: u8,
    /// Header byte 4: OpenBSD demote counter (FreeBSD sends 0).
    pub demote: u8,
}

impl PeerAdvert {
    /// Whether this is OpenBSD's bow-out advert (advbase 255, advskew 255).
    pub fn is_bow_out(&self) -> bool {
        self.advbase == BOW_OUT && self.advskew == BOW_OUT
    }

    /// How often the sender advertises.
    pub fn interval(&self) -> Duration {
        ticks(interval_ticks(self.advbase, self.advskew))
    }
}

impl fmt::Display for PeerAdvert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (advbase {} advskew {}",
            self.source, self.advbase, self.advskew
        )?;
        if self.demote != 0 {
            write!(f, " demote {}", self.demote)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn config(flavor: Flavor, advbase: u8, advskew: u8) -> VhidConfig {
        VhidConfig::new(1, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
            .flavor(flavor)
            .advbase(advbase)
            .advskew(advskew)
    }

    #[test]
    fn wire_values_table() {
        use Flavor::*;
        // (flavor, advbase, advskew, demotion) -> (advskew, demote) on the wire
        let cases = [
            (FreeBsd, 1, 0, 0, 0, 0),
            (FreeBsd, 1, 100, 0, 100, 0),
            (FreeBsd, 1, 100, 100, 200, 0),
            (FreeBsd, 1, 100, 240, 240, 0),
            (FreeBsd, 1, 0, 1_000_000, 240, 0),
            (FreeBsd, 1, 250, 0, 240, 0),
            (OpenBsd, 1, 100, 0, 100, 0),
            (OpenBsd, 1, 100, 240, 100, 240),
            (OpenBsd, 0, 100, 1_000, 100, 255),
        ];
        for (flavor, advbase, advskew, demotion, wire_skew, wire_demote) in cases {
            let adv = Advertised::for_config(&config(flavor, advbase, advskew), demotion);
            assert_eq!(
                (adv.advbase, adv.advskew, adv.demote),
                (advbase, wire_skew, wire_demote),
                "{flavor:?} advbase {advbase} advskew {advskew} demotion {demotion}"
            );
        }
    }

    #[test]
    fn timer_table() {
        use Flavor::*;
        // (flavor, advbase, advskew) -> (interval ms, master-down ns)
        let cases = [
            (FreeBsd, 1, 0, 1_000_000_000, 3_000_000_000),
            (FreeBsd, 1, 128, 1_500_000_000, 3_500_000_000),
            (FreeBsd, 2, 64, 2_250_000_000, 6_250_000_000),
            (OpenBsd, 1, 128, 1_500_000_000, 4_500_000_000),
            (OpenBsd, 0, 64, 250_000_000, 750_000_000),
            (OpenBsd, 0, 0, 3_906_250, 11_718_750),
        ];
        for (flavor, advbase, advskew, interval_ns, down_ns) in cases {
            let adv = Advertised {
                advbase,
                advskew,
                demote: 0,
            };
            assert_eq!(
                adv.interval(),
                Duration::from_nanos(interval_ns),
                "interval {flavor:?} {advbase}/{advskew}"
            );
            assert_eq!(
                adv.master_down(flavor),
                Duration::from_nanos(down_ns),
                "master-down {flavor:?} {advbase}/{advskew}"
            );
        }
    }

    #[test]
    fn bow_out_is_recognised() {
        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let bow = Advertised::bow_out(0);
        let advert = PeerAdvert {
            source,
            advbase: bow.advbase,
            advskew: bow.advskew,
            demote: 0,
        };
        assert!(advert.is_bow_out());
        assert!(
            !PeerAdvert {
                advskew: 254,
                ..advert
            }
            .is_bow_out()
        );
    }
}
