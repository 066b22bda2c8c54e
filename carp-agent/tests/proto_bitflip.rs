//! Every single-bit change of a valid advertisement, enumerated exhaustively:
//! either the decoder rejects it with the error of the field the bit is in, or
//! the bit does not matter to CARP and the frame decodes with just that field
//! changed.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

mod proto_support;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use carp_agent::proto::{
    Advertisement, Auth, CarpPacket, DecodeError, FrameBuilder, MacAddr, VlanTag, decode_frame,
    decode_ip, link::ETHERTYPE_QINQ,
};
use proto_support::{auth, ucarp_auth, ucarp_frame};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// A valid frame or packet and what it is made of.
struct Fixture {
    name: &'static str,
    bytes: Vec<u8>,
    /// `None` for a bare IP packet, else the number of VLAN tags.
    vlans: Option<usize>,
    family: Family,
    auth: Auth,
}

impl Fixture {
    fn ip_offset(&self) -> usize {
        self.vlans.map_or(0, |n| 14 + 4 * n)
    }

    fn carp_offset(&self) -> usize {
        self.ip_offset()
            + match self.family {
                Family::V4 => 20,
                Family::V6 => 40,
            }
    }

    fn decode(&self, bytes: &[u8]) -> Result<CarpPacket, DecodeError> {
        match self.vlans {
            Some(_) => decode_frame(bytes),
            None => decode_ip(bytes),
        }
    }
}

fn signed(vhid: u8, counter: u64, auth: &Auth) -> [u8; 36] {
    let mut advert = Advertisement {
        vhid,
        advskew: 100,
        advbase: 1,
        demote: 3,
        counter,
        md: [0; 20],
    };
    advert.sign(auth);
    advert.encode()
}

fn fixtures() -> Vec<Fixture> {
    let v6_src = IpAddr::V6("fe80::200:5eff:fe00:107".parse::<Ipv6Addr>().unwrap());
    let v6_vips = [
        IpAddr::V6("2001:db8::1".parse().unwrap()),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    ];
    let v6_auth = || auth("pw6", &v6_vips);
    let v6_advert = signed(7, 0x0123_4567_89ab_cdef, &v6_auth());
    let v4_src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let v4_vips = [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))];
    let v4_auth = || auth("pw4", &v4_vips);
    let v4_advert = signed(200, 42, &v4_auth());

    let untagged = FrameBuilder::new(7);
    let one_tag = FrameBuilder {
        vlans: vec![VlanTag::dot1q(10)],
        ..FrameBuilder::new(7)
    };
    let qinq = FrameBuilder {
        vlans: vec![
            VlanTag {
                tpid: ETHERTYPE_QINQ,
                tci: 0x0064,
            },
            VlanTag::dot1q(0x0c8),
        ],
        ip_id: 0x1234,
        ..FrameBuilder::new(200)
    };
    let ucarp = ucarp_frame();
    vec![
        Fixture {
            name: "ucarp IPv4 frame",
            bytes: ucarp.clone(),
            vlans: Some(0),
            family: Family::V4,
            auth: ucarp_auth(),
        },
        Fixture {
            name: "ucarp IPv4 packet",
            bytes: ucarp[14..].to_vec(),
            vlans: None,
            family: Family::V4,
            auth: ucarp_auth(),
        },
        Fixture {
            name: "IPv4 frame with 802.1ad + 802.1Q tags",
            bytes: qinq.frame(v4_src, &v4_advert),
            vlans: Some(2),
            family: Family::V4,
            auth: v4_auth(),
        },
        Fixture {
            name: "IPv6 frame",
            bytes: untagged.frame(v6_src, &v6_advert),
            vlans: Some(0),
            family: Family::V6,
            auth: v6_auth(),
        },
        Fixture {
            name: "IPv6 frame with 802.1Q tag",
            bytes: one_tag.frame(v6_src, &v6_advert),
            vlans: Some(1),
            family: Family::V6,
            auth: v6_auth(),
        },
        Fixture {
            name: "IPv6 packet",
            bytes: untagged.ip_packet(v6_src, &v6_advert),
            vlans: None,
            family: Family::V6,
            auth: v6_auth(),
        },
    ]
}

