//! The chaos suite (`cargo xtask chaos [--short]`): a matrix of faults
//! injected into a two- or three-host lab while the client probes the VIP,
//! each scenario held to the same invariants (docs/chaos.md):
//!
//! 1. after the fault ends the agents converge on exactly one MASTER and
//!    keep exactly one through a steady window (sampled);
//! 2. the client's longest outage is at most master-down plus one interval
//!    of the least preferred backup (plus polling slack);
//! 3. no change of mastership in the steady window, nor at all in the
//!    scenarios marked calm (a fault that must not move the VIP);
//! 4. a clean shutdown afterwards, and nothing left behind: namespaces,
//!    processes, mounts, pins, cgroups, VIPs, XDP programs.
//!
//! Scenarios run one after the other (the machine has two cores); each
//! builds its own lab and tears it down.
pub mod check;
pub mod delay;
pub mod faults;
mod scenarios;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

pub use scenarios::all as scenarios;

use crate::{
    lab::{FAILOVER_BOUND, Lab, VIP, vhid1_args},
    netns::Netns,
    packet::{AdvertSeen, Capture},
};

/// Polling, process start-up and ping's own timing on a loaded machine.
pub const SLACK: Duration = Duration::from_millis(600);
/// The outage bound of invariant 2.
pub const OUTAGE_BOUND: Duration = FAILOVER_BOUND.saturating_add(SLACK);

/// How the lab is brought up before the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Every agent at once; the advskew-0 host (with preemption) wins.
    Normal,
    /// The advskew-100 host alone first, so it is MASTER while the attacker
    /// records its adverts (`Run::captured_backup`); then the others.
    BackupFirst,
}

pub struct Scenario {
    pub name: &'static str,
    /// Hosts in the lab: advskew 0 (with --preempt), 100; or 0, 50, 100.
    pub hosts: usize,
    /// Part of `--short`.
    pub short: bool,
    /// The fault must not move the VIP: any change of mastership fails it.
    pub calm: bool,
    pub setup: Setup,
    pub what: &'static str,
    pub fault: fn(&mut Run) -> anyhow::Result<()>,
}

/// A scenario's lab while its fault runs.
pub struct Run {
    pub lab: Lab,
    /// A namespace on the bridge with no address, for captures and forgeries.
    pub attacker: Netns,
    /// The advskew-100 host's adverts while it was MASTER (`Setup::BackupFirst`).
    pub captured_backup: Vec<Vec<u8>>,
    /// The full run (longer faults) rather than `--short`.
    pub long: bool,
    /// Violations found by the fault itself (e.g. a takeover that came late).
    pub problems: Vec<String>,
    /// Notes for the table (what was sent, how long a takeover took).
    pub notes: Vec<String>,
    /// cgroups the fault made, checked for removal afterwards.
    pub cgroups: Vec<PathBuf>,
    args: Vec<Vec<String>>,
}

impl Run {
    /// (Re)starts host `i`'s agent with its scenario flags.
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let args = self.args[i].clone();
        self.lab.start_agent(i, &args)
    }

    /// Waits for host `i` to be MASTER within `within`; a violation if not.
    pub fn expect_master(&mut self, i: usize, within: Duration, why: &str) {
        match self.lab.wait_state(i, 1, "MASTER", within) {
            Ok(took) => self.notes.push(format!(
                "{} MASTER {:.2}s {why}",
                self.lab.hosts[i].name,
                took.as_secs_f64()
            )),
            Err(_) => self.problems.push(format!(
                "{} not MASTER within {within:?} {why} (is {:?})",
                self.lab.hosts[i].name,
                self.lab.state(i, 1)
            )),
        }
    }

    /// The pid of host `i`'s agent.
    pub fn pid(&self, i: usize) -> anyhow::Result<u32> {
        self.lab.hosts[i]
            .agent
            .as_ref()
            .map(|a| a.process.0.id())
            .ok_or_else(|| anyhow::anyhow!("no agent on host {i}"))
    }

    /// The fault's duration: `short` in `--short`, `long` otherwise.
    pub fn pick(&self, short: Duration, long: Duration) -> Duration {
        if self.long { long } else { short }
    }
}

/// One line of the result table.
pub struct Row {
    pub name: &'static str,
    pub problems: Vec<String>,
    pub outage: Option<Duration>,
    pub transitions: Option<usize>,
    pub notes: Vec<String>,
    pub took: Duration,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

fn advskews(hosts: usize) -> &'static [&'static str] {
    if hosts == 3 {
        &["0", "50", "100"]
    } else {
        &["0", "100"]
    }
}

