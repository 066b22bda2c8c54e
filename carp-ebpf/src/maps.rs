//! Every map of the program, in one place. Names are the ones `bpftool`
//! shows and the agent pins (see carp-common's `MAP_*` constants); all are
//! BTF maps so `bpftool map dump` prints field names.

use aya_ebpf::{
    btf_maps::{HashMap, PerCpuArray, RingBuf},
    macros::btf_map,
};
use core::mem::MaybeUninit;

use crate::bytes;
use carp_common::{
    AdvertEvent, EVENTS_BYTES, FAMILY_IPV4, FAMILY_IPV6, IfaceEntry, MAX_IFACES, MAX_VHIDS,
    MAX_VIPS, Stats, VhidEntry, VhidKey, VipEntry, VipKey,
};

/// vhids per interface and their election state; written by the agent.
#[btf_map]
pub static CARP_VHIDS: HashMap<VhidKey, VhidEntry, { MAX_VHIDS as usize }> = HashMap::new();

/// Virtual addresses per interface, mapped to their vhid; written by the agent.
#[btf_map]
pub static CARP_VIPS: HashMap<VipKey, VipEntry, { MAX_VIPS as usize }> = HashMap::new();

/// Per-interface config (the NIC's own MAC); written by the agent.
#[btf_map]
pub static CARP_IFACES: HashMap<u32, IfaceEntry, { MAX_IFACES as usize }> = HashMap::new();

/// Packet counters, one `Stats` per CPU at index 0; written by this program.
#[btf_map]
pub static CARP_STATS: PerCpuArray<Stats, 1> = PerCpuArray::new();

/// Validated adverts for the agent; written by this program.
#[btf_map]
pub static CARP_EVENTS: RingBuf<AdvertEvent, { EVENTS_BYTES as usize }> = RingBuf::new();

/// The vhid entry of `vhid` on `ifindex`, copied out of the map.
#[inline(always)]
pub fn vhid(ifindex: u32, vhid: u8) -> Option<VhidEntry> {
    let entry = CARP_VHIDS.get_ptr(VhidKey::new(ifindex, vhid))?;
    // SAFETY: the pointer came from a successful lookup. Copying the fields
    // out at once keeps a concurrent agent update from changing them under us.
    unsafe {
        Some(VhidEntry {
            state: (*entry).state,
            mode: (*entry).mode,
            mac: bytes::load(&raw const (*entry).mac),
            ..VhidEntry::default()
        })
    }
}

/// The vhid owning the virtual IPv4 address `addr` on `ifindex`, if it is one.
#[inline(always)]
pub fn vip4_vhid(ifindex: u32, addr: [u8; 4]) -> Option<u8> {
    let mut key = MaybeUninit::<VipKey>::uninit();
    let p = key.as_mut_ptr();
    // SAFETY: every byte of the repr(C) key, padding included, is written
    // before `assume_init`; `VipKey::v4`'s zeroed arrays would become
    // `memset` calls (see `bytes`).
    unsafe {
        (*p).ifindex = ifindex;
        (*p).family = FAMILY_IPV4;
        bytes::store(&raw mut (*p)._pad, [0; 3]);
        let addr_bytes = (&raw mut (*p).addr).cast::<u8>();
        bytes::store(addr_bytes.cast::<[u8; 4]>(), addr);
        bytes::store(addr_bytes.add(4).cast::<[u8; 12]>(), [0; 12]);
        vip_vhid(key.assume_init_ref())
    }
}

/// The vhid owning the virtual IPv6 address `addr` on `ifindex`, if it is one.
#[inline(always)]
pub fn vip6_vhid(ifindex: u32, addr: [u8; 16]) -> Option<u8> {
    let mut key = MaybeUninit::<VipKey>::uninit();
    let p = key.as_mut_ptr();
    // SAFETY: as in `vip4_vhid`.
    unsafe {
        (*p).ifindex = ifindex;
        (*p).family = FAMILY_IPV6;
        bytes::store(&raw mut (*p)._pad, [0; 3]);
        bytes::store(&raw mut (*p).addr, addr);
        vip_vhid(key.assume_init_ref())
    }
}

#[inline(always)]
fn vip_vhid(key: &VipKey) -> Option<u8> {
    let entry = CARP_VIPS.get_ptr(key)?;
    // SAFETY: as in `vhid`.
    Some(unsafe { (*entry).vhid })
}

/// The NIC MAC of `ifindex`.
#[inline(always)]
pub fn iface_mac(ifindex: u32) -> Option<[u8; 6]> {
    let entry = CARP_IFACES.get_ptr(ifindex)?;
    // SAFETY: as in `vhid`.
    Some(unsafe { bytes::load(&raw const (*entry).mac) })
}
