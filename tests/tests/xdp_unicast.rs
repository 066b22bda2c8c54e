//! Unicast adverts through the XDP program (BPF_PROG_TEST_RUN): accepted
//! from a configured peer of the vhid (`CARP_PEERS`), refused from anyone
//! else (`badpeer`), with FreeBSD's TTL rule (not checked for unicast) by
//! default and OpenBSD's (TTL 255) with `PEER_FLAG_STRICT_TTL`.
//!
//! The IPv4 vector is a FreeBSD 14 master's unicast advert built by hand
//! from what `carp_send_ad_locked` does with `peer` set (docs/unicast.md):
//! Ethernet source the sender's NIC MAC (the virtual MAC only goes on
//! multicast adverts), destination our NIC MAC, IPv4 TOS 0xe0 (DSCP 56),
//! DF, TTL 255, destination our unicast address. Its HMAC is real: the
//! agent's own codec authenticates it too.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::net::{IpAddr, Ipv4Addr};

use carp_agent::{
    dataplane::peers::{peer_entry, peer_key},
    proto::{
        self,
        auth::{Auth, AuthKey, VipSet},
    },
};
use carp_common::{FAMILY_IPV4, FAMILY_IPV6, Port, STATE_BACKUP, Stat};
use carp_tests::{
    frames::{self, Advert},
    privileges::require_root,
    xdp::{self, XDP_DROP, XDP_PASS, action_name, counters, delta_of, describe_delta, lab::*},
};

/// FreeBSD 14, `ifconfig em0 vhid 1 advskew 0 pass secret peer 10.0.0.1
/// alias 10.0.0.100/32` on the host 10.0.0.2 (`PEER4`), NIC MAC `PEER_MAC`:
/// its advert to us (10.0.0.1, NIC MAC `NIC_MAC`), counter
/// 0x5f3c2a1e00000007, HMAC-SHA1 over `02 01 01 0a000064` and the counter
/// with key "secret". Both checksums verify.
const FREEBSD_UNICAST_V4: &str = concat!(
    "02000000000a",                             // Ethernet destination: our NIC MAC
    "02000000000b",     // source: the FreeBSD host's NIC MAC, not 00:00:5e:00:01:01
    "0800",             //
    "45e000381c464000", // IPv4, TOS 0xe0 (DSCP 56), length 56, id, DF
    "ff704a2d",         // TTL 255, protocol 112, header checksum
    "0a000002",         // source 10.0.0.2, the peer
    "0a000001",         // destination 10.0.0.1: unicast, not 224.0.0.18
    "210100070001226b", // CARP v2 advert, vhid 1, advskew 0, authlen 7, advbase 1, checksum
    "5f3c2a1e00000007", // counter
    "52150ec56368b860a293d5c870a5bd67e0b72f65", // HMAC-SHA1
);

fn vector() -> Vec<u8> {
    (0..FREEBSD_UNICAST_V4.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&FREEBSD_UNICAST_V4[i..i + 2], 16).unwrap())
        .collect()
}

