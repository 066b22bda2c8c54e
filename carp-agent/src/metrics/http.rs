//! The smallest HTTP/1.x server Prometheus needs: one `GET /metrics` per
//! connection, answered and closed. Hand-written rather than a web framework
//! because the whole protocol surface is a request line and headers that
//! are read and thrown away; every byte a client may make the agent hold is
//! bounded ([`Limits`]), and the agent's single event loop is never touched
//! by a client: the snapshot is asked for over a channel and encoded here.
use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc, oneshot},
    task::JoinHandle,
};
use tracing::{debug, warn};

use super::{Call, encode};

/// The only path served.
pub const METRICS_PATH: &str = "/metrics";

/// Bounds on what one client may cost the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request line and headers together, blank line included. Prometheus
    /// sends a few hundred bytes.
    pub max_head: usize,
    /// How long a client may take to send the request line and headers.
    pub read_timeout: Duration,
    /// How long the response may take to leave.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed at once, so slow clients
    /// cannot pile up file descriptors.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 8 * 1024,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            max_connections: 8,
        }
    }
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics listener on {addr}: {error}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub error: std::io::Error,
}

/// Binds `addr`; call before anything on the system changes, so a bad
/// address (in use, not local) stops the agent having changed nothing.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| BindError { addr, error })
}

/// Serves scrapes on `listener`, asking `tx` for each snapshot. The task
/// ends when the receiver of `tx` is dropped.
pub fn serve(listener: TcpListener, tx: mpsc::Sender<Call>, limits: Limits) -> JoinHandle<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                        Ok(slot) => {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                handle(stream, peer, &tx, limits).await;
                                drop(slot);
                            });
                        }
                        Err(_) => debug!("metrics: {peer}: {} connections already open, closed", limits.max_connections),
                    },
                    Err(err) => {
                        warn!("metrics listener: accept: {err}");
                        // Out of file descriptors, typically: do not spin.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    })
}

async fn handle(mut stream: TcpStream, peer: SocketAddr, tx: &mpsc::Sender<Call>, limits: Limits) {
    let response = match read_head(&mut stream, limits).await {
        Ok(head) => match route(&head) {
            Ok(()) => scrape(tx).await,
            Err(refusal) => refusal,
        },
        Err(HeadError::Closed) => return,
        Err(err) => {
            debug!("metrics: {peer}: {err}");
            err.response()
        }
    };
    let write = async {
        stream.write_all(&response.bytes()).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(limits.write_timeout, write).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => debug!("metrics: {peer}: writing the response: {err}"),
        Err(_) => debug!(
            "metrics: {peer}: response not sent within {:?}",
            limits.write_timeout
        ),
    }
}

/// Asks the daemon for a snapshot and encodes it.
async fn scrape(tx: &mpsc::Sender<Call>) -> Response {
    let (reply, snapshot) = oneshot::channel();
    if tx.send(reply).await.is_err() {
        return Response::text(503, "carp-agent is shutting down\n");
    }
    let Ok(snapshot) = snapshot.await else {
        return Response::text(503, "carp-agent dropped the request\n");
    };
    match encode::encode(&snapshot) {
        Ok(body) => Response {
            status: 200,
            content_type: encode::CONTENT_TYPE,
            body,
            allow: false,
        },
        Err(_) => Response::text(500, "encoding the metrics failed\n"),
    }
}

/// What the request line says; headers are read and ignored.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub target: String,
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("request line and headers longer than {0} bytes")]
    TooLarge(usize),
    #[error("no complete request head within {0:?}")]
    Timeout(Duration),
    #[error("bad request: {0}")]
    Bad(&'static str),
    #[error("connection closed before a request")]
    Closed,
}

impl HeadError {
    fn response(&self) -> Response {
        match self {
            HeadError::TooLarge(_) => Response::text(431, "request head too large\n"),
            HeadError::Timeout(_) => Response::text(408, "request not received in time\n"),
            HeadError::Bad(why) => Response::text(400, &format!("bad request: {why}\n")),
            HeadError::Closed => Response::text(400, "no request\n"),
        }
    }
}

/// Reads the request line and headers, up to the blank line, within
/// `limits.max_head` bytes and `limits.read_timeout` for the whole head
/// (a client sending one byte a second is cut off like a silent one).
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limits: Limits,
) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(1024.min(limits.max_head));
    let read = async {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = head_end(&buf) {
                buf.truncate(end);
                return Ok(());
            }
            if buf.len() >= limits.max_head {
                return Err(HeadError::TooLarge(limits.max_head));
            }
            let room = (limits.max_head - buf.len()).min(chunk.len());
            match stream.read(&mut chunk[..room]).await {
                Ok(0) if buf.is_empty() => return Err(HeadError::Closed),
                Ok(0) => return Err(HeadError::Bad("request head cut short")),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => return Err(HeadError::Closed),
            }
        }
    };
    match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(result) => result?,
        Err(_) => return Err(HeadError::Timeout(limits.read_timeout)),
    }
    parse_request_line(&buf)
}

