//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN; `busy` counts a
//! busy backup's spurious takeovers at the fastest setting, against
//! keepalived; `flood` floods two live agents in the lab with forged adverts
//! once per XDP auth mode (all need root); see BENCHMARKS.md for what each
//! figure means.
use anyhow::bail;

use crate::{cmd, setup};

pub fn run(what: &str, filter: Option<&str>, seconds: Option<u64>) -> anyhow::Result<()> {
    setup::run()?;
    if seconds.is_some() && what != "busy" {
        bail!("--seconds is for `bench busy`");
    }
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
        "busy" => {
            // The lab runs the agent binary next to the benchmark's own.
            cmd::cargo(&[
                "build",
                "--release",
                "--quiet",
                "--package",
                "carp-agent",
                "--bin",
                "carp-agent",
            ])?;
            let seconds = seconds.map(|s| s.to_string());
            let mut args = vec![
                "run",
                "--release",
                "--quiet",
                "--package",
                "carp-tests",
                "--bin",
                "busy_bench",
                "--",
                "busy",
            ];
            if let Some(seconds) = &seconds {
                args.extend(["--seconds", seconds]);
            }
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
        other => bail!("unknown benchmark `{other}`; available: xdp, busy, flood"),
    }
}
