//! CARP v2 advertisement codec and authentication. Pure: no I/O, no clock.
//!
//! - [`advert`]: the 36-byte header ([`Advertisement`]).
//! - [`auth`]: password key, virtual address set, HMAC-SHA1 ([`Auth`]).
//! - [`link`], [`ip`]: Ethernet/VLAN and IPv4/IPv6 around it.
//! - [`packet`]: one-call decoding ([`decode_frame`], [`decode_ip`]) and
//!   frame building ([`FrameBuilder`]).
//!
//! Decoding follows the BSD input path: structure first (lengths, TTL,
//! version, checksum), then, separately because it needs the key,
//! [`Advertisement::authenticate`]. Errors are named after carpstats counters.
//! Like the BSDs, the IPv4 header checksum is not checked (the kernel stack
//! already did, and the XDP path sees packets before it).

pub mod advert;
pub mod auth;
pub mod checksum;
pub mod error;
pub mod ip;
pub mod link;
pub mod packet;

pub use advert::{ADVERT_LEN, Advertisement};
pub use auth::{Auth, AuthKey, LinkLocalVips, MAX_PASSWORD_LEN, VipSet};
pub use error::{DecodeError, Layer, LengthError, NotCarp, PasswordError};
pub use ip::{CARP_GROUP_V4, CARP_GROUP_V6, Envelope, IPPROTO_CARP};
pub use link::{EthernetHeader, MacAddr, VlanTag};
pub use packet::{CarpPacket, FrameBuilder, decode_frame, decode_ip};
