//! Map keys and values. Map names are the names `bpftool` shows and the
//! file names under `<bpffs>/carp/`.

/// Hash map `VhidKey` → `VhidEntry`: the vhids configured per interface and
/// their current state, written by the agent on every transition.
pub const MAP_VHIDS: &str = "CARP_VHIDS";
/// Hash map `VipKey` → `VipEntry`: virtual addresses per interface.
pub const MAP_VIPS: &str = "CARP_VIPS";
/// Hash map ifindex (u32) → `IfaceEntry`: per-interface config.
pub const MAP_IFACES: &str = "CARP_IFACES";
/// Per-CPU array, one `Stats` at index 0.
pub const MAP_STATS: &str = "CARP_STATS";
/// Ring buffer of `AdvertEvent`.
pub const MAP_EVENTS: &str = "CARP_EVENTS";
/// Hash map `VhidKey` (virtual router id as the vhid) → `VrrpSeen`: the
/// last VRRP advertisement heard whose id is a local vhid; written by the
/// XDP program, polled by the agent.
pub const MAP_VRRP: &str = "CARP_VRRP";
/// Hash map `VhidKey` → `AuthEntry`: the HMAC key state and the flood
/// policy of a vhid, written by the agent when the vhid is configured.
pub const MAP_AUTH: &str = "CARP_AUTH";
/// LRU hash map `ReplayKey` → `ReplayEntry`: the last counter accepted per
/// (interface, vhid, source); written by the XDP program.
pub const MAP_REPLAY: &str = "CARP_REPLAY";
/// LRU hash map `SeenKey` → `SeenEntry`: counters accepted or sent per
/// (interface, vhid, family), whatever the source; written by the XDP
/// program (received) and the TC egress program (sent).
pub const MAP_SEEN: &str = "CARP_SEEN";
/// Name of the XDP program (the function in carp-ebpf).
pub const PROGRAM_NAME: &str = "carp_xdp";
/// Name of the TC egress classifier in the same object.
pub const EGRESS_PROGRAM_NAME: &str = "carp_tc_egress";

pub const MAX_VHIDS: u32 = 1024;
pub const MAX_VIPS: u32 = 4096;
pub const MAX_IFACES: u32 = 256;
/// Sources remembered by `CARP_REPLAY` (least recently used ones go first).
pub const MAX_REPLAY_SOURCES: u32 = 8192;
/// Counters remembered by `CARP_SEEN` (about two hours of one vhid's
/// adverts at advbase 1, both directions).
pub const MAX_SEEN_COUNTERS: u32 = 16384;
/// Ring buffer size in bytes (a power of two and a multiple of the page size).
pub const EVENTS_BYTES: u32 = 256 * 1024;

/// Election state as the XDP program sees it.
pub const STATE_INIT: u8 = 0;
pub const STATE_BACKUP: u8 = 1;
pub const STATE_MASTER: u8 = 2;

/// ARP/NA replies and vMAC frames use the virtual MAC `00:00:5e:00:01:<vhid>`.
pub const MODE_VIRTUAL_MAC: u8 = 0;
/// ARP/NA replies use the NIC's own MAC (ucarp's behaviour; no vMAC filter needed).
pub const MODE_REAL_MAC: u8 = 1;

/// `IfaceEntry::flags`: the interface forwards IPv6
/// (`net.ipv6.conf.<iface>.forwarding` = 1), so Neighbor Advertisements for
/// its VIPs carry the Router flag (RFC 4861 4.4; hosts drop a default router
/// whose NA comes without it, 7.2.5).
pub const IFACE_FLAG_ROUTER: u8 = 0x01;

/// `AuthEntry::mode`: the XDP program checks nothing beyond the checksum
/// and the vhid (the behaviour before `CARP_AUTH` existed).
pub const AUTH_MODE_OFF: u8 = 0;
/// `AuthEntry::mode`: only the new-source budget (no HMAC, no replay check).
pub const AUTH_MODE_RATELIMIT: u8 = 1;
/// `AuthEntry::mode`: HMAC, replay filter and new-source budget (the default).
pub const AUTH_MODE_FULL: u8 = 2;