/// What flipping a bit must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Rejected; the carpstats-style counter name of the error.
    Rejected(&'static str),
    /// Accepted and decoded exactly as before.
    Unchanged,
    DstMac,
    SrcMac,
    VlanTci(usize),
    SrcIp,
    DstIp,
}

/// The effect of flipping `mask` in byte `at`, from the field the bit is in.
fn effect(fx: &Fixture, at: usize, mask: u8) -> Effect {
    use Effect::*;
    if let Some(tags) = fx.vlans {
        match at {
            0..6 => return DstMac,
            6..12 => return SrcMac,
            _ => {}
        }
        let ethertype = 12 + 4 * tags;
        if at < ethertype {
            let tag = (at - 12) / 4;
            // Tag protocol identifier, then tag control information.
            return if (at - 12) % 4 < 2 {
                Rejected("notcarp")
            } else {
                VlanTci(tag)
            };
        }
        if at < ethertype + 2 {
            return Rejected("notcarp");
        }
    }
    let carp = fx.carp_offset();
    if at == carp {
        return Rejected("badver");
    }
    if at > carp {
        // The checksum covers every other header byte.
        return Rejected("badsum");
    }
    let rel = at - fx.ip_offset();
    // A length that grows runs past the capture; one that shrinks leaves
    // a payload that is not 36 bytes.
    let length_field = |start: usize| {
        let read = |bytes: &[u8]| u16::from_be_bytes([bytes[start], bytes[start + 1]]);
        let mut flipped = fx.bytes.clone();
        flipped[at] ^= mask;
        if read(&flipped) > read(&fx.bytes) {
            Rejected("hdrops")
        } else {
            Rejected("badlen")
        }
    };
    let ip = fx.ip_offset();
    match fx.family {
        Family::V4 => match rel {
            // Version (NotCarp) / header length (contradicts the total length).
            0 if mask & 0xf0 != 0 => Rejected("notcarp"),
            0 => Rejected("badlen"),
            1 => Unchanged, // TOS
            2 | 3 => length_field(ip + 2),
            4 | 5 => Unchanged, // identification
            // Reserved and DF flags don't matter; MF and the offset make a fragment.
            6 if mask & 0xc0 != 0 => Unchanged,
            6 | 7 => Rejected("fragment"),
            8 => Rejected("badttl"),
            9 => Rejected("notcarp"),
            10 | 11 => Unchanged, // header checksum: not checked, like the BSDs
            12..16 => SrcIp,
            16..20 => DstIp,
            _ => unreachable!("byte {rel} of the IPv4 header"),
        },
        Family::V6 => match rel {
            0 if mask & 0xf0 != 0 => Rejected("notcarp"),
            0..4 => Unchanged, // traffic class, flow label
            4 | 5 => length_field(ip + 4),
            6 => Rejected("notcarp"),
            7 => Rejected("badttl"),
            8..24 => SrcIp,
            24..40 => DstIp,
            _ => unreachable!("byte {rel} of the IPv6 header"),
        },
    }
}

fn addr_at(fx: &Fixture, bytes: &[u8], rel: usize) -> IpAddr {
    let at = fx.ip_offset() + rel;
    match fx.family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(
            bytes[at],
            bytes[at + 1],
            bytes[at + 2],
            bytes[at + 3],
        )),
        Family::V6 => {
            let octets: [u8; 16] = bytes[at..at + 16].try_into().unwrap();
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    }
}

fn mac_at(bytes: &[u8], at: usize) -> MacAddr {
    MacAddr(bytes[at..at + 6].try_into().unwrap())
}

/// The packet an accepted flip must decode to.
fn expected(fx: &Fixture, original: &CarpPacket, flipped: &[u8], effect: Effect) -> CarpPacket {
    let mut packet = original.clone();
    let ethernet = packet.ethernet.as_mut();
    match effect {
        Effect::Unchanged => {}
        Effect::DstMac => ethernet.unwrap().dst = mac_at(flipped, 0),
        Effect::SrcMac => ethernet.unwrap().src = mac_at(flipped, 6),
        Effect::VlanTci(i) => {
            let at = 14 + 4 * i;
            ethernet.unwrap().vlans[i].tci = u16::from_be_bytes([flipped[at], flipped[at + 1]]);
        }
        Effect::SrcIp => {
            packet.src = addr_at(fx, flipped, if fx.family == Family::V4 { 12 } else { 8 })
        }
        Effect::DstIp => {
            packet.dst = addr_at(fx, flipped, if fx.family == Family::V4 { 16 } else { 24 })
        }
        Effect::Rejected(_) => unreachable!(),
    }
    packet
}

