//! ABI shared by the XDP program and the agent: map keys and values with an
//! explicit `#[repr(C)]` layout (padding spelled out, so BTF and `bpftool`
//! show every byte), map names, and the constants both sides agree on.
#![no_std]

pub mod maps;
pub mod stats;

pub use maps::*;
pub use stats::{STAT_COUNT, Stat, Stats};

/// IP protocol number of CARP (shared with VRRP).
pub const IPPROTO_CARP: u8 = 112;
/// Length of a CARP v2 advertisement, the only payload size that is ours.
pub const CARP_ADVERT_LEN: usize = 36;
/// The first five bytes of every virtual MAC; the sixth is the vhid.
pub const VMAC_PREFIX: [u8; 5] = [0x00, 0x00, 0x5e, 0x00, 0x01];

/// The virtual MAC of a vhid, `00:00:5e:00:01:<vhid>`.
pub const fn virtual_mac(vhid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vhid]
}
