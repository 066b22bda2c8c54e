//! Whether a NIC strips 802.1Q tags on receive ("rx-vlan-offload", the
//! `rxvlan` of `ethtool -K`). A stripped tag travels beside the frame, not
//! in it, and an XDP program (native, or generic on such a NIC) sees the
//! frame untagged: the vhids of its VLANs would hear nothing and all become
//! MASTER. The agent only reads the setting and warns; changing the NIC is
//! the administrator's call (docs/vlan.md).

use std::io;

use super::{error::NetError, sysctl::valid_interface_name};

/// `ETHTOOL_GFLAGS` of linux/ethtool.h: the legacy flags word, still
/// answered by every kernel; `ETH_FLAG_RXVLAN` is receive VLAN offload.
const ETHTOOL_GFLAGS: u32 = 0x0000_0025;
const ETH_FLAG_RXVLAN: u32 = 1 << 8;

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// True when `interface` strips VLAN tags from received frames.
pub fn strips_vlan_tags(interface: &str, ifindex: u32) -> Result<bool, NetError> {
    let err = |source| NetError::Socket {
        operation: format!("reading the offload flags of {interface} (ETHTOOL_GFLAGS)"),
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
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GFLAGS,
        data: 0,
    };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(interface.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: fd is a socket; req names the interface (NUL-terminated: at
    // most 15 bytes went into 16) and points at `value`, which outlives
    // the call and is the struct ETHTOOL_GFLAGS reads and writes.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut req) };
    let result = if rc < 0 {
        Err(err(io::Error::last_os_error()))
    } else {
        Ok(value.data & ETH_FLAG_RXVLAN != 0)
    };
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    result
}
