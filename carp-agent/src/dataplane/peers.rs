//! `CARP_PEERS`: the unicast peers of each vhid, the only sources whose
//! unicast adverts the XDP program accepts (docs/unicast.md).

use std::net::IpAddr;

use carp_common::{MAP_PEERS, PEER_FLAG_STRICT_TTL, PeerEntry, PeerKey, Port};

use super::{Dataplane, DataplaneError, map_err};

/// The `CARP_PEERS` key of `peer` for `vhid` on `port` (where the XDP
/// program runs, and the VLAN).
pub fn peer_key(port: Port, vhid: u8, peer: IpAddr) -> PeerKey {
    match peer {
        IpAddr::V4(a) => PeerKey::v4(port, vhid, a.octets()),
        IpAddr::V6(a) => PeerKey::v6(port, vhid, a.octets()),
    }
}

/// The entry of a peer: OpenBSD-flavour vhids require TTL 255 of unicast
/// adverts (`strict_ttl`), FreeBSD's do not check it.
pub fn peer_entry(strict_ttl: bool) -> PeerEntry {
    PeerEntry::new(if strict_ttl { PEER_FLAG_STRICT_TTL } else { 0 })
}

impl Dataplane {
    /// Makes `new` the peers of `vhid` on `port` where `old` were:
    /// the ones no longer listed are removed first, then every listed one
    /// is written (a peer in both lists is never missing in between).
    pub fn replace_peers(
        &mut self,
        port: Port,
        vhid: u8,
        old: &[IpAddr],
        new: &[IpAddr],
        strict_ttl: bool,
    ) -> Result<(), DataplaneError> {
        let mut map = self.hash_map::<PeerKey, PeerEntry>(MAP_PEERS)?;
        for &peer in old.iter().filter(|p| !new.contains(p)) {
            match map.remove(&peer_key(port, vhid, peer)) {
                // Already gone is what was wanted.
                Err(aya::maps::MapError::KeyNotFound) | Ok(()) => {}
                Err(err) => return Err(map_err(MAP_PEERS)(err)),
            }
        }
        for &peer in new {
            map.insert(peer_key(port, vhid, peer), peer_entry(strict_ttl), 0)
                .map_err(map_err(MAP_PEERS))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use carp_common::{FAMILY_IPV4, FAMILY_IPV6};

    use super::*;

    #[test]
    fn keys_carry_the_port_and_the_address_as_the_program_reads_them() {
        let port = Port::new(7, 100);
        let v4 = peer_key(port, 1, "192.0.2.2".parse().unwrap());
        assert_eq!(
            (v4.ifindex, v4.vlan, v4.vhid, v4.family),
            (7, 100, 1, FAMILY_IPV4)
        );
        assert_eq!(v4.addr[..4], [192, 0, 2, 2]);
        assert_eq!(v4.addr[4..], [0; 12]);
        let v6 = peer_key(port, 1, "fe80::2".parse().unwrap());
        assert_eq!(v6.family, FAMILY_IPV6);
        assert_eq!(v6.addr[0], 0xfe);
        assert_eq!(v6.addr[15], 2);
    }

    #[test]
    fn only_the_openbsd_flavour_requires_ttl_255() {
        assert_eq!(peer_entry(true).flags, PEER_FLAG_STRICT_TTL);
        assert_eq!(peer_entry(false).flags, 0);
        assert_eq!(peer_entry(true)._pad, [0; 3]);
    }
}
