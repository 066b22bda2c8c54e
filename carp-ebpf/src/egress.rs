//! TC egress: Neighbor Discovery messages the host's own stack sends from a
//! virtual IPv6 address carry the virtual MAC (FreeBSD's carp_macmatch6).
//!
//! As MASTER the kernel owns the VIP and solicits neighbours from it (to
//! send a reply from the VIP it must resolve the peer), putting the NIC's
//! MAC in the Source Link-Layer Address option; a receiver then moves its
//! entry for the VIP to that MAC (RFC 4861 7.2.3). IPv4 has `arp_announce`
//! for this, IPv6 has no knob, so the frame is fixed on the way out.
//!
//! A frame is rewritten when it is Ethernet (up to two VLAN tags) + IPv6
//! with next header 58 (no extension headers), hop limit 255, ICMPv6 type
//! 135 (NS) or 136 (NA) code 0, at least 24 bytes of ICMPv6, and the IPv6
//! SOURCE is a VIP of `skb->ifindex` whose vhid is MASTER in virtual-MAC
//! mode. Then the Ethernet source and the MAC of the first Source (NS) /
//! Target (NA) Link-Layer Address option become the vhid's `mac`, the
//! ICMPv6 checksum is updated by `bpf_l4_csum_replace`, and
//! `nd_egress_rewritten` is bumped (only when a byte changed: the agent's
//! own unsolicited NAs already carry the virtual MAC).
//!
//! Everything else leaves untouched. The program reads the headers
//! directly (they are in the linear part for every ND message the kernel
//! builds; a frame whose headers are not is left alone) and writes only
//! through `bpf_skb_store_bytes`: a direct packet write would make the
//! verifier add a prologue that un-clones every cloned skb (every TCP
//! segment) before the program runs.

use aya_ebpf::programs::TcContext;
use carp_common::{
    MODE_VIRTUAL_MAC, Port, STATE_MASTER, Stat,
    wire::{
        ETH_SRC, ETHERTYPE_IPV6, IPPROTO_ICMPV6, LINK_LOCAL_TTL, ND_NEIGHBOR_ADVERT,
        ND_NEIGHBOR_SOLICIT, ipv6,
    },
};

use crate::{
    csum,
    cursor::Cursor,
    eth,
    maps::{self, MacWords},
    nd::{ICMP_CHECKSUM, ICMP_CODE, ND_OPT_TARGET_LL_ADDR, NS_MIN_LEN},
    words,
};

const ND_OPT_SOURCE_LL_ADDR: u8 = 1;
/// Options looked at before giving up on finding the link-layer one (the
/// kernel puts it first; a nonce or other options may follow).
const MAX_OPTIONS: usize = 4;
/// Offset of the MAC in a link-layer address option (after type, length).
const OPT_MAC: usize = 2;

/// The IPv6 header plus ICMPv6 type, code and checksum.
#[repr(C)]
struct Ipv6Icmp([u8; ipv6::HLEN + 4]);

