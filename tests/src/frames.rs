//! Test frame builders: Ethernet (with VLAN tags), IPv4, IPv6, ARP, ICMPv6
//! Neighbor Discovery, TCP, UDP and CARP adverts, with every checksum the
//! receiver would verify computed here. Independent of the agent's own
//! codec on purpose: the tests check the dataplane against this.

pub type Mac = [u8; 6];
pub type Ipv4Addr = [u8; 4];
pub type Ipv6Addr = [u8; 16];

// The numbers come from the ABI crate; the builders below are what stays
// independent of the agent's codec.
pub use carp_common::wire::{
    CARP_GROUP_V4_MAC, CARP_GROUP_V6_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
    ETHERTYPE_QINQ, ETHERTYPE_VLAN, IPPROTO_CARP, IPPROTO_ICMPV6, LINK_LOCAL_TTL,
    ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
};

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

pub const BROADCAST: Mac = [0xff; 6];
/// 224.0.0.18 and its multicast MAC.
pub const CARP_GROUP_V4: Ipv4Addr = [224, 0, 0, 18];
/// ff02::12 and its multicast MAC.
pub const CARP_GROUP_V6: Ipv6Addr = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
/// ff02::1 and its multicast MAC.
pub const ALL_NODES: Ipv6Addr = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const ALL_NODES_MAC: Mac = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
pub const UNSPECIFIED: Ipv6Addr = [0; 16];

pub const NA_FLAG_ROUTER: u8 = 0x80;
pub const NA_FLAG_SOLICITED: u8 = 0x40;
pub const NA_FLAG_OVERRIDE: u8 = 0x20;

/// One 802.1Q / 802.1ad tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vlan {
    pub tpid: u16,
    pub tci: u16,
}

impl Vlan {
    pub const fn dot1q(vid: u16) -> Self {
        Self {
            tpid: ETHERTYPE_VLAN,
            tci: vid,
        }
    }

    pub const fn dot1ad(vid: u16) -> Self {
        Self {
            tpid: ETHERTYPE_QINQ,
            tci: vid,
        }
    }
}

/// Ethernet header, tags, payload. No padding: add it with [`pad_to`].
pub fn ethernet(dst: Mac, src: Mac, vlans: &[Vlan], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * vlans.len() + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for tag in vlans {
        f.extend_from_slice(&tag.tpid.to_be_bytes());
        f.extend_from_slice(&tag.tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Appends zero bytes up to `len` (Ethernet's 60-byte minimum, say).
pub fn pad_to(mut frame: Vec<u8>, len: usize) -> Vec<u8> {
    if frame.len() < len {
        frame.resize(len, 0);
    }
    frame
}

/// The one's-complement sum of `data` as 16-bit big-endian words (odd
/// length padded with a zero byte), folded to 16 bits, not complemented.
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// RFC 1071 Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !ones_complement_sum(data)
}

/// IPv4 header fields the tests vary; `Default` is a well-formed CARP
/// envelope (TTL 255, DF, TOS 0x10, no options).
#[derive(Clone, Debug)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub protocol: u8,
    pub tos: u8,
    pub ident: u16,
    /// Flags and fragment offset, host order (0x4000 = DF).
    pub flags_frag: u16,
    /// IP options, a multiple of 4 bytes.
    pub options: Vec<u8>,
}

impl Default for Ipv4 {
    fn default() -> Self {
        Self {
            src: [10, 0, 0, 1],
            dst: CARP_GROUP_V4,
            ttl: LINK_LOCAL_TTL,
            protocol: IPPROTO_CARP,
            tos: 0x10,
            ident: 0x1234,
            flags_frag: 0x4000,
            options: Vec::new(),
        }
    }
}

impl Ipv4 {
    /// Header (with a correct header checksum) followed by `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        assert!(self.options.len().is_multiple_of(4) && self.options.len() <= 40);
        let hlen = 20 + self.options.len();
        let total = u16::try_from(hlen + payload.len()).expect("IPv4 packet too long");
        let mut p = Vec::with_capacity(usize::from(total));
        p.push(0x40 | (hlen / 4) as u8);
        p.push(self.tos);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&self.flags_frag.to_be_bytes());
        p.push(self.ttl);
        p.push(self.protocol);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&self.src);
        p.extend_from_slice(&self.dst);
        p.extend_from_slice(&self.options);
        let sum = internet_checksum(&p[..hlen]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// IPv6 fixed header followed by `payload` (payload length = its length).
pub fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("IPv6 payload too long");
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&len.to_be_bytes());
    p.push(next_header);
    p.push(hop_limit);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// A CARP v2 advertisement; `bytes()` fills in the checksum.
#[derive(Clone, Debug)]
pub struct Advert {
    pub version_type: u8,
    pub vhid: u8,
    pub advskew: u8,
    pub authlen: u8,
    pub demote: u8,
    pub advbase: u8,
    pub counter: u64,
    /// HMAC-SHA1; the XDP program does not check it, so tests use any bytes.
    pub md: [u8; 20],
}

impl Advert {
    pub fn new(vhid: u8) -> Self {
        Self {
            version_type: 0x21,
            vhid,
            advskew: 0,
            authlen: 7,
            demote: 0,
            advbase: 1,
            counter: 0xc5a7_b313_62fc_34fc,
            md: *b"0123456789abcdefghij",
        }
    }

    /// The 36 wire bytes with a correct checksum.
    pub fn bytes(&self) -> [u8; 36] {
        let mut b = [0u8; 36];
        b[0] = self.version_type;
        b[1] = self.vhid;
        b[2] = self.advskew;
        b[3] = self.authlen;
        b[4] = self.demote;
        b[5] = self.advbase;
        b[8..16].copy_from_slice(&self.counter.to_be_bytes());
        b[16..36].copy_from_slice(&self.md);
        let sum = internet_checksum(&b);
        b[6..8].copy_from_slice(&sum.to_be_bytes());
        b
    }
}

/// An Ethernet/IPv4 ARP body (28 bytes).
pub fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    p.push(6);
    p.push(4);
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha);
    p.extend_from_slice(&spa);
    p.extend_from_slice(&tha);
    p.extend_from_slice(&tpa);
    p
}

