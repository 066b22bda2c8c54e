//! Property: what FrameBuilder sends, the decoder returns unchanged, and it
//! authenticates whatever order the virtual addresses were listed in.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_agent::proto::{
    Advertisement, Auth, AuthKey, CARP_GROUP_V4, CARP_GROUP_V6, CarpPacket, DecodeError,
    EthernetHeader, FrameBuilder, MacAddr, VipSet, VlanTag, decode_frame, decode_ip,
    link::{ETHERTYPE_QINQ, ETHERTYPE_VLAN},
};
use proptest::prelude::*;

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

/// IPv4-only, IPv6-only or mixed, in random order.
fn vips() -> impl Strategy<Value = Vec<IpAddr>> {
    prop_oneof![
        prop::collection::vec(ipv4(), 1..5),
        prop::collection::vec(ipv6(), 1..5),
        prop::collection::vec(prop_oneof![ipv4(), ipv6()], 1..8),
    ]
}

/// The peers store passwords as C strings: no NUL.
fn password() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1..=255u8, 0..=19)
}

fn vlans() -> impl Strategy<Value = Vec<VlanTag>> {
    let tag = (
        prop_oneof![Just(ETHERTYPE_VLAN), Just(ETHERTYPE_QINQ)],
        any::<u16>(),
    )
        .prop_map(|(tpid, tci)| VlanTag { tpid, tci });
    prop::collection::vec(tag, 0..=2)
}

#[derive(Debug, Clone)]
struct Case {
    fields: Advertisement,
    password: Vec<u8>,
    vips: Vec<IpAddr>,
    /// The same addresses in another order.
    reordered: Vec<IpAddr>,
    src: IpAddr,
    builder: FrameBuilder,
}

fn case() -> impl Strategy<Value = Case> {
    let fields = (
        1..=255u8,
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
    )
        .prop_map(|(vhid, advskew, advbase, demote, counter)| Advertisement {
            vhid,
            advskew,
            advbase,
            demote,
            counter,
            md: [0; 20],
        });
    let builder = (any::<[u8; 6]>(), vlans(), any::<u8>(), any::<u16>()).prop_map(
        |(mac, vlans, tos, ip_id)| FrameBuilder {
            src_mac: MacAddr(mac),
            vlans,
            tos,
            ip_id,
        },
    );
    let vips = vips().prop_flat_map(|vips| (Just(vips.clone()), Just(vips).prop_shuffle()));
    (
        fields,
        password(),
        vips,
        prop_oneof![ipv4(), ipv6()],
        builder,
    )
        .prop_map(|(fields, password, (vips, reordered), src, builder)| Case {
            fields,
            password,
            vips,
            reordered,
            src,
            builder,
        })
}

fn auth_for(password: &[u8], vips: &[IpAddr]) -> Auth {
    Auth::new(
        &AuthKey::from_password(password).unwrap(),
        VipSet::new(vips.iter().copied()),
    )
}

fn expected_packet(case: &Case, advert: Advertisement, with_ethernet: bool) -> CarpPacket {
    let (dst, group_mac) = match case.src {
        IpAddr::V4(_) => (IpAddr::V4(CARP_GROUP_V4), MacAddr::CARP_GROUP_V4),
        IpAddr::V6(_) => (IpAddr::V6(CARP_GROUP_V6), MacAddr::CARP_GROUP_V6),
    };
    CarpPacket {
        ethernet: with_ethernet.then(|| EthernetHeader {
            dst: group_mac,
            src: case.builder.src_mac,
            vlans: case.builder.vlans.clone(),
        }),
        src: case.src,
        dst,
        ttl: 255,
        advert,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frame_round_trip(case in case()) {
        let auth = auth_for(&case.password, &case.vips);
        let mut advert = case.fields;
        advert.sign(&auth);
        let bytes = advert.encode();
        prop_assert_eq!(Advertisement::decode(&bytes), Ok(advert));

        let frame = case.builder.frame(case.src, &bytes);
        let decoded = decode_frame(&frame);
        prop_assert_eq!(&decoded, &Ok(expected_packet(&case, advert, true)));

        let packet = case.builder.ip_packet(case.src, &bytes);
        prop_assert_eq!(decode_ip(&packet), Ok(expected_packet(&case, advert, false)));

        // The receiver may list the same addresses in any order.
        let receiver = auth_for(&case.password, &case.reordered);
        prop_assert_eq!(decoded.unwrap().advert.authenticate(&receiver), Ok(()));
    }

    #[test]
    fn another_password_is_badauth(case in case(), other in password()) {
        prop_assume!(other != case.password);
        let mut advert = case.fields;
        advert.sign(&auth_for(&case.password, &case.vips));
        let decoded = decode_frame(&case.builder.frame(case.src, &advert.encode())).unwrap();
        prop_assert_eq!(
            decoded.advert.authenticate(&auth_for(&other, &case.vips)),
            Err(DecodeError::BadAuth)
        );
    }

    #[test]
    fn a_missing_vip_is_badauth(case in case()) {
        let set = VipSet::new(case.vips.iter().copied());
        prop_assume!(set.ipv4().len() + set.ipv6().len() > 1);
        let mut advert = case.fields;
        advert.sign(&auth_for(&case.password, &case.vips));
        let fewer: Vec<IpAddr> = case.vips.iter().copied().filter(|a| *a != case.vips[0]).collect();
        prop_assert_eq!(
            advert.authenticate(&auth_for(&case.password, &fewer)),
            Err(DecodeError::BadAuth)
        );
    }
}
