//! Protocol numbers and fixed header values on the wire, named once for the
//! XDP program, the agent's codec and sender, and the test frame builders.

/// IPv4 ethertype.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IPv6 ethertype.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// ARP ethertype.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// 802.1Q customer tag (TPID).
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// 802.1ad service tag (TPID), the outer tag of Q-in-Q.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;

/// IPv6 next header of ICMPv6, which carries Neighbor Discovery.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type of a Neighbor Solicitation (RFC 4861).
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement (RFC 4861).
pub const ND_NEIGHBOR_ADVERT: u8 = 136;

/// IP protocol number of CARP (shared with VRRP).
pub const IPPROTO_CARP: u8 = 112;
/// Length of a CARP v2 advertisement, the only payload size that is ours.
pub const CARP_ADVERT_LEN: usize = 36;

/// The TTL / hop limit of packets that must not have crossed a router: CARP
/// adverts (carp(4) drops any other value as `badttl`) and Neighbor Discovery
/// (RFC 4861 section 7.1). A router decrements it, so 255 on arrival proves
/// the sender is on the link.
pub const LINK_LOCAL_TTL: u8 = 255;

/// The multicast MAC of 224.0.0.18, where IPv4 adverts go.
pub const CARP_GROUP_V4_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
/// The multicast MAC of ff02::12, where IPv6 adverts go.
pub const CARP_GROUP_V6_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];

/// The first five bytes of every virtual MAC; the sixth is the vhid. The
/// range is VRRP's (RFC 5798 section 7.3), which is why a VRRP router with
/// the same id clashes with a vhid.
pub const VMAC_PREFIX: [u8; 5] = [0x00, 0x00, 0x5e, 0x00, 0x01];

/// The virtual MAC of a vhid, `00:00:5e:00:01:<vhid>`.
pub const fn virtual_mac(vhid: u8) -> [u8; 6] {
    let [a, b, c, d, e] = VMAC_PREFIX;
    [a, b, c, d, e, vhid]
}

/// Length of an Ethernet header without tags.
pub const ETH_HLEN: usize = 14;
/// Offset of the source MAC in an Ethernet header.
pub const ETH_SRC: usize = 6;
/// Length of one 802.1Q / 802.1ad tag.
pub const VLAN_TAG_LEN: usize = 4;
/// Mask of the VLAN id in a tag control field.
pub const VLAN_ID_MASK: u16 = 0x0fff;

/// IPv4 header fields (RFC 791), as byte offsets from the header's start.
pub mod ipv4 {
    /// A header without options.
    pub const MIN_HLEN: usize = 20;
    pub const TOTAL_LEN: usize = 2;
    pub const ID: usize = 4;
    /// Flags and fragment offset (16 bits).
    pub const FRAGMENT: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    /// The bits of `FRAGMENT` that mark a fragment: MF and the offset.
    pub const FRAGMENT_MASK: u16 = 0x3fff;
}

/// IPv6 header fields (RFC 8200), as byte offsets from the header's start.
pub mod ipv6 {
    /// The fixed header.
    pub const HLEN: usize = 40;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// Ethernet/IPv4 ARP (RFC 826) fields, as byte offsets from the body's start.
pub mod arp {
    /// The body's length.
    pub const LEN: usize = 28;
    pub const OP: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}
