//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN; `busy` counts a
//! busy backup's spurious takeovers at the fastest setting, against
//! keepalived; `flood` floods two live agents in the lab with forged adverts
//! once per XDP auth mode; `restart` measures what a client sees of the VIP
//! when the master's daemon crashes, restarts or reloads, against keepalived
//! and ucarp (all need root); see BENCHMARKS.md for what each figure means.
use anyhow::bail;

use crate::{cmd, setup};

pub fn run(
    what: &str,
    filter: Option<&str>,
    seconds: Option<u64>,
    rounds: Option<usize>,
) -> anyhow::Result<()> {
    setup::run()?;
    if seconds.is_some() && what != "busy" {
        bail!("--seconds is for `bench busy`");
    }
    if rounds.is_some() && what != "restart" {
        bail!("--rounds is for `bench restart`");
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
            let seconds = seconds.map(|s| s.to_string());
            let mut args = vec!["busy"];
            if let Some(seconds) = &seconds {
                args.extend(["--seconds", seconds]);
            }
            args.extend(filter);
            lab_bench("busy_bench", &args)
        }
        "flood" => lab_bench("flood_bench", &[]),
        "restart" => {
            let rounds = rounds.map(|r| r.to_string());
            let mut args = vec!["restart"];
            if let Some(rounds) = &rounds {
                args.extend(["--rounds", rounds]);
            }
            args.extend(filter);
            lab_bench("restart_bench", &args)
        }
        other => bail!("unknown benchmark `{other}`; available: xdp, busy, flood, restart"),
    }
}

/// Builds the release binaries a lab benchmark runs beside itself (the
/// agent, the flood sender), then runs benchmark `bin` with `args`: the lab
/// finds them in the benchmark's own target directory.
fn lab_bench(bin: &str, args: &[&str]) -> anyhow::Result<()> {
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
    let mut run = vec![
        "run",
        "--release",
        "--quiet",
        "--package",
        "carp-tests",
        "--bin",
        bin,
        "--",
    ];
    run.extend(args);
    cmd::cargo(&run)
}
