//! The client side of the control socket, for the CLI subcommands.

use std::{
    io::ErrorKind as IoKind,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
};

use super::{
    MAX_MESSAGE, PROTOCOL_VERSION, Request, Response, ResponseError, decode_response_bytes,
    encode_request,
};

/// Bound on the whole exchange; the daemon answers from its event loop.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to the agent; every variant names the socket.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach carp-agent at {}: no such socket (is carp-agent running? \
         is --control-socket right?)",
        path.display()
    )]
    NoSocket { path: PathBuf },
    #[error(
        "cannot reach carp-agent at {}: connection refused (the socket file is there but \
         no agent listens on it; is carp-agent running?)",
        path.display()
    )]
    Refused { path: PathBuf },
    #[error(
        "cannot reach carp-agent at {}: permission denied (the control socket is for root \
         and the agent's user)",
        path.display()
    )]
    PermissionDenied { path: PathBuf },
    #[error("cannot reach carp-agent at {}: {error}", path.display())]
    Connect {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("carp-agent at {}: no response within {after:?}", path.display())]
    Timeout { path: PathBuf, after: Duration },
    #[error("carp-agent at {}: sending the request: {error}", path.display())]
    Send {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("carp-agent at {}: reading the response: {error}", path.display())]
    Receive {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("carp-agent at {}: closed the connection without answering", path.display())]
    NoAnswer { path: PathBuf },
    #[error("carp-agent at {}: response longer than {MAX_MESSAGE} bytes", path.display())]
    TooLong { path: PathBuf },
    #[error("carp-agent at {}: unreadable response: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "carp-agent at {} speaks control protocol {agent}, this CLI speaks {cli}; use the \
         carp-agent binary of the running agent's release, or restart the agent after an \
         upgrade",
        path.display()
    )]
    Version { path: PathBuf, agent: u64, cli: u32 },
    #[error("cannot start the control client's runtime: {error}")]
    Runtime { error: std::io::Error },
}

impl ClientError {
    /// The agent could not be reached or did not answer, as opposed to an
    /// answer this CLI cannot use or a local failure.
    pub fn is_unreachable(&self) -> bool {
        !matches!(
            self,
            ClientError::Version { .. }
                | ClientError::Malformed { .. }
                | ClientError::Runtime { .. }
        )
    }
}

/// Sends one request to the agent at `path` and returns its response.
pub async fn request(path: &Path, req: &Request) -> Result<Response, ClientError> {
    request_within(path, req, TIMEOUT).await
}

/// [`request`] with another bound on the whole exchange.
pub async fn request_within(
    path: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<Response, ClientError> {
    tokio::time::timeout(timeout, exchange(path, req))
        .await
        .unwrap_or_else(|_| {
            Err(ClientError::Timeout {
                path: path.to_path_buf(),
                after: timeout,
            })
        })
}

async fn exchange(path: &Path, req: &Request) -> Result<Response, ClientError> {
    converse(path, req).await.map(|(response, _)| response)
}

/// Subscribes to the agent's events (`carp-agent events`): its response to
/// the request, within [`TIMEOUT`], and the connection to read the event
/// lines from ([`super::events`]).
pub async fn subscribe(path: &Path) -> Result<(Response, BufReader<UnixStream>), ClientError> {
    tokio::time::timeout(TIMEOUT, converse(path, &Request::Events))
        .await
        .unwrap_or_else(|_| {
            Err(ClientError::Timeout {
                path: path.to_path_buf(),
                after: TIMEOUT,
            })
        })
}

/// Sends `req` and reads the response line; returns the connection too,
/// for what may follow it.
async fn converse(
    path: &Path,
    req: &Request,
) -> Result<(Response, BufReader<UnixStream>), ClientError> {
    let path_buf = || path.to_path_buf();
    let mut stream = UnixStream::connect(path)
        .await
        .map_err(|error| match error.kind() {
            IoKind::NotFound => ClientError::NoSocket { path: path_buf() },
            IoKind::ConnectionRefused => ClientError::Refused { path: path_buf() },
            IoKind::PermissionDenied => ClientError::PermissionDenied { path: path_buf() },
            _ => ClientError::Connect {
                path: path_buf(),
                error,
            },
        })?;
    // An agent that answers without reading (an older one refusing the
    // peer) may have closed its end already: its answer is still readable,
    // and it says more than EPIPE would.
    let sent = stream.write_all(encode_request(req).as_bytes()).await;
    let mut answer = Vec::new();
    let mut reader = BufReader::new(stream);
    let read = (&mut reader)
        .take(MAX_MESSAGE)
        .read_until(b'\n', &mut answer)
        .await;
    match (sent, read) {
        (Err(error), _) if answer.is_empty() => {
            return Err(ClientError::Send {
                path: path_buf(),
                error,
            });
        }
        (_, Err(error)) => {
            return Err(ClientError::Receive {
                path: path_buf(),
                error,
            });
        }
        _ => {}
    }
    if answer.is_empty() {
        return Err(ClientError::NoAnswer { path: path_buf() });
    }
    if !answer.ends_with(b"\n") && answer.len() as u64 >= MAX_MESSAGE {
        return Err(ClientError::TooLong { path: path_buf() });
    }
    let response = decode_response_bytes(&answer).map_err(|err| match err {
        ResponseError::Version(agent) => ClientError::Version {
            path: path_buf(),
            agent,
            cli: PROTOCOL_VERSION,
        },
        ResponseError::Malformed(reason) => ClientError::Malformed {
            path: path_buf(),
            reason,
        },
    })?;
    Ok((response, reader))
}

/// [`request`] for synchronous callers (the CLI): runs it on a private
/// single-threaded runtime.
pub fn request_blocking(path: &Path, req: &Request) -> Result<Response, ClientError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| ClientError::Runtime { error })?;
    runtime.block_on(request(path, req))
}
