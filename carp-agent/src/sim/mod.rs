//! A simulated shared segment of CARP hosts, each running the real
//! [`Node`](crate::node::Node) (and so the real [`Engine`]) the daemon runs.
//!
//! Discrete-event and deterministic from one `u64` seed: a queue of timed events
//! (advert deliveries, engine wake-ups, injected [`Fault`]s) advances a virtual
//! clock, so minutes of protocol run in milliseconds. The network has per-advert
//! loss, random delay within bounds (keeping order between two nodes, like
//! Ethernet) and partitions; nodes crash, reboot, shut down with bow-out, lose
//! their link, get demoted or receive admin commands. Every state change lands
//! in a [`timeline`](Segment::timeline).
//!
//! [`oracle`] holds an independent model of the election (who should win, how
//! fast) and the invariants; [`scenario`] the topologies and stories used by
//! `carp-agent simulate` and the tests.
//!
//! [`Engine`]: crate::engine::Engine

mod network;
pub mod oracle;
mod rng;
pub mod scenario;
mod segment;
mod timeline;

pub use network::{NetConditions, NodeId};
pub use rng::SimRng;
pub use segment::{Fault, IFACE, NodeSpec, ReplayAttack, Segment, SimError, Stats};
pub use timeline::{Entry, Happening};
