//! Per-vhid configuration and its validation.

use std::{net::IpAddr, time::Duration};

/// Which BSD's carp(4) semantics a vhid follows. All hosts sharing a vhid should use
/// the same flavor: the two differ in how demotion travels on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// FreeBSD: advbase 1..=255; host demotion is added to advskew on the wire
    /// (clamped to 240), link down and send errors add 240 each; header byte 4
    /// is padding; master-down is `3*advbase + advskew/256` s with the
    /// configured advskew; the HMAC includes link-local VIPs.
    #[default]
    FreeBsd,
    /// OpenBSD: advbase 0..=255 (0 gives sub-second intervals of advskew/256 s);
    /// host demotion travels in header byte 4 and outranks advskew and preempt,
    /// link down and send errors add 1 each; master-down is
    /// `3*(advbase + advskew/256)` s, but a master advertising slower than
    /// `3*advbase + advskew/256` s is taken over at once (never with advbase
    /// 0); the HMAC sent leaves link-local VIPs out (both forms accepted).
    OpenBsd,
}

/// What a MASTER does when it hears a master with exactly its own preference
/// (equal demote byte, advbase and advskew). In every rule a BACKUP never
/// preempts an equal master: a tie only matters while two hosts are MASTER
/// (a start-up race or a healed partition), and nobody in the CARP world
/// takes over from an equal master.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TieBreak {
    /// ucarp's rule: the master with the lower source address stays, the other
    /// yields. For IPv4 the address is ordered as ucarp orders it on a
    /// little-endian host (the network-order word read as a native integer, so
    /// the last octet weighs most; in one subnet that is simply the lower
    /// address); IPv6 addresses in numeric order. The default: it converges
    /// with every peer. Against ucarp and ourselves the lower address stays at
    /// once; against FreeBSD and OpenBSD (which yield to any equal master)
    /// either we stay and the BSD yields, or both yield and the first
    /// master-down settles it, as between two BSDs.
    #[default]
    LowerAddress,
    /// keepalived's VRRP rule: the numerically higher source address stays.
    /// Converges between our own nodes and against the BSDs as above, but
    /// NOT against ucarp, which keeps the lower address: both stay MASTER.
    HigherAddress,
    /// FreeBSD: a MASTER yields to any equal advert. Two equal masters both
    /// yield and meet again at master-down, which usually, but not always,
    /// fires on one of them first.
    AlwaysYield,
}

/// Configuration of one vhid on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhidConfig {
    /// Virtual host id, 1..=255.
    pub vhid: u8,
    /// Base advertisement interval in seconds: 1..=255 (FreeBSD), 0..=255 (OpenBSD).
    pub advbase: u8,
    /// Skew in 1/256 s added to the interval: 0..=254. Lower is more preferred.
    pub advskew: u8,
    /// Take over from a less preferred master (`net.inet.carp.preempt`).
    pub preempt: bool,
    /// This host's own source address for adverts; breaks ties between equal masters.
    pub source: IpAddr,
    /// FreeBSD or OpenBSD semantics.
    pub flavor: Flavor,
    /// Behaviour of a MASTER hearing an equally preferred master.
    pub tie_break: TieBreak,
    /// On shutdown a MASTER sends one advert with advbase 255 and advskew 255
    /// (OpenBSD's bow-out) so backups take over at once.
    pub send_bow_out: bool,
    /// A BACKUP hearing a bow-out from its master takes over at once. When off, the
    /// advert goes through the ordinary rules, as on FreeBSD.
    pub accept_bow_out: bool,
    /// Boot hold-down (keepalived's `preempt_delay`): for this long after
    /// the vhid is added, a BACKUP takes over from no live master, neither
    /// by preemption nor (OpenBSD) for a higher demote byte. A master that
    /// falls silent, bows out or advertises too slowly is still taken over.
    pub preempt_delay: Duration,
}

impl VhidConfig {
    /// FreeBSD defaults: advbase 1, advskew 0, no preemption, lower-address
    /// tie-break, bow-out sent and accepted.
    pub fn new(vhid: u8, source: IpAddr) -> Self {
        VhidConfig {
            vhid,
            advbase: 1,
            advskew: 0,
            preempt: false,
            source,
            flavor: Flavor::FreeBsd,
            tie_break: TieBreak::LowerAddress,
            send_bow_out: true,
            accept_bow_out: true,
            preempt_delay: Duration::ZERO,
        }
    }

    /// Sets `advbase`.
    pub fn advbase(mut self, advbase: u8) -> Self {
        self.advbase = advbase;
        self
    }

    /// Sets `advskew`.
    pub fn advskew(mut self, advskew: u8) -> Self {
        self.advskew = advskew;
        self
    }

    /// Sets `preempt`.
    pub fn preempt(mut self, preempt: bool) -> Self {
        self.preempt = preempt;
        self
    }

