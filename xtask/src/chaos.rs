//! `cargo xtask chaos [--short] [FILTER]`: the chaos suite (docs/chaos.md),
//! faults injected into namespace labs with real agents; a table of
//! scenario, result, outage and transitions. Needs root.
use crate::{cmd, setup};

pub fn run(short: bool, filter: Option<&str>) -> anyhow::Result<()> {
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
        "carp_chaos",
    ])?;
    let chaos = cmd::workspace_root().join("target/debug/carp_chaos");
    let mut args = Vec::new();
    if short {
        args.push("--short");
    }
    args.extend(filter);
    cmd::run(&chaos.to_string_lossy(), &args)
}
