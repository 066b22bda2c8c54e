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
