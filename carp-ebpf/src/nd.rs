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
//! type 136 with Override, plus Solicited unless DAD, plus Router when the
//! interface forwards IPv6; target = the VIP; one Target Link-Layer Address
//! option with the vhid's MAC. The frame is cut or grown to exactly the
//! 32-byte NA. If the tail cannot be adjusted the NS is passed and the
//! stack answers (with the NIC MAC) instead.
//!
//! The Router flag comes from `IFACE_FLAG_ROUTER` in `CARP_IFACES`, which the
//! agent keeps in step with `net.ipv6.conf.<iface>.forwarding`, the sysctl
//! Linux itself sets R from for its own addresses (OpenBSD's carp does the
//! same, FreeBSD's on solicited NAs). A host whose default router is the VIP
//! drops that router when an NA for it arrives without R (RFC 4861 7.2.5).

use aya_ebpf::{
    helpers::{bpf_xdp_adjust_tail, bpf_xdp_get_buff_len},
    programs::XdpContext,
};
use carp_common::{
    IFACE_FLAG_ROUTER, Port, Stat,
    wire::{IPPROTO_ICMPV6, LINK_LOCAL_TTL, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ipv6},
};

use crate::{
    csum,
    cursor::Cursor,
    eth::EthHdr,
    maps::{self, MacWords},
    verdict::Verdict,
    words,
};

pub(crate) const ND_OPT_TARGET_LL_ADDR: u8 = 2;
const NA_FLAG_ROUTER: u8 = 0x80;
const NA_FLAG_SOLICITED: u8 = 0x40;
const NA_FLAG_OVERRIDE: u8 = 0x20;
pub(crate) const NS_MIN_LEN: usize = 24;
/// type, code, checksum, flags + reserved, target, TLLA option (8 bytes).
const NA_LEN: usize = 32;
type Addr = [u32; 4];
const ALL_NODES: Addr = [
    u32::from_ne_bytes([0xff, 0x02, 0, 0]),
    0,
    0,
    u32::from_ne_bytes([0, 0, 0, 1]),
];
const ALL_NODES_MAC: MacWords = [
    u16::from_ne_bytes([0x33, 0x33]),
    0,
    u16::from_ne_bytes([0, 1]),
];

/// The fixed IPv6 header, and the NS body without options.
#[repr(C)]
struct Ipv6Hdr([u8; ipv6::HLEN]);
#[repr(C)]
struct NeighborSolicit([u8; NS_MIN_LEN]);
/// IPv6 header plus the NA: what must be in the frame after the resize.
#[repr(C)]
struct Ipv6Na([u8; ipv6::HLEN + NA_LEN]);

// Offsets in the ICMPv6 message (the IPv6 header's are `wire::ipv6`).
pub(crate) const ICMP_CODE: usize = 1;
pub(crate) const ICMP_CHECKSUM: usize = 2;
const ICMP_FLAGS: usize = 4;
const ND_TARGET: usize = 8;
const NA_OPTION: usize = 24;
const NA_OPTION_MAC: usize = 26;

