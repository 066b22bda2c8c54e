//! `cargo xtask bench busy [--seconds N] [filter]`: does a backup at the
//! fastest setting stay BACKUP when its host is busy, and does the master
//! keep its advert schedule? keepalived (VRRPv3) at its own fastest setting
//! runs in the same benchmark as the baseline.
//!
//! For each subject, a lab of two hosts and a client (`carp_tests::lab`):
//! - ours: `--flavor openbsd --advbase 0`, master advskew 0, backup advskew
//!   1: adverts every 1/256 s (3.9 ms), the backup's master-down 3/256 s
//!   (11.7 ms); once more with `--realtime` on both;
//! - keepalived: `version 3`, `advert_int 0.01` (its minimum: VRRPv3 counts
//!   centiseconds), priorities 200 and 100: adverts every 10 ms, the
//!   backup's master-down 3 * 10 + (256 - 100) * 10 / 256 = 36.1 ms; once
//!   more with keepalived's own real-time settings (`vrrp_rt_priority 10`,
//!   `vrrp_no_swap`), the baseline for ours with `--realtime`.
//!
//! Each runs N seconds idle, then N seconds with `stress-ng --cpu 2` (one
//! CPU hog per core of these 2-core machines) started in the backup's
//! namespace. Counted per phase:
//! - takeovers: the backup's transitions to MASTER, from its log (ours:
//!   "-> MASTER"; keepalived: "Entering MASTER STATE"); the master never
//!   failed, so every one is spurious. "master lost" counts the master's
//!   transitions away from MASTER;
//! - backup adverts: adverts from the backup's address on the wire (a
//!   backup that took over advertises);
//! - the master's advert interval on the wire: tcpdump on the client's
//!   eth0, kernel receive timestamps; mean, p50, p99, max, the mean's error
//!   against the configured interval, and gaps longer than the backup's
//!   master-down (a backup taking over after one of these is right to).
use std::{
    net::Ipv4Addr,
    process::Stdio,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context as _, bail};
use carp_tests::{
    capture::{Capture, Seen},
    keepalived::{Instance, Keepalived},
    lab::{Lab, PASSWORD, VIP},
    netns::Background,
};

const MASTER: usize = 0;
const BACKUP: usize = 1;
/// The lab's first two hosts.
const MASTER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
const BACKUP_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 12);
const DEFAULT_SECONDS: u64 = 30;
/// Longest phase accepted: the capture must stay readable.
const MAX_SECONDS: u64 = 3600;
/// Between both routers settling and the first phase.
const SETTLE: Duration = Duration::from_secs(1);
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours { realtime: bool },
    Keepalived { realtime: bool },
}

impl Kind {
    fn realtime(self) -> bool {
        match self {
            Kind::Ours { realtime } | Kind::Keepalived { realtime } => realtime,
        }
    }

    fn is_keepalived(self) -> bool {
        matches!(self, Kind::Keepalived { .. })
    }
}

struct Subject {
    name: &'static str,
    /// Namespace tag: short, unique per subject.
    tag: &'static str,
    kind: Kind,
    /// The master's process on CPU 0, the backup's and the hogs on CPU 1:
    /// only the backup is busy. Unpinned, the hogs starve the master too,
    /// and a backup that takes over after the master's own late adverts is
    /// right to.
    pinned: bool,
}

const SUBJECTS: [Subject; 8] = [
    Subject {
        name: "ours",
        tag: "bo",
        kind: Kind::Ours { realtime: false },
        pinned: false,
    },
    Subject {
        name: "ours --realtime",
        tag: "br",
        kind: Kind::Ours { realtime: true },
        pinned: false,
    },
    Subject {
        name: "keepalived VRRPv3",
        tag: "bk",
        kind: Kind::Keepalived { realtime: false },
        pinned: false,
    },
    Subject {
        name: "keepalived rt",
        tag: "bkr",
        kind: Kind::Keepalived { realtime: true },
        pinned: false,
    },
    Subject {
        name: "ours pinned",
        tag: "bop",
        kind: Kind::Ours { realtime: false },
        pinned: true,
    },
    Subject {
        name: "ours --realtime pinned",
        tag: "brp",
        kind: Kind::Ours { realtime: true },
        pinned: true,
    },
    Subject {
        name: "keepalived VRRPv3 pinned",
        tag: "bkp",
        kind: Kind::Keepalived { realtime: false },
        pinned: true,
    },
    Subject {
        name: "keepalived rt pinned",
        tag: "bkrp",
        kind: Kind::Keepalived { realtime: true },
        pinned: true,
    },
];

