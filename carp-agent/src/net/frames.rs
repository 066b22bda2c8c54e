//! Announcements a new MASTER sends so neighbours and switches move the VIPs
//! to it: the gratuitous ARP (IPv4) and the unsolicited Neighbor
//! Advertisement (IPv6). Pure: whole Ethernet frames as bytes, no I/O.

use std::net::{Ipv4Addr, Ipv6Addr};

use carp_common::wire::{
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IPPROTO_ICMPV6, LINK_LOCAL_TTL,
    ND_NEIGHBOR_ADVERT,
};

use crate::proto::checksum::internet_checksum;

pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// ff02::1, all nodes on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The multicast MAC of ff02::1.
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

const ARP_HTYPE_ETHERNET: u16 = 1;
const ARP_OP_REQUEST: u16 = 1;
/// The Router flag: the sender is a router. Receivers that use it as one
/// drop it from their default routers when an NA comes without it (RFC
/// 4861 7.2.5).
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// The Override flag: receivers replace the link-layer address they cached.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
const ND_OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// NA body (type .. target, 24 bytes) plus one 8-byte TLLA option.
const NA_ICMP_LEN: usize = 32;
/// Shortest Ethernet frame without its FCS. Drivers usually pad short frames
/// themselves, but not all do for frames from AF_PACKET, so pad here.
const MIN_FRAME_LEN: usize = 60;

/// A gratuitous ARP: a broadcast request in which sender and target IP are
/// both `vip` and the sender MAC is `mac` (also the Ethernet source), the form
/// Linux, the BSDs and switches all learn from. Target MAC zero (RFC 5227).
pub fn gratuitous_arp(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(MIN_FRAME_LEN);
    frame.extend_from_slice(&BROADCAST_MAC);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    frame.extend_from_slice(&ARP_HTYPE_ETHERNET.to_be_bytes());
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    frame.extend_from_slice(&[6, 4]);
    frame.extend_from_slice(&ARP_OP_REQUEST.to_be_bytes());
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&vip.octets());
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&vip.octets());
    frame.resize(MIN_FRAME_LEN, 0);
    frame
}

/// An unsolicited Neighbor Advertisement (RFC 4861 7.2.6) from `vip` to
/// ff02::1: Override set, Solicited clear, Router set when `router` (the
/// interface forwards IPv6: a host using the VIP as its default router must
/// keep it as one), target `vip`, a Target Link-Layer Address option `mac`,
/// hop limit 255 (receivers drop anything else), Ethernet source `mac`.
pub fn unsolicited_na(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
    let mut icmp = [0u8; NA_ICMP_LEN];
    icmp[0] = ND_NEIGHBOR_ADVERT;
    icmp[4] = NA_FLAG_OVERRIDE | if router { NA_FLAG_ROUTER } else { 0 };
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = ND_OPTION_TARGET_LINK_LAYER_ADDRESS;
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(vip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut frame = Vec::with_capacity(14 + 40 + NA_ICMP_LEN);
    frame.extend_from_slice(&ALL_NODES_MAC);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    frame.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, class 0, flow 0
    frame.extend_from_slice(&(NA_ICMP_LEN as u16).to_be_bytes());
    frame.push(IPPROTO_ICMPV6);
    frame.push(LINK_LOCAL_TTL);
    frame.extend_from_slice(&vip.octets());
    frame.extend_from_slice(&ALL_NODES.octets());
    frame.extend_from_slice(&icmp);
    frame
}

/// `frame` (an untagged Ethernet frame) with an 802.1Q tag for `vlan`
/// (priority 0) between the MACs and the ethertype.
pub fn tag(frame: &[u8], vlan: u16) -> Vec<u8> {
    let split = frame.len().min(12);
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..split]);
    out.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
    out.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
    out.extend_from_slice(&frame[split..]);
    out
}

