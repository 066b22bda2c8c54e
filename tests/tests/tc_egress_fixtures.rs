//! BPF_PROG_TEST_RUN fixtures for the TC egress program `carp_tc_egress`:
//! Neighbor Discovery sent from a MASTER VIP (virtual-MAC mode) leaves with
//! the virtual MAC as Ethernet source and in its link-layer address option,
//! with a valid ICMPv6 checksum; every other frame leaves untouched with
//! TC_ACT_UNSPEC. Each case checks the verdict, the exact output bytes and
//! the delta of EVERY counter. Expected frames are built from scratch by
//! `carp_tests::frames` (checksum computed over the new bytes), and the
//! rewritten checksums are verified again independently.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use carp_common::{STATE_BACKUP, STATE_INIT, STATE_MASTER, Stat, VipEntry, VipKey, virtual_mac};
use carp_tests::{
    frames::{self, Ipv6Addr, Mac, Vlan},
    privileges::require_root,
    xdp::{self, MapConfig, TC_ACT_UNSPEC, corpus, counters, delta_of, describe_delta, lab::*},
};

const VMAC: Mac = virtual_mac(VHID);
const ND_OPT_SLLA: u8 = 1;
const ND_OPT_TLLA: u8 = 2;
const ND_OPT_NONCE: u8 = 14;

struct Case {
    name: String,
    config: MapConfig,
    frame: Vec<u8>,
    /// `None`: must leave untouched, no counter.
    rewritten: Option<Vec<u8>>,
}

fn untouched(name: impl Into<String>, state: u8, frame: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        config: config(state),
        frame,
        rewritten: None,
    }
}

fn rewritten(name: impl Into<String>, frame: Vec<u8>, want: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        config: config(STATE_MASTER),
        frame,
        rewritten: Some(want),
    }
}

