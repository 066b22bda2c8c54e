//! ARP requests for a virtual IPv4 address, answered in place as MASTER and
//! swallowed otherwise: the VIP is configured on the interface in every
//! state, so the stack would answer for it even as BACKUP.
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

use carp_common::{STATE_MASTER, Stat};

use crate::{
    bytes,
    cursor::Cursor,
    eth::{ETH_ALEN, EthHdr},
    maps,
    verdict::Verdict,
};

const ARPHRD_ETHER: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;

/// Ethernet/IPv4 ARP body (RFC 826), 28 bytes.
#[repr(C)]
struct ArpEthIpv4 {
    htype: [u8; 2],
    ptype: [u8; 2],
    hlen: u8,
    plen: u8,
    op: [u8; 2],
    sha: [u8; ETH_ALEN],
    spa: [u8; 4],
    tha: [u8; ETH_ALEN],
    tpa: [u8; 4],
}

/// The cursor on the ARP body; `None` if the frame is not ours.
#[inline(always)]
pub fn handle(ifindex: u32, cur: &mut Cursor, eth: *mut EthHdr) -> Option<Verdict> {
    let arp = cur.take::<ArpEthIpv4>()?;
    // SAFETY: `take` checked the 28 bytes are in the frame; `eth` was checked
    // by the Ethernet parser.
    unsafe {
        let a = &mut *arp;
        // Fields are compared as integers: array equality may become a
        // `bcmp` call, which BPF does not have.
        if u16::from_be_bytes(a.htype) != ARPHRD_ETHER
            || u16::from_be_bytes(a.ptype) != PTYPE_IPV4
            || a.hlen != ETH_ALEN as u8
            || a.plen != 4
            || u16::from_be_bytes(a.op) != ARPOP_REQUEST
        {
            return None;
        }
        let target = a.tpa;
        let vhid = maps::vip4_vhid(ifindex, target)?;
        if u32::from_ne_bytes(a.spa) == u32::from_ne_bytes(target) {
            return Some(Verdict::drop(Stat::ArpSuppressed));
        }
        let Some(entry) = maps::vhid(ifindex, vhid) else {
            return Some(Verdict::drop(Stat::ArpSuppressed));
        };
        if entry.state != STATE_MASTER {
            return Some(Verdict::drop(Stat::ArpSuppressed));
        }
        let requester_mac = bytes::load(&raw const a.sha);
        let requester_ip = bytes::load(&raw const a.spa);
        bytes::store(&raw mut (*eth).dst, requester_mac);
        bytes::store(&raw mut (*eth).src, entry.mac);
        a.op = ARPOP_REPLY.to_be_bytes();
        bytes::store(&raw mut a.sha, entry.mac);
        bytes::store(&raw mut a.spa, target);
        bytes::store(&raw mut a.tha, requester_mac);
        bytes::store(&raw mut a.tpa, requester_ip);
    }
    Some(Verdict::tx(Stat::ArpReplies))
}
