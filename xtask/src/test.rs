//! `cargo xtask test`: every test the project has, on a machine set up by
//! `setup`; `cargo xtask lint`: formatting, clippy on every crate (the XDP
//! crate for its BPF target) and rustdoc, all with warnings denied.
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
    // rustfmt.toml settles import grouping with options rustfmt still calls
    // unstable: nightly's rustfmt applies them (stable's would ignore them).
    cmd::run(
        "rustup",
        &["run", "nightly", "cargo", "fmt", "--all", "--check"],
    )?;
    // Host crates, every target, with the workspace lints.
    cmd::cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])?;
    // carp-ebpf builds only for the BPF target, with nightly's build-std, as
    // the agent's build script builds it. Its own target directory, so this
    // never races the build script's.
    cmd::run(
        "rustup",
        &[
            "run",
            "nightly",
            "cargo",
            "clippy",
            "--package",
            "carp-ebpf",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--release",
            "--target-dir",
            "target/lint-bpf",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Broken intra-doc links and malformed doc comments are errors too.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    cmd::run_with_env(
        &cargo,
        &["doc", "--no-deps", "--quiet"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}
