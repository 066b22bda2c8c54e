//! Specific malformed, foreign and unusual packets, and what the errors say.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

mod proto_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_agent::proto::{
    DecodeError, Envelope, FrameBuilder, Layer, LengthError, NotCarp, VlanTag,
    checksum::internet_checksum, decode_frame, decode_ip,
};
use proto_support::{UCARP_SRC, ucarp_auth, ucarp_frame, unhex};

const IP: usize = 14;

/// The ucarp frame's IPv6 counterpart, built the way the BSDs send it.
fn ipv6_packet() -> Vec<u8> {
    let advert = decode_frame(&ucarp_frame()).unwrap().advert.encode();
    let src = IpAddr::V6("fe80::1".parse().unwrap());
    FrameBuilder::new(1).ip_packet(src, &advert)
}

fn fix_ipv4_checksum(packet: &mut [u8]) {
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    packet[10..12].fill(0);
    let sum = internet_checksum(&packet[..header_len]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn every_truncation_is_hdrops() {
    let frame = ucarp_frame();
    for len in 0..frame.len() {
        let err = decode_frame(&frame[..len]).unwrap_err();
        assert_eq!(err.counter_name(), "hdrops", "length {len}: {err}");
    }
    let packet = ipv6_packet();
    for len in 0..packet.len() {
        let err = decode_ip(&packet[..len]).unwrap_err();
        assert_eq!(err.counter_name(), "hdrops", "length {len}: {err}");
    }
    assert_eq!(
        decode_frame(&frame[..60]).unwrap_err().to_string(),
        "IPv4 packet truncated: needs 56 bytes, only 46 present"
    );
}

#[test]
fn trailing_bytes_after_the_ip_packet_are_ignored() {
    // Ethernet padding or a captured FCS.
    let mut frame = ucarp_frame();
    frame.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(decode_frame(&frame), decode_frame(&ucarp_frame()));
}

#[test]
fn vrrp_is_badlen_and_says_so() {
    // A VRRPv2 advertisement: version 2 type 1, vrid 1, priority 100, one
    // address, no auth, interval 1, checksum, 10.99.0.100, 8 bytes auth data.
    let vrrp = "45c0 0028 0000 0000 ff70 0000 0a630001 e0000012 \
                2101 6401 0001 0000 0a630064 0000000000000000";
    let mut packet = unhex(vrrp);
    fix_ipv4_checksum(&mut packet);
    let err = decode_ip(&packet).unwrap_err();
    assert_eq!(err, DecodeError::BadLength(LengthError::Payload(20)));
    assert_eq!(err.counter_name(), "badlen");
    assert_eq!(
        err.to_string(),
        "payload is 20 bytes, a CARP advertisement is exactly 36 (probably VRRP, which shares IP protocol 112)"
    );
}

#[test]
fn ttl_is_checked_after_lengths_and_before_the_payload() {
    let mut frame = ucarp_frame();
    frame[IP + 8] = 1;
    assert_eq!(decode_frame(&frame), Err(DecodeError::BadTtl { ttl: 1 }));
    // A truncated packet is hdrops even with a bad TTL.
    assert_eq!(
        decode_frame(&frame[..60]).unwrap_err().counter_name(),
        "hdrops"
    );
    // A bad TTL wins over a bad version and checksum.
    frame[IP + 20] = 0x31;
    assert_eq!(decode_frame(&frame).unwrap_err().counter_name(), "badttl");
}

#[test]
fn the_envelope_names_the_sender_of_a_rejected_advert() {
    let mut frame = ucarp_frame();
    frame[IP + 8] = 64;
    let envelope = Envelope::parse_frame(&frame).unwrap();
    assert_eq!(envelope.src, IpAddr::V4(UCARP_SRC));
    assert_eq!(envelope.ttl, 64);
    assert_eq!(
        envelope.advertisement().unwrap_err().to_string(),
        "TTL/hop limit 64, must be 255 (the packet left its link or was forged)"
    );
    // The payload is still there to show what it claimed.
    assert_eq!(envelope.payload().unwrap().len(), 36);
}

#[test]
fn ipv4_options_are_skipped() {
    let frame = ucarp_frame();
    let mut packet = frame[IP..IP + 20].to_vec();
    packet[0] = 0x46;
    packet[3] += 4;
    packet.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]); // router alert
    packet.extend_from_slice(&frame[IP + 20..]);
    fix_ipv4_checksum(&mut packet);
    let decoded = decode_ip(&packet).unwrap();
    assert_eq!(decoded.advert.authenticate(&ucarp_auth()), Ok(()));
}

#[test]
fn ipv4_fragments_are_refused() {
    let mut frame = ucarp_frame();
    frame[IP + 6] = 0x20; // more fragments
    let err = decode_frame(&frame).unwrap_err();
    assert_eq!(err, DecodeError::Fragment);
    assert_eq!(err.counter_name(), "fragment");
    let mut frame = ucarp_frame();
    frame[IP + 7] = 0x01; // offset 8
    assert_eq!(decode_frame(&frame), Err(DecodeError::Fragment));
}

