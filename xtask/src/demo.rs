//! `cargo xtask demo`: the project's main job, shown in one command: real
//! agents in network namespaces fail over while a client pings the VIP.
use crate::{cmd, setup};

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    cmd::cargo(&[
        "build",
        "--quiet",
        "--package",
        "carp-agent",
        "--package",
        "carp-tests",
        "--bin",
        "carp-agent",
        "--bin",
        "carp_demo",
    ])?;
    let demo = cmd::workspace_root().join("target/debug/carp_demo");
    cmd::run(&demo.to_string_lossy(), &[])
}