/// The vector with another TTL (IPv4 header checksum fixed up): what a
/// peer behind a router would send.
fn with_ttl(mut frame: Vec<u8>, ttl: u8) -> Vec<u8> {
    frame[14 + 8] = ttl;
    frame[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let sum = !frames::ones_complement_sum(&frame[14..34]);
    frame[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
    frame
}

/// The vector from another source (a host that is no peer).
fn from_source(mut frame: Vec<u8>, src: [u8; 4]) -> Vec<u8> {
    frame[14 + 12..14 + 16].copy_from_slice(&src);
    with_ttl(frame.clone(), frame[14 + 8])
}

/// A unicast IPv6 advert (FreeBSD `peer6`): traffic class 0xe0, from
/// `src` to our fd00::1.
fn unicast_v6(src: [u8; 16], hop_limit: u8) -> Vec<u8> {
    let mut ip = frames::ipv6(
        src,
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        hop_limit,
        frames::IPPROTO_CARP,
        &Advert::new(VHID).bytes(),
    );
    ip[..4].copy_from_slice(&[0x6e, 0, 0, 0]);
    frames::ethernet(NIC_MAC, PEER_MAC, &[], frames::ETHERTYPE_IPV6, &ip)
}

struct Step {
    name: &'static str,
    peers: Vec<(IpAddr, bool)>,
    frame: Vec<u8>,
    action: u32,
    counters: Vec<Stat>,
    /// The event's family, source and TTL, when one must be queued.
    event: Option<(u8, [u8; 16], u8)>,
}

fn v4_source(a: [u8; 4]) -> [u8; 16] {
    let mut s = [0; 16];
    s[..4].copy_from_slice(&a);
    s
}

fn run(ebpf: &mut aya::Ebpf, step: &Step) -> Result<(), String> {
    let fail = |what: String| format!("step `{}`: {what}", step.name);
    xdp::reset(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    xdp::install(ebpf, &config(STATE_BACKUP)).map_err(|e| fail(format!("{e:#}")))?;
    for &(peer, strict) in &step.peers {
        xdp::set_peer(
            ebpf,
            peer_key(Port::untagged(IFINDEX), VHID, peer),
            peer_entry(strict),
        )
        .map_err(|e| fail(format!("{e:#}")))?;
    }
    let before = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let out = xdp::run(ebpf, &step.frame).map_err(|e| fail(format!("{e:#}")))?;
    let after = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let mut problems = Vec::new();
    if out.action != step.action {
        problems.push(format!(
            "action {} (expected {})",
            action_name(out.action),
            action_name(step.action)
        ));
    }
    let delta: [u64; carp_common::STAT_COUNT] = after
        .iter()
        .zip(before)
        .map(|(a, b)| a - b)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let expected = delta_of(&step.counters);
    if delta != expected {
        problems.push(format!(
            "counters {} (expected {})",
            describe_delta(&delta),
            describe_delta(&expected)
        ));
    }
    let events = xdp::drain_events(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    match (step.event, events.as_slice()) {
        (None, []) => {}
        (Some((family, source, ttl)), [got])
            if got.family == family
                && got.source == source
                && got.ttl == ttl
                && got.ifindex == IFINDEX => {}
        (want, got) => problems.push(format!("events {got:?}, expected {want:?}")),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("; ")))
    }
}

fn run_steps(test: &str, steps: &[Step]) {
    if !require_root(test) {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let failures: Vec<String> = steps
        .iter()
        .filter_map(|s| run(&mut ebpf, s).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} steps failed:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
    println!("{test}: {} steps passed", steps.len());
}

fn peer4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(PEER4))
}

#[test]
fn the_freebsd_vector_is_a_valid_authenticated_advert() {
    // The agent's codec reads the frame as any advert: the vector is
    // what it says, and the node would accept its digest.
    let packet = proto::decode_frame(&vector()).unwrap();
    assert_eq!(packet.src, IpAddr::V4(Ipv4Addr::from(PEER4)));
    assert_eq!(packet.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(packet.ttl, 255);
    assert_eq!(packet.advert.vhid, VHID);
    assert_eq!(packet.advert.counter, 0x5f3c_2a1e_0000_0007);
    let key: AuthKey = "secret".parse().unwrap();
    let auth = Auth::new(&key, VipSet::new([IpAddr::V4(Ipv4Addr::from(VIP4))]));
    packet.advert.authenticate(&auth).unwrap();
    let wrong = Auth::new(
        &"other".parse::<AuthKey>().unwrap(),
        VipSet::new([IpAddr::V4(Ipv4Addr::from(VIP4))]),
    );
    assert!(packet.advert.authenticate(&wrong).is_err());
}

#[test]
fn unicast_adverts_from_peers_only() {
    let other = [10, 0, 0, 3];
    let adverts = [Stat::Ipackets, Stat::Adverts];
    let refused = [Stat::Ipackets, Stat::Badpeer];
    run_steps(
        "unicast_adverts_from_peers_only",
        &[
            Step {
                name: "FreeBSD vector from the peer",
                peers: vec![(peer4(), false)],
                frame: vector(),
                action: XDP_DROP,
                counters: adverts.to_vec(),
                event: Some((FAMILY_IPV4, v4_source(PEER4), 255)),
            },
            Step {
                name: "FreeBSD vector, peer behind a router (TTL 254): TTL not checked",
                peers: vec![(peer4(), false)],
                frame: with_ttl(vector(), 254),
                action: XDP_DROP,
                counters: adverts.to_vec(),
                event: Some((FAMILY_IPV4, v4_source(PEER4), 254)),
            },
            Step {
                name: "FreeBSD vector from a host that is no peer",
                peers: vec![(peer4(), false)],
                frame: from_source(vector(), other),
                action: XDP_DROP,
                counters: refused.to_vec(),
                event: None,
            },
            Step {
                name: "FreeBSD vector, the vhid has no peers",
                peers: vec![],
                frame: vector(),
                action: XDP_DROP,
                counters: refused.to_vec(),
                event: None,
            },
            Step {
                name: "OpenBSD flavour (strict TTL): TTL 255 accepted",
                peers: vec![(peer4(), true)],
                frame: vector(),
                action: XDP_DROP,
                counters: adverts.to_vec(),
                event: Some((FAMILY_IPV4, v4_source(PEER4), 255)),
            },
            Step {
                name: "OpenBSD flavour (strict TTL): TTL 254 refused",
                peers: vec![(peer4(), true)],
                frame: with_ttl(vector(), 254),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets, Stat::Badttl],
                event: None,
            },
            Step {
                name: "multicast adverts still need TTL 255 with peers",
                peers: vec![(peer4(), false)],
                frame: frames::ethernet(
                    frames::CARP_GROUP_V4_MAC,
                    PEER_MAC,
                    &[],
                    frames::ETHERTYPE_IPV4,
                    &frames::Ipv4 {
                        src: PEER4,
                        ttl: 254,
                        ..frames::Ipv4::default()
                    }
                    .packet(&Advert::new(VHID).bytes()),
                ),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets, Stat::Badttl],
                event: None,
            },
            Step {
                name: "IPv6 unicast from the peer, hop limit 64: not checked",
                peers: vec![(IpAddr::from(PEER6), false)],
                frame: unicast_v6(PEER6, 64),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets6, Stat::Adverts],
                event: Some((FAMILY_IPV6, PEER6, 64)),
            },
            Step {
                name: "IPv6 unicast from a link-local peer",
                peers: vec![(IpAddr::from(PEER6_LL), false)],
                frame: unicast_v6(PEER6_LL, 255),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets6, Stat::Adverts],
                event: Some((FAMILY_IPV6, PEER6_LL, 255)),
            },
            Step {
                name: "IPv6 unicast from a host that is no peer",
                peers: vec![(IpAddr::from(PEER6), false)],
                frame: unicast_v6(OTHER6, 255),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets6, Stat::Badpeer],
                event: None,
            },
            Step {
                name: "an IPv4 peer does not admit the same bytes as IPv6",
                peers: vec![(peer4(), false)],
                frame: unicast_v6(v4_source(PEER4), 255),
                action: XDP_DROP,
                counters: vec![Stat::Ipackets6, Stat::Badpeer],
                event: None,
            },
            Step {
                name: "unicast VRRP (keepalived unicast_peer) still passes",
                peers: vec![],
                frame: frames::ethernet(
                    NIC_MAC,
                    PEER_MAC,
                    &[],
                    frames::ETHERTYPE_IPV4,
                    &frames::Ipv4 {
                        src: OTHER4,
                        dst: [10, 0, 0, 1],
                        ..frames::Ipv4::default()
                    }
                    .packet(&[0x31, 50, 100, 1, 0, 1, 0, 0, 10, 0, 0, 200]),
                ),
                action: XDP_PASS,
                counters: vec![Stat::Ipackets, Stat::VrrpPassed],
                event: None,
            },
        ],
    );
}

