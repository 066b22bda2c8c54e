//! Ethernet with up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8).
//!
//! The VLAN id of a frame with one tag is part of every map key, so one
//! program on a trunk serves the vhids of all its VLANs. A frame with two
//! tags (Q-in-Q) gets `VLAN_STACKED`, which no configuration uses.

use carp_common::{
    VLAN_STACKED, VLAN_UNTAGGED,
    wire::{ETHERTYPE_QINQ, ETHERTYPE_VLAN},
};

use crate::cursor::Cursor;

pub const ETH_ALEN: usize = 6;

/// At most this many tags are parsed; a third leaves a VLAN ethertype,
/// which nothing below recognises.
const MAX_VLAN_TAGS: usize = 2;

#[repr(C)]
pub struct EthHdr {
    pub dst: [u8; ETH_ALEN],
    pub src: [u8; ETH_ALEN],
    pub ethertype: [u8; 2],
}

#[repr(C)]
struct VlanTag {
    tci: [u8; 2],
    ethertype: [u8; 2],
}

pub struct Ethernet {
    pub hdr: *mut EthHdr,
    /// The innermost ethertype, host order.
    pub ethertype: u16,
    /// The VLAN id of the one tag, `VLAN_UNTAGGED`, or `VLAN_STACKED`.
    pub vlan: u16,
}

/// The 12-bit VLAN id of a tag control field (host order).
#[inline(always)]
pub fn vlan_id(tci: u16) -> u16 {
    tci & 0x0fff
}

#[inline(always)]
fn is_vlan(ethertype: u16) -> bool {
    ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ
}

/// Parses the Ethernet header and VLAN tags; the cursor ends on the L3 header.
/// A truncated tag stops the parse with the tag's ethertype, which no L3
/// handler accepts.
#[inline(always)]
pub fn parse(cur: &mut Cursor) -> Option<Ethernet> {
    let hdr = cur.take::<EthHdr>()?;
    // SAFETY: `take` checked the header lies in the frame.
    let mut ethertype = u16::from_be_bytes(unsafe { (*hdr).ethertype });
    let mut vlan = VLAN_UNTAGGED;
    for depth in 0..MAX_VLAN_TAGS {
        if !is_vlan(ethertype) {
            break;
        }
        let Some(tag) = cur.take::<VlanTag>() else {
            break;
        };
        // SAFETY: checked by `take`.
        let (tci, inner) = unsafe { (u16::from_be_bytes((*tag).tci), (*tag).ethertype) };
        vlan = if depth == 0 {
            vlan_id(tci)
        } else {
            VLAN_STACKED
        };
        ethertype = u16::from_be_bytes(inner);
    }
    Some(Ethernet {
        hdr,
        ethertype,
        vlan,
    })
}
