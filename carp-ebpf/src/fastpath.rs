//! The first branch: recognise unrelated traffic (every forwarded packet)
//! with one bounds check and three loads, touching no map.
//!
//! A frame is unrelated when its destination MAC does not start like a
//! virtual MAC (00:00:5e:00) and it is IPv4 with a protocol other than 112,
//! IPv6 with a next header other than 112 and 58, or another ethertype that
//! is not ARP or a VLAN tag. Everything else takes the full parse, which
//! decides again from scratch: this module may only say "surely unrelated".

use carp_common::{
    IPPROTO_CARP,
    wire::{
        ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN,
        IPPROTO_ICMPV6,
    },
};

use crate::{cursor::Cursor, vmac::VMAC_HI};

/// Ethernet header plus the first ten bytes of an IPv4 header: enough for
/// the IPv4 protocol byte (offset 23) and the IPv6 next header (offset 20).
#[repr(C, align(4))]
struct Prefix {
    dst_hi: u32,
    dst_lo: u16,
    src: [u8; 6],
    ethertype: u16,
    l3: [u8; 10],
}

const _: () = assert!(core::mem::size_of::<Prefix>() == 24);

/// True if the frame can go to the stack untouched and uncounted.
///
/// The loads are typed (u32/u16) so each is one instruction; XDP frames start
/// at an aligned address and the verifier allows unaligned packet access on
/// the architectures we run on anyway.
#[inline(always)]
pub fn unrelated(cur: &Cursor) -> bool {
    let Some(prefix) = cur.at::<Prefix>(0) else {
        return false;
    };
    // SAFETY: `at` checked the 24 bytes lie in the frame.
    let prefix = unsafe { &*prefix };
    if prefix.dst_hi == VMAC_HI {
        return false;
    }
    let ethertype = prefix.ethertype;
    if ethertype == ETHERTYPE_IPV4.to_be() {
        prefix.l3[9] != IPPROTO_CARP
    } else if ethertype == ETHERTYPE_IPV6.to_be() {
        let next = prefix.l3[6];
        next != IPPROTO_CARP && next != IPPROTO_ICMPV6
    } else {
        ethertype != ETHERTYPE_ARP.to_be()
            && ethertype != ETHERTYPE_VLAN.to_be()
            && ethertype != ETHERTYPE_QINQ.to_be()
    }
}
