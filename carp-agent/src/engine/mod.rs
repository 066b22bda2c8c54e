//! The CARP election engine, sans-IO.
//!
//! Inputs carry the time (`now`); outputs are [`Action`]s the caller performs
//! (send an advert, apply a state change). No sockets, clocks or async: the
//! daemon drives it from its event loop and `crate::sim` from a discrete-event
//! simulation. The rules follow FreeBSD's carp(4) unless a vhid is configured
//! with [`Flavor::OpenBsd`]; see `docs/protocol.md`, `docs/interop.md` and
//! the module docs:
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
//! - MASTER hears a more preferred advert: BACKUP. Equal: the lower source
//!   address stays MASTER ([`TieBreak::LowerAddress`], default, ucarp's rule),
//!   the higher one ([`TieBreak::HigherAddress`], keepalived's) or both yield
//!   ([`TieBreak::AlwaysYield`], FreeBSD).
//! - MASTER hears a less preferred master: it re-sends its advert and its
//!   gratuitous ARPs / unsolicited NAs (at most once a second), so the other
//!   yields at once and neighbours that followed it come back (ucarp and
//!   keepalived do the same after a split brain).
//! - BACKUP hears a less preferred advert with preemption on: MASTER at once.
//!   An equal advert is never preempted, whatever the tie rule.
//! - BACKUP hears a master advertising slower than `3*advbase + advskew/256`
//!   (its own): MASTER ("master will time out"; OpenBSD skips it with advbase 0).
//! - Master-down: FreeBSD `3*advbase + advskew/256` with the configured advskew,
//!   OpenBSD `3*(advbase + advskew/256)`.
//! - Demotion: FreeBSD adds 240 per interface down or vhid failing to send,
//!   OpenBSD adds 1 to its demote byte.
//! - OpenBSD: BACKUP hears a master with a higher demote byte: MASTER, whatever
//!   the preempt setting.
//! - BACKUP hears a bow-out (advbase 255, advskew 255): MASTER at once, unless
//!   it heard, within 1.5 of its intervals, another master it would follow
//!   anyway (then it follows that one).
//! - Not in the BSDs: a BACKUP that heard, within 1.5 of its intervals, another
//!   master outranking it does not take over on an advert that would trigger a
//!   takeover (preempt, demote byte, too slow): that master makes the sender
//!   yield anyway. Adverts from different hosts arrive out of order, and this
//!   avoids a second master for an interval, e.g. after a demotion.
//! - BACKUP hears nothing for master-down: MASTER. A new MASTER advertises at once.
//! - Any change of the host demotion makes every MASTER advertise at once.

pub mod action;
pub mod config;
pub mod demotion;
mod heard;
mod host;
mod preference;
pub mod time;
pub mod timing;
mod vhid;

pub use action::{Action, AdminState, Iface, Reason, State, VhidKey};
pub use config::{ConfigError, Flavor, RangeError, TieBreak, VhidConfig, check_ranges};
pub use host::{Engine, EngineError};
pub use time::Time;
pub use timing::{Advertised, PeerAdvert};
pub use vhid::VhidStatus;