/// A broadcast ARP request frame, padded to 60 bytes like on the wire.
pub fn arp_request_frame(vlans: &[Vlan], sha: Mac, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let body = arp(1, sha, spa, [0; 6], tpa);
    pad_to(ethernet(BROADCAST, sha, vlans, ETHERTYPE_ARP, &body), 60)
}

/// The ICMPv6 checksum of `icmp` (checksum field zero) from `src` to `dst`.
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + icmp.len());
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    pseudo.extend_from_slice(icmp);
    internet_checksum(&pseudo)
}

/// True if the ICMPv6 message `icmp` (checksum included) verifies.
pub fn icmpv6_checksum_ok(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> bool {
    let mut zeroed = icmp.to_vec();
    zeroed[2..4].copy_from_slice(&[0, 0]);
    icmpv6_checksum(src, dst, &zeroed).to_be_bytes() == [icmp[2], icmp[3]]
}

fn with_icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, mut icmp: Vec<u8>) -> Vec<u8> {
    let sum = icmpv6_checksum(src, dst, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    icmp
}

/// A Neighbor Solicitation (ICMPv6 bytes), with a Source Link-Layer
/// Address option if `sllao` is given.
pub fn neighbor_solicitation(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    target: &Ipv6Addr,
    sllao: Option<Mac>,
) -> Vec<u8> {
    let mut icmp = vec![ND_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(target);
    if let Some(mac) = sllao {
        icmp.extend_from_slice(&[1, 1]);
        icmp.extend_from_slice(&mac);
    }
    with_icmpv6_checksum(src, dst, icmp)
}

/// A Neighbor Advertisement (ICMPv6 bytes) with one Target Link-Layer
/// Address option.
pub fn neighbor_advertisement(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    flags: u8,
    target: &Ipv6Addr,
    tllao: Mac,
) -> Vec<u8> {
    let mut icmp = vec![ND_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0];
    icmp.extend_from_slice(target);
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&tllao);
    with_icmpv6_checksum(src, dst, icmp)
}

/// The solicited-node multicast address ff02::1:ffXX:XXXX of `addr`.
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[0] = 0xff;
    a[1] = 0x02;
    a[11] = 0x01;
    a[12] = 0xff;
    a[13..].copy_from_slice(&addr[13..]);
    a
}

/// The Ethernet multicast MAC 33:33:xx:xx:xx:xx of an IPv6 multicast address.
pub fn ipv6_multicast_mac(addr: &Ipv6Addr) -> Mac {
    [0x33, 0x33, addr[12], addr[13], addr[14], addr[15]]
}

/// A minimal TCP header (SYN, no options); its checksum is left zero, which
/// nothing in these tests verifies.
pub fn tcp(src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(20);
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    p
}

/// A UDP datagram with checksum zero ("none", legal for IPv4).
pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP datagram too long");
    let mut p = Vec::with_capacity(usize::from(len));
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Parses hex with any whitespace in between ("01005e 000012 ...").
pub fn from_hex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ucarp capture from docs/protocol.md, rebuilt field by field.
    #[test]
    fn rebuilds_the_ucarp_capture() {
        use carp_agent::testdata::ucarp;
        let captured = ucarp::frame();
        let advert = Advert {
            md: from_hex(ucarp::DIGEST_HEX).try_into().unwrap(),
            ..Advert::new(ucarp::VHID)
        };
        let ip = Ipv4 {
            src: ucarp::SRC.octets(),
            ident: 0x8d9b,
            ..Ipv4::default()
        };
        let frame = ethernet(
            CARP_GROUP_V4_MAC,
            [0, 0, 0x5e, 0, 0, 1],
            &[],
            ETHERTYPE_IPV4,
            &ip.packet(&advert.bytes()),
        );
        assert_eq!(frame, captured);
    }

    #[test]
    fn neighbor_solicitation_checksum_verifies() {
        let src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let target = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        let dst = solicited_node(&target);
        let ns = neighbor_solicitation(&src, &dst, &target, Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(ns.len(), 32);
        assert!(icmpv6_checksum_ok(&src, &dst, &ns));
        assert!(!icmpv6_checksum_ok(&src, &ALL_NODES, &ns));
    }
}