/// `AuthEntry::flags`: OpenBSD flavour, whose counter is a constant cookie:
/// no replay check for this vhid.
pub const AUTH_FLAG_NO_REPLAY: u8 = 0x01;

/// Words of a digest form's tail: two SHA-1 blocks.
pub const AUTH_TAIL_WORDS: usize = 32;
/// Digest forms an entry holds (link-local VIPs hashed, and left out).
pub const AUTH_MAX_FORMS: usize = 2;

/// The budget for adverts from sources a vhid does not know yet: one every
/// `NEW_SOURCE_INTERVAL_NS` on average...
pub const NEW_SOURCE_INTERVAL_NS: u64 = 20_000_000;
/// ...with bursts of up to this many.
pub const NEW_SOURCE_BURST: u64 = 16;

/// One advert with a wrong digest per vhid per this interval still reaches
/// the agent (counted as `badauth` all the same), for its once-a-minute
/// warning naming the sender.
pub const BADAUTH_SAMPLE_INTERVAL_NS: u64 = 10_000_000_000;

/// A counter `c` from a source whose last accepted counter is `last` is
/// stale (a replay) when `last.wrapping_sub(c) < REPLAY_WINDOW`: equal, or
/// at most this far below.
pub const REPLAY_WINDOW: u64 = 1 << 40;

/// Address family tags in keys and events.
pub const FAMILY_IPV4: u8 = 4;
pub const FAMILY_IPV6: u8 = 6;

/// `vlan` of a key for untagged frames.
pub const VLAN_UNTAGGED: u16 = 0;
/// `vlan` of a frame with two tags (Q-in-Q): no configuration uses it
/// (VLAN ids are 1 to 4094), so such a frame is never ours.
pub const VLAN_STACKED: u16 = 0xffff;
/// The largest VLAN id (802.1Q reserves 4095).
pub const VLAN_MAX: u16 = 4094;

/// Where frames of a vhid arrive and leave: the interface the XDP program
/// is attached to (a trunk, for a VLAN) and the 802.1Q VLAN id on it
/// (`VLAN_UNTAGGED` for none). Every map key starts with one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub ifindex: u32,
    pub vlan: u16,
}

impl Port {
    pub const fn new(ifindex: u32, vlan: u16) -> Self {
        Self { ifindex, vlan }
    }

    /// Untagged frames on `ifindex`.
    pub const fn untagged(ifindex: u32) -> Self {
        Self::new(ifindex, VLAN_UNTAGGED)
    }