/// The real-time priority of the `--realtime` subjects (ours: fixed).
const RT_PRIORITY: u8 = 10;
/// keepalived's VRRPv3 settings (its fastest).
const VRRP_ADVERT_CS: u32 = 1;
const VRRP_MASTER_PRIORITY: u8 = 200;
const VRRP_BACKUP_PRIORITY: u8 = 100;

impl Kind {
    /// The master's configured advert interval.
    fn interval(self) -> Duration {
        match self {
            // advbase 0, advskew 0: one tick of 1/256 s (the minimum).
            Kind::Ours { .. } => Duration::from_nanos(1_000_000_000 / 256),
            Kind::Keepalived { .. } => Duration::from_millis(10 * u64::from(VRRP_ADVERT_CS)),
        }
    }

    /// How long the backup waits for the master's next advert.
    fn master_down(self) -> Duration {
        match self {
            // OpenBSD flavour: 3 * (advbase + advskew/256) with advskew 1.
            Kind::Ours { .. } => Duration::from_secs_f64(3.0 / 256.0),
            // RFC 5798: 3 * interval + (256 - priority) * interval / 256.
            Kind::Keepalived { .. } => {
                let interval = self.interval().as_secs_f64();
                let skew = f64::from(256 - u32::from(VRRP_BACKUP_PRIORITY)) / 256.0;
                Duration::from_secs_f64(3.0 * interval + skew * interval)
            }
        }
    }

    /// A log line of a router that became MASTER.
    fn became_master(self) -> &'static str {
        match self {
            Kind::Ours { .. } => "-> MASTER",
            Kind::Keepalived { .. } => "Entering MASTER STATE",
        }
    }

    /// A log line of a router that stopped being MASTER.
    fn left_master(self) -> &'static str {
        match self {
            Kind::Ours { .. } => "MASTER ->",
            Kind::Keepalived { .. } => "Entering BACKUP STATE",
        }
    }
}

/// A subject's two routers, running.
struct Routers {
    kind: Kind,
    // Dropped before the lab: keepalived runs in its namespaces.
    keepalived: Vec<Keepalived>,
    lab: Lab,
}

impl Routers {
    fn start(subject: &Subject) -> anyhow::Result<Self> {
        let lab = Lab::new(subject.tag, 2)?;
        let mut routers = Self {
            kind: subject.kind,
            keepalived: Vec::new(),
            lab,
        };
        match subject.kind {
            Kind::Ours { realtime } => {
                for (host, advskew, state) in [(MASTER, "0", "MASTER"), (BACKUP, "1", "BACKUP")] {
                    routers
                        .lab
                        .start_agent(host, &ours_args(advskew, realtime))?;
                    routers.lab.wait_state(host, 1, state, START_TIMEOUT)?;
                }
            }
            Kind::Keepalived { realtime } => {
                let advert_int = format!("0.{VRRP_ADVERT_CS:02}");
                for (host, priority, state) in [
                    (MASTER, VRRP_MASTER_PRIORITY, "MASTER"),
                    (BACKUP, VRRP_BACKUP_PRIORITY, "BACKUP"),
                ] {
                    let vip = format!("{VIP}/24");
                    let instance = Instance {
                        version: 3,
                        vrid: 1,
                        state,
                        priority,
                        advert_int: &advert_int,
                        vip: &vip,
                        realtime: realtime.then_some(RT_PRIORITY),
                    };
                    routers
                        .keepalived
                        .push(Keepalived::start(&routers.lab, host, &instance)?);
                    routers.wait_log(host, &format!("Entering {state} STATE"))?;
                }
            }
        }
        std::thread::sleep(SETTLE);
        Ok(routers)
    }

    fn log(&self, host: usize) -> String {
        match self.kind {
            Kind::Ours { .. } => self.lab.log(host),
            Kind::Keepalived { .. } => self
                .keepalived
                .get(host)
                .map(Keepalived::log)
                .unwrap_or_default(),
        }
    }

    /// The process that sends and receives adverts on `host`.
    fn pid(&self, host: usize) -> Option<i32> {
        match self.kind {
            Kind::Ours { .. } => self.lab.agent_pid(host).map(|pid| pid as i32),
            Kind::Keepalived { .. } => self.keepalived.get(host).and_then(Keepalived::vrrp_pid),
        }
    }

