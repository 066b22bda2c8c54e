//! The advertisement captured from ucarp decodes, authenticates, and is
//! rebuilt byte for byte.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

mod proto_support;

use std::net::{IpAddr, Ipv4Addr};

use carp_agent::proto::{
    Advertisement, AuthKey, CARP_GROUP_V4, DecodeError, FrameBuilder, MacAddr, decode_frame,
    decode_ip,
};
use proto_support::{UCARP_COUNTER, UCARP_SRC, UCARP_VIP, auth, ucarp_auth, ucarp_frame};

#[test]
fn ucarp_frame_decodes_and_authenticates() {
    let packet = decode_frame(&ucarp_frame()).unwrap();
    assert_eq!(packet.src, IpAddr::V4(UCARP_SRC));
    assert_eq!(packet.dst, IpAddr::V4(CARP_GROUP_V4));
    assert_eq!(packet.ttl, 255);
    let ethernet = packet.ethernet.as_ref().unwrap();
    assert_eq!(ethernet.dst, MacAddr::CARP_GROUP_V4);
    assert_eq!(ethernet.src.to_string(), "00:00:5e:00:00:01");
    assert!(ethernet.vlans.is_empty());
    let advert = packet.advert;
    assert_eq!(
        (advert.vhid, advert.advbase, advert.advskew, advert.demote),
        (1, 1, 0, 0)
    );
    assert_eq!(advert.counter, UCARP_COUNTER);
    assert_eq!(advert.authenticate(&ucarp_auth()), Ok(()));
}

#[test]
fn ucarp_ip_packet_without_ethernet_decodes() {
    let frame = ucarp_frame();
    let packet = decode_ip(&frame[14..]).unwrap();
    assert_eq!(packet.ethernet, None);
    assert_eq!(packet.advert, decode_frame(&frame).unwrap().advert);
}

#[test]
fn wrong_password_is_badauth() {
    let advert = decode_frame(&ucarp_frame()).unwrap().advert;
    let wrong = auth("Secret", &[IpAddr::V4(UCARP_VIP)]);
    let err = advert.authenticate(&wrong).unwrap_err();
    assert_eq!(err, DecodeError::BadAuth);
    assert_eq!(err.counter_name(), "badauth");
    assert_eq!(
        err.to_string(),
        "HMAC mismatch: password or virtual address set differs"
    );
}

#[test]
fn wrong_or_extra_vip_is_badauth() {
    let advert = decode_frame(&ucarp_frame()).unwrap().advert;
    let other = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 101));
    for vips in [vec![other], vec![IpAddr::V4(UCARP_VIP), other], vec![]] {
        assert_eq!(
            advert.authenticate(&auth("secret", &vips)),
            Err(DecodeError::BadAuth),
            "{vips:?}"
        );
    }
}

#[test]
fn frame_builder_reproduces_the_capture() {
    let mut advert = Advertisement {
        vhid: 1,
        advskew: 0,
        advbase: 1,
        demote: 0,
        counter: UCARP_COUNTER,
        md: [0; 20],
    };
    advert.sign(&ucarp_auth());
    let builder = FrameBuilder {
        // ucarp's source MAC, not the BSD virtual MAC.
        src_mac: MacAddr([0, 0, 0x5e, 0, 0, 1]),
        ip_id: 0x8d9b,
        ..FrameBuilder::new(1)
    };
    let frame = builder.frame(IpAddr::V4(UCARP_SRC), &advert.encode());
    assert_eq!(hex::encode(frame), hex::encode(ucarp_frame()));
}

#[test]
fn password_of_20_bytes_is_refused_with_a_clear_error() {
    for len in [20, 21, 64] {
        let err = AuthKey::from_password(&vec![b'p'; len]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("password is {len} bytes; CARP peers (FreeBSD, OpenBSD, ucarp) use at most 19")
        );
    }
    assert!(
        AuthKey::from_password(b"").is_ok(),
        "no password is allowed"
    );
    assert!("0123456789abcdefghi".parse::<AuthKey>().is_ok());
}
