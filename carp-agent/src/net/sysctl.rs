//! Per-interface sysctls the agent needs while it runs.
//!
//! `forwarding` (IPv6), read only: whether the interface routes, which
//! decides the Router flag of the Neighbor Advertisements sent for its VIPs.
//! The files under /proc/sys/net are those of the reader's network
//! namespace.
//!
//! `arp_announce = 2`: when the MASTER's own kernel ARPs for a neighbour, it
//! must use its primary address as sender, never the VIP, or the neighbour
//! maps the VIP to the NIC's real MAC instead of the virtual MAC (and keeps
//! sending there after a failover until the next gratuitous ARP).
use std::{
    fs,
    io::{self, Read as _},
    path::PathBuf,
};

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

fn ipv6_forwarding_path(interface: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
}

/// Whether `interface` forwards IPv6 (`net.ipv6.conf.<interface>.forwarding`
/// is not 0). No such file means no IPv6 on the interface (disabled at boot,
/// or the interface is gone), which sends no NA either: `false`.
pub fn ipv6_forwarding(interface: &str) -> Result<bool, NetError> {
    let path = ipv6_forwarding_path(interface);
    let err = |source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    };
    let file = match fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(err(e)),
    };
    // A sysctl integer is a few bytes; never read more than this.
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).map_err(err)?;
    parse_flag(&text).ok_or_else(|| {
        err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected an integer, read {:?}", text.trim()),
        ))
    })
}

/// A sysctl boolean as the kernel prints it: an integer, non-zero is true.
fn parse_flag(text: &str) -> Option<bool> {
    text.trim().parse::<i64>().ok().map(|v| v != 0)
}

#[cfg(test)]
mod tests {
    use super::parse_flag;

    #[test]
    fn flags_parse_as_the_kernel_prints_them() {
        assert_eq!(parse_flag("1\n"), Some(true));
        assert_eq!(parse_flag("0\n"), Some(false));
        assert_eq!(parse_flag("2"), Some(true));
        assert_eq!(parse_flag(""), None);
        assert_eq!(parse_flag("yes"), None);
    }
}