    /// The first 6 bytes of every key (ifindex, then VLAN id) as the low
    /// 48 bits of a native-endian u64 (the XDP program writes keys as
    /// words).
    pub const fn word(self) -> u64 {
        if cfg!(target_endian = "little") {
            self.ifindex as u64 | (self.vlan as u64) << 32
        } else {
            (self.ifindex as u64) << 32 | (self.vlan as u64) << 16
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VhidKey {
    pub ifindex: u32,
    /// 802.1Q VLAN id, `VLAN_UNTAGGED` for none.
    pub vlan: u16,
    pub vhid: u8,
    pub _pad: u8,
}

impl VhidKey {
    pub const fn new(port: Port, vhid: u8) -> Self {
        Self {
            ifindex: port.ifindex,
            vlan: port.vlan,
            vhid,
            _pad: 0,
        }
    }

    pub const fn port(&self) -> Port {
        Port::new(self.ifindex, self.vlan)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhidEntry {
    /// `STATE_INIT`, `STATE_BACKUP` or `STATE_MASTER`.
    pub state: u8,
    /// `MODE_VIRTUAL_MAC` or `MODE_REAL_MAC`.
    pub mode: u8,
    pub advbase: u8,
    pub advskew: u8,
    /// The MAC used as source of replies: the virtual MAC, or the NIC's in real-MAC mode.
    pub mac: [u8; 6],
    pub _pad: [u8; 6],
    /// A MASTER answers (ARP, ND, frames to the virtual MAC) only while
    /// CLOCK_MONOTONIC (`bpf_ktime_get_ns`) is at or before this; 0: no
    /// limit. The agent moves it forward with every advert it sends, to the
    /// earliest moment a backup could take over, so a MASTER whose agent is
    /// frozen (SIGSTOP, a paused VM) goes silent instead of answering beside
    /// the backup that took over.
    pub master_until_ns: u64,
}

impl VhidEntry {
    /// An entry with every padding byte zero; `state` is a `STATE_*`,
    /// `mode` a `MODE_*`.
    pub const fn new(
        state: u8,
        mode: u8,
        advbase: u8,
        advskew: u8,
        mac: [u8; 6],
        master_until_ns: u64,
    ) -> Self {
        Self {
            state,
            mode,
            advbase,
            advskew,
            mac,
            _pad: [0; 6],
            master_until_ns,
        }
    }
}

/// A virtual address: IPv4 as the first 4 bytes of `addr` (rest zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VipKey {
    pub ifindex: u32,
    /// 802.1Q VLAN id, `VLAN_UNTAGGED` for none.
    pub vlan: u16,
    /// `FAMILY_IPV4` or `FAMILY_IPV6`.
    pub family: u8,
    pub _pad: u8,
    pub addr: [u8; 16],
}

impl VipKey {
    pub const fn v4(port: Port, addr: [u8; 4]) -> Self {
        let mut a = [0u8; 16];
        a[0] = addr[0];
        a[1] = addr[1];
        a[2] = addr[2];
        a[3] = addr[3];
        Self {
            ifindex: port.ifindex,
            vlan: port.vlan,
            family: FAMILY_IPV4,
            _pad: 0,
            addr: a,
        }
    }

    pub const fn v6(port: Port, addr: [u8; 16]) -> Self {
        Self {
            ifindex: port.ifindex,
            vlan: port.vlan,
            family: FAMILY_IPV6,
            _pad: 0,
            addr,
        }
    }

    pub const fn port(&self) -> Port {
        Port::new(self.ifindex, self.vlan)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipEntry {
    pub vhid: u8,
    pub _pad: [u8; 3],
}

impl VipEntry {
    pub const fn new(vhid: u8) -> Self {
        Self { vhid, _pad: [0; 3] }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceEntry {
    /// The NIC's own MAC: frames to a virtual MAC are rewritten to it.
    pub mac: [u8; 6],
    /// `IFACE_FLAG_*` bits; unknown bits are zero.
    pub flags: u8,
    pub _pad: u8,
}

impl IfaceEntry {
    pub const fn new(mac: [u8; 6], flags: u8) -> Self {
        Self {
            mac,
            flags,
            _pad: 0,
        }
    }
}

/// The last VRRP advertisement (IPv4, version 2 or 3, type 1) heard on an
/// interface whose virtual router id is a vhid configured there: VRRP's
/// IPv4 virtual MAC `00:00:5e:00:01:<vrid>` is the same as that vhid's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpSeen {
    /// `bpf_ktime_get_ns()` at reception (CLOCK_MONOTONIC): a changed value
    /// tells the agent a newer packet was heard.
    pub timestamp_ns: u64,
    /// The IPv4 source of the VRRP packet.
    pub source: [u8; 4],
    /// VRRP version, 2 or 3.
    pub version: u8,
    pub _pad: [u8; 3],
}

/// One validated advertisement handed to userspace (HMAC not yet checked).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, nanoseconds.
    pub timestamp_ns: u64,
    pub ifindex: u32,
    /// 802.1Q VLAN id, `VLAN_UNTAGGED` for none.
    pub vlan: u16,
    /// `FAMILY_IPV4` (source in the first 4 bytes) or `FAMILY_IPV6`.
    pub family: u8,
    /// TTL / hop limit as received (always 255 once validated).
    pub ttl: u8,
    pub source: [u8; 16],
    /// The 36-byte CARP header exactly as on the wire.
    pub advert: [u8; 36],
    pub _pad2: [u8; 4],
}

/// One HMAC digest form, precomputed by the agent: the inner SHA-1 state
/// before the inner hash's last two blocks (the key^ipad block, the
/// message, the counter as zeros, SHA-1 padding), and those two blocks as
/// big-endian words. The XDP program writes the counter in and runs the two
/// compressions, then the outer one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthForm {
    /// The inner SHA-1 state before the tail.
    pub inner: [u32; 5],
    /// Tail blocks: always 2 (the program checks nothing else).
    pub blocks: u8,
    /// Index of the tail word whose last byte is the counter's first; the
    /// counter fills it and the next two words (it always starts 3 bytes
    /// into a word: the message is `02 01 vhid` plus 4- and 16-byte VIPs).
    pub counter_word: u8,
    pub _pad: [u8; 2],
    pub tail: [u32; AUTH_TAIL_WORDS],
}

/// The XDP side of one vhid's authentication (`CARP_AUTH`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthEntry {
    /// The new-source budget's state (GCRA "theoretical arrival time",
    /// `bpf_ktime_get_ns` clock); written by the XDP program, 0 from the agent.
    pub budget_ns: u64,
    /// When the next advert with a wrong digest may still go to the agent
    /// (one per `BADAUTH_SAMPLE_INTERVAL_NS`), so it can log who sends
    /// them; written by the XDP program, 0 from the agent.
    pub sample_ns: u64,
    /// `AUTH_MODE_*`.
    pub mode: u8,
    /// `AUTH_FLAG_*` bits.
    pub flags: u8,
    /// Forms in `form` that are used: 1, or 2 when link-local VIPs make the
    /// FreeBSD and OpenBSD digests differ.
    pub forms: u8,
    pub _pad: [u8; 5],
    /// The outer SHA-1 state after the key's outer block.
    pub outer: [u32; 5],
    pub _pad2: u32,
    pub form: [AuthForm; AUTH_MAX_FORMS],
}

/// Key of `CARP_REPLAY`: one source of adverts for one vhid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    pub ifindex: u32,
    /// 802.1Q VLAN id, `VLAN_UNTAGGED` for none.
    pub vlan: u16,
    pub vhid: u8,
    /// `FAMILY_IPV4` (source in the first 4 bytes) or `FAMILY_IPV6`.
    pub family: u8,
    pub source: [u8; 16],
}

/// Key of `CARP_SEEN`: one counter of one vhid in one address family.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeenKey {
    pub ifindex: u32,
    /// 802.1Q VLAN id, `VLAN_UNTAGGED` for none.
    pub vlan: u16,
    pub vhid: u8,
    /// `FAMILY_IPV4` or `FAMILY_IPV6`: a host sends the same counter in
    /// both, from two source addresses.
    pub family: u8,
    pub counter: u64,
}

/// Value of `CARP_SEEN`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeenEntry {
    /// `bpf_ktime_get_ns()` when the counter was first accepted or sent.
    pub seen_ns: u64,
}

/// Value of `CARP_REPLAY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayEntry {
    /// The last counter accepted from the source.
    pub counter: u64,
}

