//! Loading the XDP program and reading its maps.

use aya::{
    Ebpf,
    maps::PerCpuArray,
    programs::{ProgramError, Xdp},
};
use carp_common::Stats;

/// The XDP object built by `build.rs` from `carp-ebpf`, with BTF.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/carp-xdp"));

/// Name of the XDP program inside [`XDP_OBJECT`].
pub const XDP_PROGRAM: &str = carp_common::PROGRAM_NAME;
/// Name of the per-CPU statistics map.
pub const STATS_MAP: &str = carp_common::MAP_STATS;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("loading the XDP object: {0}")]
    Object(#[from] aya::EbpfError),
    #[error("XDP program {XDP_PROGRAM}: {0}")]
    Program(#[from] ProgramError),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("map {0} is missing from the XDP object")]
    MissingMap(&'static str),
}

/// Parses the embedded object and loads the XDP program into the kernel
/// (not attached to any interface yet).
pub fn load() -> Result<Ebpf, DataplaneError> {
    let mut ebpf = Ebpf::load(XDP_OBJECT)?;
    xdp_program(&mut ebpf)?.load()?;
    Ok(ebpf)
}

/// The XDP program of a loaded object.
pub fn xdp_program(ebpf: &mut Ebpf) -> Result<&mut Xdp, DataplaneError> {
    let program = ebpf
        .program_mut(XDP_PROGRAM)
        .ok_or(ProgramError::NotLoaded)?;
    Ok(program.try_into()?)
}

/// Sums the per-CPU counters into one [`Stats`].
pub fn read_stats(ebpf: &Ebpf) -> Result<Stats, DataplaneError> {
    let map = ebpf
        .map(STATS_MAP)
        .ok_or(DataplaneError::MissingMap(STATS_MAP))?;
    let array: PerCpuArray<_, Stats> =
        PerCpuArray::try_from(map).map_err(|source| DataplaneError::Map {
            name: STATS_MAP,
            source,
        })?;
    let per_cpu = array.get(&0, 0).map_err(|source| DataplaneError::Map {
        name: STATS_MAP,
        source,
    })?;
    let mut total = Stats::default();
    for cpu in per_cpu.iter() {
        total.add(cpu);
    }
    Ok(total)
}
