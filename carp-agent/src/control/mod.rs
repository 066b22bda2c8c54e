//! The local control socket: `carp-agent status`, `demote`, `state` and
//! `check` talk to the daemon through it.
//!
//! A unix stream socket (mode 0600; peers must be root or the agent's own
//! user, checked with SO_PEERCRED). One request and one response per
//! connection, each a line of JSON:
//!
//! ```text
//! > {"op":"demote","delta":240}
//! < {"ok":true,"error":null,"status":null}
//! ```
pub mod client;
pub mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::VhidSettings;
use crate::engine::{AdminState, VhidStatus};

/// Longest request or response line accepted, in bytes.
pub const MAX_MESSAGE: u64 = 1 << 20;

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Report every vhid and the counters.
    Status,
    /// Add `delta` to the host demotion (`sysctl net.inet.carp.demotion=+N`).
    Demote { delta: i32 },
    /// Set the host demotion.
    SetDemotion { value: u32 },
    /// `ifconfig IF vhid N state master|backup`; `interface` may be left out
    /// when the vhid exists on one interface only.
    SetState {
        vhid: u8,
        #[serde(default)]
        interface: Option<String>,
        state: TargetState,
    },
}

/// Target of [`Request::SetState`]; the wire form of [`AdminState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    Master,
    Backup,
}

impl From<TargetState> for AdminState {
    fn from(state: TargetState) -> AdminState {
        match state {
            TargetState::Master => AdminState::Master,
            TargetState::Backup => AdminState::Backup,
        }
    }
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub status: Option<StatusReport>,
}

impl Response {
    /// Success without a report.
    pub fn ok() -> Response {
        Response {
            ok: true,
            error: None,
            status: None,
        }
    }

    /// Success with a report (status, or the state after a change).
    pub fn with_status(status: StatusReport) -> Response {
        Response {
            ok: true,
            error: None,
            status: Some(status),
        }
    }

    /// Failure, with the reason for the user.
    pub fn error(message: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(message.into()),
            status: None,
        }
    }
}

/// Everything `carp-agent status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Host demotion.
    pub demotion: u32,
    pub vhids: Vec<VhidReport>,
    /// XDP and agent counters by carpstats name (`badauth`, `ipackets`, ...).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

/// One vhid in a [`StatusReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhidReport {
    pub interface: String,
    pub vhid: u8,
    /// `MASTER`, `BACKUP` or `INIT`.
    pub state: String,
    pub advbase: u8,
    /// As configured.
    pub advskew: u8,
    /// As advertised, demotion included.
    pub advskew_effective: u8,
    pub demotion: u32,
    pub preempt: bool,
    /// `ADDR/PREFIX`.
    pub vips: Vec<String>,
    /// The master a BACKUP listens to.
    #[serde(default)]
    pub master: Option<String>,
}

impl VhidReport {
    /// The report of one vhid from its settings and the engine's status;
    /// `demotion` is the host demotion.
    pub fn new(settings: &VhidSettings, status: &VhidStatus, demotion: u32) -> VhidReport {
        VhidReport {
            interface: settings.interface.clone(),
            vhid: settings.vhid,
            state: status.state.to_string(),
            advbase: status.config.advbase,
            advskew: status.config.advskew,
            advskew_effective: status.advertised.advskew,
            demotion,
            preempt: status.config.preempt,
            vips: settings.vip_strings(),
            master: status.master.map(|addr| addr.to_string()),
        }
    }
}

/// Control socket failures, on either side.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {}: {error}", path.display())]
    Bind {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("control socket {}: another carp-agent is listening there", path.display())]
    InUse { path: PathBuf },
    #[error("control socket {}: exists and is not a socket; not removing it", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot reach carp-agent at {}: {error}", path.display())]
    Connect {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("carp-agent at {}: {reason}", path.display())]
    Exchange { path: PathBuf, reason: String },
}
