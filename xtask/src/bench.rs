//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN; `busy` counts a
//! busy backup's spurious takeovers at the fastest setting, against
//! keepalived (both need root); see BENCHMARKS.md for what each figure means.
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
        other => bail!("unknown benchmark `{other}`; available: xdp, busy"),
    }
}
