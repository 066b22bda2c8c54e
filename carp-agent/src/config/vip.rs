//! Virtual addresses as written in the configuration and on `decode`'s
//! command line: `ADDR[%ZONE][/PREFIX]`. One parser for both, so `decode`
//! accepts exactly the VIPs the agent can have.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

/// One virtual address and the prefix length it is added to the interface with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Why a VIP does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VipError {
    #[error("invalid IP address")]
    Address,
    /// A zone only scopes an IPv6 link-local address (fe80::/10), as BSD
    /// `ifconfig` prints them (`fe80::1%em0`).
    #[error("a %zone is only valid on an IPv6 link-local address (fe80::/10)")]
    Zone,
    #[error("invalid prefix length {0:?}")]
    PrefixSyntax(String),
    /// A /0 VIP would claim every address; the upper bound is the address size.
    #[error("prefix length {prefix} is out of range 1..={max}")]
    PrefixRange { prefix: u32, max: u8 },
    /// An address no host can own: see [`Unusable`].
    #[error("{addr} is {why}")]
    Unusable { addr: IpAddr, why: Unusable },
    /// An IPv4 address that is the broadcast address of the subnet its own
    /// prefix gives: the kernel would treat it as broadcast, not as a host.
    #[error("{addr}/{prefix} is the broadcast address of {network}/{prefix}; give a host address")]
    SubnetBroadcast {
        addr: Ipv4Addr,
        prefix: u8,
        network: Ipv4Addr,
    },
}

/// Why an address cannot be a virtual address nor an advert source: it
/// names no single host on the link. IPv4 link-local addresses
/// (169.254/16) are allowed, as the BSDs and Linux allow them on an
/// interface; so are IPv6 link-local ones (with the vhid's interface as
/// zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// 0.0.0.0 or ::
    Unspecified,
    Multicast,
    /// 127/8 or ::1: never leaves the host.
    Loopback,
    /// 255.255.255.255
    Broadcast,
    /// ::ffff:a.b.c.d: Linux will not put it on an interface as IPv6.
    Ipv4Mapped,
    /// ::a.b.c.d, deprecated by RFC 4291.
    Ipv4Compatible,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unusable::Unspecified => "the unspecified address, which names no host",
            Unusable::Multicast => "a multicast address; a virtual address is unicast",
            Unusable::Loopback => "a loopback address, which never leaves the host",
            Unusable::Broadcast => "the broadcast address, which names every host",
            Unusable::Ipv4Mapped => "an IPv4-mapped IPv6 address; write the IPv4 address",
            Unusable::Ipv4Compatible => {
                "an IPv4-compatible IPv6 address (deprecated by RFC 4291); write the IPv4 address"
            }
        })
    }
}

impl Unusable {
    /// Why `addr` cannot belong to one host on a link, if it cannot.
    pub fn of(addr: IpAddr) -> Option<Unusable> {
        if addr.is_unspecified() {
            return Some(Unusable::Unspecified);
        }
        if addr.is_multicast() {
            return Some(Unusable::Multicast);
        }
        if addr.is_loopback() {
            return Some(Unusable::Loopback);
        }
        match addr {
            IpAddr::V4(v4) if v4.is_broadcast() => Some(Unusable::Broadcast),
            IpAddr::V4(_) => None,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Some(Unusable::Ipv4Mapped),
            // ::a.b.c.d (:: and ::1 were handled above).
            IpAddr::V6(v6) if v6.segments()[..6] == [0; 6] => Some(Unusable::Ipv4Compatible),
            IpAddr::V6(_) => None,
        }
    }
}

impl Vip {
    /// The longest prefix for the address family: 32 or 128.
    pub fn max_prefix(addr: IpAddr) -> u8 {
        if addr.is_ipv4() { 32 } else { 128 }
    }

    /// Checks the prefix against the address family, and that the address
    /// can belong to one host (see [`Unusable`]).
    pub fn check(&self) -> Result<(), VipError> {
        let max = Vip::max_prefix(self.addr);
        if self.prefix == 0 || self.prefix > max {
            return Err(VipError::PrefixRange {
                prefix: u32::from(self.prefix),
                max,
            });
        }
        if let Some(why) = Unusable::of(self.addr) {
            return Err(VipError::Unusable {
                addr: self.addr,
                why,
            });
        }
        // /31 and /32 have no broadcast address (RFC 3021).
        if let (IpAddr::V4(addr), 1..=30) = (self.addr, self.prefix) {
            let host_mask = u32::MAX >> self.prefix;
            if u32::from(addr) & host_mask == host_mask {
                return Err(VipError::SubnetBroadcast {
                    addr,
                    prefix: self.prefix,
                    network: Ipv4Addr::from(u32::from(addr) & !host_mask),
                });
            }
        }
        Ok(())
    }

