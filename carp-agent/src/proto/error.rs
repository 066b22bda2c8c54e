//! Why a frame is not a valid CARP advertisement.
//!
//! Variant names follow the FreeBSD/OpenBSD `carpstats` counters, so the agent,
//! the XDP statistics and `netstat -s -p carp` on a BSD peer speak the same words.

use std::fmt;

use thiserror::Error;

use super::advert::ADVERT_LEN;

/// A frame or packet that is not a valid CARP v2 advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The capture ends before a header it announces (carpstats `hdrops`).
    #[error("{layer} truncated: needs {needed} bytes, only {available} present")]
    TooShort {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    /// TTL / hop limit is not 255, so the sender is off-link (carpstats `badttl`).
    #[error("TTL/hop limit {ttl}, must be 255 (the packet left its link or was forged)")]
    BadTtl { ttl: u8 },
    /// A length is wrong: the payload is not 36 bytes, or the IP length fields
    /// contradict each other (carpstats `badlen`).
    #[error("{0}")]
    BadLength(LengthError),
    /// Not version 2 / type 1 (advertisement) (carpstats `badver`).
    #[error("version {version} type {kind}, expected version 2 type 1 (advertisement)")]
    BadVersion { version: u8, kind: u8 },
    /// The Internet checksum over the 36 bytes does not verify (carpstats `badsum`).
    #[error("checksum {found:#06x} does not verify (the header would need {expected:#06x})")]
    BadChecksum { found: u16, expected: u16 },
    /// The HMAC-SHA1 does not match this key and address set (carpstats `badauth`).
    #[error("HMAC mismatch: password or virtual address set differs")]
    BadAuth,
    /// Not an IP protocol 112 packet at all: somebody else's traffic.
    #[error("not CARP: {0}")]
    NotCarp(NotCarp),
    /// An IP fragment of protocol 112; an advertisement always fits one packet.
    #[error("IP fragment; CARP advertisements are never fragmented")]
    Fragment,
}

impl DecodeError {
    /// Name of the counter this error increments: the carpstats name where the
    /// BSDs have one (`hdrops`, `badttl`, `badlen`, `badver`, `badsum`,
    /// `badauth`), otherwise a name in the same style.
    pub fn counter_name(&self) -> &'static str {
        match self {
            DecodeError::TooShort { .. } => "hdrops",
            DecodeError::BadTtl { .. } => "badttl",
            DecodeError::BadLength(_) => "badlen",
            DecodeError::BadVersion { .. } => "badver",
            DecodeError::BadChecksum { .. } => "badsum",
            DecodeError::BadAuth => "badauth",
            DecodeError::NotCarp(_) => "notcarp",
            DecodeError::Fragment => "fragment",
        }
    }
}

/// The header a [`DecodeError::TooShort`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Ethernet,
    VlanTag,
    Ipv4,
    Ipv6,
    Ipv6Extension,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet header",
            Layer::VlanTag => "VLAN tag",
            Layer::Ipv4 => "IPv4 packet",
            Layer::Ipv6 => "IPv6 packet",
            Layer::Ipv6Extension => "IPv6 extension header",
        })
    }
}

/// The length problem behind a [`DecodeError::BadLength`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LengthError {
    /// VRRPv2 and VRRPv3 share protocol 112 and 224.0.0.18 but have other sizes.
    #[error(
        "payload is {0} bytes, a CARP advertisement is exactly {ADVERT_LEN} (probably VRRP, which shares IP protocol 112)"
    )]
    Payload(usize),
    #[error("IPv4 header length field says {0} bytes, below the 20-byte minimum")]
    Ipv4HeaderLength(usize),
    #[error("IPv4 total length {total} is less than its own header length {header}")]
    Ipv4TotalLength { total: usize, header: usize },
    #[error(
        "IPv6 payload length {payload} is less than its extension headers ({extensions} bytes)"
    )]
    Ipv6PayloadLength { payload: usize, extensions: usize },
}

/// Why a frame is not IP protocol 112.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NotCarp {
    #[error("ethertype {0:#06x} is neither IPv4 nor IPv6")]
    EtherType(u16),
    #[error("more than two VLAN tags")]
    TooManyVlanTags,
    #[error("IP version field is {found}, the framing says IPv{expected}")]
    IpVersionMismatch { expected: u8, found: u8 },
    #[error("first nibble {0} is neither IP version 4 nor 6")]
    NotIp(u8),
    #[error("IP protocol {0}, CARP is 112")]
    Protocol(u8),
}

/// A password the BSD peers cannot use as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// The peers keep at most 19 bytes, so a longer one would never match.
    #[error("password is {len} bytes; CARP peers (FreeBSD, OpenBSD, ucarp) use at most 19")]
    TooLong { len: usize },
    /// The peers store a C string: a NUL would end the password there.
    #[error("password has a NUL byte at offset {at}; CARP peers would end the password there")]
    ContainsNul { at: usize },
}
