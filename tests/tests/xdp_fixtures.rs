//! Table-driven BPF_PROG_TEST_RUN fixtures for the XDP program: each case is
//! an input frame, the map contents, the expected action, the expected
//! output frame and the expected delta of EVERY counter (slots not listed
//! must not move). Frames come from `carp_tests::frames`, maps from
//! `carp_tests::xdp::lab`.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use carp_common::{
    FAMILY_IPV4, FAMILY_IPV6, IFACE_FLAG_ROUTER, STATE_BACKUP, STATE_INIT, STATE_MASTER, Stat,
    VhidKey, virtual_mac,
};
use carp_tests::{
    frames::{self, Advert, Ipv4, Vlan},
    privileges::require_root,
    xdp::{
        self, MapConfig, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, action_name, corpus, counters,
        delta_of, describe_delta, lab::*,
    },
};

/// What the output frame must be.
#[derive(Clone, Debug)]
enum Output {
    /// Passed or dropped untouched.
    Same,
    /// Rewritten to exactly these bytes.
    Exact(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Event {
    family: u8,
    source: [u8; 16],
    advert: [u8; 36],
}

/// A `CARP_VRRP` record: a VRRP router using a local vhid's id.
#[derive(Clone, Debug)]
struct VrrpRecord {
    vrid: u8,
    source: [u8; 4],
    version: u8,
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    config: MapConfig,
    frame: Vec<u8>,
    action: u32,
    output: Output,
    counters: Vec<Stat>,
    event: Option<Event>,
    /// The one `CARP_VRRP` record the frame must leave (none if `None`).
    vrrp: Option<VrrpRecord>,
}

impl Case {
    fn new(name: impl Into<String>, state: u8, frame: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            config: config(state),
            frame,
            action: XDP_PASS,
            output: Output::Same,
            counters: Vec::new(),
            event: None,
            vrrp: None,
        }
    }

    /// `VhidEntry::master_until_ns` of every vhid: the dead-man deadline.
    fn master_until(mut self, ns: u64) -> Self {
        for (_, entry) in &mut self.config.vhids {
            entry.master_until_ns = ns;
        }
        self
    }

    /// `CARP_IFACES` flags of the receiving interface.
    fn iface_flags(mut self, flags: u8) -> Self {
        for (_, entry) in &mut self.config.ifaces {
            entry.flags = flags;
        }
        self
    }

    fn vrrp(mut self, vrid: u8, source: [u8; 4], version: u8) -> Self {
        self.vrrp = Some(VrrpRecord {
            vrid,
            source,
            version,
        });
        self
    }

    fn expect(mut self, action: u32, counters: &[Stat]) -> Self {
        self.action = action;
        self.counters = counters.to_vec();
        self
    }

    fn output(mut self, frame: Vec<u8>) -> Self {
        self.output = Output::Exact(frame);
        self
    }

    fn event(mut self, family: u8, source: &[u8], advert: [u8; 36]) -> Self {
        let mut s = [0u8; 16];
        s[..source.len()].copy_from_slice(source);
        self.event = Some(Event {
            family,
            source: s,
            advert,
        });
        self
    }
}

/// Runs one case on a freshly loaded object; returns what went wrong.
fn check(ebpf: &mut aya::Ebpf, case: &Case) -> Result<(), String> {
    let fail = |what: String| format!("case `{}`: {what}", case.name);
    xdp::reset(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    xdp::install(ebpf, &case.config).map_err(|e| fail(format!("{e:#}")))?;
    let before = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let t0 = xdp::monotonic_ns();
    let out = xdp::run(ebpf, &case.frame).map_err(|e| fail(format!("{e:#}")))?;
    let t1 = xdp::monotonic_ns();
    let after = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let mut problems = Vec::new();
    if out.action != case.action {
        problems.push(format!(
            "action {} (expected {})",
            action_name(out.action),
            action_name(case.action)
        ));
    }
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let expected = delta_of(&case.counters);
    if delta[..] != expected[..] {
        problems.push(format!(
            "counters: {} (expected {})",
            describe_delta(&delta.clone().try_into().unwrap()),
            describe_delta(&expected)
        ));
    }
    let want = match &case.output {
        Output::Same => &case.frame,
        Output::Exact(f) => f,
    };
    if case.action != XDP_DROP && out.output != *want {
        problems.push(format!(
            "output frame\n   got {}\n  want {}",
            hex(&out.output),
            hex(want)
        ));
    }
    let events = xdp::drain_events(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    match (&case.event, events.as_slice()) {
        (None, []) => {}
        (Some(e), [got]) => {
            if got.family != e.family
                || got.source != e.source
                || got.advert != e.advert
                || got.ttl != 255
                || got.ifindex != IFINDEX
                || !(t0..=t1).contains(&got.timestamp_ns)
            {
                problems.push(format!(
                    "event {got:?}, expected {e:?} with ttl 255, ifindex {IFINDEX}, time in {t0}..={t1}"
                ));
            }
        }
        (want, got) => problems.push(format!("events {got:?}, expected {want:?}")),
    }
    let records = xdp::vrrp_records(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    match (&case.vrrp, records.as_slice()) {
        (None, []) => {}
        (Some(want), [(key, got)]) => {
            if *key != VhidKey::new(carp_common::Port::untagged(IFINDEX), want.vrid)
                || got.source != want.source
                || got.version != want.version
                || got._pad != [0; 3]
                || !(t0..=t1).contains(&got.timestamp_ns)
            {
                problems.push(format!(
                    "VRRP record {key:?} {got:?}, expected {want:?} on ifindex {IFINDEX}, time in {t0}..={t1}"
                ));
            }
        }
        (want, got) => problems.push(format!("VRRP records {got:?}, expected {want:?}")),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("; ")))
    }
}

fn run_table(test: &str, cases: &[Case]) {
    if !require_root(test) {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(&mut ebpf, c).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{test}: {} cases passed", cases.len());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- frames

fn advert_v4_frame(vlans: &[Vlan], ip: &Ipv4, advert: &[u8]) -> Vec<u8> {
    frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        virtual_mac(5),
        vlans,
        frames::ETHERTYPE_IPV4,
        &ip.packet(advert),
    )
}

fn advert_v4(advert: &[u8]) -> Vec<u8> {
    advert_v4_frame(&[], &peer_ip(), advert)
}

fn peer_ip() -> Ipv4 {
    Ipv4 {
        src: PEER4,
        ..Ipv4::default()
    }
}

fn advert_v6_frame(hop_limit: u8, advert: &[u8]) -> Vec<u8> {
    frames::ethernet(
        frames::CARP_GROUP_V6_MAC,
        virtual_mac(5),
        &[],
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(
            PEER6_LL,
            frames::CARP_GROUP_V6,
            hop_limit,
            frames::IPPROTO_CARP,
            advert,
        ),
    )
}

fn good() -> [u8; 36] {
    Advert::new(VHID).bytes()
}

fn arp_reply(
    vlans: &[Vlan],
    mac: [u8; 6],
    vip: [u8; 4],
    to_mac: [u8; 6],
    to_ip: [u8; 4],
) -> Vec<u8> {
    let body = frames::arp(2, mac, vip, to_mac, to_ip);
    frames::pad_to(
        frames::ethernet(to_mac, mac, vlans, frames::ETHERTYPE_ARP, &body),
        60,
    )
}

fn ns_frame(vlans: &[Vlan], src: [u8; 16], target: [u8; 16], sllao: bool) -> Vec<u8> {
    let dst = frames::solicited_node(&target);
    let ns = frames::neighbor_solicitation(&src, &dst, &target, sllao.then_some(PEER_MAC));
    ns_frame_from(vlans, src, dst, 255, &ns)
}

fn ns_frame_from(vlans: &[Vlan], src: [u8; 16], dst: [u8; 16], hop: u8, icmp: &[u8]) -> Vec<u8> {
    frames::ethernet(
        frames::ipv6_multicast_mac(&dst),
        PEER_MAC,
        vlans,
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(src, dst, hop, frames::IPPROTO_ICMPV6, icmp),
    )
}

fn na_frame(
    vlans: &[Vlan],
    mac: [u8; 6],
    vip: [u8; 16],
    to: [u8; 16],
    to_mac: [u8; 6],
    flags: u8,
) -> Vec<u8> {
    let na = frames::neighbor_advertisement(&vip, &to, flags, &vip, mac);
    // The builder's checksum is checked against the independent verifier too.
    assert!(frames::icmpv6_checksum_ok(&vip, &to, &na));
    frames::ethernet(
        to_mac,
        mac,
        vlans,
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(vip, to, 255, frames::IPPROTO_ICMPV6, &na),
    )
}

fn udp4() -> Vec<u8> {
    let ip = Ipv4 {
        src: PEER4,
        dst: [192, 0, 2, 1],
        ttl: 64,
        protocol: frames::IPPROTO_UDP,
        ..Ipv4::default()
    };
    frames::ethernet(
        NIC_MAC,
        PEER_MAC,
        &[],
        frames::ETHERTYPE_IPV4,
        &ip.packet(&frames::udp(5353, 53, b"query")),
    )
}

fn ip6_frame(dst_mac: [u8; 6], next: u8, payload: &[u8]) -> Vec<u8> {
    frames::ethernet(
        dst_mac,
        PEER_MAC,
        &[],
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(PEER6, OTHER6, 64, next, payload),
    )
}

fn with_vmac_dst(mut frame: Vec<u8>, vhid: u8) -> Vec<u8> {
    frame[..6].copy_from_slice(&virtual_mac(vhid));
    frame
}

fn with_dst(mut frame: Vec<u8>, mac: [u8; 6]) -> Vec<u8> {
    frame[..6].copy_from_slice(&mac);
    frame
}

// ----------------------------------------------------------------- tests

#[test]
fn good_adverts_reach_the_ring_buffer_and_are_dropped() {
    let g = good();
    let padded = frames::pad_to(advert_v4(&g), 90);
    let with_options = advert_v4_frame(
        &[],
        &Ipv4 {
            options: vec![0x94, 0x04, 0, 0], // router alert
            ..peer_ip()
        },
        &g,
    );
    let other_vhid = Advert::new(BACKUP_VHID).bytes();
    run_table(
        "good_adverts_reach_the_ring_buffer_and_are_dropped",
        &[
            Case::new("v4", STATE_MASTER, advert_v4(&g))
                .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
                .event(FAMILY_IPV4, &PEER4, g),
            Case::new(
                "v4 as BACKUP (state does not matter)",
                STATE_BACKUP,
                advert_v4(&g),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
            .event(FAMILY_IPV4, &PEER4, g),
            Case::new(
                "v4 for the BACKUP vhid",
                STATE_MASTER,
                advert_v4(&other_vhid),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
            .event(FAMILY_IPV4, &PEER4, other_vhid),
            Case::new("v4 with Ethernet padding", STATE_MASTER, padded)
                .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
                .event(FAMILY_IPV4, &PEER4, g),
            Case::new("v4 with IP options (IHL 6)", STATE_MASTER, with_options)
                .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
                .event(FAMILY_IPV4, &PEER4, g),
            Case::new(
                "v4 one 802.1Q tag",
                STATE_MASTER,
                advert_v4_frame(&[Vlan::dot1q(10)], &peer_ip(), &g),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Adverts])
            .event(FAMILY_IPV4, &PEER4, g),
            // Keys carry the VLAN id: vhid 1 is configured untagged and on
            // VLAN 10 only.
            Case::new(
                "v4 on a VLAN without the vhid",
                STATE_MASTER,
                advert_v4_frame(&[Vlan::dot1q(20)], &peer_ip(), &g),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Badvhid]),
            Case::new(
                "v4 QinQ (802.1ad + 802.1Q): no configured port",
                STATE_MASTER,
                advert_v4_frame(&[Vlan::dot1ad(100), Vlan::dot1q(10)], &peer_ip(), &g),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Badvhid]),
            Case::new("v6", STATE_MASTER, advert_v6_frame(255, &g))
                .expect(XDP_DROP, &[Stat::Ipackets6, Stat::Adverts])
                .event(FAMILY_IPV6, &PEER6_LL, g),
            Case::new(
                "v6 with Ethernet padding",
                STATE_MASTER,
                frames::pad_to(advert_v6_frame(255, &g), 100),
            )
            .expect(XDP_DROP, &[Stat::Ipackets6, Stat::Adverts])
            .event(FAMILY_IPV6, &PEER6_LL, g),
        ],
    );
}

#[test]
fn bad_adverts_are_dropped_with_their_counter() {
    let g = good();
    let ip = peer_ip();
    let set = |mut f: Vec<u8>, at: usize, v: u8| {
        f[at] = v;
        f
    };
    let mut bad_sum = g;
    bad_sum[20] ^= 0x01;
    // Version 3 with type 1 is VRRPv3 (see the VRRP table); 4 is nobody's.
    let v4_version = Advert {
        version_type: 0x41,
        ..Advert::new(VHID)
    }
    .bytes();
    let type2 = Advert {
        version_type: 0x22,
        ..Advert::new(VHID)
    }
    .bytes();
    let unknown_vhid = Advert::new(UNKNOWN_VHID).bytes();
    let full = advert_v4(&g);
    let v4 = |name: &str, frame: Vec<u8>, stat: Stat| {
        Case::new(name, STATE_MASTER, frame).expect(XDP_DROP, &[Stat::Ipackets, stat])
    };
    let v6 = |name: &str, frame: Vec<u8>, stat: Stat| {
        Case::new(name, STATE_MASTER, frame).expect(XDP_DROP, &[Stat::Ipackets6, stat])
    };
    let mut cases = vec![
        v4(
            "v4 ttl 254",
            advert_v4_frame(
                &[],
                &Ipv4 {
                    ttl: 254,
                    ..ip.clone()
                },
                &g,
            ),
            Stat::Badttl,
        ),
        v4(
            "v4 ttl 1",
            advert_v4_frame(
                &[],
                &Ipv4 {
                    ttl: 1,
                    ..ip.clone()
                },
                &g,
            ),
            Stat::Badttl,
        ),
        v4("v4 IHL 4", set(full.clone(), 14, 0x44), Stat::Badlen),
        v4("v4 IHL 0", set(full.clone(), 14, 0x40), Stat::Badlen),
        v4(
            "v4 version 6 in an IPv4 frame",
            set(full.clone(), 14, 0x65),
            Stat::Badlen,
        ),
        v4(
            "v4 total length 10 < header",
            set(set(full.clone(), 16, 0), 17, 10),
            Stat::Badlen,
        ),
        v4(
            "v4 total length beyond the frame",
            set(set(full.clone(), 16, 0), 17, 57),
            Stat::Hdrops,
        ),
        v4(
            "v4 IHL 15 beyond the frame",
            set(full.clone(), 14, 0x4f),
            Stat::Hdrops,
        ),
        v4("v4 version 4", advert_v4(&v4_version), Stat::Badver),
        v4("v4 type 2", advert_v4(&type2), Stat::Badver),
        v4("v4 bad checksum", advert_v4(&bad_sum), Stat::Badsum),
        v4("v4 unknown vhid", advert_v4(&unknown_vhid), Stat::Badvhid),
        // TTL is checked before the payload size: a VRRP packet with a bad TTL is badttl.
        v4(
            "v4 VRRP-sized with ttl 64",
            advert_v4_frame(
                &[],
                &Ipv4 {
                    ttl: 64,
                    ..ip.clone()
                },
                &[0x21; 20],
            ),
            Stat::Badttl,
        ),
        v6("v6 hop limit 64", advert_v6_frame(64, &g), Stat::Badttl),
        v6(
            "v6 version 4 in an IPv6 frame",
            set(advert_v6_frame(255, &g), 14, 0x40),
            Stat::Badlen,
        ),
        v6(
            "v6 payload length beyond the frame",
            set(advert_v6_frame(255, &g), 19, 37),
            Stat::Hdrops,
        ),
        v6(
            "v6 version 4",
            advert_v6_frame(255, &v4_version),
            Stat::Badver,
        ),
        v6(
            "v6 bad checksum",
            advert_v6_frame(255, &bad_sum),
            Stat::Badsum,
        ),
        v6(
            "v6 unknown vhid",
            advert_v6_frame(255, &unknown_vhid),
            Stat::Badvhid,
        ),
    ];
    // Short frames: from the protocol byte on, every cut is hdrops.
    for len in [24, 33, 34, 40, 53, 69] {
        cases.push(v4(
            &format!("v4 cut at {len}"),
            full[..len].to_vec(),
            Stat::Hdrops,
        ));
    }
    let full6 = advert_v6_frame(255, &g);
    for len in [21, 53, 54, 60, 89] {
        cases.push(v6(
            &format!("v6 cut at {len}"),
            full6[..len].to_vec(),
            Stat::Hdrops,
        ));
    }
    run_table("bad_adverts_are_dropped_with_their_counter", &cases);
}

#[test]
fn other_protocol_112_packets_pass() {
    let ip = peer_ip();
    let fragment = advert_v4_frame(
        &[],
        &Ipv4 {
            flags_frag: 0x2000, // MF
            ..ip.clone()
        },
        &good(),
    );
    let later_fragment = advert_v4_frame(
        &[],
        &Ipv4 {
            flags_frag: 0x0001,
            ..ip.clone()
        },
        &good(),
    );
    run_table(
        "other_protocol_112_packets_pass",
        &[
            Case::new(
                "VRRPv2-sized (20 bytes)",
                STATE_MASTER,
                advert_v4(&[0x21; 20]),
            )
            .expect(XDP_PASS, &[Stat::Ipackets, Stat::VrrpPassed]),
            Case::new(
                "VRRPv3-sized (32 bytes)",
                STATE_MASTER,
                advert_v4(&[0x31; 32]),
            )
            .expect(XDP_PASS, &[Stat::Ipackets, Stat::VrrpPassed]),
            Case::new("37 bytes", STATE_MASTER, advert_v4(&[0x21; 37]))
                .expect(XDP_PASS, &[Stat::Ipackets, Stat::VrrpPassed]),
            Case::new(
                "v6 VRRPv3-sized",
                STATE_MASTER,
                advert_v6_frame(255, &[0x31; 32]),
            )
            .expect(XDP_PASS, &[Stat::Ipackets6, Stat::VrrpPassed]),
            Case::new(
                "VRRP to a vMAC is not rewritten",
                STATE_MASTER,
                with_vmac_dst(advert_v4(&[0x21; 20]), VHID),
            )
            .expect(XDP_PASS, &[Stat::Ipackets, Stat::VrrpPassed]),
            Case::new("first fragment", STATE_MASTER, fragment).expect(XDP_PASS, &[Stat::Ipackets]),
            Case::new("later fragment", STATE_MASTER, later_fragment)
                .expect(XDP_PASS, &[Stat::Ipackets]),
        ],
    );
}

/// A VRRP advertisement body: version/type, vrid, priority, one address
/// (VRRPv2 adds 4 bytes of auth type/interval and 8 of auth data).
fn vrrp(version_type: u8, vrid: u8) -> Vec<u8> {
    let mut body = vec![version_type, vrid, 100, 1];
    body.extend_from_slice(&[0, 1, 0, 0]); // auth type / max adver int, checksum
    body.extend_from_slice(&[10, 0, 0, 200]);
    if version_type >> 4 == 2 {
        body.extend_from_slice(&[0; 8]);
    }
    body
}

/// A VRRP advertisement exactly as long as a CARP advert (36 bytes):
/// VRRPv3 with 7 IPv4 addresses, or VRRPv2 with 5 and its 8 auth bytes.
/// Byte 3, the address count, sits where CARP has authlen 7.
fn vrrp_carp_sized(version_type: u8, vrid: u8) -> Vec<u8> {
    let count: u8 = if version_type >> 4 == 2 { 5 } else { 7 };
    let mut body = vec![version_type, vrid, 100, count, 0, 1, 0, 0];
    for i in 0..count {
        body.extend_from_slice(&[10, 0, 0, 100 + i]);
    }
    body.resize(36, 0);
    assert_eq!(body.len(), 36);
    body
}

#[test]
fn vrrp_using_a_local_vhid_is_counted_and_recorded() {
    let clash = [Stat::Ipackets, Stat::VrrpClash];
    let passed = [Stat::Ipackets, Stat::VrrpPassed];
    // One byte of VRRP, then Ethernet padding that happens to hold vhid 1:
    // the id is not part of the packet.
    let mut one_byte = advert_v4(&[0x21]);
    one_byte.push(VHID);
    one_byte.resize(60, 0);
    run_table(
        "vrrp_using_a_local_vhid_is_counted_and_recorded",
        &[
            Case::new(
                "VRRPv2 with id 1",
                STATE_MASTER,
                advert_v4(&vrrp(0x21, VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 2),
            Case::new(
                "VRRPv3 with id 1",
                STATE_MASTER,
                advert_v4(&vrrp(0x31, VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 3),
            Case::new(
                "the id of a BACKUP vhid",
                STATE_MASTER,
                advert_v4(&vrrp(0x31, BACKUP_VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(BACKUP_VHID, PEER4, 3),
            Case::new(
                "while vhid 1 is INIT",
                STATE_INIT,
                advert_v4(&vrrp(0x21, VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 2),
            Case::new(
                "to the vMAC: recorded, frame untouched",
                STATE_MASTER,
                with_vmac_dst(advert_v4(&vrrp(0x21, VHID)), VHID),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 2),
            Case::new(
                "a real-MAC-mode vhid's id: no shared MAC",
                STATE_MASTER,
                advert_v4(&vrrp(0x21, REAL_VHID)),
            )
            .expect(XDP_PASS, &passed),
            Case::new(
                "an id we do not use",
                STATE_MASTER,
                advert_v4(&vrrp(0x21, UNKNOWN_VHID)),
            )
            .expect(XDP_PASS, &passed),
            Case::new(
                "type 2 is no advertisement",
                STATE_MASTER,
                advert_v4(&vrrp(0x22, VHID)),
            )
            .expect(XDP_PASS, &passed),
            Case::new("version 1", STATE_MASTER, advert_v4(&vrrp(0x11, VHID)))
                .expect(XDP_PASS, &passed),
            Case::new("version 4", STATE_MASTER, advert_v4(&vrrp(0x41, VHID)))
                .expect(XDP_PASS, &passed),
            Case::new("one byte of payload", STATE_MASTER, one_byte).expect(XDP_PASS, &passed),
            Case::new(
                "CARP-sized VRRPv3 (7 addresses) with id 1",
                STATE_MASTER,
                advert_v4(&vrrp_carp_sized(0x31, VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 3),
            Case::new(
                "CARP-sized VRRPv2 (5 addresses) with id 1",
                STATE_MASTER,
                advert_v4(&vrrp_carp_sized(0x21, VHID)),
            )
            .expect(XDP_PASS, &clash)
            .vrrp(VHID, PEER4, 2),
            Case::new(
                "CARP-sized VRRPv3 with an id we do not use",
                STATE_MASTER,
                advert_v4(&vrrp_carp_sized(0x31, UNKNOWN_VHID)),
            )
            .expect(XDP_PASS, &passed),
            Case::new(
                "CARP-sized IPv6 VRRPv3",
                STATE_MASTER,
                advert_v6_frame(255, &vrrp_carp_sized(0x31, VHID)),
            )
            .expect(XDP_PASS, &[Stat::Ipackets6, Stat::VrrpPassed]),
            Case::new(
                "IPv6 VRRPv3 (virtual MAC 00:00:5e:00:02:xx): no clash",
                STATE_MASTER,
                advert_v6_frame(255, &vrrp(0x31, VHID)),
            )
            .expect(XDP_PASS, &[Stat::Ipackets6, Stat::VrrpPassed]),
            Case::new(
                "TTL 64: badttl first",
                STATE_MASTER,
                advert_v4_frame(
                    &[],
                    &Ipv4 {
                        ttl: 64,
                        ..peer_ip()
                    },
                    &vrrp(0x21, VHID),
                ),
            )
            .expect(XDP_DROP, &[Stat::Ipackets, Stat::Badttl]),
        ],
    );
}

#[test]
fn arp_requests_for_vips() {
    let q = |vlans: &[Vlan], spa, tpa| frames::arp_request_frame(vlans, PEER_MAC, spa, tpa);
    let vmac = virtual_mac(VHID);
    let dot1q = [Vlan::dot1q(10)];
    let qinq = [Vlan::dot1ad(100), Vlan::dot1q(10)];
    let reply_op = frames::pad_to(
        frames::ethernet(
            frames::BROADCAST,
            PEER_MAC,
            &[],
            frames::ETHERTYPE_ARP,
            &frames::arp(2, PEER_MAC, VIP4, vmac, VIP4),
        ),
        60,
    );
    run_table(
        "arp_requests_for_vips",
        &[
            Case::new(
                "MASTER answers from the vMAC",
                STATE_MASTER,
                q(&[], PEER4, VIP4),
            )
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&[], vmac, VIP4, PEER_MAC, PEER4)),
            Case::new(
                "MASTER, one VLAN tag kept",
                STATE_MASTER,
                q(&dot1q, PEER4, VIP4),
            )
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&dot1q, vmac, VIP4, PEER_MAC, PEER4)),
            Case::new(
                "MASTER, a VLAN without the VIP: not ours",
                STATE_MASTER,
                q(&[Vlan::dot1q(20)], PEER4, VIP4),
            )
            .expect(XDP_PASS, &[]),
            Case::new(
                "MASTER, QinQ: not ours",
                STATE_MASTER,
                q(&qinq, PEER4, VIP4),
            )
            .expect(XDP_PASS, &[]),
            Case::new(
                "MASTER defends against a probe (sender 0.0.0.0)",
                STATE_MASTER,
                q(&[], [0; 4], VIP4),
            )
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&[], vmac, VIP4, PEER_MAC, [0; 4])),
            Case::new(
                "MASTER, request unicast to the vMAC",
                STATE_MASTER,
                with_dst(q(&[], PEER4, VIP4), vmac),
            )
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&[], vmac, VIP4, PEER_MAC, PEER4)),
            Case::new(
                "real-MAC mode answers from the NIC MAC",
                STATE_MASTER,
                q(&[], PEER4, REAL_VIP4),
            )
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&[], NIC_MAC, REAL_VIP4, PEER_MAC, PEER4)),
            Case::new(
                "MASTER before its dead-man deadline answers",
                STATE_MASTER,
                q(&[], PEER4, VIP4),
            )
            .master_until(u64::MAX)
            .expect(XDP_TX, &[Stat::ArpReplies])
            .output(arp_reply(&[], vmac, VIP4, PEER_MAC, PEER4)),
            Case::new(
                "MASTER past its dead-man deadline (agent frozen) is silent",
                STATE_MASTER,
                q(&[], PEER4, VIP4),
            )
            .master_until(1)
            .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new("BACKUP stays silent", STATE_BACKUP, q(&[], PEER4, VIP4))
                .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new("INIT stays silent", STATE_INIT, q(&[], PEER4, VIP4))
                .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new(
                "BACKUP, QinQ: not ours",
                STATE_BACKUP,
                q(&qinq, PEER4, VIP4),
            )
            .expect(XDP_PASS, &[]),
            Case::new("BACKUP, one VLAN tag", STATE_BACKUP, q(&dot1q, PEER4, VIP4))
                .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new(
                "the other vhid's VIP while vhid 1 is MASTER",
                STATE_MASTER,
                q(&[], PEER4, BACKUP_VIP4),
            )
            .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new(
                "VIP whose vhid is missing is treated as INIT",
                STATE_MASTER,
                q(&[], PEER4, ORPHAN_VIP4),
            )
            .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new(
                "gratuitous ARP for our VIP as MASTER: no reply",
                STATE_MASTER,
                q(&[], VIP4, VIP4),
            )
            .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new(
                "gratuitous ARP for our VIP as BACKUP",
                STATE_BACKUP,
                q(&[], VIP4, VIP4),
            )
            .expect(XDP_DROP, &[Stat::ArpSuppressed]),
            Case::new("not a VIP", STATE_MASTER, q(&[], PEER4, OTHER4)).expect(XDP_PASS, &[]),
            Case::new("an ARP reply about the VIP", STATE_MASTER, reply_op.clone())
                .expect(XDP_PASS, &[]),
            Case::new("an ARP reply about the VIP, BACKUP", STATE_BACKUP, reply_op)
                .expect(XDP_PASS, &[]),
            Case::new("a non-Ethernet ARP (htype 6)", STATE_MASTER, {
                let mut f = q(&[], PEER4, VIP4);
                f[15] = 6;
                f
            })
            .expect(XDP_PASS, &[]),
        ],
    );
}

#[test]
fn neighbor_solicitations_for_vips() {
    let vmac = virtual_mac(VHID);
    let so = NA_SOLICITED_OVERRIDE;
    let dot1q = [Vlan::dot1q(10)];
    let nonce = {
        // NS with a Nonce option (RFC 3971 style, 8 bytes) after the SLLAO:
        // 40 bytes of ICMPv6, the NA must shrink the frame.
        let dst = frames::solicited_node(&VIP6);
        let mut icmp = frames::neighbor_solicitation(&PEER6, &dst, &VIP6, Some(PEER_MAC));
        icmp.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        icmp[2..4].copy_from_slice(&[0, 0]);
        let sum = frames::icmpv6_checksum(&PEER6, &dst, &icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        ns_frame_from(&[], PEER6, dst, 255, &icmp)
    };
    let hop64 = {
        let dst = frames::solicited_node(&VIP6);
        let icmp = frames::neighbor_solicitation(&PEER6, &dst, &VIP6, Some(PEER_MAC));
        ns_frame_from(&[], PEER6, dst, 64, &icmp)
    };
    let code1 = {
        let mut f = ns_frame(&[], PEER6, VIP6, true);
        f[14 + 40 + 1] = 1;
        f
    };
    let echo = ip6_frame(NIC_MAC, frames::IPPROTO_ICMPV6, &[128, 0, 0, 0, 0, 1, 0, 1]);
    run_table(
        "neighbor_solicitations_for_vips",
        &[
            Case::new(
                "MASTER answers with an NA (SLLAO, 32 bytes)",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "link-local requester",
                STATE_MASTER,
                ns_frame(&[], PEER6_LL, VIP6, true),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], vmac, VIP6, PEER6_LL, PEER_MAC, so)),
            Case::new(
                "NS without options: the frame grows by 8",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, false),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "NS with a nonce option: the frame shrinks",
                STATE_MASTER,
                nonce,
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "NS with Ethernet padding: cut to the NA",
                STATE_MASTER,
                frames::pad_to(ns_frame(&[], PEER6, VIP6, true), 120),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "VLAN tag kept",
                STATE_MASTER,
                ns_frame(&dot1q, PEER6, VIP6, true),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&dot1q, vmac, VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "DAD (source ::): NA to all-nodes, Override only",
                STATE_MASTER,
                ns_frame(&[], frames::UNSPECIFIED, VIP6, false),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(
                &[],
                vmac,
                VIP6,
                frames::ALL_NODES,
                frames::ALL_NODES_MAC,
                frames::NA_FLAG_OVERRIDE,
            )),
            Case::new(
                "real-MAC mode answers with the NIC MAC",
                STATE_MASTER,
                ns_frame(&[], PEER6, REAL_VIP6, true),
            )
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], NIC_MAC, REAL_VIP6, PEER6, PEER_MAC, so)),
            Case::new(
                "MASTER past its dead-man deadline is silent",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .master_until(1)
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            Case::new(
                "BACKUP stays silent",
                STATE_BACKUP,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            Case::new(
                "INIT stays silent",
                STATE_INIT,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            Case::new(
                "BACKUP, DAD",
                STATE_BACKUP,
                ns_frame(&[], frames::UNSPECIFIED, VIP6, false),
            )
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            Case::new(
                "the BACKUP vhid's VIP",
                STATE_MASTER,
                ns_frame(&[], PEER6, BACKUP_VIP6, true),
            )
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            Case::new(
                "not a VIP",
                STATE_MASTER,
                ns_frame(&[], PEER6, OTHER6, true),
            )
            .expect(XDP_PASS, &[]),
            Case::new(
                "hop limit 64 is invalid ND: the stack's business",
                STATE_MASTER,
                hop64,
            )
            .expect(XDP_PASS, &[]),
            Case::new("code 1 is invalid ND", STATE_MASTER, code1).expect(XDP_PASS, &[]),
            Case::new("an echo request is not ND", STATE_MASTER, echo).expect(XDP_PASS, &[]),
        ],
    );
}

const NA_SOLICITED_OVERRIDE: u8 = frames::NA_FLAG_SOLICITED | frames::NA_FLAG_OVERRIDE;

/// The flags byte (ICMPv6 byte 4) of an untagged NA frame.
fn na_flags(frame: &[u8]) -> u8 {
    frame[14 + 40 + 4]
}

#[test]
fn neighbor_advertisements_carry_the_router_flag_while_forwarding() {
    let vmac = virtual_mac(VHID);
    let r = frames::NA_FLAG_ROUTER;
    let so = NA_SOLICITED_OVERRIDE;
    let dot1q = [Vlan::dot1q(10)];
    let router_na = na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, r | so);
    let host_na = na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, so);
    // The expected frames differ in the flags byte and, by exactly that
    // bit, in the checksum (both verified by `na_frame`).
    assert_eq!(na_flags(&router_na), 0xe0, "Router, Solicited, Override");
    assert_eq!(na_flags(&host_na), 0x60, "Solicited, Override");
    let differ: Vec<usize> = (0..router_na.len())
        .filter(|&i| router_na[i] != host_na[i])
        .collect();
    assert!(
        differ.contains(&58) && differ.iter().all(|i| [56, 57, 58].contains(i)),
        "only the flags byte (58) and the checksum (56, 57) differ: {differ:?}"
    );
    let mut no_iface = Case::new(
        "no CARP_IFACES entry: no Router flag",
        STATE_MASTER,
        ns_frame(&[], PEER6, VIP6, true),
    )
    .expect(XDP_TX, &[Stat::NdReplies])
    .output(host_na.clone());
    no_iface.config.ifaces.clear();
    run_table(
        "neighbor_advertisements_carry_the_router_flag_while_forwarding",
        &[
            Case::new(
                "forwarding: Router + Solicited + Override",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(router_na.clone()),
            Case::new(
                "not forwarding: Solicited + Override",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .iface_flags(0)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(host_na.clone()),
            Case::new(
                "forwarding, NS without options (frame grows)",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, false),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(router_na.clone()),
            Case::new(
                "forwarding, VLAN tag kept",
                STATE_MASTER,
                ns_frame(&dot1q, PEER6, VIP6, true),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&dot1q, vmac, VIP6, PEER6, PEER_MAC, r | so)),
            Case::new(
                "forwarding, DAD: Router + Override to all-nodes",
                STATE_MASTER,
                ns_frame(&[], frames::UNSPECIFIED, VIP6, false),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(
                &[],
                vmac,
                VIP6,
                frames::ALL_NODES,
                frames::ALL_NODES_MAC,
                r | frames::NA_FLAG_OVERRIDE,
            )),
            Case::new(
                "forwarding, real-MAC mode",
                STATE_MASTER,
                ns_frame(&[], PEER6, REAL_VIP6, true),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(na_frame(&[], NIC_MAC, REAL_VIP6, PEER6, PEER_MAC, r | so)),
            Case::new(
                "other flag bits do not set Router",
                STATE_MASTER,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .iface_flags(!IFACE_FLAG_ROUTER)
            .expect(XDP_TX, &[Stat::NdReplies])
            .output(host_na.clone()),
            Case::new(
                "forwarding, BACKUP stays silent",
                STATE_BACKUP,
                ns_frame(&[], PEER6, VIP6, true),
            )
            .iface_flags(IFACE_FLAG_ROUTER)
            .expect(XDP_DROP, &[Stat::NdSuppressed]),
            no_iface,
        ],
    );
}

#[test]
fn frames_to_virtual_macs() {
    let tcp = corpus::tcp_v4(NIC_MAC, &[]);
    let tagged = corpus::tcp_v4(NIC_MAC, &[Vlan::dot1q(10)]);
    let arp_other = frames::arp_request_frame(&[], PEER_MAC, PEER4, OTHER4);
    let mut no_iface = Case::new(
        "MASTER without a CARP_IFACES entry",
        STATE_MASTER,
        with_vmac_dst(tcp.clone(), VHID),
    )
    .expect(XDP_DROP, &[Stat::VmacDropped]);
    no_iface.config.ifaces.clear();
    run_table(
        "frames_to_virtual_macs",
        &[
            Case::new(
                "MASTER: destination becomes the NIC MAC",
                STATE_MASTER,
                with_vmac_dst(tcp.clone(), VHID),
            )
            .expect(XDP_PASS, &[Stat::VmacAccepted])
            .output(tcp.clone()),
            Case::new(
                "MASTER, VLAN-tagged",
                STATE_MASTER,
                with_vmac_dst(tagged.clone(), VHID),
            )
            .expect(XDP_PASS, &[Stat::VmacAccepted])
            .output(tagged),
            Case::new(
                "MASTER, IPv6 UDP",
                STATE_MASTER,
                with_vmac_dst(
                    ip6_frame(NIC_MAC, frames::IPPROTO_UDP, &frames::udp(1, 2, b"x")),
                    VHID,
                ),
            )
            .expect(XDP_PASS, &[Stat::VmacAccepted])
            .output(ip6_frame(
                NIC_MAC,
                frames::IPPROTO_UDP,
                &frames::udp(1, 2, b"x"),
            )),
            Case::new(
                "MASTER, ARP for another address sent to the vMAC",
                STATE_MASTER,
                with_vmac_dst(arp_other.clone(), VHID),
            )
            .expect(XDP_PASS, &[Stat::VmacAccepted])
            .output(with_dst(arp_other, NIC_MAC)),
            Case::new(
                "BACKUP: not ours to take",
                STATE_BACKUP,
                with_vmac_dst(tcp.clone(), VHID),
            )
            .expect(XDP_DROP, &[Stat::VmacDropped]),
            Case::new("INIT", STATE_INIT, with_vmac_dst(tcp.clone(), VHID))
                .expect(XDP_DROP, &[Stat::VmacDropped]),
            Case::new(
                "the BACKUP vhid's vMAC",
                STATE_MASTER,
                with_vmac_dst(tcp.clone(), BACKUP_VHID),
            )
            .expect(XDP_DROP, &[Stat::VmacDropped]),
            Case::new(
                "unconfigured vhid (a VRRP router's MAC): untouched",
                STATE_MASTER,
                with_vmac_dst(tcp.clone(), UNKNOWN_VHID),
            )
            .expect(XDP_PASS, &[]),
            Case::new(
                "real-MAC-mode vhid: its vMAC is not ours",
                STATE_MASTER,
                with_vmac_dst(tcp.clone(), REAL_VHID),
            )
            .expect(XDP_PASS, &[]),
            Case::new(
                "00:00:5e:00:00:01 (not the CARP range)",
                STATE_MASTER,
                with_dst(tcp.clone(), [0, 0, 0x5e, 0, 0, 1]),
            )
            .expect(XDP_PASS, &[]),
            no_iface,
        ],
    );
}

#[test]
fn unrelated_traffic_passes_uncounted() {
    let lldp = frames::pad_to(
        frames::ethernet(
            [0x01, 0x80, 0xc2, 0, 0, 0x0e],
            PEER_MAC,
            &[],
            0x88cc,
            &[2, 7, 4],
        ),
        60,
    );
    let mut ipv4_short = corpus::tcp_v4(NIC_MAC, &[]);
    ipv4_short.truncate(20);
    run_table(
        "unrelated_traffic_passes_uncounted",
        &[
            Case::new("TCP/IPv4", STATE_MASTER, corpus::tcp_v4(NIC_MAC, &[])),
            Case::new(
                "TCP/IPv4 broadcast",
                STATE_MASTER,
                corpus::tcp_v4(frames::BROADCAST, &[]),
            ),
            Case::new(
                "TCP/IPv4 802.1Q",
                STATE_MASTER,
                corpus::tcp_v4(NIC_MAC, &[Vlan::dot1q(10)]),
            ),
            Case::new(
                "TCP/IPv4 BACKUP",
                STATE_BACKUP,
                corpus::tcp_v4(NIC_MAC, &[]),
            ),
            Case::new("UDP/IPv4", STATE_MASTER, udp4()),
            Case::new(
                "TCP/IPv6",
                STATE_MASTER,
                ip6_frame(NIC_MAC, frames::IPPROTO_TCP, &frames::tcp(1, 2)),
            ),
            Case::new(
                "UDP/IPv6",
                STATE_MASTER,
                ip6_frame(NIC_MAC, frames::IPPROTO_UDP, &frames::udp(1, 2, b"x")),
            ),
            Case::new("LLDP", STATE_MASTER, lldp),
            Case::new(
                "IPv4 frame too short for the protocol byte",
                STATE_MASTER,
                ipv4_short,
            ),
        ],
    );
}

/// Every cut of a valid frame, 0..len: no XDP_ABORTED, the right counters.
/// BPF_PROG_TEST_RUN itself refuses frames under 14 bytes (EINVAL), so the
/// program never sees those there (nor from a real driver).
#[test]
fn truncated_frames_at_every_length() {
    if !require_root("truncated_frames_at_every_length") {
        return;
    }
    let g = good();
    let vmac = virtual_mac(VHID);
    let arp = frames::arp_request_frame(&[], PEER_MAC, PEER4, VIP4);
    let arp_reply_full = arp_reply(&[], vmac, VIP4, PEER_MAC, PEER4);
    let ns = ns_frame(&[], PEER6, VIP6, true);
    let na = na_frame(&[], vmac, VIP6, PEER6, PEER_MAC, NA_SOLICITED_OVERRIDE);
    // (name, full frame, expectation for a cut at `len`)
    type Rule = Box<dyn Fn(usize) -> (u32, Vec<Stat>, Option<Vec<u8>>)>;
    let cases: Vec<(&str, Vec<u8>, Rule)> = vec![
        (
            "advert v4",
            advert_v4(&g),
            Box::new(|len| match len {
                ..24 => (XDP_PASS, vec![], None),
                70 => (XDP_DROP, vec![Stat::Ipackets, Stat::Adverts], None),
                _ => (XDP_DROP, vec![Stat::Ipackets, Stat::Hdrops], None),
            }),
        ),
        (
            "advert v4, 802.1Q",
            advert_v4_frame(&[Vlan::dot1q(TAGGED_VLAN)], &peer_ip(), &g),
            Box::new(|len| match len {
                ..28 => (XDP_PASS, vec![], None),
                74 => (XDP_DROP, vec![Stat::Ipackets, Stat::Adverts], None),
                _ => (XDP_DROP, vec![Stat::Ipackets, Stat::Hdrops], None),
            }),
        ),
        (
            "advert v6",
            advert_v6_frame(255, &g),
            Box::new(|len| match len {
                ..21 => (XDP_PASS, vec![], None),
                90 => (XDP_DROP, vec![Stat::Ipackets6, Stat::Adverts], None),
                _ => (XDP_DROP, vec![Stat::Ipackets6, Stat::Hdrops], None),
            }),
        ),
        (
            "ARP request (MASTER)",
            arp.clone(),
            // The ARP body ends at 42; the rest is Ethernet padding.
            Box::new(move |len| match len {
                ..42 => (XDP_PASS, vec![], None),
                _ => (
                    XDP_TX,
                    vec![Stat::ArpReplies],
                    Some(arp_reply_full[..len].to_vec()),
                ),
            }),
        ),
        (
            "NS (MASTER)",
            ns.clone(),
            Box::new(move |len| match len {
                ..86 => (XDP_PASS, vec![], None),
                _ => (XDP_TX, vec![Stat::NdReplies], Some(na.clone())),
            }),
        ),
    ];
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, full, rule) in &cases {
        let mut ebpf = xdp::load().unwrap();
        xdp::install(&mut ebpf, &config(STATE_MASTER)).unwrap();
        for len in 0..=full.len() {
            let frame = &full[..len];
            let before = counters(&xdp::stats(&ebpf).unwrap());
            let result = xdp::run(&mut ebpf, frame);
            runs += 1;
            if len < 14 {
                if result.is_ok() {
                    failures.push(format!(
                        "{name} cut at {len}: the kernel ran a frame shorter than Ethernet"
                    ));
                }
                continue;
            }
            let out = result.unwrap();
            let after = counters(&xdp::stats(&ebpf).unwrap());
            let delta: [u64; carp_common::STAT_COUNT] =
                std::array::from_fn(|i| after[i] - before[i]);
            let (action, stats, output) = rule(len);
            let output = output.unwrap_or_else(|| frame.to_vec());
            assert_ne!(out.action, XDP_ABORTED, "{name} cut at {len}");
            if out.action != action
                || delta != delta_of(&stats)
                || (action != XDP_DROP && out.output != output)
            {
                failures.push(format!(
                    "{name} cut at {len}: {} with {} (expected {} with {}){}",
                    action_name(out.action),
                    describe_delta(&delta),
                    action_name(action),
                    describe_delta(&delta_of(&stats)),
                    if out.output != output {
                        format!("\n   got {}\n  want {}", hex(&out.output), hex(&output))
                    } else {
                        String::new()
                    },
                ));
            }
            xdp::drain_events(&mut ebpf).unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("truncated_frames_at_every_length: {runs} runs");
}

/// With no `ctx_in`, BPF_PROG_TEST_RUN reports ingress on loopback
/// (ifindex 1 in the caller's netns); an `xdp_md` context can name another
/// existing interface, and a missing one is refused (ENODEV).
#[test]
fn test_run_ingress_ifindex() {
    if !require_root("test_run_ingress_ifindex") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    xdp::install(&mut ebpf, &config(STATE_MASTER)).unwrap();
    let frame = advert_v4(&good());
    let out = xdp::run(&mut ebpf, &frame).unwrap();
    assert_eq!(out.action, XDP_DROP);
    let out = xdp::run_on(&mut ebpf, &frame, 1).unwrap();
    assert_eq!(out.action, XDP_DROP);
    // 0 in the context means "no device given": loopback again.
    let out = xdp::run_on(&mut ebpf, &frame, 0).unwrap();
    assert_eq!(out.action, XDP_DROP);
    let events = xdp::drain_events(&mut ebpf).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.ifindex == 1), "{events:?}");
    let stats = xdp::stats(&ebpf).unwrap();
    assert_eq!((stats.adverts, stats.badvhid), (3, 0));

    let err = xdp::run_on(&mut ebpf, &frame, 0x7fff_fff0).unwrap_err();
    let os = err.root_cause().to_string();
    assert!(os.contains("No such device"), "{err:#}");
}

/// The ring buffer (256 KiB, 80 bytes per event with its header) fills up:
/// further adverts count ringbuf_full and are still dropped; once userspace
/// reads, adverts flow again.
#[test]
fn ring_buffer_full_is_counted_and_recovers() {
    if !require_root("ring_buffer_full_is_counted_and_recovers") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    xdp::install(&mut ebpf, &config(STATE_MASTER)).unwrap();
    let frame = advert_v4(&good());
    let capacity = carp_common::EVENTS_BYTES as usize / (size_of::<carp_common::AdvertEvent>() + 8);
    for _ in 0..capacity + 10 {
        assert_eq!(xdp::run(&mut ebpf, &frame).unwrap().action, XDP_DROP);
    }
    let stats = xdp::stats(&ebpf).unwrap();
    assert_eq!(stats.adverts, capacity as u64, "{stats:?}");
    assert_eq!(stats.ringbuf_full, 10, "{stats:?}");
    assert_eq!(stats.ipackets, capacity as u64 + 10);
    assert_eq!(xdp::drain_events(&mut ebpf).unwrap().len(), capacity);
    xdp::run(&mut ebpf, &frame).unwrap();
    assert_eq!(xdp::drain_events(&mut ebpf).unwrap().len(), 1);
    assert_eq!(xdp::stats(&ebpf).unwrap().adverts, capacity as u64 + 1);
}

/// Switching a vhid's state in the map changes the verdict at once.
#[test]
fn state_changes_take_effect_immediately() {
    if !require_root("state_changes_take_effect_immediately") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    xdp::install(&mut ebpf, &config(STATE_MASTER)).unwrap();
    let request = frames::arp_request_frame(&[], PEER_MAC, PEER4, VIP4);
    let key = VhidKey::new(carp_common::Port::untagged(IFINDEX), VHID);
    assert_eq!(xdp::run(&mut ebpf, &request).unwrap().action, XDP_TX);
    xdp::set_state(&mut ebpf, key, STATE_BACKUP).unwrap();
    assert_eq!(xdp::run(&mut ebpf, &request).unwrap().action, XDP_DROP);
    xdp::set_state(&mut ebpf, key, STATE_MASTER).unwrap();
    assert_eq!(xdp::run(&mut ebpf, &request).unwrap().action, XDP_TX);
    let stats = xdp::stats(&ebpf).unwrap();
    assert_eq!((stats.arp_replies, stats.arp_suppressed), (2, 1));
}
