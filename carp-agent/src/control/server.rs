//! The daemon's side of the control socket.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::{ControlError, MAX_MESSAGE, Request, Response};

/// A request and where its response goes.
pub type Call = (Request, oneshot::Sender<Response>);

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Listens on `path` (replacing a stale socket file) and forwards each
/// request to `tx`. The task ends, removing the socket file, when the
/// receiver of `tx` is dropped.
pub async fn serve(path: &Path, tx: mpsc::Sender<Call>) -> Result<JoinHandle<()>, ControlError> {
    let listener = bind(path).await?;
    let path = path.to_path_buf();
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(handle(stream, tx.clone()));
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

async fn handle(mut stream: UnixStream, tx: mpsc::Sender<Call>) {
    let response = match answer(&mut stream, &tx).await {
        Ok(response) => response,
        Err(err) => {
            debug!("control client: {err}");
            return;
        }
    };
    let mut line = serde_json::to_string(&response)
        .unwrap_or_else(|_| r#"{"ok":false,"error":"response not serializable"}"#.to_string());
    line.push('\n');
    if let Err(err) = stream.write_all(line.as_bytes()).await {
        debug!("control client: writing the response: {err}");
    }
    let _ = stream.shutdown().await;
}

/// Reads and forwards one request. `Err` means the client went away.
async fn answer(stream: &mut UnixStream, tx: &mpsc::Sender<Call>) -> std::io::Result<Response> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let own_uid = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(cred) if peer_allowed(cred.uid(), own_uid) => {}
        Ok(cred) => {
            warn!("control socket: refused a client with uid {}", cred.uid());
            return Ok(Response::error(format!(
                "permission denied: uid {} may not control carp-agent (root only)",
                cred.uid()
            )));
        }
        Err(err) => return Ok(Response::error(format!("cannot check credentials: {err}"))),
    }
    let mut line = String::new();
    let mut reader = BufReader::new(&mut *stream).take(MAX_MESSAGE);
    let read = tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await;
    match read {
        Err(_) => return Ok(Response::error("bad request: timed out waiting for it")),
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::InvalidData => {
            return Ok(Response::error("bad request: not UTF-8"));
        }
        Ok(result) => result?,
    };
    if !line.ends_with('\n') && line.len() as u64 >= MAX_MESSAGE {
        return Ok(Response::error(format!(
            "bad request: longer than {MAX_MESSAGE} bytes"
        )));
    }
    let request: Request = match serde_json::from_str(line.trim_end()) {
        Ok(request) => request,
        Err(err) => return Ok(Response::error(format!("bad request: {err}"))),
    };
    let (reply, response) = oneshot::channel();
    if tx.send((request, reply)).await.is_err() {
        return Ok(Response::error("carp-agent is shutting down"));
    }
    Ok(response
        .await
        .unwrap_or_else(|_| Response::error("carp-agent dropped the request")))
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
