//! Loading the XDP program and reading its maps.

/// The XDP object built by `build.rs` from `carp-ebpf`, with BTF.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/carp-xdp"));

/// Name of the XDP program inside [`XDP_OBJECT`].
pub const XDP_PROGRAM: &str = "carp_xdp";
/// Name of the per-CPU statistics map.
pub const STATS_MAP: &str = "CARP_STATS";
