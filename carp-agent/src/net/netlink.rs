//! Route-netlink requests through rtnetlink: interface lookup, VIP
//! addresses, the NIC's unicast MAC filter, promiscuous mode, XDP detach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt as _;
use rtnetlink::{
    AddressMessageBuilder, Handle, LinkUnspec, MulticastGroup,
    packet_route::{
        AddressFamily,
        address::{
            AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
        },
        link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage, LinkXdp},
        neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState},
    },
};

use super::{
    error::{NetError, netlink_errno},
    link_events::LinkEvents,
};
use crate::proto::MacAddr;

/// `XDP_FLAGS_SKB_MODE` / `XDP_FLAGS_DRV_MODE` of linux/if_link.h: without a
/// mode flag the kernel detaches only the driver-mode program.
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// What the agent needs to know about one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    /// Administratively up, operationally up and with carrier
    /// (IFF_UP, IFF_RUNNING and IFF_LOWER_UP).
    pub carrier: bool,
    pub ipv4: Vec<Ipv4Addr>,
    /// The source of IPv6 adverts.
    pub ipv6_link_local: Option<Ipv6Addr>,
    /// The rtnetlink link kind (IFLA_INFO_KIND: "veth", "bridge", "tun",
    /// ...); `None` for a physical NIC's driver, which reports none.
    pub kind: Option<String>,
    /// Set when this is a VLAN device (kind "vlan", e.g. eth0.100).
    pub vlan: Option<super::vlan::VlanDevice>,
}

/// Whether a link message says the link can carry traffic.
pub(crate) fn has_carrier(link: &LinkMessage) -> bool {
    let flags = link.header.flags;
    flags.contains(LinkFlags::Up | LinkFlags::Running | LinkFlags::LowerUp)
}

