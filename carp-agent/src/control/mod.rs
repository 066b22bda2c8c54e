//! The local control socket: `carp-agent status`, `demote`, `state` and
//! `check` talk to the daemon through it.
//!
//! # Transport
//!
//! A unix stream socket (mode 0600; peers must be root or the agent's own
//! user, checked with SO_PEERCRED). One request and one response per
//! connection (the one exception is `events`, below), each one line of JSON ending in `\n`, at most
//! [`MAX_MESSAGE`] bytes. The agent reads the whole request before it
//! answers, even one it refuses, so the client's write never meets a closed
//! socket, and it closes the connection after the response line. A request
//! not complete within [`server::Limits::read_timeout`] or longer than
//! [`server::Limits::max_request`] gets a `bad_request` error.
//!
//! # Messages (protocol version 1)
//!
//! Every message is a JSON object with a `version` member, the protocol
//! version its sender speaks ([`PROTOCOL_VERSION`]). Requests name their
//! operation in `op` ([`Request`]):
//!
//! ```text
//! > {"version":1,"op":"status"}
//! > {"version":1,"op":"demote","delta":240}
//! > {"version":1,"op":"set_demotion","value":0}
//! > {"version":1,"op":"set_state","vhid":1,"interface":"eth0","state":"backup"}
//! > {"version":1,"op":"demote","delta":50,"source":"db"}
//! > {"version":1,"op":"set_demotion","value":0,"source":"db"}
//! > {"version":1,"op":"reload"}
//! > {"version":1,"op":"events"}
//! ```
//!
//! `demote` and `set_demotion` change the administrator's demotion, or,
//! with the optional `source` member, the share of that external source
//! (created at its first change, removed when set to 0; the name of a
//! configured `[[track]]` source is refused). An agent without `source`
//! support ignores the member and changes the administrator's demotion,
//! so a CLI sending `source` checks the `demotion_sources` of the answer.
//!
//! `events` is the one exception to "one request, one response": after its
//! `ok` response the connection stays open and the agent writes one event
//! per line until either side closes it (see [`events`] for the lines and
//! the bounds that keep a slow reader from holding the agent up).
//!
//! Responses say `"result":"ok"` or `"result":"error"`, never both
//! ([`Response`]). Success may carry the status report ([`StatusReport`]; a
//! vhid's `state` is `"INIT"`, `"BACKUP"` or `"MASTER"`, [`VhidState`]); an
//! error carries a `kind` ([`ErrorKind`]) and a `message` for the user:
//!
//! ```text
//! < {"version":1,"result":"ok","status":{"demotion":240,"vhids":[...],"counters":{...},
//!    "demotion_sources":[{"name":"admin","kind":"admin","share":240}, ...]}}
//! < {"version":1,"result":"error","kind":"refused","message":"no vhid 9 configured"}
//! < {"version":1,"result":"ok","reload":{"added":[],"removed":[],"changed":["eth0 vhid 1"],"unchanged":2,"warnings":[]}}
//! ```
//!
//! A `reload` the agent refuses (the new file does not validate, an
//! interface is missing) is an error of kind `refused`: the running
//! configuration stays.
//!
//! # Versions
//!
//! Protocol 0 is the unversioned form of earlier releases: requests without
//! `version`, responses `{"ok":BOOL,"error":TEXT|null,"status":...}`.
//!
//! - The agent answers a request of another version, or without one, with
//!   an error naming both versions; a protocol 0 client gets it in the
//!   protocol 0 shape, so an old CLI prints it instead of a parse error.
//! - The client checks the `version` of the response before reading the
//!   rest; a response of another version (or a protocol 0 response, which
//!   has `ok` and no `version`) becomes [`client::ClientError::Version`]:
//!   "carp-agent at SOCKET speaks control protocol N, this CLI speaks M".
//! - `version`, `result`, `kind` and `message` keep their meaning in every
//!   version, so any two releases can at least tell each other which
//!   versions they speak.
//!
//! # Evolving the protocol
//!
//! Compatible changes keep [`PROTOCOL_VERSION`]; both sides ignore members
//! they do not know:
//! - a new member of a response or of a request's operation, if the reader
//!   can do without it (`#[serde(default)]`, and on the sending side
//!   `skip_serializing_if` when absent means the old behaviour);
//! - a new counter in `counters` (a map by name);
//! - a new error `kind` (older clients read it as [`ErrorKind::Other`] and
//!   still print the message);
//! - a new operation: an older agent answers `bad_request` naming the
//!   operations it knows.
//!
//! Anything else is incompatible and takes a new version: removing,
//! renaming or retyping a member, a new [`VhidState`] or [`TargetState`]
//! (an older reader could not parse it), or a changed meaning. Then raise
//! [`PROTOCOL_VERSION`], update this comment, and extend the version tests
//! in `tests/control_cli.rs`. An agent that must keep serving the older
//! CLI can branch on the request's version in [`decode_request`] and answer
//! in the older shape.
pub mod client;
pub mod events;
pub mod server;

