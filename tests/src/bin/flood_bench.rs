//! `cargo xtask bench flood`: a flood of adverts with a right checksum, the
//! configured vhid and a wrong HMAC, from random sources, at the highest
//! rate the lab's veth takes, against two live agents (MASTER and BACKUP)
//! in the lab, once per XDP auth mode (the `CARP_DEBUG_XDP_AUTH` knob):
//! `full` (HMAC, replay filter, new-source budget in XDP), `ratelimit`
//! (only the budget), `off` (everything to the agent, as before).
//!
//! Per mode: frames sent per second, each agent's CPU use (utime + stime
//! from /proc/PID/stat over the flood, % of one CPU), the XDP program's
//! mean cost per packet on the BACKUP's interface (the kernel's own run
//! time statistics, `kernel.bpf_stats_enabled`, on for the run and put back
//! after), the frames that reached the BACKUP's agent, and transitions.
//! Ratios are against `off` from the same run.
use std::time::Duration;

use anyhow::{Context as _, bail};
use carp_tests::{
    flood::{self, Sent},
    lab::{Lab, vhid1_args},
};

const SECONDS: &str = "8";
const COUNT: &str = "100000000";
const MASTER: usize = 0;
const BACKUP: usize = 1;
const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

struct Row {
    mode: &'static str,
    sent: Sent,
    cpu: [f64; 2],
    xdp_ns: Option<f64>,
    reached: u64,
    transitions: u64,
}

fn main() -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the flood benchmark builds network namespaces: run it as root");
    }
    let flood_bin = std::env::current_exe()?
        .parent()
        .context("no directory")?
        .join("carp_flood");
    let flood_bin = flood_bin.to_str().context("path not UTF-8")?.to_string();
    let previous = std::fs::read_to_string(BPF_STATS).unwrap_or_else(|_| "0".into());
    std::fs::write(BPF_STATS, "1").with_context(|| format!("enabling {BPF_STATS}"))?;
    let rows: anyhow::Result<Vec<Row>> = ["full", "ratelimit", "off"]
        .into_iter()
        .map(|mode| run_mode(mode, &flood_bin))
        .collect();
    let _ = std::fs::write(BPF_STATS, previous.trim());
    let rows = rows?;
    let off = rows
        .iter()
        .find(|r| r.mode == "off")
        .context("no off row")?;
    println!(
        "\nwrong-HMAC flood from random sources, {SECONDS} s per mode, agents in skb-mode XDP on veth\n"
    );
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>11} {:>10} {:>12} {:>11}",
        "mode",
        "frames/s",
        "backup CPU%",
        "master CPU%",
        "x off (bk)",
        "XDP ns/pkt",
        "to backup",
        "transitions"
    );
    for r in &rows {
        let ratio = if off.cpu[BACKUP] > 0.0 {
            format!("{:.3}", r.cpu[BACKUP] / off.cpu[BACKUP])
        } else {
            "-".into()
        };
        let ns = r.xdp_ns.map_or("-".into(), |ns| format!("{ns:.0}"));
        println!(
            "{:<10} {:>10.0} {:>12.1} {:>12.1} {:>11} {:>10} {:>12} {:>11}",
            r.mode,
            r.sent.per_second(),
            r.cpu[BACKUP],
            r.cpu[MASTER],
            ratio,
            ns,
            r.reached,
            r.transitions
        );
    }
    Ok(())
}

fn run_mode(mode: &'static str, flood_bin: &str) -> anyhow::Result<Row> {
    let tag = match mode {
        "full" => "bf",
        "ratelimit" => "br",
        _ => "bo",
    };
    let mut lab = Lab::new(tag, 2)?;
    let env = [("CARP_DEBUG_XDP_AUTH", mode)];
    lab.start_agent_with_env(MASTER, &vhid1_args("0", false), &env)?;
    lab.wait_state(MASTER, 1, "MASTER", Duration::from_secs(8))?;
    lab.start_agent_with_env(BACKUP, &vhid1_args("100", false), &env)?;
    lab.wait_state(BACKUP, 1, "BACKUP", Duration::from_secs(8))?;
    std::thread::sleep(Duration::from_secs(2));
    let attacker = lab.attach_station(&format!("{tag}a"), "pa")?;
    let pids = [
        lab.agent_pid(MASTER).context("master pid")?,
        lab.agent_pid(BACKUP).context("backup pid")?,
    ];
    let prog = xdp_prog_id(&lab, BACKUP)?;
    let transitions0 = lab.counter(MASTER, "transitions")? + lab.counter(BACKUP, "transitions")?;
    let reached0 = lab.counter(BACKUP, "accepted")? + lab.counter(BACKUP, "agent_badauth")?;
    let cpu0 = [flood::cpu_time(pids[0])?, flood::cpu_time(pids[1])?];
    let stats0 = prog_stats(prog)?;
    let sent = flood::run_in(
        &attacker,
        flood_bin,
        &["eth0", "wrong-hmac", "1", "random", COUNT, SECONDS],
    )?;
    let cpu1 = [flood::cpu_time(pids[0])?, flood::cpu_time(pids[1])?];
    let stats1 = prog_stats(prog)?;
    // The agent may still be working through what was queued.
    std::thread::sleep(Duration::from_secs(1));
    let transitions =
        lab.counter(MASTER, "transitions")? + lab.counter(BACKUP, "transitions")? - transitions0;
    let reached =
        lab.counter(BACKUP, "accepted")? + lab.counter(BACKUP, "agent_badauth")? - reached0;
    let secs = sent.elapsed.as_secs_f64();
    let cpu = [0, 1].map(|i| 100.0 * (cpu1[i] - cpu0[i]).as_secs_f64() / secs);
    let xdp_ns = match (stats0, stats1) {
        (Some((t0, n0)), Some((t1, n1))) if n1 > n0 => Some((t1 - t0) as f64 / (n1 - n0) as f64),
        _ => None,
    };
    println!(
        "{mode}: sent {} frames in {secs:.1} s; backup agent {:.1}% CPU",
        sent.frames, cpu[BACKUP]
    );
    Ok(Row {
        mode,
        sent,
        cpu,
        xdp_ns,
        reached,
        transitions,
    })
}

/// The id of the XDP program attached to host `i`'s eth0 (`ip -j link`).
fn xdp_prog_id(lab: &Lab, i: usize) -> anyhow::Result<u32> {
    let out = lab.hosts[i].ns.ip(&["-j", "-d", "link", "show", "eth0"])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    json[0]["xdp"]["prog"]["id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .with_context(|| format!("no XDP program id in {json}"))
}

/// (run time ns, run count) of program `id`, if the kernel keeps them.
fn prog_stats(id: u32) -> anyhow::Result<Option<(u64, u64)>> {
    for program in aya::programs::loaded_programs() {
        let program = program?;
        if program.id() == id {
            return Ok(Some((
                program.run_time().as_nanos() as u64,
                program.run_count(),
            )));
        }
    }
    Ok(None)
}