    /// Sets `flavor`.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Sets `tie_break`.
    pub fn tie_break(mut self, tie_break: TieBreak) -> Self {
        self.tie_break = tie_break;
        self
    }

    /// Sets `preempt_delay`.
    pub fn preempt_delay(mut self, delay: Duration) -> Self {
        self.preempt_delay = delay;
        self
    }

    /// Checks the ranges carp(4) accepts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let vhid = self.vhid;
        check_ranges(vhid, self.advbase, self.advskew, self.flavor)
            .map_err(|error| ConfigError::Range { vhid, error })?;
        if self.source.is_unspecified() || self.source.is_multicast() {
            return Err(ConfigError::BadSource {
                vhid,
                address: self.source,
            });
        }
        Ok(())
    }
}

/// Highest configurable advskew; 255 is reserved for the bow-out advert.
pub const MAX_ADVSKEW: u8 = 254;

/// The ranges carp(4) accepts for vhid, advbase and advskew: the one place
/// these rules live, used by the engine and by the configuration (which
/// reports the error under the field it names).
pub fn check_ranges(vhid: u8, advbase: u8, advskew: u8, flavor: Flavor) -> Result<(), RangeError> {
    if vhid == 0 {
        return Err(RangeError::Vhid(0));
    }
    if advbase == 0 && flavor == Flavor::FreeBsd {
        return Err(RangeError::AdvbaseZero);
    }
    if advskew > MAX_ADVSKEW {
        return Err(RangeError::AdvskewReserved);
    }
    Ok(())
}

/// A vhid, advbase or advskew value carp(4) refuses. The message says why
/// the value is wrong; [`RangeError::field`] says which field it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// vhid 0 does not exist on the wire; the configuration also reports
    /// values that do not fit a byte here.
    #[error("{0} is out of range; vhids are 1..=255")]
    Vhid(i64),
    /// advbase 0 needs OpenBSD semantics.
    #[error(
        "0 is only allowed with flavor \"openbsd\" (sub-second intervals of \
         advskew/256 s); FreeBSD advbase is 1..=255"
    )]
    AdvbaseZero,
    /// advskew 255.
    #[error("255 is reserved for the bow-out advertisement; advskew is 0..=254")]
    AdvskewReserved,
}

impl RangeError {
    /// The configuration field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            RangeError::Vhid(_) => "vhid",
            RangeError::AdvbaseZero => "advbase",
            RangeError::AdvskewReserved => "advskew",
        }
    }
}

/// A vhid configuration carp(4) would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// vhid, advbase or advskew out of range.
    #[error("vhid {vhid}: {}: {error}", error.field())]
    Range {
        /// The vhid being configured.
        vhid: u8,
        /// Which field, and why.
        error: RangeError,
    },
    /// The source address cannot send adverts or break ties.
    #[error(
        "vhid {vhid}: source address {address} must be a unicast address of this host \
         (it breaks ties between equal masters)"
    )]
    BadSource {
        /// The vhid being configured.
        vhid: u8,
        /// The rejected address.
        address: IpAddr,
    },
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn validation_table() {
        let base = VhidConfig::new(1, SOURCE);
        let cases: Vec<(&str, VhidConfig, Result<(), ConfigError>)> = vec![
            ("defaults", base.clone(), Ok(())),
            (
                "vhid 0",
                VhidConfig::new(0, SOURCE),
                Err(ConfigError::Range {
                    vhid: 0,
                    error: RangeError::Vhid(0),
                }),
            ),
            (
                "advbase 0 freebsd",
                base.clone().advbase(0),
                Err(ConfigError::Range {
                    vhid: 1,
                    error: RangeError::AdvbaseZero,
                }),
            ),
            (
                "advbase 0 openbsd",
                base.clone().advbase(0).advskew(100).flavor(Flavor::OpenBsd),
                Ok(()),
            ),
            ("advbase 255", base.clone().advbase(255), Ok(())),
            ("advskew 254", base.clone().advskew(254), Ok(())),
            (
                "advskew 255",
                base.clone().advskew(255),
                Err(ConfigError::Range {
                    vhid: 1,
                    error: RangeError::AdvskewReserved,
                }),
            ),
            (
                "unspecified source",
                VhidConfig::new(1, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                Err(ConfigError::BadSource {
                    vhid: 1,
                    address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                }),
            ),
            (
                "multicast source",
                VhidConfig::new(1, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))),
                Err(ConfigError::BadSource {
                    vhid: 1,
                    address: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
                }),
            ),
        ];
        for (name, config, expected) in cases {
            assert_eq!(config.validate(), expected, "{name}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let err = VhidConfig::new(7, SOURCE)
            .advbase(0)
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vhid 7: advbase: 0 is only allowed with flavor \"openbsd\" (sub-second \
             intervals of advskew/256 s); FreeBSD advbase is 1..=255"
        );
    }
}