    /// Parses `ADDR` (a host prefix: /32 or /128) or `ADDR/PREFIX`; an IPv6
    /// link-local address may carry a `%ZONE`, returned beside the VIP
    /// because the address itself (what netlink adds and the HMAC hashes)
    /// has none. /0 is refused: it would claim every address.
    pub fn parse_zoned(text: &str) -> Result<(Vip, Option<&str>), VipError> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let (addr, zone) = match addr.split_once('%') {
            Some((_, "")) => return Err(VipError::Address),
            Some((addr, zone)) => (addr, Some(zone)),
            None => (addr, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| VipError::Address)?;
        if zone.is_some() && !is_link_local_v6(addr) {
            return Err(VipError::Zone);
        }
        let prefix = match prefix {
            None => Vip::max_prefix(addr),
            Some(p) => {
                // Digits only: u8's parser would also take "+24".
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VipError::PrefixSyntax(p.to_string()));
                }
                let max = Vip::max_prefix(addr);
                let prefix: u32 = p
                    .parse()
                    .map_err(|_| VipError::PrefixSyntax(p.to_string()))?;
                u8::try_from(prefix)
                    .ok()
                    .filter(|&prefix| prefix <= max)
                    .ok_or(VipError::PrefixRange { prefix, max })?
            }
        };
        let vip = Vip { addr, prefix };
        vip.check()?;
        Ok((vip, zone))
    }
}

fn is_link_local_v6(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

impl FromStr for Vip {
    type Err = VipError;

    /// [`Vip::parse_zoned`], the zone dropped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Vip::parse_zoned(text).map(|(vip, _zone)| vip)
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_prefix() {
        let v: Vip = "192.168.1.50".parse().unwrap();
        assert_eq!(v.to_string(), "192.168.1.50/32");
        let v: Vip = "fd00::50/64".parse().unwrap();
        assert_eq!(v.to_string(), "fd00::50/64");
        let v: Vip = "fd00::50".parse().unwrap();
        assert_eq!(v.prefix, 128);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!("10.0.0.300/24".parse::<Vip>(), Err(VipError::Address));
        assert_eq!(
            "10.0.0.1/33".parse::<Vip>(),
            Err(VipError::PrefixRange {
                prefix: 33,
                max: 32
            })
        );
        assert_eq!(
            "10.0.0.1/0".parse::<Vip>(),
            Err(VipError::PrefixRange { prefix: 0, max: 32 })
        );
        assert!(matches!(
            "fd00::1/+64".parse::<Vip>(),
            Err(VipError::PrefixSyntax(_))
        ));
        assert_eq!(
            "fd00::1/999".parse::<Vip>(),
            Err(VipError::PrefixRange {
                prefix: 999,
                max: 128
            })
        );
        assert_eq!("10.0.0.1%eth0".parse::<Vip>(), Err(VipError::Zone));
        assert_eq!("2001:db8::1%eth0/64".parse::<Vip>(), Err(VipError::Zone));
        assert_eq!("fe80::1%/64".parse::<Vip>(), Err(VipError::Address));
    }

    fn unusable(text: &str) -> Option<Unusable> {
        match text.parse::<Vip>() {
            Err(VipError::Unusable { why, .. }) => Some(why),
            Ok(_) => None,
            Err(other) => panic!("{text}: {other}"),
        }
    }

    #[test]
    fn refuses_addresses_no_host_can_own() {
        assert_eq!(unusable("0.0.0.0"), Some(Unusable::Unspecified));
        assert_eq!(unusable("::/64"), Some(Unusable::Unspecified));
        assert_eq!(unusable("224.0.0.18"), Some(Unusable::Multicast));
        assert_eq!(unusable("239.1.2.3/24"), Some(Unusable::Multicast));
        assert_eq!(unusable("ff02::12"), Some(Unusable::Multicast));
        assert_eq!(unusable("127.0.0.1"), Some(Unusable::Loopback));
        assert_eq!(unusable("127.1.2.3/8"), Some(Unusable::Loopback));
        assert_eq!(unusable("::1"), Some(Unusable::Loopback));
        assert_eq!(unusable("255.255.255.255"), Some(Unusable::Broadcast));
        assert_eq!(unusable("::ffff:10.0.0.1"), Some(Unusable::Ipv4Mapped));
        assert_eq!(unusable("::10.0.0.1"), Some(Unusable::Ipv4Compatible));
        // Allowed: link-local, private, documentation and global unicast.
        for ok in [
            "169.254.1.1/16",
            "fe80::1/64",
            "10.0.0.1/8",
            "2001:db8::1",
            "1.1.1.1",
        ] {
            assert_eq!(unusable(ok), None, "{ok}");
        }
    }

    #[test]
    fn refuses_the_subnet_broadcast_address() {
        assert_eq!(
            "10.0.0.255/24".parse::<Vip>(),
            Err(VipError::SubnetBroadcast {
                addr: Ipv4Addr::new(10, 0, 0, 255),
                prefix: 24,
                network: Ipv4Addr::new(10, 0, 0, 0),
            })
        );
        assert!("10.0.0.3/30".parse::<Vip>().is_err());
        // Just inside the subnet, and prefixes without a broadcast address.
        assert!("10.0.0.254/24".parse::<Vip>().is_ok());
        assert!("10.0.0.1/31".parse::<Vip>().is_ok());
        assert!("10.0.0.255/32".parse::<Vip>().is_ok());
        assert!("10.0.0.255/23".parse::<Vip>().is_ok());
    }

    #[test]
    fn link_local_takes_a_zone() {
        let (vip, zone) = Vip::parse_zoned("fe80::1%eth0/64").unwrap();
        assert_eq!((vip.to_string(), zone), ("fe80::1/64".into(), Some("eth0")));
        let (vip, zone) = Vip::parse_zoned("febf::1%eth0").unwrap();
        assert_eq!((vip.prefix, zone), (128, Some("eth0")));
        assert_eq!(Vip::parse_zoned("fd00::1").unwrap().1, None);
    }
}
