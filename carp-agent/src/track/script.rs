//! `script` sources (keepalived's `track_script`): a program run every
//! `interval_ms`; exit status 0 is a success, anything else (a non-zero
//! status, a signal, failing to start, running past `timeout_ms`) a
//! failure. [`RiseFall`] turns the results into the source's state; the
//! share is the weight while failing.
//!
//! A run past its timeout is killed with its whole process group (the
//! script runs in a group of its own, so what a shell started goes too).
//! Runs never overlap: the next starts `interval_ms` after the previous one
//! started, or at once if it took longer. Output is read and dropped, but
//! for the first [`MAX_KEPT_BYTES`] of each stream, logged (one line per
//! stream) when the source becomes failing; the pipes are drained, so a
//! chatty script never blocks.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncReadExt as _},
    sync::mpsc,
};
use tracing::{info, warn};

use super::{TrackSpec, Update, rise_fall::RiseFall};
use crate::hooks::HookProgram;

/// Output kept per stream and run, for the log line of a failing source.
pub const MAX_KEPT_BYTES: usize = 512;

/// How long the output readers may go on after the script exited (a
/// daemon it started may hold the pipes open for good).
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub ok: bool,
    /// What happened, for logs: "exit status 1", "killed after 1s", ...
    pub outcome: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` once, killing its process group after `timeout`.
pub async fn run_once(program: &HookProgram, timeout: Duration) -> RunResult {
    let failed = |outcome: String| RunResult {
        ok: false,
        outcome,
        stdout: String::new(),
        stderr: String::new(),
    };
    // The same program forms as hooks: argv run directly, or `sh -c`.
    let Some(mut command) = program.command() else {
        return failed("empty command".to_string());
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return failed(format!("cannot start: {err}")),
    };
    let stdout = child.stdout.take().map(|s| tokio::spawn(keep_head(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(keep_head(s)));
    let (ok, outcome) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (status.success(), status.to_string()),
        Ok(Err(err)) => (false, format!("waiting for it: {err}")),
        Err(_) => {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) with a negative pid signals the process
                // group the child leads; no memory is involved.
                unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            }
            let _ = child.kill().await;
            (false, format!("still running after {timeout:?}; killed"))
        }
    };
    let deadline = tokio::time::Instant::now() + OUTPUT_GRACE;
    let mut texts = [String::new(), String::new()];
    for (text, reader) in texts.iter_mut().zip([stdout, stderr]) {
        if let Some(reader) = reader {
            if let Ok(Ok(head)) = tokio::time::timeout_at(deadline, reader).await {
                *text = head;
            }
        }
    }
    let [stdout, stderr] = texts;
    RunResult {
        ok,
        outcome,
        stdout,
        stderr,
    }
}

/// The first [`MAX_KEPT_BYTES`] of `stream`, as one line; the rest is read
/// and dropped until the stream ends.
async fn keep_head(mut stream: impl AsyncRead + Unpin) -> String {
    let mut head = Vec::with_capacity(MAX_KEPT_BYTES);
    let mut chunk = [0u8; 4096];
    let mut dropped = false;
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_KEPT_BYTES - head.len();
                head.extend_from_slice(&chunk[..n.min(room)]);
                dropped |= n > room;
            }
        }
    }
    let mut text = String::from_utf8_lossy(&head)
        .trim_end()
        .replace(['\n', '\r'], " | ");
    if dropped {
        text.push_str(" [cut]");
    }
    text
}

/// Runs the script of `spec` for ever, sending the share on each change
/// of state (and once at the first result).
pub(super) async fn run(
    spec: TrackSpec,
    program: HookProgram,
    interval: Duration,
    timeout: Duration,
    mut state: RiseFall,
    updates: mpsc::Sender<Update>,
) {
    let name = program.name();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tick.tick().await;
        let result = run_once(&program, timeout).await;
        let changed = state.record(result.ok);
        if !changed && !first {
            continue;
        }
        first = false;
        let detail = if state.failing() {
            warn!(
                "track {}: {name} failing ({}); demotion +{}{}{}",
                spec.name,
                result.outcome,
                spec.weight,
                show("stdout", &result.stdout),
                show("stderr", &result.stderr),
            );
            format!("failing: {}", result.outcome)
        } else {
            if changed {
                info!("track {}: {name} passing again", spec.name);
            }
            "passing".to_string()
        };
        let share = if state.failing() { spec.weight } else { 0 };
        let update = Update {
            name: spec.name.clone(),
            share,
            detail,
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}

fn show(stream: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("; {stream}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_and_output() {
        let ok = run_once(
            &HookProgram::Shell("echo hi".into()),
            Duration::from_secs(5),
        )
        .await;
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.stdout, "hi");
        let bad = run_once(
            &HookProgram::Shell("echo oops >&2; exit 3".into()),
            Duration::from_secs(5),
        )
        .await;
        assert!(!bad.ok);
        assert_eq!(bad.outcome, "exit status: 3");
        assert_eq!(bad.stderr, "oops");
        let missing = run_once(
            &HookProgram::Argv(vec!["/nonexistent/check".into()]),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            !missing.ok && missing.outcome.starts_with("cannot start"),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn output_is_bounded() {
        let run = run_once(
            &HookProgram::Shell("head -c 100000 /dev/zero | tr '\\0' x".into()),
            Duration::from_secs(5),
        )
        .await;
        assert!(run.ok);
        assert_eq!(run.stdout.len(), MAX_KEPT_BYTES + " [cut]".len());
    }

    #[tokio::test]
    async fn a_hung_script_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // The shell starts a sleeping child in the background and waits.
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let start = std::time::Instant::now();
        let run = run_once(&HookProgram::Shell(script), Duration::from_millis(300)).await;
        assert!(!run.ok);
        assert!(run.outcome.contains("killed"), "{run:?}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "did not wait for sleep"
        );
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild got SIGKILL with the group; give the kernel a moment.
        let mut gone = false;
        for _ in 0..100 {
            // SAFETY: signal 0 only checks whether the process exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "));
            if !alive || zombie {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "the script's background child {pid} survived");
    }
}
