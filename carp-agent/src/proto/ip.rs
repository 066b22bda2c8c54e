//! The IP layer of a protocol-112 packet: locating it (IPv4 with options, IPv6
//! with extension headers), checking its lengths, and building it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol / IPv6 next header of CARP (and VRRP).
pub use carp_common::IPPROTO_CARP;
use carp_common::wire::{LINK_LOCAL_TTL, ipv4, ipv6};

use super::error::{DecodeError, Layer, LengthError, NotCarp};
pub const CARP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const CARP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

const IPV4_DONT_FRAGMENT: u16 = 0x4000;

const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DESTINATION_OPTIONS: u8 = 60;

/// The length fields of the IP header, checked only in the second stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lengths {
    V4 {
        header: usize,
        total: usize,
    },
    /// `payload_start` is after every extension header.
    V6 {
        payload_start: usize,
        payload: usize,
    },
}

/// The IP layer of a protocol-112 packet, found but not yet checked for CARP
/// validity.
///
/// Decoding is split in two: [`Envelope::parse_frame`] / [`Envelope::parse_ip`]
/// only answer "is this protocol 112, and from whom" (errors: `TooShort` before
/// the protocol is known, `NotCarp`); [`Envelope::advertisement`] then applies
/// the BSD checks in the BSD order. So a caller can tell foreign traffic from a
/// broken advert, and still knows the sender of a broken one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub ethernet: Option<super::EthernetHeader>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    fragment: bool,
    lengths: Lengths,
    /// From the first IP byte to the end of the capture.
    packet: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Finds the IP packet in an Ethernet frame (0 to 2 VLAN tags).
    pub fn parse_frame(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let (ethernet, ethertype, packet) = super::EthernetHeader::parse(frame)?;
        let version = if ethertype == super::link::ETHERTYPE_IPV4 {
            4
        } else {
            6
        };
        let mut envelope = Self::parse_version(packet, version)?;
        envelope.ethernet = Some(ethernet);
        Ok(envelope)
    }

    /// Reads a bare IPv4 or IPv6 packet, telling them apart by the version nibble.
    pub fn parse_ip(packet: &'a [u8]) -> Result<Self, DecodeError> {
        match packet.first().map(|b| b >> 4) {
            Some(version @ (4 | 6)) => Self::parse_version(packet, version),
            Some(other) => Err(DecodeError::NotCarp(NotCarp::NotIp(other))),
            None => Err(DecodeError::TooShort {
                layer: Layer::Ipv4,
                needed: ipv4::MIN_HLEN,
                available: 0,
            }),
        }
    }

    fn parse_version(packet: &'a [u8], expected: u8) -> Result<Self, DecodeError> {
        let (layer, min) = match expected {
            4 => (Layer::Ipv4, ipv4::MIN_HLEN),
            _ => (Layer::Ipv6, ipv6::HLEN),
        };
        if packet.len() < min {
            return Err(DecodeError::TooShort {
                layer,
                needed: min,
                available: packet.len(),
            });
        }
        let found = packet[0] >> 4;
        if found != expected {
            return Err(DecodeError::NotCarp(NotCarp::IpVersionMismatch {
                expected,
                found,
            }));
        }
        if expected == 4 {
            Self::parse_v4(packet)
        } else {
            Self::parse_v6(packet)
        }
    }

    fn parse_v4(p: &'a [u8]) -> Result<Self, DecodeError> {
        if p[ipv4::PROTOCOL] != IPPROTO_CARP {
            return Err(DecodeError::NotCarp(NotCarp::Protocol(p[ipv4::PROTOCOL])));
        }
        let be16 = |at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
        let addr_at = |at: usize| IpAddr::V4(Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]));
        Ok(Envelope {
            ethernet: None,
            src: addr_at(ipv4::SRC),
            dst: addr_at(ipv4::DST),
            ttl: p[ipv4::TTL],
            fragment: be16(ipv4::FRAGMENT) & ipv4::FRAGMENT_MASK != 0,
            lengths: Lengths::V4 {
                header: usize::from(p[0] & 0x0f) * 4,
                total: usize::from(be16(ipv4::TOTAL_LEN)),
            },
            packet: p,
        })
    }

    fn parse_v6(p: &'a [u8]) -> Result<Self, DecodeError> {
        let mut next = p[ipv6::NEXT_HEADER];
        let mut offset = ipv6::HLEN;
        let mut fragment = false;
        // Every extension header is at least 8 bytes, so this ends.
        while next != IPPROTO_CARP {
            let available = p.len().saturating_sub(offset);
            let truncated = |needed| DecodeError::TooShort {
                layer: Layer::Ipv6Extension,
                needed,
                available,
            };
            match next {
                IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION_OPTIONS => {
                    let [following, len, ..] = p[offset.min(p.len())..] else {
                        return Err(truncated(2));
                    };
                    next = following;
                    offset += (usize::from(len) + 1) * 8;
                }
                IPV6_FRAGMENT => {
                    // Only the fragment header's next header says whose fragment it is.
                    let Some(&inner) = p.get(offset) else {
                        return Err(truncated(1));
                    };
                    if inner != IPPROTO_CARP {
                        return Err(DecodeError::NotCarp(NotCarp::Protocol(inner)));
                    }
                    fragment = true;
                    next = inner;
                    offset += 8;
                }
                other => return Err(DecodeError::NotCarp(NotCarp::Protocol(other))),
            }
        }
        let addr_at = |at: usize| {
            let mut octets = [0; 16];
            octets.copy_from_slice(&p[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        Ok(Envelope {
            ethernet: None,
            src: addr_at(ipv6::SRC),
            dst: addr_at(ipv6::DST),
            ttl: p[ipv6::HOP_LIMIT],
            fragment,
            lengths: Lengths::V6 {
                payload_start: offset,
                payload: usize::from(u16::from_be_bytes([
                    p[ipv6::PAYLOAD_LEN],
                    p[ipv6::PAYLOAD_LEN + 1],
                ])),
            },
            packet: p,
        })
    }

    /// The protocol-112 payload, after checking that the IP length fields agree
    /// with each other and with the capture (`Fragment`, `BadLength`, `TooShort`).
    pub fn payload(&self) -> Result<&'a [u8], DecodeError> {
        if self.fragment {
            return Err(DecodeError::Fragment);
        }
        let available = self.packet.len();
        let (start, end) = match self.lengths {
            Lengths::V4 { header, total } => {
                if header < ipv4::MIN_HLEN {
                    return Err(DecodeError::BadLength(LengthError::Ipv4HeaderLength(
                        header,
                    )));
                }
                if total < header {
                    return Err(DecodeError::BadLength(LengthError::Ipv4TotalLength {
                        total,
                        header,
                    }));
                }
                if total > available {
                    return Err(DecodeError::TooShort {
                        layer: Layer::Ipv4,
                        needed: total,
                        available,
                    });
                }
                (header, total)
            }
            Lengths::V6 {
                payload_start,
                payload,
            } => {
                let end = ipv6::HLEN + payload;
                if end > available {
                    return Err(DecodeError::TooShort {
                        layer: Layer::Ipv6,
                        needed: end,
                        available,
                    });
                }
                if payload_start > end {
                    return Err(DecodeError::BadLength(LengthError::Ipv6PayloadLength {
                        payload,
                        extensions: payload_start - ipv6::HLEN,
                    }));
                }
                (payload_start, end)
            }
        };
        Ok(&self.packet[start..end])
    }

    /// Runs the checks of the BSD input path, in its order: lengths (`hdrops`,
    /// `badlen`), TTL, payload of 36 bytes, version, checksum. The HMAC is
    /// separate ([`super::Advertisement::authenticate`]) as it needs the key.
    pub fn advertisement(&self) -> Result<super::Advertisement, DecodeError> {
        let payload = self.payload()?;
        if self.ttl != LINK_LOCAL_TTL {
            return Err(DecodeError::BadTtl { ttl: self.ttl });
        }
        super::Advertisement::decode(payload)
    }

    /// [`Envelope::advertisement`] with the envelope's addresses attached.
    pub fn decode(self) -> Result<super::CarpPacket, DecodeError> {
        let advert = self.advertisement()?;
        Ok(super::CarpPacket {
            ethernet: self.ethernet,
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            advert,
        })
    }
}

/// Appends an IPv4 header to 224.0.0.18 (TTL 255, DF, header checksum) and `payload`.
pub(crate) fn write_ipv4(src: Ipv4Addr, tos: u8, id: u16, payload: &[u8], out: &mut Vec<u8>) {
    let total = u16::try_from(ipv4::MIN_HLEN + payload.len()).expect("payload fits in IPv4");
    let mut header = [0; ipv4::MIN_HLEN];
    header[0] = 0x45;
    header[1] = tos;
    header[ipv4::TOTAL_LEN..ipv4::TOTAL_LEN + 2].copy_from_slice(&total.to_be_bytes());
    header[ipv4::ID..ipv4::ID + 2].copy_from_slice(&id.to_be_bytes());
    header[ipv4::FRAGMENT..ipv4::FRAGMENT + 2].copy_from_slice(&IPV4_DONT_FRAGMENT.to_be_bytes());
    header[ipv4::TTL] = LINK_LOCAL_TTL;
    header[ipv4::PROTOCOL] = IPPROTO_CARP;
    header[ipv4::SRC..ipv4::SRC + 4].copy_from_slice(&src.octets());
    header[ipv4::DST..ipv4::DST + 4].copy_from_slice(&CARP_GROUP_V4.octets());
    let sum = super::checksum::internet_checksum(&header);
    header[ipv4::CHECKSUM..ipv4::CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// Appends an IPv6 header to ff02::12 (hop limit 255, flow label 0) and `payload`.
pub(crate) fn write_ipv6(src: Ipv6Addr, traffic_class: u8, payload: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(payload.len()).expect("payload fits in IPv6");
    // version 6, then the traffic class straddling the first two bytes.
    let first_word = (6u32 << 28) | (u32::from(traffic_class) << 20);
    out.extend_from_slice(&first_word.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.push(IPPROTO_CARP);
    out.push(LINK_LOCAL_TTL);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&CARP_GROUP_V6.octets());
    out.extend_from_slice(payload);
}