use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    config::VhidSettings,
    engine::{AdminState, State, VhidStatus},
};

/// The control protocol version this build speaks; see the module comment
/// for when to raise it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request or response line accepted, in bytes.
pub const MAX_MESSAGE: u64 = 1 << 20;

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Report every vhid and the counters.
    Status,
    /// Add `delta` to the host demotion (`sysctl net.inet.carp.demotion=+N`),
    /// or to the share of the external `source`.
    Demote {
        delta: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// Set the host demotion, or the share of the external `source`.
    SetDemotion {
        value: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// `ifconfig IF vhid N state master|backup`; `interface` may be left out
    /// when the vhid exists on one interface only.
    SetState {
        vhid: u8,
        #[serde(default)]
        interface: Option<String>,
        state: TargetState,
    },
    /// Re-read the configuration and apply it without a failover (as
    /// SIGHUP does); answered with a [`ReloadReport`].
    Reload,
    /// Subscribe to events: the connection stays open and the agent
    /// writes one event per line ([`events`]).
    Events,
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

/// The daemon's answer: a result or an error, never both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Ok(Body),
    Error(ErrorBody),
}

/// What a successful [`Response`] carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// The report for `status`, or the state after a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    /// What a `reload` changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadReport>,
}

/// What a reload did, vhid by vhid (`IFACE vhid N`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    /// Vhids that took new settings and kept their state.
    #[serde(default)]
    pub changed: Vec<String>,
    /// Vhids left untouched.
    #[serde(default)]
    pub unchanged: usize,
    /// Settings that changed but apply at the next start.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |names: &[String]| match names.is_empty() {
            true => "none".to_string(),
            false => names.join(", "),
        };
        write!(
            f,
            "added: {}; removed: {}; changed: {}; unchanged: {}",
            list(&self.added),
            list(&self.removed),
            list(&self.changed),
            self.unchanged
        )?;
        for warning in &self.warnings {
            write!(f, "\nwarning: {warning}")?;
        }
        Ok(())
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    /// For the user, complete in itself.
    pub message: String,
}

/// The class of an [`ErrorBody`], for programs; people read the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not a request: malformed, too long, too slow, unknown operation.
    BadRequest,
    /// The request's protocol version is not the agent's.
    UnsupportedVersion,
    /// The peer may not control the agent.
    PermissionDenied,
    /// A valid request the agent refuses (unknown vhid, vhid not running).
    Refused,
    /// The agent cannot answer now (shutting down).
    Unavailable,
    /// A kind this build does not know, from a newer agent.
    #[serde(other)]
    Other,
}

impl Response {
    /// Success without a report.
    pub fn ok() -> Response {
        Response::Ok(Body::default())
    }

    /// Success with a report (status, or the state after a change).
    pub fn with_status(status: StatusReport) -> Response {
        Response::Ok(Body {
            status: Some(status),
            ..Body::default()
        })
    }

    /// Success of a reload.
    pub fn reloaded(report: ReloadReport) -> Response {
        Response::Ok(Body {
            reload: Some(report),
            ..Body::default()
        })
    }

    /// Failure, with the reason for the user.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error(ErrorBody {
            kind,
            message: message.into(),
        })
    }
}

/// A message with the version it is written in, for the wire.
#[derive(Serialize)]
struct Versioned<'a, T> {
    version: u32,
    #[serde(flatten)]
    body: &'a T,
}

fn encode<T: Serialize>(body: &T) -> String {
    let mut line = serde_json::to_string(&Versioned {
        version: PROTOCOL_VERSION,
        body,
    })
    // Plain data with string keys: serde_json cannot fail on it. Should it
    // ever, the peer gets an error it can read rather than nothing.
    .unwrap_or_else(|err| {
        serde_json::json!({
            "version": PROTOCOL_VERSION,
            "result": "error",
            "kind": "other",
            "message": format!("cannot encode the message: {err}"),
        })
        .to_string()
    });
    line.push('\n');
    line
}

/// The request line a client sends, newline included.
pub fn encode_request(request: &Request) -> String {
    encode(request)
}

/// The response line the agent sends, newline included.
pub fn encode_response(response: &Response) -> String {
    encode(response)
}

/// A request the agent cannot take.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Unversioned: a protocol 0 client, answered in the protocol 0 shape.
    #[error(
        "this client speaks control protocol 0 (unversioned), carp-agent speaks protocol \
         {PROTOCOL_VERSION}; use the carp-agent binary of the running agent's release"
    )]
    Unversioned,
    #[error(
        "this client speaks control protocol {0}, carp-agent speaks protocol \
         {PROTOCOL_VERSION}; use the carp-agent binary of the running agent's release"
    )]
    Version(u64),
    #[error("bad request: {0}")]
    Bad(String),
}