/// The cursor on the IPv6 header of a next-header-58 packet; `None` if the
/// packet is not an NS for one of our VIPs.
#[inline(always)]
pub fn handle(ctx: &XdpContext, port: Port, cur: &Cursor, eth: *mut EthHdr) -> Option<Verdict> {
    let l3 = cur.pos();
    let ip = cur.at::<Ipv6Hdr>(l3)?.cast::<u8>();
    let ns = cur.at::<NeighborSolicit>(l3 + ipv6::HLEN)?.cast::<u8>();
    // SAFETY: `at` checked both headers lie in the frame; `eth` was checked
    // by the Ethernet parser. Nothing is written before the frame is resized.
    let (target, requester_ip, requester_mac) = unsafe {
        let payload = usize::from(u16::from_be(words::load(ip.add(ipv6::PAYLOAD_LEN))));
        if *ip >> 4 != 6
            || *ip.add(ipv6::NEXT_HEADER) != IPPROTO_ICMPV6
            || *ip.add(ipv6::HOP_LIMIT) != LINK_LOCAL_TTL
            || payload < NS_MIN_LEN
            || !cur.has(l3 + ipv6::HLEN, payload)
            || *ns != ND_NEIGHBOR_SOLICIT
            || *ns.add(ICMP_CODE) != 0
        {
            return None;
        }
        (
            words::load::<Addr>(ns.add(ND_TARGET)),
            words::load::<Addr>(ip.add(ipv6::SRC)),
            words::load::<MacWords>(eth.cast::<u8>().add(6)),
        )
    };
    let vhid = maps::vip6_vhid(port, target)?;
    let Some(entry) = maps::vhid(port, vhid) else {
        return Some(Verdict::drop(Stat::NdSuppressed));
    };
    if !entry.answers() {
        return Some(Verdict::drop(Stat::NdSuppressed));
    }

    let router = if maps::iface_flags(port.ifindex) & IFACE_FLAG_ROUTER != 0 {
        NA_FLAG_ROUTER
    } else {
        0
    };
    let dad = requester_ip[0] | requester_ip[1] | requester_ip[2] | requester_ip[3] == 0;
    let (dst_ip, dst_mac, flags) = if dad {
        (ALL_NODES, ALL_NODES_MAC, router | NA_FLAG_OVERRIDE)
    } else {
        (
            requester_ip,
            requester_mac,
            router | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
        )
    };

    let want = l3 + ipv6::HLEN + NA_LEN;
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
    let (Some(eth), Some(ip)) = (cur.at::<EthHdr>(0), cur.at::<Ipv6Na>(l3)) else {
        // Cannot happen (the frame is exactly `want` bytes now); drop rather
        // than pass a half-rewritten frame.
        return Some(Verdict::DROP);
    };
    let (eth, ip) = (eth.cast::<u8>(), ip.cast::<u8>());
    let checksum = na_checksum(&target, &dst_ip, flags, &entry.mac);
    // SAFETY: both were bounds-checked just above, for all bytes written.
    unsafe {
        words::store_all(eth, dst_mac);
        words::store_all(eth.add(6), entry.mac);
        words::store(ip, u32::from_ne_bytes([0x60, 0, 0, 0]));
        words::store(ip.add(ipv6::PAYLOAD_LEN), (NA_LEN as u16).to_be());
        words::store(
            ip.add(ipv6::NEXT_HEADER),
            u16::from_ne_bytes([IPPROTO_ICMPV6, LINK_LOCAL_TTL]),
        );
        words::store_all(ip.add(ipv6::SRC), target);
        words::store_all(ip.add(ipv6::DST), dst_ip);
        let na = ip.add(ipv6::HLEN);
        words::store(na, u16::from_ne_bytes([ND_NEIGHBOR_ADVERT, 0]));
        words::store(na.add(ICMP_CHECKSUM), checksum);
        words::store(na.add(ICMP_FLAGS), u32::from_ne_bytes([flags, 0, 0, 0]));
        words::store_all(na.add(ND_TARGET), target);
        words::store(
            na.add(NA_OPTION),
            u16::from_ne_bytes([ND_OPT_TARGET_LL_ADDR, 1]),
        );
        words::store_all(na.add(NA_OPTION_MAC), entry.mac);
    }
    Some(Verdict::tx(Stat::NdReplies))
}

/// ICMPv6 checksum of the NA we write, over the pseudo-header (src, dst,
/// upper-layer length, next header) and the 32 NA bytes, from the values
/// alone (see `csum` for why no byte swapping is needed).
#[inline(always)]
fn na_checksum(vip: &Addr, dst: &Addr, flags: u8, mac: &MacWords) -> u16 {
    let mut sum = csum::add_u32(0, vip);
    sum = csum::add_u32(sum, dst);
    sum = csum::add_u16(
        sum,
        &[
            // Pseudo-header: upper-layer length and next header, the low
            // halves of two big-endian u32s.
            u16::from_ne_bytes([0, NA_LEN as u8]),
            u16::from_ne_bytes([0, IPPROTO_ICMPV6]),
            // type, code; the checksum field counts as zero.
            u16::from_ne_bytes([ND_NEIGHBOR_ADVERT, 0]),
            u16::from_ne_bytes([flags, 0]),
            u16::from_ne_bytes([ND_OPT_TARGET_LL_ADDR, 1]),
        ],
    );
    sum = csum::add_u32(sum, vip);
    sum = csum::add_u16(sum, mac);
    !csum::fold(sum)
}