/// Inserts an extension header of type `kind` (next header `next`) after the
/// fixed IPv6 header.
fn with_extension(kind: u8, next: u8) -> Vec<u8> {
    let packet = ipv6_packet();
    let mut out = packet[..40].to_vec();
    out[6] = kind;
    out[5] += 8;
    out.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&packet[40..]);
    out
}

#[test]
fn ipv6_extension_headers_are_walked() {
    for kind in [0, 43, 60] {
        let decoded = decode_ip(&with_extension(kind, 112)).unwrap();
        assert_eq!(decoded.advert.authenticate(&ucarp_auth()), Ok(()), "{kind}");
    }
    // Hop-by-hop before an MLD report is someone else's.
    assert_eq!(
        decode_ip(&with_extension(0, 58)),
        Err(DecodeError::NotCarp(NotCarp::Protocol(58)))
    );
    let truncated = &with_extension(0, 112)[..41];
    assert_eq!(
        decode_ip(truncated),
        Err(DecodeError::TooShort {
            layer: Layer::Ipv6Extension,
            needed: 2,
            available: 1
        })
    );
}

#[test]
fn ipv6_fragments_of_carp_are_refused_others_are_foreign() {
    assert_eq!(
        decode_ip(&with_extension(44, 112)),
        Err(DecodeError::Fragment)
    );
    assert_eq!(
        decode_ip(&with_extension(44, 17)),
        Err(DecodeError::NotCarp(NotCarp::Protocol(17)))
    );
}

#[test]
fn ipv6_payload_length_shorter_than_extensions_is_badlen() {
    let mut packet = with_extension(60, 112);
    packet[5] = 4;
    assert_eq!(
        decode_ip(&packet),
        Err(DecodeError::BadLength(LengthError::Ipv6PayloadLength {
            payload: 4,
            extensions: 8
        }))
    );
}

#[test]
fn foreign_traffic_is_notcarp() {
    let mut arp = ucarp_frame();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        decode_frame(&arp).unwrap_err().to_string(),
        "not CARP: ethertype 0x0806 is neither IPv4 nor IPv6"
    );
    let mut udp = ucarp_frame();
    udp[IP + 9] = 17;
    assert_eq!(
        decode_frame(&udp),
        Err(DecodeError::NotCarp(NotCarp::Protocol(17)))
    );
    assert_eq!(
        decode_ip(&[0x50; 40]),
        Err(DecodeError::NotCarp(NotCarp::NotIp(5)))
    );
    let mut mismatch = ucarp_frame();
    mismatch[12..14].copy_from_slice(&[0x86, 0xdd]);
    mismatch.extend_from_slice(&[0; 20]);
    assert_eq!(
        decode_frame(&mismatch),
        Err(DecodeError::NotCarp(NotCarp::IpVersionMismatch {
            expected: 6,
            found: 4
        }))
    );
}

#[test]
fn three_vlan_tags_are_not_decoded() {
    let advert = decode_frame(&ucarp_frame()).unwrap().advert.encode();
    let src = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
    let two = FrameBuilder {
        vlans: vec![VlanTag::dot1q(1), VlanTag::dot1q(2)],
        ..FrameBuilder::new(1)
    };
    assert!(decode_frame(&two.frame(src, &advert)).is_ok());
    let three = FrameBuilder {
        vlans: vec![VlanTag::dot1q(1); 3],
        ..FrameBuilder::new(1)
    };
    assert_eq!(
        decode_frame(&three.frame(src, &advert)),
        Err(DecodeError::NotCarp(NotCarp::TooManyVlanTags))
    );
}

#[test]
fn frame_builder_ipv6_header_fields() {
    let packet = ipv6_packet();
    assert_eq!(&packet[..8], &[0x61, 0x00, 0x00, 0x00, 0x00, 36, 112, 255]);
    let decoded = decode_ip(&packet).unwrap();
    assert_eq!(
        decoded.dst,
        IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12))
    );
}

#[test]
fn frame_builder_ipv4_header_checksum_verifies() {
    let builder = FrameBuilder {
        tos: 0xe0,
        ip_id: 0xbeef,
        ..FrameBuilder::new(9)
    };
    let advert = decode_frame(&ucarp_frame()).unwrap().advert.encode();
    let packet = builder.ip_packet(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), &advert);
    assert_eq!(internet_checksum(&packet[..20]), 0);
    assert_eq!((packet[1], packet[6], packet[8]), (0xe0, 0x40, 255));
}

#[test]
fn counter_names_match_carpstats() {
    let cases = [
        (
            DecodeError::TooShort {
                layer: Layer::Ethernet,
                needed: 14,
                available: 3,
            },
            "hdrops",
        ),
        (DecodeError::BadTtl { ttl: 1 }, "badttl"),
        (DecodeError::BadLength(LengthError::Payload(1)), "badlen"),
        (
            DecodeError::BadVersion {
                version: 1,
                kind: 1,
            },
            "badver",
        ),
        (
            DecodeError::BadChecksum {
                found: 0,
                expected: 1,
            },
            "badsum",
        ),
        (DecodeError::BadAuth, "badauth"),
        (DecodeError::NotCarp(NotCarp::Protocol(6)), "notcarp"),
        (DecodeError::Fragment, "fragment"),
    ];
    for (err, name) in cases {
        assert_eq!(err.counter_name(), name, "{err}");
    }
}
