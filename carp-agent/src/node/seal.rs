//! Sealed counters: replay and field-modification protection that BSD peers
//! never notice.
//!
//! CARP's HMAC covers the vhid, the virtual addresses and the 64-bit
//! counter, but not advbase, advskew or the demote byte, and no receiver
//! (FreeBSD, OpenBSD, ucarp) checks the counter. So a captured advert can be
//! replayed, or replayed with a better advskew, and it still authenticates.
//!
//! Every BSD receiver treats the counter as opaque, so carp-agent puts two
//! things in it:
//!
//! ```text
//!  63                          24 23                0
//!  | sequence (40 bits)          | tag (24 bits)    |
//! ```
//!
//! - the **sequence**: the sender's wall clock in 1/1024 s since
//!   2024-01-01 UTC, kept strictly increasing per vhid (34 years of room).
//!   A receiver keeps the highest sequence per sender and refuses anything
//!   at or below it: a replay. Being a clock, it also lets a receiver see an
//!   advert that was held back and released late.
//! - the **tag**: a keyed MAC (HMAC-SHA1 with a key derived from the vhid's
//!   password) over the vhid, advbase, advskew, demote, the sequence and the
//!   sender's source address, cut to 24 bits. It binds the fields the HMAC
//!   leaves out: change advskew, or the source address, and the tag no longer
//!   matches. The tag itself is inside the HMAC, so it cannot be changed
//!   without the password either.
//!
//! A receiver tells a sealed counter from a BSD's random one by the tag: a
//! BSD counter matches by chance once in 16.7 million adverts, and then only
//! makes that one advert subject to the stricter sealed rules.
use std::{net::IpAddr, time::Duration};

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use crate::proto::AuthKey;

/// Bits of the counter that carry the sequence.
pub const SEQUENCE_BITS: u32 = 40;
/// Bits of the counter that carry the tag.
pub const TAG_BITS: u32 = 64 - SEQUENCE_BITS;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const SEQUENCE_MASK: u64 = (1 << SEQUENCE_BITS) - 1;
/// Sequence units per second.
pub const SEQUENCE_HZ: u64 = 1024;
/// 2024-01-01T00:00:00Z as seconds since the Unix epoch: the sequence's zero.
const SEQUENCE_EPOCH_UNIX_SECS: u64 = 1_704_067_200;

/// Domain separation: the tag key is never the HMAC key itself.
const SEAL_KEY_LABEL: &[u8] = b"carp-agent advert seal v1";

/// The fields of an advert the CARP HMAC leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsigned {
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
    pub demote: u8,
}

/// The per-vhid key of the tag.
#[derive(Clone)]
pub struct SealKey {
    keyed: Hmac<Sha1>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// Derives the tag key from the vhid's CARP key.
    pub fn derive(key: &AuthKey) -> Self {
        let mut mac =
            Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(SEAL_KEY_LABEL);
        let derived = mac.finalize().into_bytes();
        Self {
            keyed: Hmac::<Sha1>::new_from_slice(&derived).expect("HMAC accepts keys of any length"),
        }
    }

    /// The counter carrying `sequence` and the tag over `fields` and `source`.
    pub fn seal(&self, fields: Unsigned, sequence: u64, source: IpAddr) -> u64 {
        let sequence = sequence & SEQUENCE_MASK;
        sequence << TAG_BITS | self.tag(fields, sequence, source)
    }

    /// The sequence of `counter` if its tag is right for `fields` and
    /// `source`; `None` for an unsealed (BSD, ucarp) counter or a sealed one
    /// whose fields or source were changed.
    pub fn open(&self, fields: Unsigned, counter: u64, source: IpAddr) -> Option<u64> {
        let sequence = counter >> TAG_BITS;
        let expected = self.tag(fields, sequence, source);
        // Not secret-dependent timing worth hiding: the tag is public on the
        // wire once sent; a forger learns nothing from how fast a guess fails.
        (counter & TAG_MASK == expected).then_some(sequence)
    }

