//! Per-interface kernel settings the agent changes while it runs, and reads
//! back to decide what is its own to undo.
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
//!
//! The value to put back is remembered outside the process by
//! `daemon::instance`, so a kill -9 does not lose it.
use std::{
    fs,
    io::{self, Read as _},
    path::{Path, PathBuf},
};

use super::NetError;

/// The `arp_announce` value the agent runs with.
pub const ARP_ANNOUNCE_AGENT: u8 = 2;
/// The largest value the kernel accepts (0, 1 or 2).
const ARP_ANNOUNCE_MAX: u8 = 2;

fn arp_announce_path(interface: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/ipv4/conf/{interface}/arp_announce"))
}

/// Whether `name` can be put into a /proc path as one component: what the
/// kernel allows as an interface name (at most 15 bytes, no '/', not "." or
/// ".."). Names from our own state file are checked with it.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
        && !name.chars().any(char::is_whitespace)
}

/// Reads a per-interface sysctl of `interface` at `path` (an integer: at
/// most 32 bytes are read); `None` if the file does not exist.
fn read_conf(interface: &str, path: &Path) -> Result<Option<String>, NetError> {
    let err = |source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    };
    if !valid_interface_name(interface) {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{interface:?} is not an interface name"),
        )));
    }
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).map_err(err)?;
    Ok(Some(text))
}

/// The current `arp_announce` of `interface`.
pub fn read_arp_announce(interface: &str) -> Result<u8, NetError> {
    let path = arp_announce_path(interface);
    let err = |source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    };
    let text = read_conf(interface, &path)?.ok_or_else(|| err(io::ErrorKind::NotFound.into()))?;
    parse_arp_announce(&text).ok_or_else(|| {
        err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected 0, 1 or 2, read {:?}", text.trim()),
        ))
    })
}

/// Writes `value` (0..=2) to `interface`'s `arp_announce`.
pub fn write_arp_announce(interface: &str, value: u8) -> Result<(), NetError> {
    let path = arp_announce_path(interface);
    let err = |source| NetError::Sysctl {
        path: path.display().to_string(),
        source,
    };
    if !valid_interface_name(interface) || value > ARP_ANNOUNCE_MAX {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to write {value} for interface {interface:?}"),
        )));
    }
    fs::write(&path, value.to_string()).map_err(err)
}

/// "0\n" → 0; anything but 0, 1 or 2 → None.
pub fn parse_arp_announce(text: &str) -> Option<u8> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|&v| v <= ARP_ANNOUNCE_MAX)
}

/// Whether IFF_PROMISC is set on `interface` by someone (`ip link set IF
/// promisc on`, or a previous agent). SIOCGIFFLAGS reports the flag users
/// set, not the kernel's internal promiscuity count that a packet capture or
/// a missing unicast filter raises (those are invisible here, and are not
/// ours or the admin's to undo).
pub fn promiscuous(interface: &str, ifindex: u32) -> Result<bool, NetError> {
    let operation = format!("reading the flags of {interface} (SIOCGIFFLAGS)");
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of an ifreq.
    let req =
        unsafe { interface_ioctl(interface, ifindex, operation, libc::SIOCGIFFLAGS, |_| {}) }?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok(i32::from(flags) & libc::IFF_PROMISC != 0)
}

/// Runs the interface ioctl `request` on a throwaway socket with an ifreq
/// naming `interface`, after `prepare` filled the rest; the ifreq as the
/// kernel left it. Errors name `operation` and the interface.
///
/// # Safety
/// `request` must be an ioctl that takes a `struct ifreq`, and whatever
/// `prepare` points the ifreq at must be valid for that request and outlive
/// this call.
pub(crate) unsafe fn interface_ioctl(
    interface: &str,
    ifindex: u32,
    operation: String,
    request: libc::Ioctl,
    prepare: impl FnOnce(&mut libc::ifreq),
) -> Result<libc::ifreq, NetError> {
    let err = |source| NetError::Socket {
        operation: operation.clone(),
        ifindex,
        source,
    };
    if !valid_interface_name(interface) {
        return Err(err(io::Error::from(io::ErrorKind::InvalidInput)));
    }
    // SAFETY: plain socket(2); the fd is closed below on every path.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(interface.bytes()) {
        *dst = src as libc::c_char;
    }
    prepare(&mut req);
    // SAFETY: fd is a socket, req a properly sized ifreq with a NUL-terminated
    // name (at most 15 bytes were copied into 16); the rest per the caller.
    let rc = unsafe { libc::ioctl(fd, request, &mut req) };
    let result = if rc < 0 {
        Err(err(io::Error::last_os_error()))
    } else {
        Ok(req)
    };
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    result
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
    let Some(text) = read_conf(interface, &path)? else {
        return Ok(false);
    };
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
    use super::*;

    #[test]
    fn arp_announce_values_are_0_to_2() {
        assert_eq!(parse_arp_announce("0\n"), Some(0));
        assert_eq!(parse_arp_announce(" 2 "), Some(2));
        assert_eq!(parse_arp_announce("3"), None);
        assert_eq!(parse_arp_announce("-1"), None);
        assert_eq!(parse_arp_announce(""), None);
    }

    #[test]
    fn interface_names_that_cannot_escape_proc() {
        assert!(valid_interface_name("eth0"));
        assert!(valid_interface_name("enp0s31f6.100"));
        for bad in ["", ".", "..", "a/b", "../../x", "sixteen-bytes-xx", "a b"] {
            assert!(!valid_interface_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn flags_parse_as_the_kernel_prints_them() {
        assert_eq!(parse_flag("1\n"), Some(true));
        assert_eq!(parse_flag("0\n"), Some(false));
        assert_eq!(parse_flag("2"), Some(true));
        assert_eq!(parse_flag(""), None);
        assert_eq!(parse_flag("yes"), None);
    }
}