#[cfg(feature = "user")]
mod pod {
    /// Marks ABI types as `aya::Pod`, each with the same justification.
    macro_rules! pod {
        ($($t:ty),* $(,)?) => {$(
            // SAFETY: a `repr(C)` plain-data type whose padding is explicit
            // fields, so every byte is initialised and any bit pattern is valid.
            unsafe impl aya::Pod for $t {}
        )*};
    }
    pod!(
        super::VhidKey,
        super::VhidEntry,
        super::VipKey,
        super::VipEntry,
        super::IfaceEntry,
        super::AdvertEvent,
        super::VrrpSeen,
        super::AuthEntry,
        super::ReplayKey,
        super::ReplayEntry,
        super::SeenKey,
        super::SeenEntry,
    );
}

const _: () = assert!(core::mem::size_of::<VhidKey>() == 8);
const _: () = assert!(core::mem::size_of::<VhidEntry>() == 24);
const _: () = assert!(core::mem::size_of::<VipKey>() == 24);
const _: () = assert!(core::mem::size_of::<AdvertEvent>() == 72);
const _: () = assert!(core::mem::size_of::<IfaceEntry>() == 8);
const _: () = assert!(core::mem::size_of::<VrrpSeen>() == 16);
const _: () = assert!(core::mem::size_of::<AuthForm>() == 152);
const _: () = assert!(core::mem::size_of::<AuthEntry>() == 352);
const _: () = assert!(core::mem::size_of::<ReplayKey>() == 24);
const _: () = assert!(core::mem::size_of::<ReplayEntry>() == 8);
const _: () = assert!(core::mem::size_of::<SeenKey>() == 16);
const _: () = assert!(core::mem::size_of::<SeenEntry>() == 8);