/// The counter to bump, if the frame was rewritten.
#[inline(always)]
pub fn handle(ctx: &TcContext) -> Option<Stat> {
    let mut cur = Cursor::tc(ctx);
    let eth = eth::parse(&mut cur)?;
    if eth.ethertype != ETHERTYPE_IPV6 {
        return None;
    }
    let l3 = cur.pos();
    let ip = cur.at::<Ipv6Icmp>(l3)?.cast::<u8>();
    // SAFETY: `at` checked the IPv6 header and the first 4 ICMPv6 bytes lie
    // in the linear data; `eth.hdr` was checked by the Ethernet parser.
    let (kind, payload, src, eth_src) = unsafe {
        let kind = *ip.add(ipv6::HLEN);
        if *ip.add(ipv6::NEXT_HEADER) != IPPROTO_ICMPV6
            || (kind != ND_NEIGHBOR_SOLICIT && kind != ND_NEIGHBOR_ADVERT)
            || *ip >> 4 != 6
            || *ip.add(ipv6::HOP_LIMIT) != LINK_LOCAL_TTL
            || *ip.add(ipv6::HLEN + ICMP_CODE) != 0
        {
            return None;
        }
        (
            kind,
            usize::from(u16::from_be(words::load(ip.add(ipv6::PAYLOAD_LEN)))),
            words::load::<[u32; 4]>(ip.add(ipv6::SRC)),
            words::load::<MacWords>(eth.hdr.cast::<u8>().add(ETH_SRC)),
        )
    };
    let l4 = l3 + ipv6::HLEN;
    // A frame shorter than its IPv6 payload length is not ND we can fix.
    if payload < NS_MIN_LEN || l4 + payload > ctx.len() as usize {
        return None;
    }
    let port = port(ctx, eth.vlan);
    let vhid = maps::vip6_vhid(port, src)?;
    let entry = maps::vhid(port, vhid)?;
    if entry.state != STATE_MASTER || entry.mode != MODE_VIRTUAL_MAC {
        return None;
    }
    let mac = entry.mac;

    let wanted = if kind == ND_NEIGHBOR_SOLICIT {
        ND_OPT_SOURCE_LL_ADDR
    } else {
        ND_OPT_TARGET_LL_ADDR
    };
    let mut changed = false;
    if let Some(option) = find_option(ctx, l4 + NS_MIN_LEN, l4 + payload, wanted) {
        let at = option + OPT_MAC;
        let old: MacWords = ctx.load(at).ok()?;
        if old != mac {
            ctx.store(at, &mac, 0).ok()?;
            // The option starts 8-aligned in the message, so its MAC words
            // are checksum words: the diff is ~old + new, word by word.
            let diff = old
                .iter()
                .zip(mac)
                .fold(0u64, |sum, (o, n)| sum + u64::from(!*o) + u64::from(n));
            // Size 0: `to` is a checksum diff; no pseudo-header field changed.
            if ctx
                .l4_csum_replace(l4 + ICMP_CHECKSUM, 0, u64::from(csum::fold(diff)), 0)
                .is_err()
            {
                // Put the old MAC back rather than send a bad checksum.
                let _ = ctx.store(at, &old, 0);
                return None;
            }
            changed = true;
        }
    }
    if eth_src != mac && ctx.store(ETH_SRC, &mac, 0).is_ok() {
        changed = true;
    }
    changed.then_some(Stat::NdEgressRewritten)
}

/// The port a frame leaves by: the interface, and the VLAN id of its tag.
/// A frame from a VLAN device on this interface carries its tag outside
/// the data (`skb->vlan_tci`, the kernel's "hardware accelerated" tag,
/// which the device or the stack inserts after this program); a frame sent
/// tagged through a packet socket, as the agent's adverts, carries it
/// inline (`inline_vlan`, from the parser).
#[inline(always)]
pub fn port(ctx: &TcContext, inline_vlan: u16) -> Port {
    // SAFETY: the context pointer is the program's own.
    let (ifindex, present, tci) = unsafe {
        let skb = ctx.skb.skb;
        ((*skb).ifindex, (*skb).vlan_present, (*skb).vlan_tci)
    };
    let vlan = if present != 0 {
        eth::vlan_id(tci as u16)
    } else {
        inline_vlan
    };
    Port::new(ifindex, vlan)
}

/// Offset of the first option of type `wanted` and length 1 (8 bytes, an
/// Ethernet link-layer address) between `start` and `end`, read with
/// `bpf_skb_load_bytes` (no bounds to prove, linear or not).
#[inline(always)]
fn find_option(ctx: &TcContext, start: usize, end: usize, wanted: u8) -> Option<usize> {
    let mut at = start;
    for _ in 0..MAX_OPTIONS {
        if at + 8 > end {
            return None;
        }
        let [kind, len]: [u8; 2] = ctx.load(at).ok()?;
        if len == 0 {
            // Invalid (RFC 4861 4.6): the receiver drops the message anyway.
            return None;
        }
        if kind == wanted && len == 1 {
            return Some(at);
        }
        at += usize::from(len) * 8;
    }
    None
}