#[test]
fn every_single_bit_flip_is_caught_by_the_right_check_or_harmless() {
    for fx in fixtures() {
        let original = fx.decode(&fx.bytes).unwrap();
        assert_eq!(
            original.advert.authenticate(&fx.auth),
            Ok(()),
            "{}",
            fx.name
        );
        let mut tally: BTreeMap<String, usize> = BTreeMap::new();
        for at in 0..fx.bytes.len() {
            for bit in 0..8 {
                let mask = 1u8 << bit;
                let mut flipped = fx.bytes.clone();
                flipped[at] ^= mask;
                let effect = effect(&fx, at, mask);
                let result = fx.decode(&flipped);
                let context = format!("{}: byte {at} bit {bit} ({effect:?})", fx.name);
                match effect {
                    Effect::Rejected(counter) => {
                        let err = result.expect_err(&context);
                        assert_eq!(err.counter_name(), counter, "{context}: {err}");
                    }
                    _ => {
                        let packet = result.unwrap_or_else(|e| panic!("{context}: {e}"));
                        assert_eq!(
                            packet,
                            expected(&fx, &original, &flipped, effect),
                            "{context}"
                        );
                        assert_eq!(packet.advert.authenticate(&fx.auth), Ok(()), "{context}");
                    }
                }
                let key = match effect {
                    Effect::Rejected(counter) => counter.to_string(),
                    _ => "accepted".to_string(),
                };
                *tally.entry(key).or_default() += 1;
            }
        }
        // The CARP header alone gives 8 badver and 35 * 8 badsum flips.
        assert_eq!(tally["badver"], 8, "{}", fx.name);
        assert_eq!(tally["badsum"], 35 * 8, "{}", fx.name);
        assert_eq!(tally["badttl"], 8, "{}", fx.name);
        assert_eq!(tally.values().sum::<usize>(), fx.bytes.len() * 8);
        for counter in ["notcarp", "badlen", "hdrops", "accepted"] {
            assert!(
                tally.contains_key(counter),
                "{}: no {counter} case",
                fx.name
            );
        }
    }
}

/// An attacker who also fixes the checksum: the HMAC catches changes to vhid,
/// counter and md, but advskew, advbase and demote are outside the HMAC (as in
/// the BSDs), so such changes are accepted. authlen is ignored on receipt.
#[test]
fn with_the_checksum_recomputed_only_the_hmac_stands_in_the_way() {
    for fx in fixtures() {
        let original = fx.decode(&fx.bytes).unwrap();
        let carp = fx.carp_offset();
        for rel in (1..36).filter(|rel| !(6..8).contains(rel)) {
            for bit in 0..8 {
                let mut flipped = fx.bytes.clone();
                flipped[carp + rel] ^= 1 << bit;
                let header = &mut flipped[carp..carp + 36];
                header[6..8].fill(0);
                let sum = carp_agent::proto::checksum::internet_checksum(header);
                header[6..8].copy_from_slice(&sum.to_be_bytes());
                let context = format!("{}: header byte {rel} bit {bit}", fx.name);

                let packet = fx
                    .decode(&flipped)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                let new = flipped[carp + rel];
                let auth = packet.advert.authenticate(&fx.auth);
                let mut advert = original.advert;
                match rel {
                    1 | 8..36 => {
                        assert_eq!(auth, Err(DecodeError::BadAuth), "{context}");
                        continue;
                    }
                    2 => advert.advskew = new,
                    3 => {} // authlen
                    4 => advert.demote = new,
                    5 => advert.advbase = new,
                    _ => unreachable!(),
                }
                assert_eq!(auth, Ok(()), "{context}");
                assert_eq!(packet.advert, advert, "{context}");
            }
        }
    }
}
