//! The invariants every chaos scenario is held to, and the sweep for
//! anything a scenario left behind once its lab is gone.
use std::{
    path::Path,
    time::{Duration, Instant},
};

use crate::lab::Lab;

/// Lines of the agent logs that record a change to or from MASTER.
pub fn master_changes(lab: &Lab) -> usize {
    (0..lab.hosts.len())
        .map(|i| {
            lab.log(i)
                .lines()
                .filter(|l| l.contains("-> MASTER") || l.contains("MASTER ->"))
                .count()
        })
        .sum()
}

/// The hosts whose agent says MASTER for vhid 1, and whether every agent
/// answered.
pub fn masters(lab: &Lab) -> (Vec<usize>, bool) {
    let mut masters = Vec::new();
    let mut all_answered = true;
    for i in 0..lab.hosts.len() {
        if lab.hosts[i].agent.is_none() {
            continue;
        }
        match lab.state(i, 1).as_deref() {
            Some("MASTER") => masters.push(i),
            Some(_) => {}
            None => all_answered = false,
        }
    }
    (masters, all_answered)
}

/// Waits up to `within` for the lab's resting state: host 0 (the most
/// preferred, with --preempt) MASTER and every other agent BACKUP. A
/// restarted agent needs its start-up and one of the master's adverts to
/// preempt, so "one MASTER" alone would be declared too early.
pub fn converge(lab: &Lab, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let states: Vec<Option<String>> = (0..lab.hosts.len()).map(|i| lab.state(i, 1)).collect();
        let resting = states
            .iter()
            .enumerate()
            .all(|(i, s)| s.as_deref() == Some(if i == 0 { "MASTER" } else { "BACKUP" }));
        if resting {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(format!(
                "no convergence within {within:?}: states {states:?} (want host 0 MASTER, the others BACKUP)"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Samples for `window`: exactly one MASTER each time, and no change of
/// mastership logged meanwhile. Returns every violation.
pub fn steady(lab: &Lab, window: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    let before = master_changes(lab);
    let start = Instant::now();
    while start.elapsed() < window {
        let (m, _) = masters(lab);
        if m.len() != 1 {
            problems.push(format!(
                "{} MASTERs ({m:?}) {:?} into the steady window",
                m.len(),
                start.elapsed()
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let changes = master_changes(lab) - before;
    if changes > 0 {
        problems.push(format!("{changes} mastership changes in steady state"));
    }
    problems
}

/// SIGTERM to every agent; each must exit cleanly and take its VIP and XDP
/// program with it.
pub fn shut_down(lab: &mut Lab, vip: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for i in 0..lab.hosts.len() {
        if lab.hosts[i].agent.is_none() {
            continue;
        }
        lab.signal(i, libc::SIGTERM);
        match lab.wait_exit(i, Duration::from_secs(10)) {
            Ok(status) if status.success() => {}
            Ok(status) => problems.push(format!("{}: exit {status}", lab.hosts[i].name)),
            Err(err) => problems.push(format!("{}: {}", lab.hosts[i].name, first_line(&err))),
        }
        if lab.host_has_addr(i, vip) {
            problems.push(format!("{} kept the VIP after exit", lab.hosts[i].name));
        }
        let xdp = lab.hosts[i]
            .ns
            .ip(&["link", "show", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("xdp"))
            .unwrap_or(false);
        if xdp {
            problems.push(format!("{} kept its XDP program", lab.hosts[i].name));
        }
        // The agent's pin directory in the host's bpffs (whose root holds
        // the kernel's own `maps.debug` and `progs.debug`).
        let pins = lab.dir.join(format!("{}-bpf/carp", lab.hosts[i].name));
        if std::fs::read_dir(&pins).is_ok_and(|mut d| d.next().is_some()) {
            problems.push(format!("pins left in {}", pins.display()));
        }
    }
    problems
}

fn first_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Copies the agents' logs to `dir` (for a failed scenario).
pub fn keep_logs(lab: &Lab, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..lab.hosts.len() {
        std::fs::write(dir.join(format!("{}.log", lab.hosts[i].name)), lab.log(i))?;
    }
    Ok(())
}

/// After the lab is dropped: no namespace with `prefix`, no process or
/// mount naming `lab_dir`, `lab_dir` itself gone, no cgroup left.
pub fn leftovers(prefix: &str, lab_dir: &Path, cgroups: &[std::path::PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    if let Ok(out) = crate::netns::sh("ip", &["netns", "list"]) {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with(prefix) {
                problems.push(format!("namespace left: {line}"));
            }
        }
    }
    let dir = lab_dir.to_string_lossy().into_owned();
    if lab_dir.exists() {
        problems.push(format!("{dir} left"));
    }
    if std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| m.contains(&dir)) {
        problems.push(format!("a mount under {dir} left"));
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&dir) {
                problems.push(format!(
                    "process {} left: {}",
                    entry.file_name().to_string_lossy(),
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
    }
    for cgroup in cgroups {
        if cgroup.exists() {
            problems.push(format!("cgroup {} left", cgroup.display()));
        }
    }
    problems
}