/// An ND message's ICMPv6 bytes with the given options, checksum filled in.
fn nd_icmp(
    kind: u8,
    flags: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    target: &Ipv6Addr,
    options: &[(u8, [u8; 6])],
) -> Vec<u8> {
    let mut icmp = vec![kind, 0, 0, 0, flags, 0, 0, 0];
    icmp.extend_from_slice(target);
    for (kind, body) in options {
        icmp.extend_from_slice(&[*kind, 1]);
        icmp.extend_from_slice(body);
    }
    let sum = frames::icmpv6_checksum(src, dst, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    icmp
}

/// A frame carrying `icmp` from `src` to `dst` (hop limit 255).
fn nd_frame(
    eth_dst: Mac,
    eth_src: Mac,
    vlans: &[Vlan],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    icmp: &[u8],
) -> Vec<u8> {
    frames::ethernet(
        eth_dst,
        eth_src,
        vlans,
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(src, dst, 255, frames::IPPROTO_ICMPV6, icmp),
    )
}

/// The multicast NS the kernel sends from `src` to resolve the peer, with
/// `mac` as Ethernet source and SLLA.
fn ns_from(vlans: &[Vlan], src: Ipv6Addr, mac: Mac) -> Vec<u8> {
    ns_with(vlans, src, mac, &[(ND_OPT_SLLA, mac)])
}

fn ns_with(vlans: &[Vlan], src: Ipv6Addr, eth_src: Mac, options: &[(u8, [u8; 6])]) -> Vec<u8> {
    let dst = frames::solicited_node(&PEER6);
    let icmp = nd_icmp(frames::ND_NEIGHBOR_SOLICIT, 0, &src, &dst, &PEER6, options);
    nd_frame(
        frames::ipv6_multicast_mac(&dst),
        eth_src,
        vlans,
        src,
        dst,
        &icmp,
    )
}

/// A unicast NS (neighbour unreachability detection) from `src`.
fn nud_from(src: Ipv6Addr, mac: Mac) -> Vec<u8> {
    let icmp = nd_icmp(
        frames::ND_NEIGHBOR_SOLICIT,
        0,
        &src,
        &PEER6,
        &PEER6,
        &[(ND_OPT_SLLA, mac)],
    );
    nd_frame(PEER_MAC, mac, &[], src, PEER6, &icmp)
}

/// An NA for `src` from `src` to `dst`, with `mac` as Ethernet source and TLLA.
fn na_from(src: Ipv6Addr, dst: Ipv6Addr, flags: u8, mac: Mac) -> Vec<u8> {
    na_with(src, dst, flags, mac, &[(ND_OPT_TLLA, mac)])
}

fn na_with(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    flags: u8,
    eth_src: Mac,
    options: &[(u8, [u8; 6])],
) -> Vec<u8> {
    let icmp = nd_icmp(frames::ND_NEIGHBOR_ADVERT, flags, &src, &dst, &src, options);
    let eth_dst = if dst[0] == 0xff {
        frames::ipv6_multicast_mac(&dst)
    } else {
        PEER_MAC
    };
    nd_frame(eth_dst, eth_src, &[], src, dst, &icmp)
}

/// Offset of the IPv6 header in a frame with `vlans` tags.
fn l3(vlans: usize) -> usize {
    14 + 4 * vlans
}

fn cases() -> Vec<Case> {
    use frames::{NA_FLAG_OVERRIDE as O, NA_FLAG_SOLICITED as S};
    let dot1q = [Vlan::dot1q(10)];
    let qinq = [Vlan::dot1ad(100), Vlan::dot1q(10)];
    let nonce = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    let mut cases = vec![
        // ---- rewritten
        rewritten(
            "NS from the MASTER VIP",
            ns_from(&[], VIP6, NIC_MAC),
            ns_from(&[], VIP6, VMAC),
        ),
        rewritten(
            "unicast NS (NUD) from the MASTER VIP",
            nud_from(VIP6, NIC_MAC),
            nud_from(VIP6, VMAC),
        ),
        rewritten(
            "NS from the MASTER VIP, 802.1Q",
            ns_from(&dot1q, VIP6, NIC_MAC),
            ns_from(&dot1q, VIP6, VMAC),
        ),
        // Keys carry the VLAN id; two tags make a port no vhid is on.
        untouched(
            "NS from the MASTER VIP, QinQ",
            STATE_MASTER,
            ns_from(&qinq, VIP6, NIC_MAC),
        ),
        untouched(
            "NS from the MASTER VIP on a VLAN without it",
            STATE_MASTER,
            ns_from(&[Vlan::dot1q(20)], VIP6, NIC_MAC),
        ),
        rewritten(
            "NS from the MASTER VIP, nonce option before the SLLA",
            ns_with(
                &[],
                VIP6,
                NIC_MAC,
                &[(ND_OPT_NONCE, nonce), (ND_OPT_SLLA, NIC_MAC)],
            ),
            ns_with(
                &[],
                VIP6,
                VMAC,
                &[(ND_OPT_NONCE, nonce), (ND_OPT_SLLA, VMAC)],
            ),
        ),
        rewritten(
            "NS from the MASTER VIP without SLLA: Ethernet source only",
            ns_with(&[], VIP6, NIC_MAC, &[]),
            ns_with(&[], VIP6, VMAC, &[]),
        ),
        rewritten(
            "NS from the MASTER VIP, Ethernet padding kept",
            frames::pad_to(ns_from(&[], VIP6, NIC_MAC), 96),
            frames::pad_to(ns_from(&[], VIP6, VMAC), 96),
        ),
        rewritten(
            "NS from the MASTER VIP, SLLA already virtual, Ethernet source not",
            ns_with(&[], VIP6, NIC_MAC, &[(ND_OPT_SLLA, VMAC)]),
            ns_from(&[], VIP6, VMAC),
        ),
        rewritten(
            "unsolicited NA from the MASTER VIP",
            na_from(VIP6, frames::ALL_NODES, O, NIC_MAC),
            na_from(VIP6, frames::ALL_NODES, O, VMAC),
        ),
        rewritten(
            "solicited NA from the MASTER VIP",
            na_from(VIP6, PEER6, S | O, NIC_MAC),
            na_from(VIP6, PEER6, S | O, VMAC),
        ),
        rewritten(
            "NA from the MASTER VIP with an SLLA only: Ethernet source only",
            na_with(VIP6, PEER6, S, NIC_MAC, &[(ND_OPT_SLLA, NIC_MAC)]),
            na_with(VIP6, PEER6, S, VMAC, &[(ND_OPT_SLLA, NIC_MAC)]),
        ),
        // ---- ND, but not ours to touch
        untouched(
            "NS from the MASTER VIP already on the virtual MAC",
            STATE_MASTER,
            ns_from(&[], VIP6, VMAC),
        ),
        untouched(
            "NA from the MASTER VIP already on the virtual MAC (the agent's own)",
            STATE_MASTER,
            na_from(VIP6, frames::ALL_NODES, O, VMAC),
        ),
        untouched(
            "NS from the VIP of a BACKUP vhid",
            STATE_MASTER,
            ns_from(&[], BACKUP_VIP6, NIC_MAC),
        ),
        untouched(
            "NS from the VIP, vhid BACKUP",
            STATE_BACKUP,
            ns_from(&[], VIP6, NIC_MAC),
        ),
        untouched(
            "NS from the VIP, vhid INIT",
            STATE_INIT,
            ns_from(&[], VIP6, NIC_MAC),
        ),
        untouched(
            "NS from a real-MAC-mode MASTER VIP",
            STATE_MASTER,
            ns_from(&[], REAL_VIP6, NIC_MAC),
        ),
        untouched(
            "NS from an address that is no VIP",
            STATE_MASTER,
            ns_from(&[], OTHER6, NIC_MAC),
        ),
        untouched(
            "NS from a link-local address",
            STATE_MASTER,
            ns_from(&[], PEER6_LL, NIC_MAC),
        ),
        untouched(
            "NA from the VIP of a BACKUP vhid",
            STATE_MASTER,
            na_from(BACKUP_VIP6, frames::ALL_NODES, O, NIC_MAC),
        ),
        untouched(
            "NS for the VIP (target), from another address",
            STATE_MASTER,
            {
                let dst = frames::solicited_node(&VIP6);
                let icmp = frames::neighbor_solicitation(&OTHER6, &dst, &VIP6, Some(NIC_MAC));
                nd_frame(
                    frames::ipv6_multicast_mac(&dst),
                    NIC_MAC,
                    &[],
                    OTHER6,
                    dst,
                    &icmp,
                )
            },
        ),
        untouched("ICMPv6 echo reply from the MASTER VIP", STATE_MASTER, {
            let icmp = [129, 0, 0x12, 0x34, 0, 1, 0, 1, b'p', b'i', b'n', b'g'];
            nd_frame(PEER_MAC, NIC_MAC, &[], VIP6, PEER6, &icmp)
        }),
        untouched("NS from the MASTER VIP, hop limit 64", STATE_MASTER, {
            let mut f = ns_from(&[], VIP6, NIC_MAC);
            f[l3(0) + 7] = 64;
            f
        }),
        untouched("NS from the MASTER VIP, code 1", STATE_MASTER, {
            let mut f = ns_from(&[], VIP6, NIC_MAC);
            f[l3(0) + 41] = 1;
            f
        }),
        untouched(
            "NS from the MASTER VIP, IPv6 payload length 20",
            STATE_MASTER,
            {
                let mut f = ns_from(&[], VIP6, NIC_MAC);
                f[l3(0) + 4..l3(0) + 6].copy_from_slice(&20u16.to_be_bytes());
                f
            },
        ),
        untouched(
            "NS from the MASTER VIP, IPv6 payload length beyond the frame",
            STATE_MASTER,
            {
                let mut f = ns_from(&[], VIP6, NIC_MAC);
                f[l3(0) + 4..l3(0) + 6].copy_from_slice(&40u16.to_be_bytes());
                f
            },
        ),
        untouched(
            "NS from the MASTER VIP behind a hop-by-hop header",
            STATE_MASTER,
            {
                let mut f = ns_from(&[], VIP6, NIC_MAC);
                f[l3(0) + 6] = 0;
                f
            },
        ),
        untouched(
            "NS from the MASTER VIP, IP version 4 nibble",
            STATE_MASTER,
            {
                let mut f = ns_from(&[], VIP6, NIC_MAC);
                f[l3(0)] = 0x40;
                f
            },
        ),
        Case {
            name: "NS from a VIP configured on another ifindex".into(),
            config: {
                let mut c = config(STATE_MASTER);
                for (key, _) in &mut c.vips {
                    if *key == VipKey::v6(carp_common::Port::untagged(IFINDEX), VIP6) {
                        *key = VipKey::v6(carp_common::Port::untagged(IFINDEX + 1), VIP6);
                    }
                }
                c
            },
            frame: ns_from(&[], VIP6, NIC_MAC),
            rewritten: None,
        },
        Case {
            name: "NS from a VIP whose vhid is missing".into(),
            config: {
                let mut c = config(STATE_MASTER);
                c.vips.push((
                    VipKey::v6(carp_common::Port::untagged(IFINDEX), OTHER6),
                    VipEntry {
                        vhid: 7,
                        _pad: [0; 3],
                    },
                ));
                c
            },
            frame: ns_from(&[], OTHER6, NIC_MAC),
            rewritten: None,
        },
    ];
    // ---- unrelated traffic: every kind the XDP corpus has
    for (name, frame) in corpus::all() {
        cases.push(untouched(format!("unrelated: {name}"), STATE_MASTER, frame));
    }
    // ---- every truncation of a frame that would be rewritten whole
    let full = ns_from(&dot1q, VIP6, NIC_MAC);
    for len in 14..full.len() {
        cases.push(untouched(
            format!("NS from the MASTER VIP, 802.1Q, cut to {len} bytes"),
            STATE_MASTER,
            full[..len].to_vec(),
        ));
    }
    cases
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ICMPv6 checksum of a rewritten ND frame, verified independently of
/// the builder that made the expected bytes.
fn checksum_ok(frame: &[u8]) -> bool {
    let ethertype_at = |o: usize| u16::from_be_bytes([frame[o], frame[o + 1]]);
    let mut l3 = 14;
    while matches!(
        ethertype_at(l3 - 2),
        frames::ETHERTYPE_VLAN | frames::ETHERTYPE_QINQ
    ) {
        l3 += 4;
    }
    let ip = &frame[l3..];
    let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let src: Ipv6Addr = ip[8..24].try_into().unwrap();
    let dst: Ipv6Addr = ip[24..40].try_into().unwrap();
    frames::icmpv6_checksum_ok(&src, &dst, &ip[40..40 + payload])
}

fn check(ebpf: &mut aya::Ebpf, case: &Case) -> Result<(), String> {
    let fail = |what: String| format!("case `{}`: {what}", case.name);
    xdp::reset(ebpf).map_err(|e| fail(format!("{e:#}")))?;
    xdp::install(ebpf, &case.config).map_err(|e| fail(format!("{e:#}")))?;
    let before = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let out = xdp::run_egress(ebpf, &case.frame).map_err(|e| fail(format!("{e:#}")))?;
    let after = counters(&xdp::stats(ebpf).map_err(|e| fail(format!("{e:#}")))?);
    let mut problems = Vec::new();
    if out.action != TC_ACT_UNSPEC {
        problems.push(format!(
            "verdict {} (expected TC_ACT_UNSPEC)",
            out.action as i32
        ));
    }
    let delta: [u64; carp_common::STAT_COUNT] = std::array::from_fn(|i| after[i] - before[i]);
    let expected = match case.rewritten {
        Some(_) => delta_of(&[Stat::NdEgressRewritten]),
        None => delta_of(&[]),
    };
    if delta != expected {
        problems.push(format!(
            "counters: {} (expected {})",
            describe_delta(&delta),
            describe_delta(&expected)
        ));
    }
    let want = case.rewritten.as_ref().unwrap_or(&case.frame);
    if out.output != *want {
        problems.push(format!(
            "output frame\n   got {}\n  want {}",
            hex(&out.output),
            hex(want)
        ));
    }
    if case.rewritten.is_some() && !checksum_ok(&out.output) {
        problems.push("ICMPv6 checksum of the output does not verify".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("; ")))
    }
}

#[test]
fn nd_from_a_master_vip_leaves_with_the_virtual_mac_and_nothing_else_is_touched() {
    let test = "tc egress fixtures";
    if !require_root(test) {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let cases = cases();
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

/// The expected frames really differ from the inputs where it matters, and
/// their checksums verify: guards the fixtures themselves (no root needed).
#[test]
fn fixture_frames_are_what_they_claim() {
    for case in cases() {
        if let Some(want) = &case.rewritten {
            assert_ne!(want, &case.frame, "{}", case.name);
            assert_eq!(&want[6..12], &VMAC, "{}", case.name);
            assert!(checksum_ok(want), "{}", case.name);
            assert!(checksum_ok(&case.frame), "{}", case.name);
        }
    }
}
