//! ABI shared by the XDP program and the agent: map keys and values with an
//! explicit `#[repr(C)]` layout, and the constants both sides agree on.
#![no_std]

/// IP protocol number of CARP (shared with VRRP).
pub const IPPROTO_CARP: u8 = 112;
/// Length of a CARP v2 advertisement, the only payload size that is ours.
pub const CARP_ADVERT_LEN: usize = 36;

/// Per-CPU packet counters. One named field per slot so that
/// `bpftool map dump` shows the names; carpstats names where the BSDs have one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// IPv4 protocol-112 packets seen.
    pub ipackets: u64,
    /// IPv6 protocol-112 packets seen.
    pub ipackets6: u64,
    /// Frames too short for the headers they announce.
    pub hdrops: u64,
    pub badttl: u64,
    pub badlen: u64,
    pub badver: u64,
    pub badsum: u64,
    pub badvhid: u64,
}

impl Stats {
    /// Field-wise sum, used to fold the per-CPU values into one.
    pub fn add(&mut self, other: &Stats) {
        self.ipackets += other.ipackets;
        self.ipackets6 += other.ipackets6;
        self.hdrops += other.hdrops;
        self.badttl += other.badttl;
        self.badlen += other.badlen;
        self.badver += other.badver;
        self.badsum += other.badsum;
        self.badvhid += other.badvhid;
    }
}

#[cfg(feature = "user")]
// SAFETY: plain old data, `repr(C)`, no padding (all fields are u64).
unsafe impl aya::Pod for Stats {}
