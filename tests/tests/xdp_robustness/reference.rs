//! A plain-Rust model of the XDP program's rules, written from the rules
//! (docs/maps.md, carp-ebpf module docs), not from the eBPF code: what the
//! program should do with any frame, given the map contents.

use carp_common::{
    FAMILY_IPV4, FAMILY_IPV6, IFACE_FLAG_ROUTER, MODE_VIRTUAL_MAC, STATE_MASTER, Stat, VMAC_PREFIX,
    VipKey,
};
use carp_tests::{
    frames,
    xdp::{MapConfig, XDP_DROP, XDP_PASS, XDP_TX},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub family: u8,
    pub ttl: u8,
    pub source: [u8; 16],
    pub advert: [u8; 36],
}

#[derive(Clone, Debug)]
pub struct Expected {
    pub action: u32,
    pub stats: Vec<Stat>,
    /// The frame after the program (PASS/TX); `None` for DROP.
    pub output: Option<Vec<u8>>,
    pub event: Option<Event>,
}

impl Expected {
    fn pass(frame: &[u8], stats: &[Stat]) -> Self {
        Self {
            action: XDP_PASS,
            stats: stats.to_vec(),
            output: Some(frame.to_vec()),
            event: None,
        }
    }

    fn drop(stats: &[Stat]) -> Self {
        Self {
            action: XDP_DROP,
            stats: stats.to_vec(),
            output: None,
            event: None,
        }
    }
}

fn be16(f: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([f[at], f[at + 1]]))
}

/// What the program must do with `frame` (at least 14 bytes) received on `ifindex`.
pub fn classify(frame: &[u8], cfg: &MapConfig, ifindex: u32) -> Expected {
    assert!(frame.len() >= 14);
    let mut ethertype = be16(frame, 12);
    let mut l3 = 14;
    // Keys carry the VLAN id of a single tag; two tags make a port no
    // configuration has.
    let mut vlan: u16 = 0;
    for depth in 0..2 {
        if (ethertype == 0x8100 || ethertype == 0x88a8) && frame.len() >= l3 + 4 {
            vlan = if depth == 0 {
                (be16(frame, l3) & 0x0fff) as u16
            } else {
                carp_common::VLAN_STACKED
            };
            ethertype = be16(frame, l3 + 2);
            l3 += 4;
        } else {
            break;
        }
    }
    let ifindex = carp_common::Port::new(ifindex, vlan);
    let mine = match ethertype {
        0x0800 if frame.len() > l3 + 9 && frame[l3 + 9] == 112 => {
            Some(carp_v4(frame, l3, cfg, ifindex))
        }
        0x86dd if frame.len() > l3 + 6 => match frame[l3 + 6] {
            112 => Some(carp_v6(frame, l3, cfg, ifindex)),
            58 => nd(frame, l3, cfg, ifindex),
            _ => None,
        },
        0x0806 => arp(frame, l3, cfg, ifindex),
        _ => None,
    };
    mine.unwrap_or_else(|| vmac(frame, cfg, ifindex))
}

