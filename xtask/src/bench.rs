//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN (needs root); see
//! BENCHMARKS.md for what each figure means.
use anyhow::bail;

use crate::{cmd, setup};

pub fn run(what: &str, filter: Option<&str>) -> anyhow::Result<()> {
    setup::run()?;
    match what {
        "xdp" => {
            let mut args = vec![
                "run",
                "--release",
                "--quiet",
                "--package",
                "carp-tests",
                "--bin",
                "xdp_bench",
                "--",
                "xdp",
            ];
            args.extend(filter);
            cmd::cargo(&args)
        }
        other => bail!("unknown benchmark `{other}`; available: xdp"),
    }
}
