//! The daemon's side of the control socket.

use std::{
    os::unix::fs::{FileTypeExt as _, PermissionsExt as _},
    path::Path,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tracing::{debug, warn};

use super::{
    ControlError, ErrorKind, MAX_MESSAGE, Request, RequestError, Response, decode_request_bytes,
    encode_response,
    events::{self, EventHub},
};

/// A request and where its response goes.
pub type Call = (Request, oneshot::Sender<Response>);

/// Bounds on what one client may cost the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, newline included.
    pub max_request: u64,
    /// How long a client may take to send its whole request.
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request: MAX_MESSAGE,
            read_timeout: Duration::from_secs(5),
        }
    }
}

/// Listens on `path` (replacing a stale socket file) and forwards each
/// request to `tx`. The task ends, removing the socket file, when the
/// receiver of `tx` is dropped.
pub async fn serve(path: &Path, tx: mpsc::Sender<Call>) -> Result<JoinHandle<()>, ControlError> {
    serve_with(path, tx, Limits::default()).await
}

/// [`serve`] with other [`Limits`].
pub async fn serve_with(
    path: &Path,
    tx: mpsc::Sender<Call>,
    limits: Limits,
) -> Result<JoinHandle<()>, ControlError> {
    serve_with_events(path, tx, limits, None).await
}

/// [`serve_with`], answering `events` requests with subscriptions to `hub`
/// (without one they are refused).
pub async fn serve_with_events(
    path: &Path,
    tx: mpsc::Sender<Call>,
    limits: Limits,
    hub: Option<EventHub>,
) -> Result<JoinHandle<()>, ControlError> {
    let listener = bind(path).await?;
    let path = path.to_path_buf();
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(handle(stream, tx.clone(), limits, hub.clone()));
                    }
                    Err(err) => {
                        warn!("control socket {}: accept: {err}", path.display());
                        // Out of file descriptors, typically: do not spin.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&path);
    }))
}

async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let bind_err = |error| ControlError::Bind {
        path: path.to_path_buf(),
        error,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A live agent answers; only a dead one's socket is replaced.
            if UnixStream::connect(path).await.is_ok() {
                return Err(ControlError::InUse {
                    path: path.to_path_buf(),
                });
            }
            std::fs::remove_file(path).map_err(bind_err)?;
        }
        Ok(_) => {
            return Err(ControlError::NotASocket {
                path: path.to_path_buf(),
            });
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(bind_err(err)),
    }
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    // Peers are also checked by uid; the mode keeps others from connecting.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    Ok(listener)
}

/// Root, or the user the agent runs as (the same user gains nothing).
pub fn peer_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == 0 || peer_uid == own_uid
}

async fn handle(
    mut stream: UnixStream,
    tx: mpsc::Sender<Call>,
    limits: Limits,
    hub: Option<EventHub>,
) {
    let line = match answer(&mut stream, &tx, limits).await {
        Ok(Answer::Line(line)) => line,
        Ok(Answer::Events) => match hub.as_ref().map(|hub| (hub, hub.subscribe())) {
            Some((_, Some(subscription))) => {
                events::stream(&mut stream, subscription).await;
                return;
            }
            Some((hub, None)) => encode_response(&Response::error(
                ErrorKind::Refused,
                format!(
                    "{} event subscribers already connected, the most carp-agent serves",
                    hub.max_subscribers()
                ),
            )),
            None => encode_response(&Response::error(
                ErrorKind::Refused,
                "this control socket publishes no events",
            )),
        },
        Err(err) => {
            debug!("control client: {err}");
            return;
        }
    };
    if let Err(err) = stream.write_all(line.as_bytes()).await {
        debug!("control client: writing the response: {err}");
    }
    let _ = stream.shutdown().await;
}

/// What to do with a connection after its request.
enum Answer {
    /// Write this response line and close.
    Line(String),
    /// Subscribe it to the events.
    Events,
}

/// Reads one request and returns the response line, or that it subscribes
/// to the events. `Err` means the client went away.
///
/// A refused peer's request is still read before the refusal is sent:
/// answering first and closing would make the client's write fail with
/// EPIPE, and it would print "Broken pipe" instead of the refusal.
async fn answer(
    stream: &mut UnixStream,
    tx: &mpsc::Sender<Call>,
    limits: Limits,
) -> std::io::Result<Answer> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let own_uid = unsafe { libc::geteuid() };
    let refusal = match stream.peer_cred() {
        Ok(cred) if peer_allowed(cred.uid(), own_uid) => None,
        Ok(cred) => {
            warn!("control socket: refused a client with uid {}", cred.uid());
            Some(format!(
                "permission denied: uid {} may not control carp-agent (root only)",
                cred.uid()
            ))
        }
        Err(err) => Some(format!("cannot check credentials: {err}")),
    };
    let line = read_request(stream, limits).await?;
    if let Some(message) = refusal {
        return Ok(Answer::Line(encode_response(&Response::error(
            ErrorKind::PermissionDenied,
            message,
        ))));
    }
    let request = match line.and_then(|line| decode_request_bytes(&line)) {
        Ok(Request::Events) => return Ok(Answer::Events),
        Ok(request) => request,
        Err(err) => return Ok(Answer::Line(err.response_line())),
    };
    let (reply, response) = oneshot::channel();
    let response = if tx.send((request, reply)).await.is_err() {
        Response::error(ErrorKind::Unavailable, "carp-agent is shutting down")
    } else {
        response.await.unwrap_or_else(|_| {
            Response::error(ErrorKind::Unavailable, "carp-agent dropped the request")
        })
    };
    Ok(Answer::Line(encode_response(&response)))
}

/// Reads the request line within the limits. The inner `Err` is a bad
/// request to answer; the outer one an I/O error (the client went away).
async fn read_request(
    stream: &mut UnixStream,
    limits: Limits,
) -> std::io::Result<Result<Vec<u8>, RequestError>> {
    let bad = |why: String| Ok(Err(RequestError::Bad(why)));
    let mut line = Vec::new();
    let mut reader = BufReader::new(&mut *stream).take(limits.max_request);
    match tokio::time::timeout(limits.read_timeout, reader.read_until(b'\n', &mut line)).await {
        Err(_) => {
            return bad(format!(
                "no complete request line within {:?}",
                limits.read_timeout
            ));
        }
        Ok(result) => result?,
    };
    if !line.ends_with(b"\n") && line.len() as u64 >= limits.max_request {
        return bad(format!("longer than {} bytes", limits.max_request));
    }
    Ok(Ok(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        assert!(peer_allowed(0, 0));
        assert!(peer_allowed(0, 1000));
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(1000, 0));
        assert!(!peer_allowed(1001, 1000));
    }
}
