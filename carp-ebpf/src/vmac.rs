//! Frames addressed to a virtual MAC 00:00:5e:00:01:<vhid>. The NIC accepts
//! them (the agent adds the vMAC to its unicast filter), but the stack would
//! see PACKET_OTHERHOST: as MASTER the destination becomes the NIC's own MAC;
//! as BACKUP/INIT the frame is not ours to take.
//!
//! Only vhids configured on this interface in virtual-MAC mode count: the
//! same MAC range is VRRP's (00:00:5e:00:01:<vrid>), and a VRRP router or a
//! real-MAC-mode vhid on the segment must be left alone.

use carp_common::{MODE_VIRTUAL_MAC, STATE_MASTER, Stat, VMAC_PREFIX};

use crate::{bytes, eth::EthHdr, maps, verdict::Verdict};

/// The rule for any frame no other handler took.
#[inline(always)]
pub fn rule(ifindex: u32, eth: *mut EthHdr) -> Verdict {
    // SAFETY: `eth` was bounds-checked by the Ethernet parser.
    let dst = unsafe { (*eth).dst };
    if !has_vmac_prefix(&dst) {
        return Verdict::PASS;
    }
    let Some(entry) = maps::vhid(ifindex, dst[5]) else {
        return Verdict::PASS;
    };
    if entry.mode != MODE_VIRTUAL_MAC {
        return Verdict::PASS;
    }
    if entry.state != STATE_MASTER {
        return Verdict::drop(Stat::VmacDropped);
    }
    // Without the NIC MAC the stack would drop the frame as not ours anyway;
    // say so in the counters rather than pass it silently.
    let Some(nic) = maps::iface_mac(ifindex) else {
        return Verdict::drop(Stat::VmacDropped);
    };
    // SAFETY: as above.
    unsafe { bytes::store(&raw mut (*eth).dst, nic) };
    Verdict::pass(Stat::VmacAccepted)
}

/// Byte by byte: a slice comparison would become a `bcmp` call, which BPF lacks.
#[inline(always)]
pub fn has_vmac_prefix(mac: &[u8; 6]) -> bool {
    mac[0] == VMAC_PREFIX[0]
        && mac[1] == VMAC_PREFIX[1]
        && mac[2] == VMAC_PREFIX[2]
        && mac[3] == VMAC_PREFIX[3]
        && mac[4] == VMAC_PREFIX[4]
}
