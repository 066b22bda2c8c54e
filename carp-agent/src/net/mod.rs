//! The agent's I/O towards the host's network stack:
//!
//! - [`netlink`]: interfaces, VIP addresses, the unicast MAC filter,
//!   promiscuous mode and XDP detach, through rtnetlink ([`Netlink`]);
//! - [`link_events`]: carrier changes ([`LinkEvents`]);
//! - [`membership`]: the CARP multicast groups joined on each vhid
//!   interface, for NIC filters and snooping switches ([`Membership`]);
//! - [`sender`]: adverts, gratuitous ARPs and unsolicited NAs on an AF_PACKET
//!   socket, so their Ethernet source can be the virtual MAC ([`FrameSender`]);
//! - [`frames`]: the ARP and NA frames themselves (pure);
//! - [`offload`]: whether a NIC strips VLAN tags before XDP sees them;
//! - [`vlan`]: where a vhid's frames go on the wire: its interface, or the
//!   trunk under a VLAN device, and the VLAN id ([`vlan::resolve`], pure).
//!
//! Netlink and AF_PACKET sockets belong to the network namespace of the
//! thread that opens them.
pub mod error;
pub mod frames;
pub mod link_events;
pub mod membership;
pub mod netlink;
pub mod offload;
pub mod sender;
pub mod sysctl;
pub mod vlan;

pub use error::NetError;
pub use link_events::{LinkEvent, LinkEvents};
pub use membership::Membership;
pub use netlink::{Interface, Netlink};
pub use sender::FrameSender;
