//! IPv6 Neighbor Solicitations for a virtual address (RFC 4861), turned in
//! place into the Neighbor Advertisement as MASTER, dropped otherwise.
//!
//! An NS is ours when the IPv6 header is valid, next header is ICMPv6 (no
//! extension headers), hop limit 255, ICMPv6 type 135 code 0, at least 24
//! bytes of ICMPv6, and the target is a VIP of this interface. Anything
//! else is left to the stack, which validates ND itself.
//! The NS checksum is not verified: the reply carries only our own
//! addresses, and Ethernet's FCS already caught corruption on the wire.
//!
//! The NA: IPv6 src = the VIP, dst = the NS source (ff02::1 and MAC
//! 33:33:00:00:00:01 when the NS is DAD, source ::), hop limit 255; ICMPv6
//! type 136 with Override, plus Solicited unless DAD; target = the VIP; one
//! Target Link-Layer Address option with the vhid's MAC. The frame is cut
//! or grown to exactly the 32-byte NA. If the tail cannot be adjusted the
//! NS is passed and the stack answers (with the NIC MAC) instead.

use aya_ebpf::{
    helpers::{bpf_xdp_adjust_tail, bpf_xdp_get_buff_len},
    programs::XdpContext,
};
use carp_common::{STATE_MASTER, Stat};

use crate::{
    bytes, csum,
    cursor::Cursor,
    eth::{ETH_ALEN, EthHdr},
    maps,
    verdict::Verdict,
};

const IPPROTO_ICMPV6: u8 = 58;
const ND_HOP_LIMIT: u8 = 255;
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const ND_OPT_TARGET_LL_ADDR: u8 = 2;
const NA_FLAG_SOLICITED: u8 = 0x40;
const NA_FLAG_OVERRIDE: u8 = 0x20;
const IPV6_HLEN: usize = 40;
const NS_MIN_LEN: usize = 24;
/// type, code, checksum, flags + reserved, target, TLLA option (8 bytes).
const NA_LEN: usize = 32;
const ALL_NODES: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ALL_NODES_MAC: [u8; ETH_ALEN] = [0x33, 0x33, 0, 0, 0, 1];

#[repr(C)]
struct Ipv6Hdr {
    vtcfl: [u8; 4],
    payload_len: [u8; 2],
    next_header: u8,
    hop_limit: u8,
    src: [u8; 16],
    dst: [u8; 16],
}

#[repr(C)]
struct NeighborSolicit {
    icmp_type: u8,
    code: u8,
    checksum: [u8; 2],
    reserved: [u8; 4],
    target: [u8; 16],
}

#[repr(C)]
struct NeighborAdvert {
    icmp_type: u8,
    code: u8,
    checksum: [u8; 2],
    flags: u8,
    reserved: [u8; 3],
    target: [u8; 16],
    opt_type: u8,
    opt_len: u8,
    opt_mac: [u8; ETH_ALEN],
}

const _: () = assert!(core::mem::size_of::<Ipv6Hdr>() == IPV6_HLEN);
const _: () = assert!(core::mem::size_of::<NeighborSolicit>() == NS_MIN_LEN);
const _: () = assert!(core::mem::size_of::<NeighborAdvert>() == NA_LEN);

