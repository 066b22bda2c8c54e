//! Frames addressed to a virtual MAC 00:00:5e:00:01:<vhid>. The NIC accepts
//! them (the agent adds the vMAC to its unicast filter), but the stack would
//! see PACKET_OTHERHOST: as MASTER the destination becomes the NIC's own MAC;
//! as BACKUP/INIT the frame is not ours to take.
//!
//! Only vhids configured on this interface in virtual-MAC mode count: the
//! same MAC range is VRRP's (00:00:5e:00:01:<vrid>), and a VRRP router or a
//! real-MAC-mode vhid on the segment must be left alone.

use carp_common::{MODE_VIRTUAL_MAC, Port, Stat, VMAC_PREFIX};

use crate::{eth::EthHdr, maps, verdict::Verdict, words};

/// The first four bytes of every virtual MAC, as a native load sees them.
pub const VMAC_HI: u32 = u32::from_ne_bytes([
    VMAC_PREFIX[0],
    VMAC_PREFIX[1],
    VMAC_PREFIX[2],
    VMAC_PREFIX[3],
]);

/// The rule for any frame no other handler took.
#[inline(always)]
pub fn rule(port: Port, eth: *mut EthHdr) -> Verdict {
    let dst = eth.cast::<u8>();
    // SAFETY: `eth` was bounds-checked by the Ethernet parser.
    let (hi, fifth, vhid) = unsafe { (words::load::<u32>(dst), *dst.add(4), *dst.add(5)) };
    if hi != VMAC_HI || fifth != VMAC_PREFIX[4] {
        return Verdict::PASS;
    }
    let Some(entry) = maps::vhid(port, vhid) else {
        return Verdict::PASS;
    };
    if entry.mode != MODE_VIRTUAL_MAC {
        return Verdict::PASS;
    }
    if !entry.answers() {
        return Verdict::drop(Stat::VmacDropped);
    }
    // Without the NIC MAC the stack would drop the frame as not ours anyway;
    // say so in the counters rather than pass it silently.
    let Some(nic) = maps::iface_mac(port.ifindex) else {
        return Verdict::drop(Stat::VmacDropped);
    };
    // SAFETY: as above.
    unsafe { words::store_all(dst, nic) };
    Verdict::pass(Stat::VmacAccepted)
}
