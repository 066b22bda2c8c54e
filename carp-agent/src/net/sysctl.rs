//! Per-interface sysctls the agent needs while it runs.
//!
//! `arp_announce = 2`: when the MASTER's own kernel ARPs for a neighbour, it
//! must use its primary address as sender, never the VIP, or the neighbour
//! maps the VIP to the NIC's real MAC instead of the virtual MAC (and keeps
//! sending there after a failover until the next gratuitous ARP).
use std::{fs, path::PathBuf};

use super::NetError;

fn arp_announce_path(interface: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/ipv4/conf/{interface}/arp_announce"))
}

/// Sets `arp_announce` to 2 on `interface`; returns the previous value to restore.
pub fn set_arp_announce(interface: &str) -> Result<String, NetError> {
    let path = arp_announce_path(interface);
    let io = |source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    };
    let previous = fs::read_to_string(&path).map_err(io)?;
    fs::write(&path, "2").map_err(io)?;
    Ok(previous.trim().to_string())
}

/// Puts back the value `set_arp_announce` returned.
pub fn restore_arp_announce(interface: &str, previous: &str) -> Result<(), NetError> {
    let path = arp_announce_path(interface);
    fs::write(&path, previous).map_err(|source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    })
}