#[test]
fn a_peer_of_another_vhid_is_refused() {
    if !require_root("a_peer_of_another_vhid_is_refused") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    xdp::reset(&mut ebpf).unwrap();
    xdp::install(&mut ebpf, &config(STATE_BACKUP)).unwrap();
    xdp::set_peer(
        &mut ebpf,
        peer_key(Port::untagged(IFINDEX), BACKUP_VHID, peer4()),
        peer_entry(false),
    )
    .unwrap();
    let before = counters(&xdp::stats(&ebpf).unwrap());
    let out = xdp::run(&mut ebpf, &vector()).unwrap();
    let after = counters(&xdp::stats(&ebpf).unwrap());
    assert_eq!(out.action, XDP_DROP, "{}", action_name(out.action));
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(delta[..], delta_of(&[Stat::Ipackets, Stat::Badpeer])[..]);
    assert!(xdp::drain_events(&mut ebpf).unwrap().is_empty());
}

/// `frame` with an 802.1Q tag of `vlan` after the MAC addresses.
fn tagged(frame: &[u8], vlan: u16) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&vlan.to_be_bytes());
    out.extend_from_slice(&frame[12..]);
    out
}

/// One run of `frame` with `peers` as (port, vhid, address): the action,
/// the counter delta and the events queued.
fn run_once(
    ebpf: &mut aya::Ebpf,
    peers: &[(Port, u8, IpAddr)],
    frame: &[u8],
) -> (u32, Vec<u64>, usize) {
    xdp::reset(ebpf).unwrap();
    xdp::install(ebpf, &config(STATE_BACKUP)).unwrap();
    for &(port, vhid, peer) in peers {
        xdp::set_peer(ebpf, peer_key(port, vhid, peer), peer_entry(false)).unwrap();
    }
    let before = counters(&xdp::stats(ebpf).unwrap());
    let out = xdp::run(ebpf, frame).unwrap();
    let after = counters(&xdp::stats(ebpf).unwrap());
    let delta = after.iter().zip(before).map(|(a, b)| a - b).collect();
    (out.action, delta, xdp::drain_events(ebpf).unwrap().len())
}

#[test]
fn peers_are_per_vlan() {
    if !require_root("peers_are_per_vlan") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let frame = tagged(&vector(), TAGGED_VLAN);
    let on_vlan = Port::new(IFINDEX, TAGGED_VLAN);
    let untagged = Port::untagged(IFINDEX);
    let accepted = delta_of(&[Stat::Ipackets, Stat::Adverts]).to_vec();
    let refused = delta_of(&[Stat::Ipackets, Stat::Badpeer]).to_vec();
    // The peer on the advert's VLAN: accepted.
    assert_eq!(
        run_once(&mut ebpf, &[(on_vlan, VHID, peer4())], &frame),
        (XDP_DROP, accepted.clone(), 1)
    );
    // The same address as a peer of the untagged vhid only: refused.
    assert_eq!(
        run_once(&mut ebpf, &[(untagged, VHID, peer4())], &frame),
        (XDP_DROP, refused.clone(), 0)
    );
    // And the other way round.
    assert_eq!(
        run_once(&mut ebpf, &[(on_vlan, VHID, peer4())], &vector()),
        (XDP_DROP, refused, 0)
    );
    assert_eq!(
        run_once(&mut ebpf, &[(untagged, VHID, peer4())], &vector()),
        (XDP_DROP, accepted, 1)
    );
}
