//! `carp-agent simulate`: runs a simulated CARP segment and prints its election
//! timeline, the measured failover times and whether the invariants held.

use std::{fmt::Write as _, time::Duration};

use crate::{
    engine::{Flavor, State},
    sim::{
        Segment, oracle,
        scenario::{self, Report, ScenarioKind, ScenarioOptions},
    },
};

/// Arguments of `carp-agent simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Number of nodes on the segment.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=5))]
    pub nodes: u8,
    /// Number of vhids (with 2, vhid 2 prefers the nodes in reverse order).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub vhids: u8,
    /// Seed of every random choice (delays, boot times, random faults).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds (at least 24).
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// The story to simulate.
    #[arg(long, value_enum, default_value_t = Scenario::Failover)]
    pub scenario: Scenario,
}

/// Scenarios of `carp-agent simulate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The master crashes at 1/3 of the run and reboots at 2/3.
    Failover,
    /// The master is demoted by 240 at 1/3 and restored at 2/3.
    Demote,
    /// The master is cut off at 1/3 (split brain); the network heals at 2/3.
    Partition,
    /// The master shuts down gracefully (bow-out) at 1/3 and reboots at 2/3.
    Bowout,
    /// Random topology and faults, then the network heals.
    Random,
}

impl From<Scenario> for ScenarioKind {
    fn from(s: Scenario) -> Self {
        match s {
            Scenario::Failover => ScenarioKind::Failover,
            Scenario::Demote => ScenarioKind::Demote,
            Scenario::Partition => ScenarioKind::Partition,
            Scenario::Bowout => ScenarioKind::Bowout,
            Scenario::Random => ScenarioKind::Random,
        }
    }
}

/// Runs the subcommand; the returned value is the process exit status: 0 if
/// every invariant held, 1 otherwise.
pub fn run(args: &SimulateArgs) -> anyhow::Result<i32> {
    if !args.duration.is_finite() || args.duration <= 0.0 {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    let options = ScenarioOptions {
        kind: args.scenario.into(),
        nodes: usize::from(args.nodes),
        vhids: args.vhids,
        seed: args.seed,
        duration: Duration::from_secs_f64(args.duration),
    };
    let report = scenario::run(&options)?;
    super::print_stdout(&render(args, &report))?;
    Ok(if report.violations.is_empty() { 0 } else { 1 })
}

fn render(args: &SimulateArgs, report: &Report) -> String {
    let segment = &report.segment;
    let mut out = String::new();
    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let _ = writeln!(
        out,
        "CARP simulation: scenario {scenario}, {} nodes, seed {}, {} s simulated",
        args.nodes, args.seed, args.duration
    );
    let c = segment.conditions();
    let _ = writeln!(
        out,
        "segment: delay {:.1}-{:.1} ms, frames between two nodes stay in order\n",
        c.min_delay.as_secs_f64() * 1e3,
        c.max_delay.as_secs_f64() * 1e3,
    );
    render_nodes(segment, &mut out);
    let _ = writeln!(out, "\ntimeline:");
    for entry in segment.timeline() {
        let _ = writeln!(out, "{}", segment.render(entry));
    }
    let _ = writeln!(out, "\nsummary:");
    for m in &report.measurements {
        let took = match m.took {
            Some(t) => format!("{:.3} s", t.as_secs_f64()),
            None => "never".to_string(),
        };
        let verdict = if m.ok() { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {verdict} {}: {took} (bound {:.3} s)",
            m.label,
            m.bound.as_secs_f64()
        );
    }
    for vhid in oracle::vhids(segment) {
        let _ = writeln!(out, "  at the end, vhid {vhid}: {}", roles(segment, vhid));
    }
    let stats = segment.stats();
    let _ = writeln!(
        out,
        "  adverts: {} sent, {} copies delivered, {} dropped",
        stats.adverts_sent, stats.delivered, stats.dropped
    );
    if report.violations.is_empty() {
        let _ = writeln!(out, "  invariants: all held");
    } else {
        let _ = writeln!(out, "  invariants: {} VIOLATED", report.violations.len());
        for v in &report.violations {
            let _ = writeln!(out, "    {v}");
        }
    }
    out
}

fn render_nodes(segment: &Segment, out: &mut String) {
    for node in 0..segment.len() {
        let spec = segment.spec(node);
        let _ = write!(out, "  {:<6} {:<12}", spec.name, spec.address.to_string());
        for c in &spec.vhids {
            let flavor = match c.flavor {
                Flavor::FreeBsd => "FreeBSD",
                Flavor::OpenBsd => "OpenBSD",
            };
            let _ = write!(
                out,
                "  vhid {} advbase {} advskew {:<3} preempt {:<3} {flavor}",
                c.vhid,
                c.advbase,
                c.advskew,
                if c.preempt { "on" } else { "off" },
            );
        }
        let _ = writeln!(out);
    }
}

fn roles(segment: &Segment, vhid: u8) -> String {
    let with = |state: State| {
        (0..segment.len())
            .filter(|&n| segment.state(n, vhid) == Some(state))
            .map(|n| segment.name(n))
            .collect::<Vec<_>>()
    };
    let masters = with(State::Master);
    let backups = with(State::Backup);
    let down: Vec<String> = (0..segment.len())
        .filter(|&n| !segment.is_running(n))
        .map(|n| segment.name(n))
        .collect();
    let mut text = format!(
        "MASTER {}",
        if masters.is_empty() {
            "none".to_string()
        } else {
            masters.join(", ")
        }
    );
    if !backups.is_empty() {
        let _ = write!(text, "; BACKUP {}", backups.join(", "));
    }
    if !down.is_empty() {
        let _ = write!(text, "; down {}", down.join(", "));
    }
    text
}
