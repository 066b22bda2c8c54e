//! The client side of the control socket, for the CLI subcommands.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

use super::{ControlError, MAX_MESSAGE, Request, Response};

/// Bound on the whole exchange; the daemon answers from its event loop.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one request to the agent at `path` and returns its response.
pub async fn request(path: &Path, req: &Request) -> Result<Response, ControlError> {
    let mut stream = UnixStream::connect(path)
        .await
        .map_err(|error| ControlError::Connect {
            path: path.to_path_buf(),
            error,
        })?;
    let exchange = async {
        let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        let mut answer = String::new();
        BufReader::new(&mut stream)
            .take(MAX_MESSAGE)
            .read_line(&mut answer)
            .await
            .map_err(|e| format!("reading the response: {e}"))?;
        if answer.is_empty() {
            return Err("closed the connection without answering".to_string());
        }
        serde_json::from_str::<Response>(answer.trim_end())
            .map_err(|e| format!("unreadable response: {e}"))
    };
    let result = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no response within {TIMEOUT:?}")));
    result.map_err(|reason| ControlError::Exchange {
        path: path.to_path_buf(),
        reason,
    })
}

/// [`request`] for synchronous callers (the CLI): runs it on a private
/// single-threaded runtime.
pub fn request_blocking(path: &Path, req: &Request) -> Result<Response, ControlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| ControlError::Connect {
            path: path.to_path_buf(),
            error,
        })?;
    runtime.block_on(request(path, req))
}
