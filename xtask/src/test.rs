//! `cargo xtask test`: every test the project has, on a machine set up by `setup`.
use crate::{cmd, setup};

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    // The lab runs carp-agent as a process: build the binary before the tests.
    cmd::cargo(&["build", "--quiet"])?;
    cmd::cargo(&["test", "--no-fail-fast"])?;
    let fuzz = cmd::workspace_root().join("carp-agent/fuzz/Cargo.toml");
    if fuzz.exists() {
        // The fuzz target must keep building even though fuzzing itself is manual.
        cmd::cargo(&[
            "check",
            "--quiet",
            "--manifest-path",
            &fuzz.to_string_lossy(),
        ])?;
    }
    Ok(())
}

pub fn lint() -> anyhow::Result<()> {
    setup::run()?;
    cmd::cargo(&["fmt", "--all", "--check"])?;
    // Default members only: carp-ebpf builds for the BPF target, not the host.
    cmd::cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])
}
