//! `cargo xtask bench restart [--rounds N] [filter]`: what a client sees of
//! the VIP when the master's daemon crashes, is restarted, or reloads its
//! configuration, for ours, keepalived (VRRPv3) and ucarp, each at its
//! default one-second interval:
//! - ours: advbase 1, advskew 0 on the master and 100 on the backup (a
//!   second vhid beside vhid 1, for the reload that changes another vhid);
//! - keepalived: `version 3`, `advert_int 1`, priorities 200 and 100;
//! - ucarp: `-b 1`, `-k 0` and `-k 100`.
//!
//! Each round of each case builds a fresh lab (two hosts and a client,
//! `carp_tests::lab`), starts the master on host 0 and the backup on host 1,
//! and has the client ping the VIP every 10 ms (`Lab::probe`) from 1 s
//! before the event to well after it. Cases:
//! - crash: kill -9 of the master's daemon (every process of it), not
//!   restarted; the probe runs until 2 s after the backup reports MASTER.
//!   Then `arping -c 3` from the client counts ARP replies per request: two
//!   hosts answering for the VIP give more replies than requests;
//! - restart: kill -9, then the same daemon with the same configuration 1 s
//!   later (within the backup's master-down, 3 + 100/256 s); the probe runs
//!   until 5 s after the restart;
//! - reload: ours by SIGHUP with the file unchanged, and with vhid 2's
//!   advskew changed; keepalived by SIGHUP (its reload); ucarp has none;
//!   the probe runs until 5 s after the signal.
//!
//! Counted per run: probes lost (sent - replies, from ping's summary), the
//! longest gap between two replies, the backup's transitions to MASTER
//! (takeovers) and, for a reload, every transition on either host. Ratios
//! are against ours in the same case, from the same run.
use std::{
    fs,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use carp_tests::{
    keepalived::{Instance, Keepalived},
    lab::{Lab, PASSWORD, VIP},
    ucarp::Ucarp,
};

const MASTER: usize = 0;
const BACKUP: usize = 1;
const DEFAULT_ROUNDS: usize = 3;
/// Most rounds accepted: each round of every case takes about 15 s.
const MAX_ROUNDS: usize = 100;
/// Generous: the machine may be busy; a start takes about 3 s.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Probing before the event.
const BEFORE: Duration = Duration::from_secs(1);
/// Between the kill and the restart.
const RESTART_AFTER: Duration = Duration::from_secs(1);
/// Probing after a restart or a reload: past the backup's master-down
/// (3.39 s, keepalived's 3.61 s) counted from the kill, so a takeover, if
/// any, happens within the probe.
const AFTER: Duration = Duration::from_secs(5);
/// Probing after the backup reported MASTER in the crash case.
const AFTER_TAKEOVER: Duration = Duration::from_secs(2);
/// vhid 2's VIP on ours (the reload that changes another vhid).
const VIP2: &str = "10.77.0.102";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ours,
    Keepalived,
    Ucarp,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Keepalived => "keepalived VRRPv3",
            Kind::Ucarp => "ucarp",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Kind::Ours => "ro",
            Kind::Keepalived => "rk",
            Kind::Ucarp => "ru",
        }
    }

    /// A log line of a state change (any).
    fn is_transition(self, line: &str) -> bool {
        match self {
            // "vhid 1 on eth0: BACKUP -> MASTER (...)"
            Kind::Ours => line.contains(" on eth0: ") && line.contains(" -> "),
            Kind::Keepalived => line.contains("Entering ") && line.contains(" STATE"),
            Kind::Ucarp => line.contains("Switching to state: "),
        }
    }

    /// A log line of vhid 1's change to MASTER (ours runs vhid 2 as well).
    fn is_to_master(self, line: &str) -> bool {
        self.is_transition(line)
            && match self {
                Kind::Ours => line.contains("vhid 1 on eth0: ") && line.contains("-> MASTER"),
                Kind::Keepalived => line.contains("Entering MASTER STATE"),
                Kind::Ucarp => line.contains("Switching to state: MASTER"),
            }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Crash,
    Restart,
    /// SIGHUP, configuration unchanged.
    Reload,
    /// SIGHUP, another vhid's advskew changed (ours only).
    ReloadChanged,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Crash => "crash (kill -9)",
            Case::Restart => "kill -9 + restart 1 s",
            Case::Reload => "reload, unchanged",
            Case::ReloadChanged => "reload, vhid 2 changed",
        }
    }
}

