//! `cargo xtask demo`: the project's main job, shown in one command.
use crate::{cmd, setup};

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    cmd::cargo(&[
        "run",
        "--quiet",
        "--package",
        "carp-agent",
        "--",
        "simulate",
        "--nodes",
        "3",
    ])
}
