//! Prometheus metrics (`carp-agent run --metrics-listen ADDR`): per-vhid
//! state and counters, the agent's and the XDP program's counters, the host
//! demotion, served over HTTP on `GET /metrics` (docs/metrics.md lists them).
//!
//! The daemon's single task owns every number. The HTTP task
//! ([`http::serve`]) sends a [`Call`] for each scrape over a channel; the
//! daemon answers with a [`Snapshot`] (plain values, built in
//! `daemon::metrics`) and the HTTP task encodes it ([`encode::encode`]),
//! the way the control socket works: no lock, and a slow client never
//! holds the daemon.
pub mod encode;
pub mod http;
pub mod snapshot;

pub use http::{BindError, Limits, bind, serve};
pub use snapshot::{Snapshot, VhidCounters, VhidSnapshot, state_number};

/// A scrape's request to the daemon: where the snapshot goes.
pub type Call = tokio::sync::oneshot::Sender<Snapshot>;
