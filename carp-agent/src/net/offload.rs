//! Whether a NIC strips 802.1Q tags on receive ("rx-vlan-offload", the
//! `rxvlan` of `ethtool -K`). A stripped tag travels beside the frame, not
//! in it, and an XDP program (native, or generic on such a NIC) sees the
//! frame untagged: the vhids of its VLANs would hear nothing and all become
//! MASTER. The agent only reads the setting and warns; changing the NIC is
//! the administrator's call (docs/vlan.md).

use super::{error::NetError, sysctl::interface_ioctl};

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
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GFLAGS,
        data: 0,
    };
    let operation = format!("reading the offload flags of {interface} (ETHTOOL_GFLAGS)");
    let data = (&raw mut value).cast();
    // SAFETY: SIOCETHTOOL takes an ifreq whose data points at the command's
    // struct: `value`, an ethtool_value, which outlives the call.
    unsafe {
        interface_ioctl(interface, ifindex, operation, libc::SIOCETHTOOL, |req| {
            req.ifr_ifru.ifru_data = data;
        })
    }?;
    Ok(value.data & ETH_FLAG_RXVLAN != 0)
}
