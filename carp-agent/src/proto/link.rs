//! Ethernet framing: MAC addresses, up to two VLAN tags, the ethertype.

use std::fmt;

pub use carp_common::wire::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN};

use super::error::{DecodeError, Layer, NotCarp};

const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const MAX_VLAN_TAGS: usize = 2;

/// An Ethernet MAC address.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Destination of IPv4 advertisements: the multicast MAC of 224.0.0.18.
    pub const CARP_GROUP_V4: MacAddr = MacAddr(carp_common::wire::CARP_GROUP_V4_MAC);
    /// Destination of IPv6 advertisements: the multicast MAC of ff02::12.
    pub const CARP_GROUP_V6: MacAddr = MacAddr(carp_common::wire::CARP_GROUP_V6_MAC);

    /// The virtual MAC of a vhid, `00:00:5e:00:01:<vhid>`; BSD masters send
    /// their adverts from it so switches learn where the master is.
    pub const fn virtual_for(vhid: u8) -> MacAddr {
        MacAddr(carp_common::virtual_mac(vhid))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One 802.1Q / 802.1ad tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// [`ETHERTYPE_VLAN`] or [`ETHERTYPE_QINQ`].
    pub tpid: u16,
    /// Priority (3 bits), drop eligible (1 bit), VLAN id (12 bits).
    pub tci: u16,
}

impl VlanTag {
    /// An 802.1Q tag with priority 0.
    pub fn dot1q(vid: u16) -> Self {
        VlanTag {
            tpid: ETHERTYPE_VLAN,
            tci: vid & 0x0fff,
        }
    }
}

/// The Ethernet header of a received or built frame; `vlans` outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthernetHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub vlans: Vec<VlanTag>,
}

impl EthernetHeader {
    /// Splits a frame into its header, the inner ethertype (IPv4 or IPv6 only)
    /// and the rest.
    pub(crate) fn parse(frame: &[u8]) -> Result<(Self, u16, &[u8]), DecodeError> {
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(DecodeError::TooShort {
                layer: Layer::Ethernet,
                needed: ETHERNET_HEADER_LEN,
                available: frame.len(),
            });
        }
        let mac_at = |at: usize| {
            let mut mac = [0; 6];
            mac.copy_from_slice(&frame[at..at + 6]);
            MacAddr(mac)
        };
        let mut header = EthernetHeader {
            dst: mac_at(0),
            src: mac_at(6),
            vlans: Vec::new(),
        };
        let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let mut rest = &frame[ETHERNET_HEADER_LEN..];
        while matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ) {
            if header.vlans.len() == MAX_VLAN_TAGS {
                return Err(DecodeError::NotCarp(NotCarp::TooManyVlanTags));
            }
            let Some((tag, after)) = rest.split_first_chunk::<VLAN_TAG_LEN>() else {
                return Err(DecodeError::TooShort {
                    layer: Layer::VlanTag,
                    needed: VLAN_TAG_LEN,
                    available: rest.len(),
                });
            };
            header.vlans.push(VlanTag {
                tpid: ethertype,
                tci: u16::from_be_bytes([tag[0], tag[1]]),
            });
            ethertype = u16::from_be_bytes([tag[2], tag[3]]);
            rest = after;
        }
        match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok((header, ethertype, rest)),
            other => Err(DecodeError::NotCarp(NotCarp::EtherType(other))),
        }
    }

    /// Appends the header, tags included, announcing `ethertype` as the payload.
    pub(crate) fn write(&self, ethertype: u16, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.src.0);
        for tag in &self.vlans {
            out.extend_from_slice(&tag.tpid.to_be_bytes());
            out.extend_from_slice(&tag.tci.to_be_bytes());
        }
        out.extend_from_slice(&ethertype.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_display_and_virtual_mac() {
        assert_eq!(MacAddr::virtual_for(0x2a).to_string(), "00:00:5e:00:01:2a");
    }

    #[test]
    fn round_trips_two_tags() {
        let header = EthernetHeader {
            dst: MacAddr::CARP_GROUP_V4,
            src: MacAddr::virtual_for(7),
            vlans: vec![
                VlanTag {
                    tpid: ETHERTYPE_QINQ,
                    tci: 100,
                },
                VlanTag::dot1q(200),
            ],
        };
        let mut frame = Vec::new();
        header.write(ETHERTYPE_IPV4, &mut frame);
        frame.push(0x45);
        let (parsed, ethertype, rest) = EthernetHeader::parse(&frame).unwrap();
        assert_eq!(
            (parsed, ethertype, rest),
            (header, ETHERTYPE_IPV4, &[0x45][..])
        );
    }

    #[test]
    fn three_tags_are_refused() {
        let header = EthernetHeader {
            dst: MacAddr::CARP_GROUP_V4,
            src: MacAddr::default(),
            vlans: vec![VlanTag::dot1q(1); 3],
        };
        let mut frame = Vec::new();
        header.write(ETHERTYPE_IPV4, &mut frame);
        assert_eq!(
            EthernetHeader::parse(&frame).unwrap_err(),
            DecodeError::NotCarp(NotCarp::TooManyVlanTags)
        );
    }

    #[test]
    fn truncated_tag_is_too_short() {
        let frame = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0x00];
        assert_eq!(
            EthernetHeader::parse(&frame).unwrap_err(),
            DecodeError::TooShort {
                layer: Layer::VlanTag,
                needed: 4,
                available: 1
            }
        );
    }
}
