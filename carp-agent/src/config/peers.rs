//! Unicast peers of a vhid (`peers = [...]`, `--peer ADDR`): the addresses
//! its adverts go to instead of the multicast group, and the only sources
//! whose unicast adverts the XDP program accepts for it (docs/unicast.md).
//!
//! FreeBSD 14 names them `peer` and `peer6` (one of each family), OpenBSD
//! `carppeer` (IPv4 only); here a vhid takes up to [`MAX_PEERS_PER_VHID`]
//! of either family. An IPv6 link-local peer may carry `%IF`, the vhid's
//! interface, as VIPs may.

use std::net::IpAddr;

use super::vip::Unusable;

/// The most peers one vhid may list: every advert is sent once per peer.
pub const MAX_PEERS_PER_VHID: usize = 16;

/// Why a peer address is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("not an IP address (give a unicast IPv4 or IPv6 address, e.g. 192.0.2.2)")]
    Address,
    #[error("a %zone is only valid on an IPv6 link-local address (fe80::/10)")]
    Zone,
    #[error("zone %{zone} is not the vhid's interface {interface}")]
    ZoneInterface { zone: String, interface: String },
    #[error("{addr} cannot be a unicast peer: it is {why}")]
    Unusable { addr: IpAddr, why: &'static str },
    #[error("{addr} is already peers[{first}]")]
    Duplicate { addr: IpAddr, first: usize },
    #[error("{addr} is one of the vhid's own virtual addresses, not a peer")]
    IsVip { addr: IpAddr },
    #[error(
        "{addr} would never be used: the vhid has no {family} virtual address, so sends no \
         {family} adverts"
    )]
    FamilyUnused { addr: IpAddr, family: &'static str },
    /// Unicast adverts go through the kernel's routing, which needs an
    /// interface holding the vhid's addresses; `vlan = N` on a trunk has
    /// none (the agent builds its tagged frames itself).
    #[error(
        "unicast peers need an interface of the VLAN: with vlan = {vlan} on the trunk the \
         kernel has none to route from; name the VLAN device (e.g. eth0.{vlan}) instead"
    )]
    TaggedOnTrunk { vlan: u16 },
    #[error("{count} peers; a vhid may have at most {MAX_PEERS_PER_VHID}")]
    TooMany { count: usize },
}

/// Parses `ADDR` or, for an IPv6 link-local address, `ADDR%IF` where IF
/// must be `interface`.
pub fn parse(text: &str, interface: &str) -> Result<IpAddr, PeerError> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    let addr: IpAddr = addr.trim().parse().map_err(|_| PeerError::Address)?;
    if let Some(zone) = zone {
        let link_local = matches!(addr, IpAddr::V6(v6) if v6.is_unicast_link_local());
        if !link_local {
            return Err(PeerError::Zone);
        }
        if zone != interface {
            return Err(PeerError::ZoneInterface {
                zone: zone.to_string(),
                interface: interface.to_string(),
            });
        }
    }
    Ok(addr)
}

/// Why `addr` cannot be a unicast peer, if it cannot: it must name one
/// host on the link, which excludes what [`Unusable`] lists.
pub fn check(addr: IpAddr) -> Result<(), PeerError> {
    let why = match Unusable::of(addr) {
        None => return Ok(()),
        Some(Unusable::Unspecified) => "the unspecified address",
        Some(Unusable::Multicast) => {
            "a multicast address (without peers the adverts go to the CARP group already)"
        }
        Some(Unusable::Loopback) => "a loopback address, which never leaves the host",
        Some(Unusable::Broadcast) => "the broadcast address",
        Some(Unusable::Ipv4Mapped) => "an IPv4-mapped IPv6 address; write the IPv4 address",
        Some(Unusable::Ipv4Compatible) => "an IPv4-compatible IPv6 address",
    };
    Err(PeerError::Unusable { addr, why })
}

/// The peers of `family` (that of `source`) out of `peers`, in order.
pub fn of_family(peers: &[IpAddr], source: IpAddr) -> impl Iterator<Item = IpAddr> + '_ {
    peers
        .iter()
        .copied()
        .filter(move |p| p.is_ipv4() == source.is_ipv4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_link_local_zones() {
        assert_eq!(
            parse("192.0.2.2", "eth0").unwrap(),
            "192.0.2.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse("fe80::2%eth0", "eth0").unwrap(),
            "fe80::2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(parse("2001:db8::2%eth0", "eth0"), Err(PeerError::Zone));
        assert!(matches!(
            parse("fe80::2%eth1", "eth0"),
            Err(PeerError::ZoneInterface { .. })
        ));
        assert_eq!(parse("host.example", "eth0"), Err(PeerError::Address));
        assert_eq!(parse("192.0.2.2/24", "eth0"), Err(PeerError::Address));
    }

    #[test]
    fn refuses_addresses_that_name_no_single_host() {
        for bad in [
            "224.0.0.18",
            "ff02::12",
            "0.0.0.0",
            "::",
            "127.0.0.1",
            "::1",
            "255.255.255.255",
            "::ffff:192.0.2.2",
        ] {
            let addr: IpAddr = bad.parse().unwrap();
            let err = check(addr).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        check("192.0.2.2".parse().unwrap()).unwrap();
        check("fe80::2".parse().unwrap()).unwrap();
        check("2001:db8::2".parse().unwrap()).unwrap();
    }

    #[test]
    fn of_family_keeps_the_source_family_in_order() {
        let peers: Vec<IpAddr> = ["192.0.2.2", "2001:db8::2", "192.0.2.3"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let v4: Vec<_> = of_family(&peers, "192.0.2.1".parse().unwrap()).collect();
        assert_eq!(v4, vec![peers[0], peers[2]]);
        let v6: Vec<_> = of_family(&peers, "fe80::1".parse().unwrap()).collect();
        assert_eq!(v6, vec![peers[1]]);
    }
}
