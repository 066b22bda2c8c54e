//! Every map of the program, in one place. Names are the ones `bpftool`
//! shows and the agent pins (see carp-common's `MAP_*` constants); all are
//! BTF maps so `bpftool map dump` prints field names.
//!
//! The lookup helpers copy out what the program needs right away (an agent
//! update may recycle the element behind the pointer) and build keys with
//! word stores (see `words`).

use core::mem::{MaybeUninit, offset_of};

use aya_ebpf::{
    btf_maps::{HashMap, PerCpuArray, RingBuf},
    helpers::bpf_ktime_get_ns,
    macros::btf_map,
};
use carp_common::{
    AdvertEvent, EVENTS_BYTES, FAMILY_IPV4, FAMILY_IPV6, IfaceEntry, MAX_IFACES, MAX_VHIDS,
    MAX_VIPS, STATE_MASTER, Stats, VhidEntry, VhidKey, VipEntry, VipKey, VrrpSeen,
};

use crate::words;

/// vhids per interface and their election state; written by the agent.
#[btf_map]
pub static CARP_VHIDS: HashMap<VhidKey, VhidEntry, { MAX_VHIDS as usize }> = HashMap::new();

/// Virtual addresses per interface, mapped to their vhid; written by the agent.
#[btf_map]
pub static CARP_VIPS: HashMap<VipKey, VipEntry, { MAX_VIPS as usize }> = HashMap::new();

/// Per-interface config (the NIC's own MAC); written by the agent.
#[btf_map]
pub static CARP_IFACES: HashMap<u32, IfaceEntry, { MAX_IFACES as usize }> = HashMap::new();

/// The last VRRP advertisement per local vhid whose id it uses; written by
/// this program (see `carp::vrrp`), polled by the agent. Keys are only ever
/// configured vhids, so it never holds more entries than `CARP_VHIDS`.
#[btf_map]
pub static CARP_VRRP: HashMap<VhidKey, VrrpSeen, { MAX_VHIDS as usize }> = HashMap::new();

/// Packet counters, one `Stats` per CPU at index 0; written by this program.
#[btf_map]
pub static CARP_STATS: PerCpuArray<Stats, 1> = PerCpuArray::new();

/// Validated adverts for the agent; written by this program.
#[btf_map]
pub static CARP_EVENTS: RingBuf<AdvertEvent, { EVENTS_BYTES as usize }> = RingBuf::new();

/// A MAC address as three 16-bit words in memory order: copied with three
/// loads and three stores.
pub type MacWords = [u16; 3];

/// What the program needs of a vhid entry.
pub struct Vhid {
    pub state: u8,
    pub mode: u8,
    /// The source MAC of replies (virtual MAC, or the NIC's in real-MAC mode).
    pub mac: MacWords,
    /// `VhidEntry::master_until_ns`.
    master_until_ns: u64,
}

impl Vhid {
    /// MASTER, and its agent advertised recently enough that no backup can
    /// have taken over (`VhidEntry::master_until_ns`).
    #[inline(always)]
    pub fn answers(&self) -> bool {
        self.state == STATE_MASTER
            // SAFETY: a helper without arguments.
            && (self.master_until_ns == 0 || unsafe { bpf_ktime_get_ns() } <= self.master_until_ns)
    }
}

const _: () = assert!(offset_of!(VhidEntry, mac) == 4);
const _: () = assert!(offset_of!(VhidEntry, master_until_ns) == 16);
const _: () = assert!(offset_of!(IfaceEntry, mac) == 0);
const _: () = assert!(offset_of!(IfaceEntry, flags) == 6);

/// The vhid entry of `vhid` on `ifindex`.
#[inline(always)]
pub fn vhid(ifindex: u32, vhid: u8) -> Option<Vhid> {
    let entry = CARP_VHIDS.get_ptr(VhidKey::new(ifindex, vhid))?;
    // SAFETY: the pointer came from a successful lookup; map values are
    // 8-aligned, so `mac` at offset 4 is 2-aligned.
    unsafe {
        Some(Vhid {
            state: (*entry).state,
            mode: (*entry).mode,
            mac: words::load(entry.cast::<u8>().add(4)),
            master_until_ns: (*entry).master_until_ns,
        })
    }
}

/// True if `vhid` is configured on `ifindex`.
#[inline(always)]
pub fn has_vhid(ifindex: u32, vhid: u8) -> bool {
    CARP_VHIDS.get_ptr(VhidKey::new(ifindex, vhid)).is_some()
}

/// The NIC MAC of `ifindex`.
#[inline(always)]
pub fn iface_mac(ifindex: u32) -> Option<MacWords> {
    let entry = CARP_IFACES.get_ptr(ifindex)?;
    // SAFETY: as in `vhid`.
    Some(unsafe { words::load(entry.cast::<u8>()) })
}

/// The `IFACE_FLAG_*` bits of `ifindex`; none without an entry.
#[inline(always)]
pub fn iface_flags(ifindex: u32) -> u8 {
    match CARP_IFACES.get_ptr(ifindex) {
        // SAFETY: a successful lookup.
        Some(entry) => unsafe { (*entry).flags },
        None => 0,
    }
}

/// `VipKey` on an 8-aligned stack slot, so it can be written as words
/// (the verifier insists on aligned stack access).
#[repr(C, align(8))]
struct AlignedVipKey(VipKey);

const _: () = assert!(offset_of!(VipKey, ifindex) == 0);
const _: () = assert!(offset_of!(VipKey, family) == 4);
const _: () = assert!(offset_of!(VipKey, addr) == 8);
const _: () = assert!(core::mem::size_of::<VipKey>() == 24);

/// The vhid owning the virtual IPv4 address `addr` (as loaded from the
/// frame) on `ifindex`, if it is one.
#[inline(always)]
pub fn vip4_vhid(ifindex: u32, addr: u32) -> Option<u8> {
    vip_vhid(ifindex, FAMILY_IPV4, [addr, 0, 0, 0])
}

/// The vhid owning the virtual IPv6 address `addr` on `ifindex`, if it is one.
#[inline(always)]
pub fn vip6_vhid(ifindex: u32, addr: [u32; 4]) -> Option<u8> {
    vip_vhid(ifindex, FAMILY_IPV6, addr)
}

#[inline(always)]
fn vip_vhid(ifindex: u32, family: u8, addr: [u32; 4]) -> Option<u8> {
    let mut key = MaybeUninit::<AlignedVipKey>::uninit();
    let p = key.as_mut_ptr().cast::<u8>();
    // SAFETY: the three stores cover all 24 bytes of the key (ifindex,
    // family and the 3 padding bytes as one u64; the address as 4 u32).
    // The `&` stays although clippy calls it needless: by reference the
    // helper gets a pointer to the 8-byte aligned slot (`AlignedVipKey`) the
    // word stores above filled. By value the key would be copied into a new
    // slot with `VipKey`'s own 4-byte alignment, byte-wise or in narrower
    // loads, which the verifier tracks less well than the stores it saw.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let entry = unsafe {
        words::store(p, u64::from(ifindex) | u64::from(family) << 32);
        words::store_all(p.add(8), addr);
        CARP_VIPS.get_ptr(&key.assume_init_ref().0)?
    };
    // SAFETY: a successful lookup.
    Some(unsafe { (*entry).vhid })
}
