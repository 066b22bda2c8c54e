//! Running external commands with their output visible and failures explained.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Runs `program args...` in the workspace root; an error says which command failed.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    run_with_env(program, args, &[])
}

/// [`run`] with extra environment variables for the child.
pub fn run_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs cargo (the one that runs xtask) in the workspace root.
pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(&cargo, args)
}

/// Runs a command quietly and returns its stdout if it succeeded.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the debug agent and the `carp-tests` binary `bin` (the lab runs
/// the agent from the same target directory), then runs `bin` with `args`.
pub fn run_lab_binary(bin: &str, args: &[&str]) -> anyhow::Result<()> {
    cargo(&[
        "build",
        "--quiet",
        "--package",
        "carp-agent",
        "--package",
        "carp-tests",
        "--bin",
        "carp-agent",
        "--bin",
        bin,
    ])?;
    let path = workspace_root().join("target/debug").join(bin);
    run(&path.to_string_lossy(), args)
}
