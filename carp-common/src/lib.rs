//! ABI shared by the XDP program and the agent: map keys and values with an
//! explicit `#[repr(C)]` layout (padding spelled out, so BTF and `bpftool`
//! show every byte), map names, and the constants both sides agree on.
#![no_std]

pub mod maps;
pub mod stats;
pub mod wire;

pub use maps::*;
pub use stats::{STAT_COUNT, Stat, Stats};
pub use wire::{CARP_ADVERT_LEN, IPPROTO_CARP, VMAC_PREFIX, virtual_mac};