    fn tag(&self, fields: Unsigned, sequence: u64, source: IpAddr) -> u64 {
        let mut mac = self.keyed.clone();
        mac.update(&[fields.vhid, fields.advbase, fields.advskew, fields.demote]);
        mac.update(&sequence.to_be_bytes());
        let source = match source {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        mac.update(&source);
        let digest = mac.finalize().into_bytes();
        u64::from(u32::from_be_bytes([0, digest[0], digest[1], digest[2]]))
    }
}

/// The sequence for a wall-clock time (`since_unix_epoch`); clocks before
/// 2024 give 0.
pub fn sequence_at(since_unix_epoch: Duration) -> u64 {
    let since = since_unix_epoch.saturating_sub(Duration::from_secs(SEQUENCE_EPOCH_UNIX_SECS));
    let units = since.as_secs() * SEQUENCE_HZ
        + u64::from(since.subsec_nanos()) * SEQUENCE_HZ / 1_000_000_000;
    units & SEQUENCE_MASK
}

/// The wall-clock time a sequence stands for, as time since 2024-01-01.
pub fn sequence_time(sequence: u64) -> Duration {
    Duration::from_secs(sequence / SEQUENCE_HZ)
        + Duration::from_nanos((sequence % SEQUENCE_HZ) * 1_000_000_000 / SEQUENCE_HZ)
}

/// A sender's sequence: the wall clock, but never repeating or going back
/// while the agent runs (a clock stepped back, or two adverts in one unit).
#[derive(Clone, Copy, Debug, Default)]
pub struct SequenceClock {
    last: Option<u64>,
}

impl SequenceClock {
    /// The sequence for an advert sent at wall-clock `now`.
    pub fn next(&mut self, now_since_unix_epoch: Duration) -> u64 {
        let clock = sequence_at(now_since_unix_epoch);
        let next = match self.last {
            Some(last) if clock <= last => (last + 1) & SEQUENCE_MASK,
            _ => clock,
        };
        self.last = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn key(password: &str) -> SealKey {
        SealKey::derive(&AuthKey::from_password(password.as_bytes()).unwrap())
    }

    const FIELDS: Unsigned = Unsigned {
        vhid: 1,
        advbase: 1,
        advskew: 100,
        demote: 0,
    };
    const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_sealed_counter_opens_only_unchanged() {
        let k = key("secret");
        let counter = k.seal(FIELDS, 12345, SOURCE);
        assert_eq!(k.open(FIELDS, counter, SOURCE), Some(12345));
        for changed in [
            Unsigned {
                advskew: 0,
                ..FIELDS
            },
            Unsigned {
                advbase: 0,
                ..FIELDS
            },
            Unsigned {
                demote: 1,
                ..FIELDS
            },
            Unsigned { vhid: 2, ..FIELDS },
        ] {
            assert_eq!(k.open(changed, counter, SOURCE), None, "{changed:?}");
        }
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(k.open(FIELDS, counter, other), None);
        assert_eq!(key("other").open(FIELDS, counter, SOURCE), None);
        assert_eq!(k.open(FIELDS, counter + (1 << TAG_BITS), SOURCE), None);
    }

    #[test]
    fn sequences_follow_the_clock_and_never_repeat() {
        let mut clock = SequenceClock::default();
        let t = Duration::from_secs(SEQUENCE_EPOCH_UNIX_SECS + 100);
        let first = clock.next(t);
        assert_eq!(first, 100 * SEQUENCE_HZ);
        assert_eq!(clock.next(t), first + 1, "same instant");
        assert_eq!(
            clock.next(t - Duration::from_secs(5)),
            first + 2,
            "clock back"
        );
        assert_eq!(clock.next(t + Duration::from_secs(1)), first + SEQUENCE_HZ);
        assert_eq!(sequence_time(first), Duration::from_secs(100));
    }
}