/// Runs one scenario from lab to sweep; never panics on a violation, it
/// records it.
pub fn run(scenario: &Scenario, index: usize, long: bool) -> Row {
    let started = Instant::now();
    let tag = format!("k{index:02}");
    let prefix = format!("carpt-{}-{tag}", std::process::id());
    let mut row = Row {
        name: scenario.name,
        problems: Vec::new(),
        outage: None,
        transitions: None,
        notes: Vec::new(),
        took: Duration::ZERO,
    };
    let (lab_dir, cgroups) = match prepare(scenario, &tag, long) {
        Ok(mut run) => {
            let dir = run.lab.dir.clone();
            exercise(scenario, &mut run, &mut row);
            row.problems.extend(check::shut_down(&mut run.lab, VIP));
            row.notes.append(&mut run.notes);
            if !row.problems.is_empty() {
                let dir = PathBuf::from("target/chaos").join(scenario.name);
                match check::keep_logs(&run.lab, &dir) {
                    Ok(()) => row.notes.push(format!("logs in {}", dir.display())),
                    Err(err) => row.notes.push(format!("keeping the logs: {err}")),
                }
            }
            let cgroups = std::mem::take(&mut run.cgroups);
            drop(run);
            (Some(dir), cgroups)
        }
        Err(err) => {
            row.problems.push(format!("setting up: {err:#}"));
            (None, Vec::new())
        }
    };
    let dir = lab_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("carp-lab-{}-{tag}", std::process::id()))
    });
    row.problems
        .extend(check::leftovers(&prefix, &dir, &cgroups));
    row.took = started.elapsed();
    row
}

fn prepare(scenario: &Scenario, tag: &str, long: bool) -> anyhow::Result<Run> {
    let lab = Lab::new(tag, scenario.hosts)?;
    let attacker = lab.attach_station(&format!("{tag}x"), "px")?;
    let args = advskews(scenario.hosts)
        .iter()
        .enumerate()
        .map(|(i, skew)| vhid1_args(skew, i == 0))
        .collect();
    let mut run = Run {
        lab,
        attacker,
        captured_backup: Vec::new(),
        long,
        problems: Vec::new(),
        notes: Vec::new(),
        cgroups: Vec::new(),
        args,
    };
    let last = scenario.hosts - 1;
    if scenario.setup == Setup::BackupFirst {
        let capture = Capture::start(&run.attacker, "eth0")?;
        run.start(last)?;
        run.lab
            .wait_state(last, 1, "MASTER", Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_millis(1500));
        let src = format!("10.77.0.{}", 11 + last);
        run.captured_backup = capture
            .finish()
            .into_iter()
            .filter(|f| {
                AdvertSeen::parse(&f.bytes).is_some_and(|a| {
                    a.vhid == 1 && std::net::Ipv4Addr::from(a.src).to_string() == src
                })
            })
            .map(|f| f.bytes)
            .collect();
        anyhow::ensure!(
            !run.captured_backup.is_empty(),
            "captured none of the backup's adverts"
        );
    }
    for i in 0..scenario.hosts {
        if run.lab.hosts[i].agent.is_none() {
            run.start(i)?;
        }
    }
    run.lab
        .wait_state(0, 1, "MASTER", Duration::from_secs(12))?;
    for i in 1..scenario.hosts {
        run.lab.wait_state(i, 1, "BACKUP", Duration::from_secs(4))?;
    }
    Ok(run)
}

fn exercise(scenario: &Scenario, run: &mut Run, row: &mut Row) {
    let probe = match run.lab.probe(VIP) {
        Ok(p) => p,
        Err(err) => {
            row.problems.push(format!("probe: {err:#}"));
            return;
        }
    };
    std::thread::sleep(Duration::from_secs(1));
    let changes_before = check::master_changes(&run.lab);
    if let Err(err) = (scenario.fault)(run) {
        row.problems.push(format!("fault: {err:#}"));
    }
    row.problems.append(&mut run.problems);
    match check::converge(&run.lab, Duration::from_secs(15)) {
        Ok(took) => {
            row.notes.push(format!(
                "converged {:.1}s after the fault",
                took.as_secs_f64()
            ));
            let window = run.pick(Duration::from_secs(3), Duration::from_secs(5));
            row.problems.extend(check::steady(&run.lab, window));
        }
        Err(problem) => row.problems.push(problem),
    }
    let result = probe.finish();
    row.outage = Some(result.longest_gap);
    if result.replies == 0 {
        row.problems.push("the client never reached the VIP".into());
    } else if result.longest_gap > OUTAGE_BOUND {
        row.problems.push(format!(
            "client outage {:.2}s > {:.2}s",
            result.longest_gap.as_secs_f64(),
            OUTAGE_BOUND.as_secs_f64()
        ));
    }
    let changes = check::master_changes(&run.lab) - changes_before;
    row.transitions = Some(changes);
    if scenario.calm && changes > 0 {
        row.problems.push(format!(
            "{changes} mastership changes under a fault that must not move the VIP"
        ));
    }
}

/// The result table, one line per scenario.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<22} {:<6} {:>8} {:>11} {:>6}  {}\n",
        "scenario", "result", "outage", "transitions", "time", "details"
    );
    for row in rows {
        let outage = row
            .outage
            .map_or("-".to_string(), |o| format!("{:.2}s", o.as_secs_f64()));
        let transitions = row.transitions.map_or("-".to_string(), |t| t.to_string());
        let details = if row.passed() {
            row.notes.join("; ")
        } else {
            row.problems
                .iter()
                .chain(&row.notes)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        };
        out.push_str(&format!(
            "{:<22} {:<6} {:>8} {:>11} {:>5.0}s  {}\n",
            row.name,
            if row.passed() { "ok" } else { "FAIL" },
            outage,
            transitions,
            row.took.as_secs_f64(),
            details
        ));
    }
    out
}
