//! `cargo xtask chaos [--short] [FILTER]`: the chaos suite (docs/chaos.md),
//! faults injected into namespace labs with real agents; a table of
//! scenario, result, outage and transitions. Needs root.
use crate::{cmd, setup};

pub fn run(short: bool, filter: Option<&str>) -> anyhow::Result<()> {
    setup::run()?;
    let mut args = Vec::new();
    if short {
        args.push("--short");
    }
    args.extend(filter);
    cmd::run_lab_binary("carp_chaos", &args)
}
