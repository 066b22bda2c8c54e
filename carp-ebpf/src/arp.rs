//! ARP requests for a virtual IPv4 address, answered in place as MASTER and
//! swallowed otherwise. The agent adds the VIP to the interface only as
//! MASTER, but the stack must never answer for it in the moments around a
//! transition (or with an address an administrator added by hand), and its
//! answers would carry the NIC's MAC, not the virtual MAC.
//!
//! - A request for a VIP whose vhid is MASTER: the frame becomes the reply
//!   (VLAN tags kept) and goes back out (XDP_TX) — `arp_replies`. ARP probes
//!   (sender IP 0.0.0.0, RFC 5227) are answered too: that is how the owner
//!   defends the address.
//! - BACKUP/INIT, or a VIP whose vhid is missing from CARP_VHIDS: XDP_DROP —
//!   `arp_suppressed`.
//! - Gratuitous requests (sender IP == target IP == VIP): never answered, in
//!   any state, and dropped — `arp_suppressed`. They announce someone else's
//!   claim (a peer taking over); the hosts that need it are the others on the
//!   segment, which see it whatever we do, and our own stack has no use for
//!   an announcement of its own address (with `accept_local` it might even
//!   answer it).
//! - Anything else (other ARP ops or formats, a target that is no VIP): not ours.

use carp_common::{Port, Stat, wire::arp};

use crate::{
    cursor::Cursor,
    eth::EthHdr,
    maps::{self, MacWords},
    verdict::Verdict,
    words,
};

/// Ethernet/IPv4 ARP body (RFC 826), 28 bytes.
#[repr(C)]
struct ArpEthIpv4 {
    /// htype 1, ptype 0x0800, hlen 6, plen 4, op.
    fixed: [u8; 8],
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<ArpEthIpv4>() == arp::LEN);

/// The first 8 bytes of an Ethernet/IPv4 request, as one native load sees them.
const REQUEST: u64 = u64::from_ne_bytes([0, 1, 0x08, 0x00, 6, 4, 0, 1]);
/// The op field of a reply.
const OP_REPLY: u16 = u16::from_ne_bytes([0, 2]);

/// The cursor on the ARP body; `None` if the frame is not ours.
#[inline(always)]
pub fn handle(port: Port, cur: &mut Cursor, eth: *mut EthHdr) -> Option<Verdict> {
    let arp = cur.take::<ArpEthIpv4>()?.cast::<u8>();
    // SAFETY: `take` checked the 28 bytes are in the frame.
    let (fixed, spa, tpa) = unsafe {
        (
            words::load::<u64>(arp),
            words::load::<u32>(arp.add(arp::SPA)),
            words::load::<u32>(arp.add(arp::TPA)),
        )
    };
    if fixed != REQUEST {
        return None;
    }
    let vhid = maps::vip4_vhid(port, tpa)?;
    if spa == tpa {
        return Some(Verdict::drop(Stat::ArpSuppressed));
    }
    let Some(entry) = maps::vhid(port, vhid) else {
        return Some(Verdict::drop(Stat::ArpSuppressed));
    };
    if !entry.answers() {
        return Some(Verdict::drop(Stat::ArpSuppressed));
    }
    // SAFETY: the ARP body (checked by `take`) and the Ethernet header
    // (checked by the parser) are in the frame; the requester's MAC is read
    // before anything overwrites it.
    unsafe {
        let requester: MacWords = words::load(arp.add(arp::SHA));
        let eth = eth.cast::<u8>();
        words::store_all(eth, requester);
        words::store_all(eth.add(6), entry.mac);
        words::store(arp.add(arp::OP), OP_REPLY);
        words::store_all(arp.add(arp::SHA), entry.mac);
        words::store(arp.add(arp::SPA), tpa);
        words::store_all(arp.add(arp::THA), requester);
        words::store(arp.add(arp::TPA), spa);
    }
    Some(Verdict::tx(Stat::ArpReplies))
}