fn carp_v4(f: &[u8], l3: usize, cfg: &MapConfig, ifindex: carp_common::Port) -> Expected {
    let seen = Stat::Ipackets;
    let avail = f.len() - l3;
    if avail < 20 {
        return Expected::drop(&[seen, Stat::Hdrops]);
    }
    let (version, ihl) = (f[l3] >> 4, usize::from(f[l3] & 15));
    if version != 4 || ihl < 5 {
        return Expected::drop(&[seen, Stat::Badlen]);
    }
    if be16(f, l3 + 6) & 0x3fff != 0 {
        return Expected::pass(f, &[seen]);
    }
    let hlen = ihl * 4;
    if avail < hlen {
        return Expected::drop(&[seen, Stat::Hdrops]);
    }
    let total = be16(f, l3 + 2);
    if total < hlen {
        return Expected::drop(&[seen, Stat::Badlen]);
    }
    if total > avail {
        return Expected::drop(&[seen, Stat::Hdrops]);
    }
    if f[l3 + 8] != 255 {
        return Expected::drop(&[seen, Stat::Badttl]);
    }
    if total - hlen != 36 || is_vrrp(&f[l3 + hlen..l3 + total]) {
        // VRRP: an advertisement (v2/v3, type 1) whose id is a local
        // virtual-MAC vhid shares its virtual MAC.
        let vrrp = &f[l3 + hlen..l3 + total];
        let clash = vrrp.len() >= 2
            && matches!(vrrp[0], 0x21 | 0x31)
            && cfg
                .vhid(ifindex, vrrp[1])
                .is_some_and(|e| e.mode == MODE_VIRTUAL_MAC);
        let stat = if clash {
            Stat::VrrpClash
        } else {
            Stat::VrrpPassed
        };
        return Expected::pass(f, &[seen, stat]);
    }
    let mut source = [0u8; 16];
    source[..4].copy_from_slice(&f[l3 + 12..l3 + 16]);
    advert(
        &f[l3 + hlen..l3 + hlen + 36],
        seen,
        FAMILY_IPV4,
        source,
        cfg,
        ifindex,
    )
}

fn carp_v6(f: &[u8], l3: usize, cfg: &MapConfig, ifindex: carp_common::Port) -> Expected {
    let seen = Stat::Ipackets6;
    let avail = f.len() - l3;
    if avail < 40 {
        return Expected::drop(&[seen, Stat::Hdrops]);
    }
    if f[l3] >> 4 != 6 {
        return Expected::drop(&[seen, Stat::Badlen]);
    }
    let plen = be16(f, l3 + 4);
    if plen > avail - 40 {
        return Expected::drop(&[seen, Stat::Hdrops]);
    }
    if f[l3 + 7] != 255 {
        return Expected::drop(&[seen, Stat::Badttl]);
    }
    if plen != 36 || is_vrrp(&f[l3 + 40..l3 + 76]) {
        return Expected::pass(f, &[seen, Stat::VrrpPassed]);
    }
    let source: [u8; 16] = f[l3 + 8..l3 + 24].try_into().unwrap();
    advert(
        &f[l3 + 40..l3 + 76],
        seen,
        FAMILY_IPV6,
        source,
        cfg,
        ifindex,
    )
}

/// VRRP of CARP's size: VRRPv3 (version 3), or VRRPv2 whose address count
/// (CARP's authlen byte) is not 7.
fn is_vrrp(payload: &[u8]) -> bool {
    payload.len() == 36 && (payload[0] >> 4 == 3 || (payload[0] == 0x21 && payload[3] != 7))
}

fn advert(
    a: &[u8],
    seen: Stat,
    family: u8,
    source: [u8; 16],
    cfg: &MapConfig,
    ifindex: carp_common::Port,
) -> Expected {
    if a[0] != 0x21 {
        return Expected::drop(&[seen, Stat::Badver]);
    }
    if frames::ones_complement_sum(a) != 0xffff {
        return Expected::drop(&[seen, Stat::Badsum]);
    }
    if cfg.vhid(ifindex, a[1]).is_none() {
        return Expected::drop(&[seen, Stat::Badvhid]);
    }
    Expected {
        event: Some(Event {
            family,
            ttl: 255,
            source,
            advert: a.try_into().unwrap(),
        }),
        ..Expected::drop(&[seen, Stat::Adverts])
    }
}

