//! Every map of the program, in one place. Names are the ones `bpftool`
//! shows and the agent pins (see carp-common's `MAP_*` constants); all are
//! BTF maps so `bpftool map dump` prints field names.
//!
//! The lookup helpers copy out what the program needs right away (an agent
//! update may recycle the element behind the pointer) and build keys with
//! word stores (see `words`).

use core::mem::{MaybeUninit, offset_of};

use aya_ebpf::{
    btf_maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
    helpers::bpf_ktime_get_ns,
    macros::btf_map,
};
use carp_common::{
    AUTH_TAIL_WORDS, AuthEntry, EVENTS_BYTES, FAMILY_IPV4, FAMILY_IPV6, IfaceEntry, MAX_IFACES,
    MAX_REPLAY_SOURCES, MAX_SEEN_COUNTERS, MAX_VHIDS, MAX_VIPS, Port, ReplayEntry, ReplayKey,
    STATE_MASTER, SeenEntry, SeenKey, Stats, VhidEntry, VhidKey, VipEntry, VipKey, VrrpSeen,
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

/// Validated adverts for the agent (`AdvertEvent` records); written by
/// this program. Declared without a value type: libbpf (bpftool, libxdp)
/// refuses a ring buffer whose BTF definition has a sized value
/// ("conflicting value size"), since a ring buffer's value size is 0.
#[btf_map]
pub static CARP_EVENTS: RingBuf<(), { EVENTS_BYTES as usize }> = RingBuf::new();

/// HMAC key state and flood policy per vhid; written by the agent.
#[btf_map]
pub static CARP_AUTH: HashMap<VhidKey, AuthEntry, { MAX_VHIDS as usize }> = HashMap::new();

/// The last counter accepted per (interface, vhid, source); written by
/// this program (see `auth`).
#[btf_map]
pub static CARP_REPLAY: LruHashMap<ReplayKey, ReplayEntry, { MAX_REPLAY_SOURCES as usize }> =
    LruHashMap::new();

/// Counters accepted (this program) or sent (`carp_tc_egress`) per
/// (interface, vhid, family), whatever the source: a counter seen once is a
/// replay from any source (see `auth`).
#[btf_map]
pub static CARP_SEEN: LruHashMap<SeenKey, SeenEntry, { MAX_SEEN_COUNTERS as usize }> =
    LruHashMap::new();

/// Working memory of the HMAC check: a SHA-1 block schedule and state are
/// more than the 512-byte stack should hold, and map values take indexed
/// access the verifier bounds easily.
#[repr(C)]
pub struct AuthScratch {
    /// Two message blocks (the inner tail), then reused for the outer one.
    pub block: [u32; AUTH_TAIL_WORDS],
    pub h: [u32; 5],
    pub _pad: u32,
}

/// One `AuthScratch` per CPU at index 0; only this program uses it.
#[btf_map]
pub static CARP_AUTH_SCRATCH: PerCpuArray<AuthScratch, 1> = PerCpuArray::new();

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

/// The vhid entry of `vhid` on `port`.
#[inline(always)]
pub fn vhid(port: Port, vhid: u8) -> Option<Vhid> {
    let entry = CARP_VHIDS.get_ptr(VhidKey::new(port, vhid))?;
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

/// True if `vhid` is configured on `port`.
#[inline(always)]
pub fn has_vhid(port: Port, vhid: u8) -> bool {
    CARP_VHIDS.get_ptr(VhidKey::new(port, vhid)).is_some()
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
const _: () = assert!(offset_of!(VipKey, vlan) == 4);
const _: () = assert!(offset_of!(VipKey, family) == 6);
const _: () = assert!(offset_of!(VipKey, addr) == 8);
const _: () = assert!(core::mem::size_of::<VipKey>() == 24);

/// The vhid owning the virtual IPv4 address `addr` (as loaded from the
/// frame) on `port`, if it is one.
#[inline(always)]
pub fn vip4_vhid(port: Port, addr: u32) -> Option<u8> {
    vip_vhid(port, FAMILY_IPV4, [addr, 0, 0, 0])
}

/// The vhid owning the virtual IPv6 address `addr` on `port`, if it is one.
#[inline(always)]
pub fn vip6_vhid(port: Port, addr: [u32; 4]) -> Option<u8> {
    vip_vhid(port, FAMILY_IPV6, addr)
}

#[inline(always)]
fn vip_vhid(port: Port, family: u8, addr: [u32; 4]) -> Option<u8> {
    let mut key = MaybeUninit::<AlignedVipKey>::uninit();
    let p = key.as_mut_ptr().cast::<u8>();
    // SAFETY: the two stores cover all 24 bytes of the key (ifindex, VLAN,
    // family and the padding byte as one u64; the address as 4 u32).
    // The `&` stays although clippy calls it needless: by reference the
    // helper gets a pointer to the 8-byte aligned slot (`AlignedVipKey`) the
    // word stores above filled. By value the key would be copied into a new
    // slot with `VipKey`'s own 4-byte alignment, byte-wise or in narrower
    // loads, which the verifier tracks less well than the stores it saw.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let entry = unsafe {
        words::store(p, port.word() | u64::from(family) << 48);
        words::store_all(p.add(8), addr);
        CARP_VIPS.get_ptr(&key.assume_init_ref().0)?
    };
    // SAFETY: a successful lookup.
    Some(unsafe { (*entry).vhid })
}

/// `ReplayKey` on an 8-aligned stack slot, as `AlignedVipKey`.
#[repr(C, align(8))]
pub struct AlignedReplayKey(pub ReplayKey);

const _: () = assert!(offset_of!(ReplayKey, vlan) == 4);
const _: () = assert!(offset_of!(ReplayKey, vhid) == 6);
const _: () = assert!(offset_of!(ReplayKey, family) == 7);
const _: () = assert!(offset_of!(ReplayKey, source) == 8);

/// The `CARP_REPLAY` key of a source, written as three words.
#[inline(always)]
pub fn replay_key(port: Port, vhid: u8, family: u8, source: [u64; 2]) -> AlignedReplayKey {
    let mut key = MaybeUninit::<AlignedReplayKey>::uninit();
    let p = key.as_mut_ptr().cast::<u8>();
    // SAFETY: the stores cover all 24 bytes (ifindex, VLAN, vhid and
    // family as one u64; the source as two).
    unsafe {
        words::store(
            p,
            port.word() | u64::from(vhid) << 48 | u64::from(family) << 56,
        );
        words::store_all(p.add(8), source);
        key.assume_init()
    }
}

/// `SeenKey` on an 8-aligned stack slot.
#[repr(C, align(8))]
pub struct AlignedSeenKey(pub SeenKey);

const _: () = assert!(offset_of!(SeenKey, vlan) == 4);
const _: () = assert!(offset_of!(SeenKey, vhid) == 6);
const _: () = assert!(offset_of!(SeenKey, family) == 7);
const _: () = assert!(offset_of!(SeenKey, counter) == 8);

/// The `CARP_SEEN` key of a counter, written as two words.
#[inline(always)]
pub fn seen_key(port: Port, vhid: u8, family: u8, counter: u64) -> AlignedSeenKey {
    let mut key = MaybeUninit::<AlignedSeenKey>::uninit();
    let p = key.as_mut_ptr().cast::<u8>();
    // SAFETY: the two stores cover all 16 bytes (ifindex, VLAN, vhid and
    // family as one u64; the counter).
    unsafe {
        words::store(
            p,
            port.word() | u64::from(vhid) << 48 | u64::from(family) << 56,
        );
        words::store(p.add(8), counter);
        key.assume_init()
    }
}