/// Where the head ends: after the first blank line (`\r\n\r\n`, or bare
/// `\n\n` as RFC 9112 lets a server accept).
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `METHOD SP TARGET SP HTTP/1.x`, strictly.
pub fn parse_request_line(head: &[u8]) -> Result<Head, HeadError> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(HeadError::Bad("no request line"))?;
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let line =
        std::str::from_utf8(line).map_err(|_| HeadError::Bad("request line is not UTF-8"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Bad("request line is not METHOD TARGET VERSION"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Bad("only HTTP/1.x is spoken"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HeadError::Bad("bad method"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Bad("target is not a path"));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
    })
}

/// `Ok` for a scrape; the refusal otherwise.
fn route(head: &Head) -> Result<(), Response> {
    // A query string (`?name[]=...`) is accepted and ignored: everything
    // is always shown.
    let path = head.target.split('?').next().unwrap_or("");
    if path != METRICS_PATH {
        return Err(Response::text(404, "not found: only /metrics is served\n"));
    }
    if head.method != "GET" {
        let mut refusal = Response::text(405, "method not allowed: use GET\n");
        refusal.allow = true;
        return Err(refusal);
    }
    Ok(())
}

/// A response, always with `Connection: close`.
#[derive(Debug)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    /// Send `Allow: GET` (with 405).
    allow: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            allow: false,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            _ => "Service Unavailable",
        };
        let allow = if self.allow { "Allow: GET\r\n" } else { "" };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWrite;

    use super::*;

    async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) {
        stream.write_all(bytes).await.unwrap();
    }

    fn limits() -> Limits {
        Limits {
            max_head: 256,
            read_timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    #[test]
    fn request_lines() {
        let head = parse_request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            head,
            Head {
                method: "GET".into(),
                target: "/metrics".into()
            }
        );
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"get /metrics HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request_line(bad), Err(HeadError::Bad(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn routes() {
        let head = |method: &str, target: &str| Head {
            method: method.into(),
            target: target.into(),
        };
        assert!(route(&head("GET", "/metrics")).is_ok());
        assert!(route(&head("GET", "/metrics?name[]=x")).is_ok());
        assert_eq!(route(&head("GET", "/")).unwrap_err().status, 404);
        assert_eq!(route(&head("GET", "/metrics/")).unwrap_err().status, 404);
        let post = route(&head("POST", "/metrics")).unwrap_err();
        assert_eq!(post.status, 405);
        assert!(
            String::from_utf8(post.bytes())
                .unwrap()
                .contains("\r\nAllow: GET\r\n")
        );
    }

    #[tokio::test]
    async fn a_head_is_read_up_to_the_blank_line() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move { read_head(&mut server, limits()).await });
        send(&mut client, b"GET /metrics HTTP/1.0\r\n").await;
        send(&mut client, b"Accept: */*\r\n\r\n").await;
        assert_eq!(reader.await.unwrap().unwrap().target, "/metrics");
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused_without_reading_more() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let reader = tokio::spawn(async move { read_head(&mut server, limits()).await });
        let mut long = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
        long.resize(1000, b'a');
        send(&mut client, &long).await;
        assert_eq!(reader.await.unwrap(), Err(HeadError::TooLarge(256)));
        assert_eq!(HeadError::TooLarge(256).response().status, 431);
    }

    #[tokio::test]
    async fn a_slow_head_is_cut_off_whatever_it_trickles() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move { read_head(&mut server, limits()).await });
        // A byte every 50 ms keeps a per-read timeout happy forever; the
        // bound is on the whole head.
        let writer = tokio::spawn(async move {
            for byte in b"GET /metrics HTTP/1.1\r\nX: y\r\n" {
                if client.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        assert_eq!(
            reader.await.unwrap(),
            Err(HeadError::Timeout(Duration::from_millis(300)))
        );
        writer.abort();
        assert_eq!(HeadError::Timeout(Duration::ZERO).response().status, 408);
    }

    #[tokio::test]
    async fn a_silent_client_that_leaves_is_no_request() {
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert_eq!(
            read_head(&mut server, limits()).await,
            Err(HeadError::Closed)
        );
    }

    /// The whole server on loopback, with a stand-in for the daemon.
    #[tokio::test]
    async fn serves_metrics_404s_the_rest_and_refuses_slow_clients() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel::<Call>(4);
        let task = serve(listener, tx, limits());
        let daemon = tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let snapshot = crate::metrics::Snapshot {
                    demotion: 77,
                    ..Default::default()
                };
                let _ = reply.send(snapshot);
            }
        });
        let exchange = |request: &'static [u8]| async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(request).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        let ok = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains(&format!("Content-Type: {}\r\n", encode::CONTENT_TYPE)));
        assert!(ok.contains("\ncarp_demotion 77\n"), "{ok}");
        let missing = exchange(b"GET /secret HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let garbage = exchange(b"\x16\x03\x01 hello\r\n\r\n").await;
        assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
        // Sends half a request and waits: answered 408 after the timeout.
        let slow = exchange(b"GET /metrics HTTP/1.1\r\n").await;
        assert!(slow.starts_with("HTTP/1.1 408 "), "{slow}");
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(4096, b'a');
        let big: &'static [u8] = big.leak();
        let large = exchange(big).await;
        assert!(large.starts_with("HTTP/1.1 431 "), "{large}");
        task.abort();
        daemon.abort();
    }

    #[tokio::test]
    async fn bind_errors_name_the_address() {
        let taken = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("metrics listener on {addr}: ")),
            "{err}"
        );
    }
}
