//! Virtual addresses as written in the configuration and on `decode`'s
//! command line: `ADDR[%ZONE][/PREFIX]`. One parser for both, so `decode`
//! accepts exactly the VIPs the agent can have.

use std::{fmt, net::IpAddr, str::FromStr};

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
}

impl Vip {
    /// The longest prefix for the address family: 32 or 128.
    pub fn max_prefix(addr: IpAddr) -> u8 {
        if addr.is_ipv4() { 32 } else { 128 }
    }

    /// Checks the prefix against the address family.
    pub fn check(&self) -> Result<(), VipError> {
        let max = Vip::max_prefix(self.addr);
        if self.prefix == 0 || self.prefix > max {
            return Err(VipError::PrefixRange {
                prefix: u32::from(self.prefix),
                max,
            });
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

    #[test]
    fn link_local_takes_a_zone() {
        let (vip, zone) = Vip::parse_zoned("fe80::1%eth0/64").unwrap();
        assert_eq!((vip.to_string(), zone), ("fe80::1/64".into(), Some("eth0")));
        let (vip, zone) = Vip::parse_zoned("febf::1%eth0").unwrap();
        assert_eq!((vip.prefix, zone), (128, Some("eth0")));
        assert_eq!(Vip::parse_zoned("fd00::1").unwrap().1, None);
    }
}
