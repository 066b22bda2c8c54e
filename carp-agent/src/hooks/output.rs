//! A hook's stdout and stderr, logged line by line within bounds: a hook
//! that prints without end (`yes`), or one endless line, must neither fill
//! the log nor the agent's memory. At most [`MAX_LINE_BYTES`] of a line are
//! logged, and at most [`MAX_RUN_BYTES`] in [`MAX_RUN_LINES`] lines per run
//! (both streams together); the rest is read and dropped, so the hook never
//! blocks on a full pipe, and one line at the end of the run says how much
//! was dropped.
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tracing::{info, warn};

/// Longest part of one output line that is logged.
pub const MAX_LINE_BYTES: usize = 4096;
/// Bytes logged per run, over both streams (line endings not counted).
pub const MAX_RUN_BYTES: usize = 64 * 1024;
/// Lines logged per run, over both streams.
pub const MAX_RUN_LINES: usize = 1000;

/// How much of a run's output was logged and dropped, shared by its two
/// stream readers.
#[derive(Debug, Default)]
pub(super) struct Output {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    logged_bytes: usize,
    logged_lines: usize,
    dropped_bytes: u64,
    dropped_lines: u64,
    /// Lines logged without their tail.
    cut_lines: u64,
    /// What [`Output::report`] said; more dropped later (by a reader still
    /// draining a pipe a left-behind child holds) is reported at its end.
    reported: Option<u64>,
}

impl Output {
    /// Logs each line of `stream` (stderr as warnings) until it ends.
    pub(super) async fn log(
        self: Arc<Self>,
        mut stream: impl AsyncRead + Unpin,
        name: String,
        vhid: u8,
        is_stderr: bool,
    ) {
        let mut chunk = vec![0; 8192];
        let mut line = Vec::with_capacity(256);
        let mut cut = 0u64;
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for piece in chunk[..n].split_inclusive(|&b| b == b'\n') {
                let (text, ends) = match piece.split_last() {
                    Some((b'\n', text)) => (text, true),
                    _ => (piece, false),
                };
                let room = MAX_LINE_BYTES - line.len();
                let keep = room.min(text.len());
                line.extend_from_slice(&text[..keep]);
                cut += (text.len() - keep) as u64;
                if ends {
                    self.line(&line, cut, &name, vhid, is_stderr);
                    line.clear();
                    cut = 0;
                }
            }
        }
        if !line.is_empty() || cut > 0 {
            self.line(&line, cut, &name, vhid, is_stderr);
        }
        self.report_late(&name, vhid);
    }

    /// One line, of which `cut` bytes past [`MAX_LINE_BYTES`] were not kept.
    fn line(&self, line: &[u8], cut: u64, name: &str, vhid: u8, is_stderr: bool) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let fits =
                c.logged_lines < MAX_RUN_LINES && c.logged_bytes + line.len() <= MAX_RUN_BYTES;
            if !fits {
                c.dropped_bytes += line.len() as u64 + cut;
                c.dropped_lines += 1;
                return;
            }
            c.logged_lines += 1;
            c.logged_bytes += line.len();
            if cut > 0 {
                c.dropped_bytes += cut;
                c.cut_lines += 1;
            }
        }
        let text = String::from_utf8_lossy(line);
        let more = if cut > 0 { " [cut]" } else { "" };
        if is_stderr {
            warn!(vhid, "hook {name}: {text}{more}");
        } else {
            info!(vhid, "hook {name}: {text}{more}");
        }
    }

    /// At the end of a run: one line saying how much output was dropped,
    /// if any was.
    pub(super) fn report(&self, name: &str, vhid: u8) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.reported = Some(c.dropped_bytes);
        if c.dropped_bytes > 0 || c.dropped_lines > 0 {
            warn!(
                vhid,
                "hook {name}: {} bytes of output dropped ({} lines cut, {} lines not logged; \
                 at most {MAX_LINE_BYTES} bytes a line, {MAX_RUN_BYTES} bytes and \
                 {MAX_RUN_LINES} lines a run are logged)",
                c.dropped_bytes,
                c.cut_lines,
                c.dropped_lines
            );
        }
    }

    /// A reader that outlived the run's report (a child left behind kept
    /// the pipe open): what it dropped since, if anything.
    fn report_late(&self, name: &str, vhid: u8) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reported) = c.reported {
            if c.dropped_bytes > reported {
                warn!(
                    vhid,
                    "hook {name}: {} more bytes of output dropped after the hook exited",
                    c.dropped_bytes - reported
                );
                c.reported = Some(c.dropped_bytes);
            }
        }
    }
}
