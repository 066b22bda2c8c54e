//! Commands that print: a reader that leaves early (`| head`) is normal use.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::process::{Command, Stdio};

/// `carp-agent simulate ... | head`: without the reader, the rest of the
/// output is dropped quietly and the exit status is the command's own.
/// (`println!` panics there: "failed printing to stdout: Broken pipe".)
#[test]
fn simulate_into_a_closed_pipe_is_quiet() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carp-agent"))
        .args(["simulate", "--scenario", "random", "--nodes", "5"])
        .args(["--seed", "7", "--duration", "600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