/// ICMPv6 checksum: over the IPv6 pseudo-header (RFC 8200 8.1) and the
/// message, whose checksum field must be zero.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut data = Vec::with_capacity(40 + message.len());
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&(message.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    data.extend_from_slice(message);
    internet_checksum(&data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tag_goes_between_the_macs_and_the_ethertype() {
        let frame = gratuitous_arp([0, 0, 0x5e, 0, 1, 7], Ipv4Addr::new(10, 0, 0, 1));
        let tagged = tag(&frame, 100);
        assert_eq!(tagged.len(), frame.len() + 4);
        assert_eq!(tagged[..12], frame[..12]);
        assert_eq!(tagged[12..16], [0x81, 0x00, 0x00, 100]);
        assert_eq!(tagged[16..], frame[12..]);
    }

    use super::*;

    const MAC: [u8; 6] = carp_common::virtual_mac(7);

    /// A second, deliberately plain one's-complement sum (32-bit
    /// accumulator, folded once at the end) so the builder's checksum is
    /// not checked against itself.
    fn ones_complement_sum(chunks: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = chunks.concat();
        let mut acc: u32 = 0;
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u32::from(*b));
            acc += hi | lo;
        }
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn gratuitous_arp_layout() {
        let vip = Ipv4Addr::new(10, 99, 0, 100);
        let frame = gratuitous_arp(MAC, vip);
        let expected_head = [
            &BROADCAST_MAC[..],
            &MAC,
            &[0x08, 0x06],
            &[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01],
            &MAC,
            &[10, 99, 0, 100],
            &[0; 6],
            &[10, 99, 0, 100],
        ]
        .concat();
        assert_eq!(frame.len(), 60);
        assert_eq!(&frame[..42], &expected_head[..]);
        assert!(frame[42..].iter().all(|&b| b == 0));
    }

    #[test]
    fn unsolicited_na_layout() {
        let vip: Ipv6Addr = "fd00:99::100".parse().unwrap();
        let frame = unsolicited_na(MAC, vip, false);
        assert_eq!(frame.len(), 14 + 40 + 32);
        assert_eq!(&frame[0..6], &ALL_NODES_MAC);
        assert_eq!(&frame[6..12], &MAC);
        assert_eq!(&frame[12..14], &[0x86, 0xdd]);
        let ip = &frame[14..54];
        assert_eq!(ip[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32);
        assert_eq!(ip[6], 58, "next header ICMPv6");
        assert_eq!(ip[7], 255, "hop limit");
        assert_eq!(&ip[8..24], &vip.octets());
        assert_eq!(&ip[24..40], &ALL_NODES.octets());
        let icmp = &frame[54..];
        assert_eq!((icmp[0], icmp[1]), (136, 0));
        assert_eq!(icmp[4], 0x20, "Override only: not Router, not Solicited");
        assert_eq!(&icmp[5..8], &[0, 0, 0]);
        assert_eq!(&icmp[8..24], &vip.octets());
        assert_eq!(&icmp[24..26], &[2, 1], "TLLA option, 8 bytes");
        assert_eq!(&icmp[26..32], &MAC);
    }

    #[test]
    fn na_checksum_verifies_with_an_independent_sum() {
        let vip: Ipv6Addr = "fe80::5efe:1".parse().unwrap();
        for router in [false, true] {
            let frame = unsolicited_na(MAC, vip, router);
            let icmp = &frame[54..];
            let len = (icmp.len() as u32).to_be_bytes();
            // Summing over a message that carries its checksum gives 0xffff.
            let total = ones_complement_sum(&[
                &vip.octets(),
                &ALL_NODES.octets(),
                &len,
                &[0, 0, 0, 58],
                icmp,
            ]);
            assert_eq!(total, 0xffff, "router {router}");
        }
    }

    #[test]
    fn router_flag_is_the_only_difference() {
        let vip: Ipv6Addr = "fd00:99::1".parse().unwrap();
        let host = unsolicited_na(MAC, vip, false);
        let router = unsolicited_na(MAC, vip, true);
        assert_eq!(host[54 + 4], 0x20, "host: Override only");
        assert_eq!(
            router[54 + 4],
            0xa0,
            "router: Router + Override, not Solicited"
        );
        // The checksum moves by exactly the flag: 0x8000 in the one's
        // complement sum, so the stored (complemented) checksum drops by it.
        let sum = |f: &[u8]| u16::from_be_bytes([f[56], f[57]]);
        let expected = {
            let s = u32::from(!sum(&host)) + 0x8000;
            !(((s & 0xffff) + (s >> 16)) as u16)
        };
        assert_eq!(sum(&router), expected);
        let differing: Vec<usize> = (0..host.len()).filter(|&i| host[i] != router[i]).collect();
        assert!(
            differing.iter().all(|&i| i == 54 + 4 || i == 56 || i == 57),
            "only the flags byte and the checksum differ: {differing:?}"
        );
    }

    #[test]
    fn na_checksum_changes_with_the_target() {
        let a = unsolicited_na(MAC, "fd00::1".parse().unwrap(), false);
        let b = unsolicited_na(MAC, "fd00::2".parse().unwrap(), false);
        assert_ne!(a[56..58], b[56..58]);
    }
}
