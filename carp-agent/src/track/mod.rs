//! Tracking: what else than CARP itself demotes this host. Each
//! `[[track]]` source watches one thing and contributes its own share to
//! the host demotion while it fails (keepalived's `track_interface`,
//! `track_script`, `track_file`; FreeBSD and OpenBSD have only the
//! `net.inet.carp.demotion` counter that everything adds to). The host
//! demotion the election uses is the administrator's demotion plus every
//! source's share ([`Ledger`]), plus the engine's own link-down and
//! send-error parts, clamped to CARP's range (see
//! [`crate::engine::demotion`]).
//!
//! Kinds ([`TrackKind`]), all with a unique `name` and a `weight`:
//! - `interface`: carrier and operstate of any interface ([`link`]);
//! - `script`: a program with `interval_ms`, `timeout_ms`, `rise`, `fall`
//!   ([`script`], [`rise_fall`]);
//! - `file`: a number N in a file, share N × weight ([`file_source`]);
//! - `route`: a route's presence in the main table ([`route`]).
//!
//! Each source runs as a tokio task and sends `(name, share)` updates
//! ([`Update`]) to the daemon's event loop over a channel; the loop applies
//! them to the [`Ledger`] and gives the engine the new total. The same
//! ledger holds the administrator's part and the external sources set with
//! `carp-agent demote --source NAME`; those two are kept across restarts
//! in a state file ([`persist`]).
//!
//! A source starts healthy (share 0) until its first result, as
//! keepalived's scripts do; a new agent is BACKUP for at least its
//! master-down interval, by which time interfaces and files have reported.

pub mod file_source;
pub mod ledger;
pub mod link;
pub mod persist;
pub mod rise_fall;
pub mod route;
pub mod script;
pub mod spec;

pub use ledger::{Ledger, LedgerError};
pub use spec::{FileTrack, TrackConfigError, TrackKind, TrackSpec};
use tokio::{sync::mpsc, task::JoinHandle};

/// A source's new share of the demotion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The `[[track]]` source's name.
    pub name: String,
    /// Its part of the demotion now (0 when healthy).
    pub share: u32,
    /// What it saw, for `carp-agent status` ("eth1 no carrier").
    pub detail: String,
}

/// Starts one task per source, each sending its updates to `updates`.
/// Must be called within a tokio runtime, from the network namespace to
/// watch (netlink sockets belong to their creator's namespace).
pub fn spawn(specs: &[TrackSpec], updates: &mpsc::Sender<Update>) -> Vec<JoinHandle<()>> {
    specs
        .iter()
        .map(|spec| {
            let (spec, tx) = (spec.clone(), updates.clone());
            match spec.kind.clone() {
                TrackKind::Interface { name } => tokio::spawn(link::run(spec, name, tx)),
                TrackKind::Script {
                    program,
                    interval,
                    timeout,
                    rise,
                    fall,
                } => {
                    let state = rise_fall::RiseFall::new(rise, fall);
                    tokio::spawn(script::run(spec, program, interval, timeout, state, tx))
                }
                TrackKind::File { path, interval } => {
                    tokio::spawn(file_source::run(spec, path, interval, tx))
                }
                TrackKind::Route {
                    prefix,
                    len,
                    interval,
                } => tokio::spawn(route::run(spec, prefix, len, interval, tx)),
            }
        })
        .collect()
}
