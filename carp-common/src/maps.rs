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
/// Name of the XDP program (the function in carp-ebpf).
pub const PROGRAM_NAME: &str = "carp_xdp";
/// Name of the TC egress classifier in the same object.
pub const EGRESS_PROGRAM_NAME: &str = "carp_tc_egress";

pub const MAX_VHIDS: u32 = 1024;
pub const MAX_VIPS: u32 = 4096;
pub const MAX_IFACES: u32 = 256;
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

/// Address family tags in keys and events.
pub const FAMILY_IPV4: u8 = 4;
pub const FAMILY_IPV6: u8 = 6;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VhidKey {
    pub ifindex: u32,
    pub vhid: u8,
    pub _pad: [u8; 3],
}

impl VhidKey {
    pub const fn new(ifindex: u32, vhid: u8) -> Self {
        Self {
            ifindex,
            vhid,
            _pad: [0; 3],
        }
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

/// A virtual address: IPv4 as the first 4 bytes of `addr` (rest zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VipKey {
    pub ifindex: u32,
    /// `FAMILY_IPV4` or `FAMILY_IPV6`.
    pub family: u8,
    pub _pad: [u8; 3],
    pub addr: [u8; 16],
}

impl VipKey {
    pub const fn v4(ifindex: u32, addr: [u8; 4]) -> Self {
        let mut a = [0u8; 16];
        a[0] = addr[0];
        a[1] = addr[1];
        a[2] = addr[2];
        a[3] = addr[3];
        Self {
            ifindex,
            family: FAMILY_IPV4,
            _pad: [0; 3],
            addr: a,
        }
    }

    pub const fn v6(ifindex: u32, addr: [u8; 16]) -> Self {
        Self {
            ifindex,
            family: FAMILY_IPV6,
            _pad: [0; 3],
            addr,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipEntry {
    pub vhid: u8,
    pub _pad: [u8; 3],
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
    /// `FAMILY_IPV4` (source in the first 4 bytes) or `FAMILY_IPV6`.
    pub family: u8,
    /// TTL / hop limit as received (always 255 once validated).
    pub ttl: u8,
    pub _pad: [u8; 2],
    pub source: [u8; 16],
    /// The 36-byte CARP header exactly as on the wire.
    pub advert: [u8; 36],
    pub _pad2: [u8; 4],
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
    );
}

const _: () = assert!(core::mem::size_of::<VhidKey>() == 8);
const _: () = assert!(core::mem::size_of::<VhidEntry>() == 24);
const _: () = assert!(core::mem::size_of::<VipKey>() == 24);
const _: () = assert!(core::mem::size_of::<AdvertEvent>() == 72);
const _: () = assert!(core::mem::size_of::<IfaceEntry>() == 8);
const _: () = assert!(core::mem::size_of::<VrrpSeen>() == 16);