fn arp(f: &[u8], l3: usize, cfg: &MapConfig, ifindex: carp_common::Port) -> Option<Expected> {
    let a = f.get(l3..l3 + 28)?;
    if be16(a, 0) != 1 || be16(a, 2) != 0x0800 || a[4] != 6 || a[5] != 4 || be16(a, 6) != 1 {
        return None;
    }
    let (sha, spa, tpa) = (&a[8..14], &a[14..18], &a[24..28]);
    let vip = cfg.vip(&VipKey::v4(ifindex, tpa.try_into().unwrap()))?;
    if spa == tpa {
        return Some(Expected::drop(&[Stat::ArpSuppressed]));
    }
    let Some(entry) = cfg
        .vhid(ifindex, vip.vhid)
        .filter(|e| e.state == STATE_MASTER)
    else {
        return Some(Expected::drop(&[Stat::ArpSuppressed]));
    };
    let mut out = f.to_vec();
    out[0..6].copy_from_slice(sha);
    out[6..12].copy_from_slice(&entry.mac);
    let body = frames::arp(
        2,
        entry.mac,
        tpa.try_into().unwrap(),
        sha.try_into().unwrap(),
        spa.try_into().unwrap(),
    );
    out[l3..l3 + 28].copy_from_slice(&body);
    Some(Expected {
        action: XDP_TX,
        stats: vec![Stat::ArpReplies],
        output: Some(out),
        event: None,
    })
}

fn nd(f: &[u8], l3: usize, cfg: &MapConfig, ifindex: carp_common::Port) -> Option<Expected> {
    let ip = f.get(l3..l3 + 40)?;
    let ns = f.get(l3 + 40..l3 + 64)?;
    let plen = be16(ip, 4);
    if ip[0] >> 4 != 6 || ip[7] != 255 || plen < 24 || l3 + 40 + plen > f.len() {
        return None;
    }
    if ns[0] != 135 || ns[1] != 0 {
        return None;
    }
    let target: [u8; 16] = ns[8..24].try_into().unwrap();
    let vip = cfg.vip(&VipKey::v6(ifindex, target))?;
    let Some(entry) = cfg
        .vhid(ifindex, vip.vhid)
        .filter(|e| e.state == STATE_MASTER)
    else {
        return Some(Expected::drop(&[Stat::NdSuppressed]));
    };
    let src: [u8; 16] = ip[8..24].try_into().unwrap();
    let router = match cfg.iface(ifindex.ifindex) {
        Some(iface) if iface.flags & IFACE_FLAG_ROUTER != 0 => frames::NA_FLAG_ROUTER,
        _ => 0,
    };
    let (dst, dst_mac, mut flags) = if src == frames::UNSPECIFIED {
        (
            frames::ALL_NODES,
            frames::ALL_NODES_MAC,
            frames::NA_FLAG_OVERRIDE,
        )
    } else {
        (
            src,
            f[6..12].try_into().unwrap(),
            frames::NA_FLAG_SOLICITED | frames::NA_FLAG_OVERRIDE,
        )
    };
    flags |= router;
    let na = frames::neighbor_advertisement(&target, &dst, flags, &target, entry.mac);
    let mut out = f[..l3].to_vec();
    out[0..6].copy_from_slice(&dst_mac);
    out[6..12].copy_from_slice(&entry.mac);
    out.extend_from_slice(&frames::ipv6(target, dst, 255, 58, &na));
    Some(Expected {
        action: XDP_TX,
        stats: vec![Stat::NdReplies],
        output: Some(out),
        event: None,
    })
}

fn vmac(f: &[u8], cfg: &MapConfig, ifindex: carp_common::Port) -> Expected {
    if f[..5] != VMAC_PREFIX {
        return Expected::pass(f, &[]);
    }
    let Some(entry) = cfg.vhid(ifindex, f[5]) else {
        return Expected::pass(f, &[]);
    };
    if entry.mode != MODE_VIRTUAL_MAC {
        return Expected::pass(f, &[]);
    }
    if entry.state != STATE_MASTER {
        return Expected::drop(&[Stat::VmacDropped]);
    }
    let Some(iface) = cfg.iface(ifindex.ifindex) else {
        return Expected::drop(&[Stat::VmacDropped]);
    };
    let mut out = f.to_vec();
    out[..6].copy_from_slice(&iface.mac);
    Expected::pass(&out, &[Stat::VmacAccepted])
}
