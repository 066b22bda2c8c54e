//! The CARP election engine, sans-IO.
//!
//! Inputs carry the time (`now`); outputs are [`Action`]s the caller performs
//! (send an advert, apply a state change). No sockets, clocks or async: the
//! daemon drives it from its event loop and `crate::sim` from a discrete-event
//! simulation. The rules follow FreeBSD's carp(4) unless a vhid is configured
//! with [`Flavor::OpenBsd`]; see `shared/PROTOCOL.md` and the module docs:
//!
//! - [`timing`]: what goes on the wire, advert interval, master-down;
//! - [`config`]: per-vhid configuration and validation;
//! - [`action`]: states, transition reasons and actions;
//! - `preference`: who wins an election, including the tie-break;
//! - `vhid`: the per-vhid state machine;
//! - [`demotion`]: the host-wide demotion counter;
//! - `host`: [`Engine`], the host holding every vhid.
//!
//! Election rules (FreeBSD unless noted):
//! - Adverts are ranked by `advbase + advskew/256` (effective advskew: host
//!   demotion added, 240 at most), lower = more preferred; OpenBSD ranks by the
//!   demote byte first.
//! - MASTER hears a more preferred advert: BACKUP. Equal: the higher source
//!   address stays MASTER ([`TieBreak::HigherAddress`], default) or both yield
//!   ([`TieBreak::AlwaysYield`], FreeBSD).
//! - BACKUP hears a less preferred advert with preemption on: MASTER at once.
//! - BACKUP hears a master slower than its own master-down: MASTER.
//! - OpenBSD: BACKUP hears a master with a higher demote byte: MASTER, whatever
//!   the preempt setting.
//! - Not FreeBSD: a BACKUP that follows a master outranking it ignores a
//!   takeover-triggering advert from some other host (that master will make
//!   the other yield); this avoids a second master after, e.g., a demotion.
//! - BACKUP hears its master's bow-out (advbase 255, advskew 255): MASTER.
//! - BACKUP hears nothing for master-down: MASTER. A new MASTER advertises at once.
//! - Any change of the host demotion makes every MASTER advertise at once.

pub mod action;
pub mod config;
pub mod demotion;
mod host;
mod preference;
pub mod time;
pub mod timing;
mod vhid;

pub use action::{Action, AdminState, Iface, Peer, Reason, State, VhidKey};
pub use config::{ConfigError, Flavor, TieBreak, VhidConfig};
pub use host::{Engine, EngineError};
pub use time::Time;
pub use timing::{Advertised, PeerAdvert};
pub use vhid::VhidStatus;