impl RequestError {
    /// The response line for this error, newline included, in the shape
    /// the client can read.
    pub fn response_line(&self) -> String {
        match self {
            RequestError::Unversioned => {
                let mut line = serde_json::json!({
                    "ok": false,
                    "error": self.to_string(),
                    "status": null,
                })
                .to_string();
                line.push('\n');
                line
            }
            RequestError::Version(_) => encode_response(&Response::error(
                ErrorKind::UnsupportedVersion,
                self.to_string(),
            )),
            RequestError::Bad(_) => {
                encode_response(&Response::error(ErrorKind::BadRequest, self.to_string()))
            }
        }
    }
}

/// The `version` member of a message: `Ok(None)` when it has none.
fn version_of(object: &Map<String, Value>) -> Result<Option<u64>, String> {
    match object.get("version") {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("\"version\" is {value}, not a protocol version number")),
    }
}

/// Reads a request line (without its newline): the version first, then the
/// operation.
pub fn decode_request(line: &str) -> Result<Request, RequestError> {
    let bad = |why: String| RequestError::Bad(why);
    let value: Value = serde_json::from_str(line).map_err(|err| bad(err.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(bad("not a JSON object".to_string()));
    };
    match version_of(&object).map_err(bad)? {
        None => return Err(RequestError::Unversioned),
        Some(version) if version != u64::from(PROTOCOL_VERSION) => {
            return Err(RequestError::Version(version));
        }
        Some(_) => {}
    }
    object.remove("version");
    serde_json::from_value(Value::Object(object)).map_err(|err| bad(err.to_string()))
}

/// Reads a request line as it arrives on the socket: bytes, newline
/// included or not. The agent's whole decoding of what a client sends.
pub fn decode_request_bytes(line: &[u8]) -> Result<Request, RequestError> {
    let line = std::str::from_utf8(line).map_err(|_| RequestError::Bad("not UTF-8".to_string()))?;
    decode_request(line.trim_end())
}

/// A response line the client cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// The agent speaks another version (0: an unversioned agent).
    #[error("carp-agent speaks control protocol {0}")]
    Version(u64),
    #[error("{0}")]
    Malformed(String),
}

/// Reads a response line (without its newline): the version first, then
/// the rest.
pub fn decode_response(line: &str) -> Result<Response, ResponseError> {
    let malformed = |why: String| ResponseError::Malformed(why);
    let value: Value = serde_json::from_str(line).map_err(|err| malformed(err.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(malformed("not a JSON object".to_string()));
    };
    match version_of(&object).map_err(malformed)? {
        // Protocol 0 answered `{"ok":...,"error":...,"status":...}`.
        None if object.contains_key("ok") => return Err(ResponseError::Version(0)),
        None => return Err(malformed("no \"version\" member".to_string())),
        Some(version) if version != u64::from(PROTOCOL_VERSION) => {
            return Err(ResponseError::Version(version));
        }
        Some(_) => {}
    }
    object.remove("version");
    serde_json::from_value(Value::Object(object)).map_err(|err| malformed(err.to_string()))
}

/// Reads a response line as it arrives on the socket: bytes, newline
/// included or not, invalid UTF-8 replaced. The CLI's whole decoding of
/// what the agent sends.
pub fn decode_response_bytes(line: &[u8]) -> Result<Response, ResponseError> {
    decode_response(String::from_utf8_lossy(line).trim_end())
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
    /// Why the XDP counters are missing from `counters`, when reading the
    /// statistics map failed (the agent's own counters are still there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xdp_counters_error: Option<String>,
    /// The demotion by source: `admin` (`carp-agent demote`), external
    /// sources (`demote --source`), `[[track]]` sources, and `carp` (link
    /// down, send errors) when not 0. Absent from agents before tracking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub demotion_sources: Vec<DemotionSource>,
}

/// One part of the host demotion in a [`StatusReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemotionSource {
    pub name: String,
    /// `admin`, `external`, `carp`, or a `[[track]]` kind: `interface`,
    /// `script`, `file`, `route`.
    pub kind: String,
    /// Its part of the demotion now.
    pub share: u32,
    /// What a tracked source last saw ("eth1 no carrier").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One vhid in a [`StatusReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhidReport {
    pub interface: String,
    /// The 802.1Q VLAN a vhid runs tagged on `interface` (`vlan = N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    pub vhid: u8,
    pub state: VhidState,
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
            vlan: settings.vlan,
            vhid: settings.vhid,
            state: status.state.into(),
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

/// The state of a vhid in a [`VhidReport`]; the wire form of the engine's
/// [`State`], spelled as FreeBSD's `ifconfig` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VhidState {
    Init,
    Backup,
    Master,
}

impl From<State> for VhidState {
    fn from(state: State) -> VhidState {
        match state {
            State::Init => VhidState::Init,
            State::Backup => VhidState::Backup,
            State::Master => VhidState::Master,
        }
    }
}

impl fmt::Display for VhidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            VhidState::Init => "INIT",
            VhidState::Backup => "BACKUP",
            VhidState::Master => "MASTER",
        })
    }
}

/// Failures of the agent's side of the control socket (the client's are
/// [`client::ClientError`]).
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
}