/// What each implementation can be put through; `None`: it has no such
/// thing (printed as n/a).
fn cases(kind: Kind) -> Vec<(Case, Option<&'static str>)> {
    match kind {
        Kind::Ours => vec![
            (Case::Crash, None),
            (Case::Restart, None),
            (Case::Reload, None),
            (Case::ReloadChanged, None),
        ],
        Kind::Keepalived => vec![
            (Case::Crash, None),
            (Case::Restart, None),
            (Case::Reload, None),
            (
                Case::ReloadChanged,
                Some("n/a: one VRRP instance configured"),
            ),
        ],
        Kind::Ucarp => vec![
            (Case::Crash, None),
            (Case::Restart, None),
            (Case::Reload, Some("n/a: ucarp has no reload")),
            (Case::ReloadChanged, Some("n/a: ucarp has no reload")),
        ],
    }
}

/// Ours: one `[[vhid]]` on eth0 (advbase 1 by default).
fn ours_vhid(vhid: u8, advskew: u8, vip: &str) -> String {
    format!(
        "[[vhid]]\ninterface = \"eth0\"\nvhid = {vhid}\nadvskew = {advskew}\n\
         password = \"{PASSWORD}{vhid}\"\nvips = [\"{vip}/24\"]\n\n"
    )
}

/// Ours: vhid 1 (the probed VIP) and vhid 2, both at `advskew`, vhid 2 at
/// `advskew2` if given.
fn ours_config(advskew: u8, advskew2: Option<u8>) -> String {
    ours_vhid(1, advskew, VIP) + &ours_vhid(2, advskew2.unwrap_or(advskew), VIP2)
}

fn keepalived_instance<'a>(host: usize, vip: &'a str) -> Instance<'a> {
    let (state, priority) = if host == MASTER {
        ("MASTER", 200)
    } else {
        ("BACKUP", 100)
    };
    Instance {
        version: 3,
        vrid: 1,
        state,
        priority,
        advert_int: "1",
        vip,
        realtime: None,
    }
}

fn ucarp_advskew(host: usize) -> &'static str {
    if host == MASTER { "0" } else { "100" }
}

/// One implementation's two routers, running. Fields drop in order: the
/// daemons before the lab they run in.
struct Pair {
    kind: Kind,
    keepalived: [Option<Keepalived>; 2],
    ucarp: [Option<Ucarp>; 2],
    lab: Lab,
}

impl Pair {
    fn start(kind: Kind, round: usize) -> anyhow::Result<Self> {
        let lab = Lab::new(&format!("{}{round}", kind.tag()), 2)?;
        let mut pair = Self {
            kind,
            keepalived: [None, None],
            ucarp: [None, None],
            lab,
        };
        for (host, state) in [(MASTER, "MASTER"), (BACKUP, "BACKUP")] {
            pair.start_daemon(host)?;
            pair.wait_state(host, state)?;
        }
        // The client learns the VIP's MAC before the probe starts.
        pair.lab.client_pings(VIP)?;
        Ok(pair)
    }

    /// Starts the daemon of `host` with its configuration (again, after a
    /// kill: the same configuration).
    fn start_daemon(&mut self, host: usize) -> anyhow::Result<()> {
        match self.kind {
            Kind::Ours => {
                let advskew = if host == MASTER { 0 } else { 100 };
                self.lab
                    .start_agent_config(host, &ours_config(advskew, None))
            }
            Kind::Keepalived => {
                let vip = format!("{VIP}/24");
                self.keepalived[host] = Some(Keepalived::start(
                    &self.lab,
                    host,
                    &keepalived_instance(host, &vip),
                )?);
                Ok(())
            }
            Kind::Ucarp => {
                self.ucarp[host] = Some(Ucarp::start(
                    &self.lab,
                    host,
                    PASSWORD,
                    ucarp_advskew(host),
                )?);
                Ok(())
            }
        }
    }

