//! Whole advertisements on the wire: decoding a frame or packet in one call, and
//! building one for tests and for the sender.

use std::net::IpAddr;

use super::{
    advert::{ADVERT_LEN, Advertisement},
    error::DecodeError,
    ip::{Envelope, write_ipv4, write_ipv6},
    link::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetHeader, MacAddr, VlanTag},
};

/// A structurally valid advertisement and where it came from. Its HMAC is not
/// checked yet: see [`Advertisement::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarpPacket {
    /// `None` when decoded from a bare IP packet.
    pub ethernet: Option<EthernetHeader>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (always 255 once decoded).
    pub ttl: u8,
    pub advert: Advertisement,
}

/// Decodes an Ethernet frame (0 to 2 VLAN tags, IPv4 or IPv6).
pub fn decode_frame(frame: &[u8]) -> Result<CarpPacket, DecodeError> {
    Envelope::parse_frame(frame)?.decode()
}

/// Decodes a bare IPv4 or IPv6 packet.
pub fn decode_ip(packet: &[u8]) -> Result<CarpPacket, DecodeError> {
    Envelope::parse_ip(packet)?.decode()
}

/// Builds advertisement frames the way the BSDs send them: to 224.0.0.18 or
/// ff02::12 and their multicast MACs, TTL / hop limit 255, IPv4 DF set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBuilder {
    /// BSD masters send from the virtual MAC; ucarp from `00:00:5e:00:00:<vhid>`.
    pub src_mac: MacAddr,
    /// Outermost first.
    pub vlans: Vec<VlanTag>,
    /// IPv4 TOS byte, also used as the IPv6 traffic class. OpenBSD and ucarp
    /// send 0x10 (the default); FreeBSD 0xe0 (DSCP CS7).
    pub tos: u8,
    /// IPv4 identification.
    pub ip_id: u16,
}

impl FrameBuilder {
    pub const DEFAULT_TOS: u8 = 0x10;

    /// Untagged, from the virtual MAC of `vhid`, default TOS.
    pub fn new(vhid: u8) -> Self {
        FrameBuilder {
            src_mac: MacAddr::virtual_for(vhid),
            vlans: Vec::new(),
            tos: Self::DEFAULT_TOS,
            ip_id: 0,
        }
    }

    /// An IP packet from `src`; its family picks IPv4 or IPv6.
    pub fn ip_packet(&self, src: IpAddr, advert: &[u8; ADVERT_LEN]) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + ADVERT_LEN);
        match src {
            IpAddr::V4(src) => write_ipv4(src, self.tos, self.ip_id, advert, &mut out),
            IpAddr::V6(src) => write_ipv6(src, self.tos, advert, &mut out),
        }
        out
    }

    /// The same packet in an Ethernet frame to the CARP group MAC.
    pub fn frame(&self, src: IpAddr, advert: &[u8; ADVERT_LEN]) -> Vec<u8> {
        let (dst, ethertype) = match src {
            IpAddr::V4(_) => (MacAddr::CARP_GROUP_V4, ETHERTYPE_IPV4),
            IpAddr::V6(_) => (MacAddr::CARP_GROUP_V6, ETHERTYPE_IPV6),
        };
        let header = EthernetHeader {
            dst,
            src: self.src_mac,
            vlans: self.vlans.clone(),
        };
        let mut out = Vec::with_capacity(14 + 4 * self.vlans.len() + 40 + ADVERT_LEN);
        header.write(ethertype, &mut out);
        out.extend_from_slice(&self.ip_packet(src, advert));
        out
    }
}
