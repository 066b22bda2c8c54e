//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN; `flood` floods two
//! live agents in the lab with forged adverts once per XDP auth mode (both
//! need root); see BENCHMARKS.md for what each figure means.
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
        "flood" => {
            // The lab runs the release carp-agent and the flood sender from
            // the same target directory as the benchmark.
            cmd::cargo(&[
                "build",
                "--release",
                "--quiet",
                "--package",
                "carp-agent",
                "--package",
                "carp-tests",
                "--bins",
            ])?;
            cmd::cargo(&[
                "run",
                "--release",
                "--quiet",
                "--package",
                "carp-tests",
                "--bin",
                "flood_bench",
            ])
        }
        other => bail!("unknown benchmark `{other}`; available: xdp, flood"),
    }
}