/// IFLA_LINKINFO's IFLA_INFO_KIND, as the kernel spells it ("veth").
pub(crate) fn link_kind(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|info| match info {
            LinkInfo::Kind(kind) => Some(kind.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

pub(crate) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// A connection to the kernel's routing netlink, owning its background task.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a netlink connection (spawns its task on the current tokio runtime)
    /// and a second one subscribed to link notifications (RTNLGRP_LINK).
    ///
    /// Netlink sockets belong to the network namespace of the thread that
    /// creates them, so call this from the namespace to manage.
    pub fn open() -> Result<(Netlink, LinkEvents), NetError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|source| NetError::Open {
                purpose: "requests",
                source,
            })?;
        tokio::spawn(connection);
        let (connection, _, messages) =
            rtnetlink::new_multicast_connection(&[MulticastGroup::Link]).map_err(|source| {
                NetError::Open {
                    purpose: "link notifications",
                    source,
                }
            })?;
        tokio::spawn(connection);
        Ok((Netlink { handle }, LinkEvents::new(messages)))
    }

    pub async fn interface(&self, name: &str) -> Result<Interface, NetError> {
        let request = self.handle.link().get().match_name(name).execute();
        match first(request).await {
            Ok(Some(link)) => self.describe(link).await,
            Ok(None) => Err(NetError::UnknownInterface { name: name.into() }),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => {
                Err(NetError::UnknownInterface { name: name.into() })
            }
            Err(source) => Err(NetError::Lookup {
                name: name.into(),
                source,
            }),
        }
    }

    pub async fn interface_by_index(&self, index: u32) -> Result<Interface, NetError> {
        let request = self.handle.link().get().match_index(index).execute();
        match first(request).await {
            Ok(Some(link)) => self.describe(link).await,
            Ok(None) => Err(NetError::UnknownIndex { index }),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => {
                Err(NetError::UnknownIndex { index })
            }
            Err(source) => Err(NetError::Netlink {
                operation: "looking up the interface".into(),
                index,
                source,
            }),
        }
    }

    async fn describe(&self, link: LinkMessage) -> Result<Interface, NetError> {
        let index = link.header.index;
        let name = link_name(&link)
            .ok_or(NetError::Incomplete {
                index,
                what: "name",
            })?
            .to_owned();
        let mac = link
            .attributes
            .iter()
            .find_map(|attr| match attr {
                LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
                _ => None,
            })
            .ok_or(NetError::Incomplete {
                index,
                what: "6-byte MAC address",
            })?;
        let addresses: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|source| NetError::Netlink {
                operation: format!("listing the addresses of {name}"),
                index,
                source,
            })?;
        let mut ipv4 = Vec::new();
        let mut ipv6_link_local = None;
        for address in &addresses {
            match local_address(address) {
                Some(IpAddr::V4(v4)) => ipv4.push(v4),
                Some(IpAddr::V6(v6))
                    if address.header.scope == AddressScope::Link
                        && ipv6_link_local.is_none()
                        && !flags(address).contains(AddressFlags::Dadfailed) =>
                {
                    ipv6_link_local = Some(v6);
                }
                _ => {}
            }
        }
        Ok(Interface {
            carrier: has_carrier(&link),
            kind: link_kind(&link),
            vlan: super::vlan::VlanDevice::of(&link),
            name,
            index,
            mac,
            ipv4,
            ipv6_link_local,
        })
    }

    /// Idempotent: an address already present is Ok. IPv6 added with
    /// IFA_F_NODAD so it's usable at once.
    pub async fn add_address(&self, index: u32, addr: IpAddr, prefix: u8) -> Result<(), NetError> {
        let mut request = self.handle.address().add(index, addr, prefix);
        if addr.is_ipv6() {
            // Duplicate address detection would hold the VIP back for a second
            // or more; CARP itself decides who owns it.
            let message = request.message_mut();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(()),
            result => result.map_err(|source| NetError::Netlink {
                operation: format!("adding address {addr}/{prefix}"),
                index,
                source,
            }),
        }
    }

    /// Idempotent: an address already absent is Ok.
    pub async fn remove_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), NetError> {
        let message = match addr {
            IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(v4, prefix)
                .build(),
            IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(index)
                .address(v6, prefix)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Err(e) if netlink_errno(&e) == Some(libc::EADDRNOTAVAIL) => Ok(()),
            result => result.map_err(|source| NetError::Netlink {
                operation: format!("removing address {addr}/{prefix}"),
                index,
                source,
            }),
        }
    }

    /// Adds a unicast MAC to the NIC's address filter (like `bridge fdb add MAC
    /// dev IF self permanent`) so frames to the virtual MAC reach XDP. Returns
    /// Ok(false) if the device does not support it (caller falls back to
    /// promisc). Already present is Ok(true).
    ///
    /// A device without a unicast filter (IFF_UNICAST_FLT) accepts the entry
    /// and the kernel turns on promiscuity for it by itself.
    pub async fn add_unicast_mac(&self, index: u32, mac: [u8; 6]) -> Result<bool, NetError> {
        let request = self
            .handle
            .neighbours()
            .add_bridge(index, &mac)
            .flags(NeighbourFlags::Own)
            .state(NeighbourState::Permanent);
        match request.execute().await {
            Ok(()) => Ok(true),
            Err(e) => match netlink_errno(&e) {
                Some(libc::EEXIST) => Ok(true),
                // EINVAL: the kernel's default handler refuses non-Ethernet devices.
                Some(libc::EOPNOTSUPP | libc::EINVAL) => Ok(false),
                _ => Err(NetError::Netlink {
                    operation: format!("adding unicast MAC {} to the filter", MacAddr(mac)),
                    index,
                    source: e,
                }),
            },
        }
    }

    /// Idempotent: a MAC not in the filter is Ok.
    pub async fn remove_unicast_mac(&self, index: u32, mac: [u8; 6]) -> Result<(), NetError> {
        let mut message = NeighbourMessage::default();
        message.header.family = AddressFamily::Bridge;
        message.header.ifindex = index;
        message.header.flags = NeighbourFlags::Own;
        message.header.state = NeighbourState::Permanent;
        message
            .attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        match self.handle.neighbours().del(message).execute().await {
            Err(e) if netlink_errno(&e) == Some(libc::ENOENT) => Ok(()),
            result => result.map_err(|source| NetError::Netlink {
                operation: format!("removing unicast MAC {} from the filter", MacAddr(mac)),
                index,
                source,
            }),
        }
    }

    /// Sets or clears IFF_PROMISC (like `ip link set IF promisc on|off`).
    pub async fn set_promiscuous(&self, index: u32, on: bool) -> Result<(), NetError> {
        let message = LinkUnspec::new_with_index(index).promiscuous(on).build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|source| NetError::Netlink {
                operation: format!("turning promiscuous mode {}", if on { "on" } else { "off" }),
                index,
                source,
            })
    }

    /// The id of the XDP program attached to interface `index`, if any
    /// (IFLA_XDP's prog id, whichever mode attached it).
    pub async fn attached_xdp(&self, index: u32) -> Result<Option<u32>, NetError> {
        let request = self.handle.link().get().match_index(index).execute();
        let link = first(request)
            .await
            .map_err(|source| NetError::Netlink {
                operation: "reading the attached XDP program".into(),
                index,
                source,
            })?
            .ok_or(NetError::UnknownIndex { index })?;
        let id = link
            .attributes
            .iter()
            .find_map(|attribute| match attribute {
                LinkAttribute::Xdp(xdp) => xdp.iter().find_map(|x| match x {
                    LinkXdp::ProgId(id) if *id != 0 => Some(*id),
                    _ => None,
                }),
                _ => None,
            });
        Ok(id)
    }

    /// Detaches any XDP program from the interface (netlink IFLA_XDP fd -1),
    /// for replacing a stale netlink-attached program; Ok if none.
    ///
    /// Both generic and driver mode are cleared. A program held by a BPF link
    /// (the way aya attaches) cannot be detached this way: `XdpLinkBusy`.
    pub async fn detach_xdp(&self, index: u32) -> Result<(), NetError> {
        for (mode, flag) in [
            ("generic", XDP_FLAGS_SKB_MODE),
            ("driver", XDP_FLAGS_DRV_MODE),
        ] {
            let message = LinkUnspec::new_with_index(index)
                .append_extra_attribute(LinkAttribute::Xdp(vec![
                    LinkXdp::Fd(-1),
                    LinkXdp::Flags(flag),
                ]))
                .build();
            match self.handle.link().set(message).execute().await {
                Ok(()) => {}
                Err(e) if netlink_errno(&e) == Some(libc::EBUSY) => {
                    return Err(NetError::XdpLinkBusy { index });
                }
                // No driver-mode XDP at all on this device: nothing to detach.
                Err(e)
                    if flag == XDP_FLAGS_DRV_MODE
                        && netlink_errno(&e) == Some(libc::EOPNOTSUPP) => {}
                Err(source) => {
                    return Err(NetError::Netlink {
                        operation: format!("detaching {mode}-mode XDP"),
                        index,
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

async fn first(
    stream: impl futures::Stream<Item = Result<LinkMessage, rtnetlink::Error>>,
) -> Result<Option<LinkMessage>, rtnetlink::Error> {
    futures::pin_mut!(stream);
    stream.try_next().await
}

/// IFA_LOCAL is the address itself on point-to-point links too; IPv6 sends
/// only IFA_ADDRESS.
fn local_address(address: &AddressMessage) -> Option<IpAddr> {
    let find = |want_local: bool| {
        address.attributes.iter().find_map(|attr| match attr {
            AddressAttribute::Local(ip) if want_local => Some(*ip),
            AddressAttribute::Address(ip) if !want_local => Some(*ip),
            _ => None,
        })
    };
    find(true).or_else(|| find(false))
}

fn flags(address: &AddressMessage) -> AddressFlags {
    address
        .attributes
        .iter()
        .find_map(|attr| match attr {
            AddressAttribute::Flags(flags) => Some(*flags),
            _ => None,
        })
        .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(address.header.flags.bits())))
}
