//! `cargo xtask bench <what> [filter]`: benchmarks, built with optimisations.
//! `xdp` times the XDP program through BPF_PROG_TEST_RUN; `busy` counts a
//! busy backup's spurious takeovers at the fastest setting, against
//! keepalived; `flood` floods two live agents in the lab with forged adverts
//! once per XDP auth mode; `restart` measures what a client sees of the VIP
//! when the master's daemon crashes, restarts or reloads, against keepalived
//! and ucarp; `scale` measures how CPU, advert lateness, start-up, memory
//! and the takeover of every VIP grow with the number of vhids, against
//! keepalived (all need root); see BENCHMARKS.md for what each figure means.
use anyhow::bail;

use crate::{cmd, setup};

/// The options some benchmarks take.
pub struct Options {
    pub seconds: Option<u64>,
    pub sizes: Option<String>,
    pub quick: bool,
    pub rounds: Option<usize>,
}

pub fn run(what: &str, filter: Option<&str>, options: Options) -> anyhow::Result<()> {
    let Options {
        seconds,
        sizes,
        quick,
        rounds,
    } = options;
    setup::run()?;
    if seconds.is_some() && what != "busy" && what != "scale" {
        bail!("--seconds is for `bench busy` and `bench scale`");
    }
    if (sizes.is_some() || quick) && what != "scale" {
        bail!("--sizes and --quick are for `bench scale`");
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
        "scale" => {
            let seconds = seconds.map(|s| s.to_string());
            let mut args = vec!["scale"];
            if let Some(seconds) = &seconds {
                args.extend(["--seconds", seconds]);
            }
            if let Some(sizes) = &sizes {
                args.extend(["--sizes", sizes]);
            }
            if quick {
                args.push("--quick");
            }
            args.extend(filter);
            lab_bench("scale_bench", &args)
        }
        other => bail!("unknown benchmark `{other}`; available: xdp, busy, flood, restart, scale"),
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