    fn log(&self, host: usize) -> String {
        match self.kind {
            Kind::Ours => self.lab.log(host),
            Kind::Keepalived => self.keepalived[host]
                .as_ref()
                .map(Keepalived::log)
                .unwrap_or_default(),
            Kind::Ucarp => self.ucarp[host]
                .as_ref()
                .map(Ucarp::log)
                .unwrap_or_default(),
        }
    }

    /// The state `host`'s daemon reports for vhid 1 (keepalived: its last
    /// "Entering X STATE" line).
    fn state(&self, host: usize) -> Option<String> {
        match self.kind {
            Kind::Ours => self.lab.state(host, 1),
            Kind::Keepalived => self.log(host).lines().rev().find_map(|l| {
                let rest = l.split("Entering ").nth(1)?;
                Some(rest.split(" STATE").next()?.to_string())
            }),
            Kind::Ucarp => self.ucarp[host].as_ref().and_then(Ucarp::state),
        }
    }

    fn wait_state(&self, host: usize, state: &str) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while self.state(host).as_deref() != Some(state) {
            if start.elapsed() > START_TIMEOUT {
                bail!(
                    "{} on {}: not {state} within {START_TIMEOUT:?} (is {:?}); log:\n{}",
                    self.kind.name(),
                    self.lab.hosts[host].name,
                    self.state(host),
                    self.log(host)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(start.elapsed())
    }

    /// kill -9 of `host`'s daemon, every process of it.
    fn kill9(&mut self, host: usize) {
        match self.kind {
            Kind::Ours => self.lab.kill9(host),
            Kind::Keepalived => {
                if let Some(k) = self.keepalived[host].as_mut() {
                    k.kill9();
                }
            }
            // Its drop is SIGKILL.
            Kind::Ucarp => self.ucarp[host] = None,
        }
    }

    /// Lines of `host`'s log matching `f`. The backup's log is never
    /// rewritten; the master's is, by keepalived and ucarp on a restart.
    fn count(&self, host: usize, f: impl Fn(Kind, &str) -> bool) -> usize {
        self.log(host).lines().filter(|l| f(self.kind, l)).count()
    }
}

/// `arping -c 3` from the client to the VIP: (requests, replies), from its
/// summary ("3 packets transmitted, 6 packets received, ...").
fn arping(lab: &Lab) -> anyhow::Result<(usize, usize)> {
    let out = lab
        .client
        .command("arping")
        .args(["-c", "3", "-W", "0.2", "-w", "2", "-i", "eth0", VIP])
        .output()
        .context("running arping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains(" packets transmitted"))
        .with_context(|| format!("no summary from arping:\n{text}"))?;
    let number = |after: &str| -> Option<usize> {
        let (head, _) = summary.split_once(after)?;
        head.split_whitespace().next_back()?.parse().ok()
    };
    let requests = number(" packets transmitted").context("arping: requests")?;
    let replies = number(" packets received").context("arping: replies")?;
    Ok((requests, replies))
}

/// One run of one case.
struct Run {
    lost: usize,
    sent: usize,
    gap: Duration,
    /// The backup's transitions to MASTER after the event.
    takeovers: usize,
    /// Every transition on either host after the event (reloads only).
    transitions: usize,
    /// ARP (requests, replies) after the crash.
    arp: Option<(usize, usize)>,
    load: f64,
}

fn run_case(kind: Kind, case: Case, round: usize) -> anyhow::Result<Run> {
    let mut pair = Pair::start(kind, round)?;
    let to_master = |k: Kind, l: &str| k.is_to_master(l);
    let any = |k: Kind, l: &str| k.is_transition(l);
    let takeovers_before = pair.count(BACKUP, to_master);
    let transitions_before = [pair.count(MASTER, any), pair.count(BACKUP, any)];
    let probe = pair.lab.probe(VIP)?;
    std::thread::sleep(BEFORE);
    let mut arp = None;
    match case {
        Case::Crash => {
            pair.kill9(MASTER);
            pair.wait_state(BACKUP, "MASTER")?;
            std::thread::sleep(AFTER_TAKEOVER);
        }
        Case::Restart => {
            pair.kill9(MASTER);
            std::thread::sleep(RESTART_AFTER);
            pair.start_daemon(MASTER)?;
            std::thread::sleep(AFTER);
        }
        Case::Reload | Case::ReloadChanged => {
            if case == Case::ReloadChanged {
                // The file `start_agent_config` wrote, vhid 2's advskew changed.
                let path = pair
                    .lab
                    .dir
                    .join(format!("{}.toml", pair.lab.hosts[MASTER].name));
                fs::write(&path, ours_config(0, Some(50)))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            match kind {
                Kind::Ours => pair.lab.signal(MASTER, libc::SIGHUP),
                Kind::Keepalived => {
                    if let Some(k) = &pair.keepalived[MASTER] {
                        k.reload();
                    }
                }
                Kind::Ucarp => bail!("ucarp has no reload"),
            }
            std::thread::sleep(AFTER);
            if kind == Kind::Ours && !pair.lab.log(MASTER).contains("configuration reloaded") {
                bail!("ours: no reload in the log:\n{}", pair.lab.log(MASTER));
            }
        }
    }
    let result = probe.finish();
    if case == Case::Crash {
        arp = Some(arping(&pair.lab)?);
    }
    let sent = result.sent.context("no summary from ping")?;
    let takeovers = pair
        .count(BACKUP, to_master)
        .saturating_sub(takeovers_before);
    if kind == Kind::Ours && case == Case::Restart && takeovers > 0 {
        // Ours must carry on as MASTER: the logs say why it did not.
        eprintln!(
            "ours: the backup took over after the restart; master's log:\n{}\nbackup's log:\n{}",
            pair.log(MASTER),
            pair.log(BACKUP)
        );
    }
    let transitions = if matches!(case, Case::Reload | Case::ReloadChanged) {
        pair.count(MASTER, any)
            .saturating_sub(transitions_before[0])
            + pair
                .count(BACKUP, any)
                .saturating_sub(transitions_before[1])
    } else {
        0
    };
    Ok(Run {
        lost: sent.saturating_sub(result.replies),
        sent,
        gap: result.longest_gap,
        takeovers: pair
            .count(BACKUP, to_master)
            .saturating_sub(takeovers_before),
        transitions,
        arp,
        load: load_average(),
    })
}

/// The 1-minute load average (NaN if unreadable).
fn load_average() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One case of one implementation over all rounds, or why it was not run
/// (or failed: the error goes to stderr, the other cases run on).
struct Row {
    kind: Kind,
    case: Case,
    outcome: Result<Vec<Run>, String>,
}

impl Row {
    fn mean_lost(&self) -> Option<f64> {
        let runs = self.outcome.as_ref().ok()?;
        Some(runs.iter().map(|r| r.lost as f64).sum::<f64>() / runs.len() as f64)
    }

    fn mean_gap(&self) -> Option<f64> {
        let runs = self.outcome.as_ref().ok()?;
        Some(runs.iter().map(|r| r.gap.as_secs_f64()).sum::<f64>() / runs.len() as f64)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// "a/b/c", one figure per round.
fn per_round(runs: &[Run], f: impl Fn(&Run) -> String) -> String {
    runs.iter().map(f).collect::<Vec<_>>().join("/")
}

fn ratio(theirs: Option<f64>, ours: Option<f64>) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) if o > 0.0 => format!("{:.2}x", t / o),
        (Some(t), Some(_)) if t > 0.0 => "inf (ours 0)".into(),
        (Some(_), Some(_)) => "= (both 0)".into(),
        _ => "-".into(),
    }
}

fn print_results(rows: &[Row]) {
    println!(
        "\n{:<18} {:<23} {:>14} {:>10} {:>17} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "subject",
        "case",
        "lost probes",
        "sent",
        "longest gap ms",
        "takeover",
        "transit.",
        "ARP rep.",
        "lost x ours",
        "gap x ours"
    );
    for row in rows {
        let runs = match &row.outcome {
            Ok(runs) => runs,
            Err(why) => {
                println!("{:<18} {:<23} {why}", row.kind.name(), row.case.name());
                continue;
            }
        };
        let ours = rows
            .iter()
            .find(|r| r.kind == Kind::Ours && r.case == row.case);
        let arp = if row.case == Case::Crash {
            per_round(runs, |r| {
                r.arp
                    .map_or("-".into(), |(req, rep)| format!("{rep}:{req}"))
            })
        } else {
            "-".into()
        };
        let transitions = if matches!(row.case, Case::Reload | Case::ReloadChanged) {
            per_round(runs, |r| r.transitions.to_string())
        } else {
            "-".into()
        };
        println!(
            "{:<18} {:<23} {:>14} {:>10} {:>17} {:>9} {:>9} {:>9} {:>11} {:>11}",
            row.kind.name(),
            row.case.name(),
            per_round(runs, |r| r.lost.to_string()),
            per_round(runs, |r| r.sent.to_string()),
            per_round(runs, |r| ms(r.gap)),
            per_round(runs, |r| r.takeovers.to_string()),
            transitions,
            arp,
            ratio(row.mean_lost(), ours.and_then(Row::mean_lost)),
            ratio(row.mean_gap(), ours.and_then(Row::mean_gap)),
        );
    }
    let loads: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .flatten()
        .map(|r| r.load)
        .collect();
    if !loads.is_empty() {
        let min = loads.iter().copied().fold(f64::INFINITY, f64::min);
        let max = loads.iter().copied().fold(0.0, f64::max);
        println!("\n1-minute load average over the runs: {min:.1} to {max:.1}");
    }
    println!(
        "per round, separated by /; ARP rep. = replies:requests of `arping -c 3` after the \
         crash; ratios are the means over the rounds against ours in the same case"
    );
}

fn parse_args() -> anyhow::Result<(usize, String)> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "restart".into());
    if what != "restart" {
        bail!("unknown benchmark `{what}`; available: restart [--rounds N] [filter]");
    }
    let mut rounds = DEFAULT_ROUNDS;
    let mut filter = String::new();
    while let Some(arg) = args.next() {
        if arg == "--rounds" {
            let value = args.next().context("--rounds needs a number")?;
            rounds = value
                .parse()
                .ok()
                .filter(|r| (1..=MAX_ROUNDS).contains(r))
                .with_context(|| format!("--rounds {value:?}: give 1..={MAX_ROUNDS}"))?;
        } else {
            filter = arg;
        }
    }
    Ok((rounds, filter))
}

fn main() -> anyhow::Result<()> {
    let (rounds, filter) = parse_args()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the restart benchmark builds network namespaces: run it as root");
    }
    println!(
        "restart/crash/reload benchmark: {rounds} round(s) per case, a client pinging the VIP \
         every 10 ms; {} CPUs, load {:.1}",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    let mut rows = Vec::new();
    for kind in [Kind::Ours, Kind::Keepalived, Kind::Ucarp] {
        for (case, unsupported) in cases(kind) {
            let label = format!("{} {}", kind.name(), case.name());
            if !label.contains(filter.as_str()) {
                continue;
            }
            let outcome = match unsupported {
                Some(why) => Err(why.to_string()),
                None => (0..rounds)
                    .map(|round| {
                        eprintln!("{label}: round {}", round + 1);
                        run_case(kind, case, round).inspect_err(|e| eprintln!("{label}: {e:#}"))
                    })
                    .collect::<anyhow::Result<Vec<Run>>>()
                    .map_err(|e| {
                        let message = format!("{e:#}");
                        format!("failed: {}", message.lines().next().unwrap_or_default())
                    }),
            };
            rows.push(Row {
                kind,
                case,
                outcome,
            });
        }
    }
    if rows.is_empty() {
        bail!("no case matches {filter:?}");
    }
    print_results(&rows);
    Ok(())
}
