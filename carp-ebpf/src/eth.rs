//! Ethernet with up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8).

use carp_common::wire::{ETHERTYPE_QINQ, ETHERTYPE_VLAN};

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
    _tci: [u8; 2],
    ethertype: [u8; 2],
}

pub struct Ethernet {
    pub hdr: *mut EthHdr,
    /// The innermost ethertype, host order.
    pub ethertype: u16,
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
    for _ in 0..MAX_VLAN_TAGS {
        if !is_vlan(ethertype) {
            break;
        }
        let Some(tag) = cur.take::<VlanTag>() else {
            break;
        };
        // SAFETY: checked by `take`.
        ethertype = u16::from_be_bytes(unsafe { (*tag).ethertype });
    }
    Some(Ethernet { hdr, ethertype })
}
