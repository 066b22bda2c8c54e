//! `cargo xtask demo`: the project's main job, shown in one command: real
//! agents in network namespaces fail over while a client pings the VIP.
use crate::{cmd, setup};

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    cmd::run_lab_binary("carp_demo", &[])
}