    fn wait_log(&self, host: usize, line: &str) -> anyhow::Result<()> {
        let start = Instant::now();
        while !self.log(host).contains(line) {
            if start.elapsed() > START_TIMEOUT {
                bail!(
                    "{}: no {line:?} within {START_TIMEOUT:?}; log:\n{}",
                    self.lab.hosts[host].name,
                    self.log(host)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The time and both routers' transition counts so far.
    fn mark(&self) -> Mark {
        let count = |host, line| self.log(host).lines().filter(|l| l.contains(line)).count();
        Mark {
            at: SystemTime::now(),
            takeovers: count(BACKUP, self.kind.became_master()),
            master_lost: count(MASTER, self.kind.left_master()),
            load: load_average(),
        }
    }
}

fn ours_args(advskew: &str, realtime: bool) -> Vec<String> {
    let vip = format!("{VIP}/24");
    let mut args: Vec<String> = [
        "--vhid",
        "1",
        "--password",
        PASSWORD,
        "--vip",
        &vip,
        "--flavor",
        "openbsd",
        "--advbase",
        "0",
        "--advskew",
        advskew,
    ]
    .map(String::from)
    .to_vec();
    if realtime {
        args.push("--realtime".into());
    }
    args
}

#[derive(Clone, Copy)]
struct Mark {
    at: SystemTime,
    takeovers: usize,
    master_lost: usize,
    /// The machine's 1-minute load average: what else ran.
    load: f64,
}

/// The 1-minute load average (NaN if unreadable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

const MASTER_CPU: usize = 0;
const BACKUP_CPU: usize = 1;

/// Moves every thread of `pid` to `cpu` (`taskset -a -p -c`).
fn pin(pid: i32, cpu: usize) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running taskset")?;
    anyhow::ensure!(status.success(), "taskset -a -p -c {cpu} {pid}: {status}");
    Ok(())
}

/// `stress-ng --cpu 2` in a namespace; stopped (SIGTERM, so it stops its
/// workers too) and reaped on drop.
struct Hogs(Option<Background>);

impl Hogs {
    fn start(lab: &Lab, host: usize, seconds: u64, cpu: Option<usize>) -> anyhow::Result<Self> {
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut cmd = lab.hosts[host].ns.command("taskset");
                cmd.args(["-c", &cpu.to_string(), "stress-ng"]);
                cmd
            }
            None => lab.hosts[host].ns.command("stress-ng"),
        };
        cmd.args(["--cpu", "2", "--quiet", "--timeout"])
            .arg(format!("{seconds}s"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .context("starting stress-ng (cargo xtask setup installs it)")?;
        Ok(Self(Some(Background(child))))
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        let Some(mut process) = self.0.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(process.0.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if process.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(process); // SIGKILL
    }
}

/// One phase of one subject.
struct PhaseResult {
    phase: &'static str,
    /// The 1-minute load average at the phase's end.
    load: f64,
    takeovers: usize,
    master_lost: usize,
    backup_adverts: usize,
    intervals: Option<Intervals>,
}

/// The master's advert intervals on the wire.
struct Intervals {
    count: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Longer than the backup's master-down.
    over_down: usize,
}

impl Intervals {
    fn of(gaps: &mut [Duration], master_down: Duration) -> Option<Self> {
        if gaps.is_empty() {
            return None;
        }
        gaps.sort_unstable();
        let count = gaps.len();
        let pick = |q: f64| gaps[((count - 1) as f64 * q).round() as usize];
        Some(Self {
            count,
            mean: gaps.iter().sum::<Duration>() / count as u32,
            p50: pick(0.50),
            p99: pick(0.99),
            max: gaps[count - 1],
            over_down: gaps.iter().filter(|&&g| g > master_down).count(),
        })
    }

    /// The mean's error against `configured`, in percent.
    fn error_percent(&self, configured: Duration) -> f64 {
        (self.mean.as_secs_f64() / configured.as_secs_f64() - 1.0) * 100.0
    }
}

fn phase_result(
    phase: &'static str,
    from: Mark,
    to: Mark,
    seen: &[Seen],
    kind: Kind,
) -> PhaseResult {
    let within = |s: &&Seen| s.at >= from.at && s.at < to.at;
    let master: Vec<SystemTime> = seen
        .iter()
        .filter(within)
        .filter(|s| s.source == MASTER_ADDR)
        .map(|s| s.at)
        .collect();
    let mut gaps: Vec<Duration> = master
        .windows(2)
        .filter_map(|w| w[1].duration_since(w[0]).ok())
        .collect();
    PhaseResult {
        phase,
        load: to.load,
        takeovers: to.takeovers.saturating_sub(from.takeovers),
        master_lost: to.master_lost.saturating_sub(from.master_lost),
        backup_adverts: seen
            .iter()
            .filter(within)
            .filter(|s| s.source == BACKUP_ADDR)
            .count(),
        intervals: Intervals::of(&mut gaps, kind.master_down()),
    }
}

struct SubjectResult {
    name: &'static str,
    kind: Kind,
    /// The backup's scheduling policy while it ran.
    policy: String,
    phases: Vec<PhaseResult>,
}

fn run_subject(subject: &Subject, seconds: u64) -> anyhow::Result<SubjectResult> {
    let phase = Duration::from_secs(seconds);
    eprintln!("{}: starting", subject.name);
    let routers = Routers::start(subject)?;
    if subject.pinned {
        for (host, cpu) in [(MASTER, MASTER_CPU), (BACKUP, BACKUP_CPU)] {
            let pid = routers
                .pid(host)
                .with_context(|| format!("{}: no pid to pin", subject.name))?;
            pin(pid, cpu)?;
        }
    }
    let capture = Capture::start(&routers.lab.client, routers.lab.dir.join("adverts.pcap"))?;
    let policy = routers
        .pid(BACKUP)
        .map_or_else(|| "?".to_string(), scheduling_policy);
    eprintln!("{}: idle for {seconds} s", subject.name);
    let idle = routers.mark();
    std::thread::sleep(phase);
    eprintln!("{}: stress-ng --cpu 2 for {seconds} s", subject.name);
    let busy = routers.mark();
    let hogs = Hogs::start(
        &routers.lab,
        BACKUP,
        seconds,
        subject.pinned.then_some(BACKUP_CPU),
    )?;
    std::thread::sleep(phase);
    let end = routers.mark();
    drop(hogs);
    let seen = capture.finish()?;
    Ok(SubjectResult {
        name: subject.name,
        kind: subject.kind,
        policy,
        phases: vec![
            phase_result("idle", idle, busy, &seen, subject.kind),
            phase_result("busy", busy, end, &seen, subject.kind),
        ],
    })
}

/// The scheduling policy and real-time priority of `pid`, from
/// /proc/PID/stat (fields 40 and 41, counted from 1).
fn scheduling_policy(pid: i32) -> String {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return "?".to_string();
    };
    // Fields after the command name, which may contain spaces: field 3 on.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return "?".to_string();
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or("?");
    match field(41) {
        "0" => "SCHED_OTHER".to_string(),
        "1" => format!("SCHED_FIFO {}", field(40)),
        "2" => format!("SCHED_RR {}", field(40)),
        "3" => "SCHED_BATCH".to_string(),
        "5" => "SCHED_IDLE".to_string(),
        other => format!("policy {other}"),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn print_results(results: &[SubjectResult]) {
    println!(
        "\n{:<18} {:<14} {:<5} {:>5} {:>9} {:>7} {:>7} {:>7} {:>7} {:>16} {:>7} {:>7} {:>7} {:>6}",
        "subject",
        "backup policy",
        "phase",
        "load",
        "takeovers",
        "m.lost",
        "b.advs",
        "advs",
        "cfg ms",
        "mean",
        "p50",
        "p99",
        "max",
        ">down"
    );
    for r in results {
        for p in &r.phases {
            let configured = r.kind.interval();
            let (count, mean, p50, p99, max, over) = match &p.intervals {
                Some(i) => (
                    i.count.to_string(),
                    format!("{} ({:+.1}%)", ms(i.mean), i.error_percent(configured)),
                    ms(i.p50),
                    ms(i.p99),
                    ms(i.max),
                    i.over_down.to_string(),
                ),
                None => Default::default(),
            };
            println!(
                "{:<18} {:<14} {:<5} {:>5.1} {:>9} {:>7} {:>7} {:>7} {:>7} {:>16} {:>7} {:>7} {:>7} {:>6}",
                r.name,
                r.policy,
                p.phase,
                p.load,
                p.takeovers,
                p.master_lost,
                p.backup_adverts,
                count,
                ms(configured),
                mean,
                p50,
                p99,
                max,
                over
            );
        }
    }
    print_ratios(results);
}

/// Each of ours against keepalived, phase by phase.
fn print_ratios(results: &[SubjectResult]) {
    let Some(plain) = results
        .iter()
        .find(|r| r.kind == Kind::Keepalived { realtime: false })
    else {
        return;
    };
    println!(
        "\nours / keepalived, each against keepalived with the same real-time setting if it ran \
         (else {}); relative figures, as the intervals differ:",
        plain.name
    );
    println!(
        "{:<18} {:<18} {:<5} {:>14} {:>22} {:>22} {:>22}",
        "subject",
        "against",
        "phase",
        "takeovers",
        "|mean error| %",
        "p99 / configured",
        "max / master-down"
    );
    for r in results.iter().filter(|r| !r.kind.is_keepalived()) {
        let baseline = results
            .iter()
            .find(|b| {
                b.kind
                    == Kind::Keepalived {
                        realtime: r.kind.realtime(),
                    }
            })
            .unwrap_or(plain);
        for (p, b) in r.phases.iter().zip(&baseline.phases) {
            let ratio = |ours: f64, theirs: f64| {
                let x = if theirs > 0.0 {
                    format!("{:.2}x", ours / theirs)
                } else {
                    "-".to_string()
                };
                format!("{ours:.2} / {theirs:.2} = {x}")
            };
            let relative = |res: &SubjectResult, f: &dyn Fn(&Intervals, Kind) -> f64| {
                res.phases
                    .iter()
                    .find(|q| q.phase == p.phase)
                    .and_then(|q| q.intervals.as_ref())
                    .map_or(f64::NAN, |i| f(i, res.kind))
            };
            let error = |i: &Intervals, k: Kind| i.error_percent(k.interval()).abs();
            let p99 = |i: &Intervals, k: Kind| i.p99.as_secs_f64() / k.interval().as_secs_f64();
            let max = |i: &Intervals, k: Kind| i.max.as_secs_f64() / k.master_down().as_secs_f64();
            let takeovers = if b.takeovers > 0 {
                format!(
                    "{} / {} = {:.2}x",
                    p.takeovers,
                    b.takeovers,
                    p.takeovers as f64 / b.takeovers as f64
                )
            } else {
                format!("{} / {}", p.takeovers, b.takeovers)
            };
            println!(
                "{:<18} {:<18} {:<5} {:>14} {:>22} {:>22} {:>22}",
                r.name,
                baseline.name,
                p.phase,
                takeovers,
                ratio(relative(r, &error), relative(baseline, &error)),
                ratio(relative(r, &p99), relative(baseline, &p99)),
                ratio(relative(r, &max), relative(baseline, &max)),
            );
        }
    }
}

fn parse_args() -> anyhow::Result<(u64, String)> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "busy".into());
    if what != "busy" {
        bail!("unknown benchmark `{what}`; available: busy [--seconds N] [subject filter]");
    }
    let mut seconds = DEFAULT_SECONDS;
    let mut filter = String::new();
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            let value = args.next().context("--seconds needs a number")?;
            seconds = value
                .parse()
                .ok()
                .filter(|s| (1..=MAX_SECONDS).contains(s))
                .with_context(|| {
                    format!("--seconds {value:?}: give whole seconds, 1..={MAX_SECONDS}")
                })?;
        } else {
            filter = arg;
        }
    }
    Ok((seconds, filter))
}

fn main() -> anyhow::Result<()> {
    let (seconds, filter) = parse_args()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the busy-host benchmark builds network namespaces: run it as root");
    }
    let subjects: Vec<&Subject> = SUBJECTS
        .iter()
        .filter(|s| s.name.contains(filter.as_str()))
        .collect();
    if subjects.is_empty() {
        bail!(
            "no subject matches {filter:?}; subjects: {}",
            SUBJECTS.map(|s| s.name).join(", ")
        );
    }
    println!(
        "busy-host benchmark: per subject {seconds} s idle, then {seconds} s with \
         `stress-ng --cpu 2` in the backup's namespace; {} CPUs",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut results = Vec::new();
    for subject in subjects {
        results.push(run_subject(subject, seconds).with_context(|| subject.name)?);
    }
    print_results(&results);
    Ok(())
}
