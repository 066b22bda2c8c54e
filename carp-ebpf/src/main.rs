//! The CARP XDP program: validates CARP adverts into a ring buffer, answers
//! ARP and Neighbor Solicitations for virtual addresses as MASTER (and keeps
//! the stack quiet about them otherwise), filters frames to virtual MACs,
//! and passes everything else at the cost of one branch. Plus a TC egress
//! classifier that puts the virtual MAC into the Neighbor Discovery
//! messages the host itself sends from a virtual IPv6 address (`egress`).
//!
//! See docs/maps.md for the maps and counters.
#![no_std]
#![no_main]

mod arp;
mod auth;
mod carp;
mod csum;
mod cursor;
mod egress;
mod eth;
mod fastpath;
mod maps;
mod nd;
mod run_config;
mod sha1;
mod verdict;
mod vmac;
mod words;

use aya_ebpf::{
    bindings::xdp_action,
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};
use carp_common::{
    Port, STAT_COUNT, Stat, Stats,
    wire::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_ICMPV6, ipv4, ipv6},
};

use crate::{cursor::Cursor, verdict::Verdict};

#[xdp]
pub fn carp_xdp(ctx: XdpContext) -> u32 {
    let cur = Cursor::new(&ctx);
    if fastpath::unrelated(&cur) {
        // The only exit that skips `finish`: nothing to count, no map touched.
        return xdp_action::XDP_PASS;
    }
    finish(classify(&ctx, cur))
}

/// `TC_ACT_UNSPEC`: "no verdict", the packet goes on to the next TC program
/// (TCX_NEXT) and is sent if there is none. TC_ACT_OK would end the chain.
const TC_ACT_UNSPEC: i32 = -1;

/// TC egress: see `egress`. Never drops; every frame gets TC_ACT_UNSPEC.
#[classifier]
pub fn carp_tc_egress(ctx: TcContext) -> i32 {
    auth::record_sent(&ctx);
    if let Some(stat) = egress::handle(&ctx) {
        count(stat);
    }
    TC_ACT_UNSPEC
}

/// An empty program, the baseline `cargo xtask bench xdp` compares against.
#[xdp]
pub fn xdp_pass_baseline(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// The full parse: each handler returns `None` for "not mine", and what
/// nobody takes is subject to the virtual-MAC rule.
///
/// Precedence: protocol 112 is always decided by `carp` (adverts, errors
/// and VRRP alike, whatever the destination MAC); ARP requests and NS for a
/// VIP by `arp` / `nd`, even when sent unicast to the virtual MAC (a
/// neighbour re-validating its cache entry); only then the vMAC rule.
#[inline(always)]
fn classify(ctx: &XdpContext, mut cur: Cursor) -> Verdict {
    let Some(eth) = eth::parse(&mut cur) else {
        // Shorter than an Ethernet header.
        return Verdict::PASS;
    };
    let port = Port::new(ctx.ingress_ifindex() as u32, eth.vlan);
    let mine = match eth.ethertype {
        ETHERTYPE_IPV4 => match cur.at::<u8>(cur.pos() + ipv4::PROTOCOL) {
            // SAFETY: `at` checked the byte is in the frame.
            Some(protocol) if carp::is_carp(unsafe { *protocol }) => Some(carp::ipv4(port, &cur)),
            _ => None,
        },
        ETHERTYPE_IPV6 => match cur.at::<u8>(cur.pos() + ipv6::NEXT_HEADER) {
            // SAFETY: as above.
            Some(next) => match unsafe { *next } {
                next if carp::is_carp(next) => Some(carp::ipv6(port, &cur)),
                IPPROTO_ICMPV6 => nd::handle(ctx, port, &cur, eth.hdr),
                _ => None,
            },
            None => None,
        },
        ETHERTYPE_ARP => arp::handle(port, &mut cur, eth.hdr),
        _ => None,
    };
    match mine {
        Some(verdict) => verdict,
        None => vmac::rule(port, eth.hdr),
    }
}

// The counters are indexed as u64 slots by `Stat as u32`.
const _: () = assert!(core::mem::size_of::<Stats>() == STAT_COUNT * 8);

/// The one place a verdict is recorded: bump its counters in this CPU's
/// `Stats`, return its action.
#[inline(always)]
fn finish(verdict: Verdict) -> u32 {
    if let Some(first) = verdict.first {
        if let Some(stats) = maps::CARP_STATS.get_ptr_mut(0) {
            let slots = stats.cast::<u64>();
            bump(slots, first as u32);
            if let Some(second) = verdict.second {
                bump(slots, second as u32);
            }
        }
    }
    verdict.action
}

/// Bumps one counter in this CPU's `Stats`.
#[inline(always)]
fn count(stat: Stat) {
    if let Some(stats) = maps::CARP_STATS.get_ptr_mut(0) {
        bump(stats.cast::<u64>(), stat as u32);
    }
}

#[inline(always)]
fn bump(slots: *mut u64, slot: u32) {
    if (slot as usize) < STAT_COUNT {
        // SAFETY: `slots` is this CPU's `Stats` and `slot` is one of its
        // STAT_COUNT u64 fields; per-CPU data needs no atomics.
        unsafe { *slots.add(slot as usize) += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
