//! Where a vhid's frames are on the wire. The XDP program runs once on a
//! trunk and tells VLANs apart by the tag, so every vhid resolves to a
//! [`Port`]: the interface the program is attached to and the 802.1Q VLAN
//! id on it.
//!
//! Two ways to say "VLAN 100 of eth0":
//! - `interface = "eth0.100"`: a VLAN device. The program goes on its
//!   parent (eth0) and the vhid's key carries VLAN 100. The VIPs, the CARP
//!   group memberships and the kernel's own traffic stay on eth0.100.
//! - `interface = "eth0"`, `vlan = 100`: the election runs over tagged
//!   frames on eth0 itself, for a trunk without VLAN devices (a host whose
//!   kernel has no 802.1Q support, or a router whose forwarding is in XDP).
//!   No interface carries the VLAN, so the agent adds no VIP address and
//!   joins no group there (see docs/vlan.md).
//!
//! Only 802.1Q devices count; an 802.1ad (Q-in-Q service tag) device is
//! refused, since the program keys frames by one tag.

use carp_common::{Port, VLAN_MAX, VLAN_UNTAGGED};
use rtnetlink::packet_route::link::{
    InfoData, InfoVlan, LinkAttribute, LinkInfo, LinkMessage, VlanProtocol,
};

use super::Interface;

/// A VLAN device's parent and tag, from rtnetlink (IFLA_LINK and
/// IFLA_VLAN_ID / IFLA_VLAN_PROTOCOL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanDevice {
    /// The parent's ifindex (the trunk).
    pub parent: u32,
    pub id: u16,
    /// 802.1Q; false for an 802.1ad (service tag) device.
    pub dot1q: bool,
}

impl VlanDevice {
    /// `Some` for a link of kind "vlan" with a parent and an id.
    pub(crate) fn of(link: &LinkMessage) -> Option<VlanDevice> {
        let mut id = None;
        let mut dot1q = true;
        let mut parent = None;
        for attr in &link.attributes {
            match attr {
                LinkAttribute::Link(index) => parent = Some(*index),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Data(InfoData::Vlan(vlan)) = info {
                            for item in vlan {
                                match item {
                                    InfoVlan::Id(v) => id = Some(*v),
                                    InfoVlan::Protocol(p) => {
                                        dot1q = *p == VlanProtocol::Ieee8021Q;
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Some(VlanDevice {
            parent: parent?,
            id: id?,
            dot1q,
        })
    }
}

/// Why a vhid's interface and `vlan` do not make a port.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VlanError {
    #[error(
        "{interface} is already VLAN {device} of interface {parent}; `vlan = {asked}` would need a \
         second tag (Q-in-Q), which is not supported: drop `vlan`, or name the parent interface"
    )]
    Stacked {
        interface: String,
        device: u16,
        parent: u32,
        asked: u16,
    },
    #[error(
        "{interface} is an 802.1ad (service tag) VLAN device; only 802.1Q devices are supported"
    )]
    ServiceTag { interface: String },
    #[error("{interface}: VLAN id {id} is out of range 1..=4094")]
    Range { interface: String, id: u16 },
}

/// The port of a vhid on `iface` with `vlan` (the `vlan` key).
pub fn resolve(iface: &Interface, vlan: Option<u16>) -> Result<Port, VlanError> {
    let check = |id: u16| {
        if (1..=VLAN_MAX).contains(&id) {
            Ok(id)
        } else {
            Err(VlanError::Range {
                interface: iface.name.clone(),
                id,
            })
        }
    };
    match (iface.vlan, vlan) {
        (Some(device), _) if !device.dot1q => Err(VlanError::ServiceTag {
            interface: iface.name.clone(),
        }),
        // Saying the device's own id again is harmless.
        (Some(device), Some(asked)) if asked != device.id => Err(VlanError::Stacked {
            interface: iface.name.clone(),
            device: device.id,
            parent: device.parent,
            asked,
        }),
        (Some(device), _) => Ok(Port::new(device.parent, check(device.id)?)),
        (None, Some(asked)) => Ok(Port::new(iface.index, check(asked)?)),
        (None, None) => Ok(Port::new(iface.index, VLAN_UNTAGGED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(index: u32, name: &str, vlan: Option<VlanDevice>) -> Interface {
        Interface {
            name: name.into(),
            index,
            mac: [2, 0, 0, 0, 0, 1],
            carrier: true,
            ipv4: Vec::new(),
            ipv6_link_local: None,
            kind: vlan.map(|_| "vlan".into()),
            vlan,
        }
    }

    fn dot1q(parent: u32, id: u16) -> Option<VlanDevice> {
        Some(VlanDevice {
            parent,
            id,
            dot1q: true,
        })
    }

    #[test]
    fn a_plain_interface_is_untagged() {
        assert_eq!(resolve(&iface(3, "eth0", None), None), Ok(Port::new(3, 0)));
    }

    #[test]
    fn a_vlan_device_resolves_to_its_parent_and_id() {
        let dev = iface(7, "eth0.100", dot1q(3, 100));
        assert_eq!(resolve(&dev, None), Ok(Port::new(3, 100)));
        // Repeating the device's own id changes nothing.
        assert_eq!(resolve(&dev, Some(100)), Ok(Port::new(3, 100)));
    }

    #[test]
    fn vlan_on_a_trunk_tags_frames_on_the_trunk_itself() {
        assert_eq!(
            resolve(&iface(3, "eth0", None), Some(200)),
            Ok(Port::new(3, 200))
        );
    }

    #[test]
    fn two_vlans_of_one_trunk_are_two_ports() {
        let a = resolve(&iface(7, "eth0.100", dot1q(3, 100)), None);
        let b = resolve(&iface(8, "eth0.200", dot1q(3, 200)), None);
        assert_ne!(a, b);
        assert_eq!(a.map(|p| p.ifindex), b.map(|p| p.ifindex));
    }

    #[test]
    fn a_second_tag_is_refused_with_both_ids() {
        let err = resolve(&iface(7, "eth0.100", dot1q(3, 100)), Some(5)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("eth0.100") && text.contains("VLAN 100") && text.contains("vlan = 5"),
            "{text}"
        );
    }

    #[test]
    fn service_tag_devices_and_bad_ids_are_refused() {
        let qinq = Some(VlanDevice {
            parent: 3,
            id: 10,
            dot1q: false,
        });
        assert!(matches!(
            resolve(&iface(9, "eth0.10", qinq), None),
            Err(VlanError::ServiceTag { .. })
        ));
        assert!(matches!(
            resolve(&iface(3, "eth0", None), Some(4095)),
            Err(VlanError::Range { id: 4095, .. })
        ));
        assert!(matches!(
            resolve(&iface(3, "eth0", None), Some(0)),
            Err(VlanError::Range { id: 0, .. })
        ));
    }

    #[test]
    fn a_vlan_link_message_is_read() {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::Link(3));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(rtnetlink::packet_route::link::InfoKind::Vlan),
            LinkInfo::Data(InfoData::Vlan(vec![
                InfoVlan::Id(100),
                InfoVlan::Protocol(VlanProtocol::Ieee8021Q),
            ])),
        ]));
        assert_eq!(VlanDevice::of(&link), dot1q(3, 100));
        // A veth also has IFLA_LINK (its peer), but no VLAN data.
        let mut veth = LinkMessage::default();
        veth.attributes.push(LinkAttribute::Link(4));
        assert_eq!(VlanDevice::of(&veth), None);
    }
}