/// The cursor on the IPv6 header of a next-header-58 packet; `None` if the
/// packet is not an NS for one of our VIPs.
#[inline(always)]
pub fn handle(ctx: &XdpContext, ifindex: u32, cur: &Cursor, eth: *mut EthHdr) -> Option<Verdict> {
    let l3 = cur.pos();
    let ip = cur.at::<Ipv6Hdr>(l3)?;
    let ns = cur.at::<NeighborSolicit>(l3 + IPV6_HLEN)?;
    // SAFETY: `at` checked both headers lie in the frame; `eth` was checked
    // by the Ethernet parser. Nothing is written before the frame is resized.
    let (target, requester_ip, requester_mac) = unsafe {
        let ip = &*ip;
        let ns = &*ns;
        let payload = usize::from(u16::from_be_bytes(ip.payload_len));
        if ip.vtcfl[0] >> 4 != 6
            || ip.next_header != IPPROTO_ICMPV6
            || ip.hop_limit != ND_HOP_LIMIT
            || payload < NS_MIN_LEN
            || !cur.has(l3 + IPV6_HLEN, payload)
            || ns.icmp_type != ND_NEIGHBOR_SOLICIT
            || ns.code != 0
        {
            return None;
        }
        (ns.target, ip.src, (*eth).src)
    };
    let vhid = maps::vip6_vhid(ifindex, target)?;
    let Some(entry) = maps::vhid(ifindex, vhid) else {
        return Some(Verdict::drop(Stat::NdSuppressed));
    };
    if entry.state != STATE_MASTER {
        return Some(Verdict::drop(Stat::NdSuppressed));
    }

    let dad = is_unspecified(&requester_ip);
    let (dst_ip, dst_mac, flags) = if dad {
        (ALL_NODES, ALL_NODES_MAC, NA_FLAG_OVERRIDE)
    } else {
        (
            requester_ip,
            requester_mac,
            NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
        )
    };

    let want = l3 + IPV6_HLEN + NA_LEN;
    // SAFETY: the helpers only need the program's own context.
    let have = unsafe { bpf_xdp_get_buff_len(ctx.ctx) } as usize;
    if want != have {
        let delta = want as i32 - have as i32;
        // SAFETY: as above; every packet pointer is re-derived below.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
            return Some(Verdict::PASS);
        }
    }

    // The old pointers died with the resize; check the new frame again.
    let cur = Cursor::new(ctx);
    let (Some(eth), Some(ip), Some(na)) = (
        cur.at::<EthHdr>(0),
        cur.at::<Ipv6Hdr>(l3),
        cur.at::<NeighborAdvert>(l3 + IPV6_HLEN),
    ) else {
        // Cannot happen (the frame is exactly `want` bytes now); drop rather
        // than pass a half-rewritten frame.
        return Some(Verdict::DROP);
    };
    let checksum = na_checksum(&target, &dst_ip, flags, &entry.mac);
    // SAFETY: all three were bounds-checked just above.
    unsafe {
        (*eth).dst = dst_mac;
        (*eth).src = entry.mac;
        let ip = &mut *ip;
        ip.vtcfl = [0x60, 0, 0, 0];
        ip.payload_len = (NA_LEN as u16).to_be_bytes();
        ip.next_header = IPPROTO_ICMPV6;
        ip.hop_limit = ND_HOP_LIMIT;
        ip.src = target;
        ip.dst = dst_ip;
        let na = &mut *na;
        na.icmp_type = ND_NEIGHBOR_ADVERT;
        na.code = 0;
        na.checksum = checksum.to_be_bytes();
        na.flags = flags;
        bytes::store(&raw mut na.reserved, [0; 3]);
        na.target = target;
        na.opt_type = ND_OPT_TARGET_LL_ADDR;
        na.opt_len = 1;
        na.opt_mac = entry.mac;
    }
    Some(Verdict::tx(Stat::NdReplies))
}

/// ICMPv6 checksum of the NA we write, over the pseudo-header (src, dst,
/// upper-layer length, next header) and the 32 NA bytes, from the values
/// alone: nothing is read back from the frame.
#[inline(always)]
fn na_checksum(vip: &[u8; 16], dst: &[u8; 16], flags: u8, mac: &[u8; ETH_ALEN]) -> u16 {
    let mut sum = csum::add_words(0, vip);
    sum = csum::add_words(sum, dst);
    sum += NA_LEN as u32 + u32::from(IPPROTO_ICMPV6);
    sum += u32::from(ND_NEIGHBOR_ADVERT) << 8;
    sum += u32::from(flags) << 8;
    sum = csum::add_words(sum, vip);
    sum += (u32::from(ND_OPT_TARGET_LL_ADDR) << 8) | 1;
    sum = csum::add_words(sum, mac);
    !csum::fold(sum)
}

#[inline(always)]
fn is_unspecified(addr: &[u8; 16]) -> bool {
    let mut bits = 0u8;
    for byte in addr {
        bits |= byte;
    }
    bits == 0
}
