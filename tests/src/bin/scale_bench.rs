//! `cargo xtask bench scale [--sizes 1,10,100,1000] [--seconds N] [--quick]
//! [filter]`: how the agent's cost grows with the number of vhids, against
//! keepalived with as many VRRP instances, in the same run.
//!
//! For each size and subject, a lab of two hosts (`carp_tests::lab`): the
//! vhids spread over segments of at most 255 (a vhid is one byte per
//! interface), each segment a bridge of its own with an `eth<k>` on both
//! hosts, as VLANs would be. Host 1 is the master (ours: advbase 1, advskew
//! 0; keepalived: VRRPv3, advert_int 1, priority 200), host 2 the backup
//! (ours: advskew 100; keepalived: priority 156, so both backups wait the
//! same master-down, 3 + 100/256 s). tcpdump on every bridge captures
//! adverts and ARP. Measured:
//! - start-up: the backup's process start to every vhid BACKUP (ours: `status
//!   --json`, polled; keepalived: its log's "Entering BACKUP STATE" lines);
//! - RSS: VmRSS of each host's daemon after start-up (keepalived: its parent
//!   and VRRP child together);
//! - CPU: CPU time (from /proc/PID/task/*/schedstat, nanoseconds) per second
//!   of each daemon over the idle window;
//! - lateness: every spacing between two adverts of one vhid from the master
//!   on the bridge, minus the configured interval (1 s): p50 and p99;
//! - takeover: the master's switch ports go down (its trunk); for every vhid,
//!   the time from then to the backup's first advert or gratuitous ARP for it
//!   on the bridge; the first and the last vhid, and the last over the first.
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::Ipv4Addr,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context as _, bail};
use carp_tests::{
    capture::Capture,
    keepalived::Keepalived,
    lab::{Lab, PASSWORD},
    scale::{self, Seen},
};

const MASTER: usize = 0;
const BACKUP: usize = 1;
const DEFAULT_SIZES: [usize; 4] = [1, 10, 100, 1000];
/// Most vhids accepted: four segments' worth and a little more.
const MAX_SIZE: usize = 2000;
const DEFAULT_SECONDS: u64 = 10;
const QUICK_SECONDS: u64 = 3;
const MAX_SECONDS: u64 = 600;
/// The master's configured advert interval (advbase 1, advskew 0; VRRP
/// advert_int 1).
const INTERVAL: f64 = 1.0;
/// Between the backup settling and the measurements.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Subject {
    Ours,
    Keepalived,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Ours => "ours",
            Subject::Keepalived => "keepalived",
        }
    }
}

/// Segment `k` (1-based) is 10.(80+k).0.0/16: hosts .0.11 and .0.12, the VIP
/// of vhid v .1.v.
fn host_addr(k: usize, host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 80 + k as u8, 0, 11 + host as u8)
}

fn vip(k: usize, vhid: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 80 + k as u8, 1, vhid)
}

/// Every (segment, vhid) of a size.
fn vhids(size: usize) -> Vec<(usize, u8)> {
    scale::segments(size)
        .into_iter()
        .enumerate()
        .flat_map(|(i, count)| (1..=count).map(move |v| (i + 1, v as u8)))
        .collect()
}

fn ours_config(size: usize, advskew: u8) -> String {
    let mut text = String::new();
    for (k, v) in vhids(size) {
        let _ = write!(
            text,
            "[[vhid]]\ninterface = \"eth{k}\"\nvhid = {v}\nadvbase = 1\nadvskew = {advskew}\n\
             password = \"{PASSWORD}\"\nvips = [\"{}/16\"]\n\n",
            vip(k, v)
        );
    }
    text
}

fn keepalived_config(size: usize, name: &str, state: &str, priority: u8) -> String {
    let mut text = format!("global_defs {{\n  router_id {name}\n}}\n");
    for (k, v) in vhids(size) {
        let _ = write!(
            text,
            "vrrp_instance vi_{k}_{v} {{\n  version 3\n  state {state}\n  interface eth{k}\n  \
             virtual_router_id {v}\n  priority {priority}\n  advert_int 1\n  \
             virtual_ipaddress {{\n    {}/16\n  }}\n}}\n",
            vip(k, v)
        );
    }
    text
}

/// One subject's two daemons in a lab.
struct Case {
    subject: Subject,
    size: usize,
    // Dropped before the lab: keepalived runs in its namespaces.
    keepalived: Vec<Keepalived>,
    lab: Lab,
}

impl Case {
    fn new(subject: Subject, size: usize) -> anyhow::Result<Self> {
        let tag = format!(
            "sc{size}{}",
            match subject {
                Subject::Ours => "o",
                Subject::Keepalived => "k",
            }
        );
        let lab = Lab::new(&tag, 2)?;
        for k in 1..=scale::segments(size).len() {
            lab.add_segment(k)?;
            for host in [MASTER, BACKUP] {
                lab.hosts[host].ns.ip(&[
                    "addr",
                    "add",
                    &format!("{}/16", host_addr(k, host)),
                    "dev",
                    &format!("eth{k}"),
                ])?;
            }
        }
        Ok(Self {
            subject,
            size,
            keepalived: Vec::new(),
            lab,
        })
    }

    fn start(&mut self, host: usize) -> anyhow::Result<()> {
        let master = host == MASTER;
        match self.subject {
            Subject::Ours => {
                let advskew = if master { 0 } else { 100 };
                self.lab
                    .start_agent_config(host, &ours_config(self.size, advskew))
            }
            Subject::Keepalived => {
                let (state, priority) = if master {
                    ("MASTER", 200)
                } else {
                    ("BACKUP", 156)
                };
                let name = format!("keepalived-{}", self.lab.hosts[host].name);
                let text = keepalived_config(self.size, &name, state, priority);
                let daemon = Keepalived::start_config(&self.lab, host, &name, &text)?;
                self.keepalived.push(daemon);
                Ok(())
            }
        }
    }

    /// How many vhids of `host` are in `state` ("MASTER", "BACKUP").
    fn count(&self, host: usize, state: &str) -> usize {
        match self.subject {
            Subject::Ours => {
                let Ok(out) = self.lab.control(host, &["status", "--json"]) else {
                    return 0;
                };
                let Ok(json) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
                    return 0;
                };
                json["vhids"].as_array().map_or(0, |vhids| {
                    vhids.iter().filter(|v| v["state"] == state).count()
                })
            }
            // keepalived logs each instance's transitions; its master is
            // started first and its backup has no other transition here.
            Subject::Keepalived => {
                let line = format!("Entering {state} STATE");
                self.keepalived_log(host)
                    .lines()
                    .filter(|l| l.contains(&line))
                    .count()
            }
        }
    }

    fn keepalived_log(&self, host: usize) -> String {
        let index = if host == MASTER { 0 } else { 1 };
        self.keepalived
            .get(index)
            .map(Keepalived::log)
            .unwrap_or_default()
    }

    /// Waits until every vhid of `host` is in `state`; how long it took.
    fn wait_all(&self, host: usize, state: &str, within: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let count = self.count(host, state);
            if count >= self.size {
                return Ok(start.elapsed());
            }
            if start.elapsed() > within {
                let log = match self.subject {
                    Subject::Ours => self.lab.log(host),
                    Subject::Keepalived => self.keepalived_log(host),
                };
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                bail!(
                    "{} host {}: {count} of {} vhids {state} after {within:?}; log tail:\n{}",
                    self.subject.name(),
                    host + 1,
                    self.size,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every process of `host`'s daemon.
    fn pids(&self, host: usize) -> Vec<i32> {
        match self.subject {
            Subject::Ours => self
                .lab
                .agent_pid(host)
                .map(|p| p as i32)
                .into_iter()
                .collect(),
            Subject::Keepalived => {
                let index = if host == MASTER { 0 } else { 1 };
                self.keepalived.get(index).map_or_else(Vec::new, |k| {
                    k.pid().into_iter().chain(k.vrrp_pid()).collect()
                })
            }
        }
    }
}

/// CPU time of every thread of `pids` so far (schedstat: nanoseconds on a CPU).
fn cpu_time(pids: &[i32]) -> Duration {
    let mut total = 0u64;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let path = task.path().join("schedstat");
            let ns = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
            total += ns.unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// VmRSS of `pids` together, in MB (1e6 bytes).
fn rss_mb(pids: &[i32]) -> f64 {
    let kib: u64 = pids
        .iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum();
    kib as f64 * 1024.0 / 1e6
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[derive(Default)]
struct Row {
    size: usize,
    subject: &'static str,
    startup: f64,
    rss: [f64; 2],
    cpu: [f64; 2],
    late_p50: Option<f64>,
    late_p99: Option<f64>,
    adverts: usize,
    takeover_first: Option<f64>,
    takeover_last: Option<f64>,
    taken: usize,
    /// The backup's first frame of a vhid minus the master's last advert
    /// of that vhid: fastest and slowest vhid.
    reaction_min: Option<f64>,
    reaction_max: Option<f64>,
    load: f64,
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn run_case(subject: Subject, size: usize, seconds: u64) -> anyhow::Result<Row> {
    eprintln!("{} x {size}: lab", subject.name());
    let mut case = Case::new(subject, size)?;
    let segments = scale::segments(size).len();
    let mut captures = Vec::new();
    for k in 1..=segments {
        let file = case.lab.dir.join(format!("br{k}.pcap"));
        captures.push(Capture::start_on(
            &case.lab.switch,
            &format!("br{k}"),
            "ip proto 112 or arp",
            file,
        )?);
    }
    // Generous waits: a loaded 2-core machine; they bound, never assert, speed.
    let within = Duration::from_secs(30) + Duration::from_millis(50 * size as u64);
    eprintln!("{} x {size}: master", subject.name());
    case.start(MASTER)?;
    case.wait_all(MASTER, "MASTER", within)?;
    eprintln!("{} x {size}: backup", subject.name());
    case.start(BACKUP)?;
    let startup = case.wait_all(BACKUP, "BACKUP", within)?;
    std::thread::sleep(SETTLE);
    let pids = [case.pids(MASTER), case.pids(BACKUP)];
    let rss = [rss_mb(&pids[0]), rss_mb(&pids[1])];

    eprintln!("{} x {size}: idle for {seconds} s", subject.name());
    let cpu_before = [cpu_time(&pids[0]), cpu_time(&pids[1])];
    let (window_start, clock) = (SystemTime::now(), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let elapsed = clock.elapsed().as_secs_f64();
    let window_end = SystemTime::now();
    let cpu = [0, 1].map(|h| {
        cpu_time(&pids[h])
            .saturating_sub(cpu_before[h])
            .as_secs_f64()
            / elapsed
            * 100.0
    });
    let load = load_average();

    eprintln!("{} x {size}: the master's trunk goes down", subject.name());
    // Each segment's own moment: the ports go down one after the other.
    let mut down_at = Vec::new();
    for k in 1..=segments {
        down_at.push(SystemTime::now());
        case.lab
            .switch
            .ip(&["link", "set", &Lab::segment_port(k, MASTER), "down"])?;
    }
    case.wait_all(BACKUP, "MASTER", within)?;
    // The announcements that follow the transitions reach the capture.
    std::thread::sleep(Duration::from_millis(500));

    let mut late = Vec::new();
    let mut taken: BTreeMap<(usize, u8), SystemTime> = BTreeMap::new();
    // Each vhid's last advert from the master before its trunk went down.
    let mut master_last: BTreeMap<(usize, u8), SystemTime> = BTreeMap::new();
    let vip_of: BTreeMap<(usize, Ipv4Addr), u8> = vhids(size)
        .into_iter()
        .map(|(k, v)| ((k, vip(k, v)), v))
        .collect();
    for (i, capture) in captures.into_iter().enumerate() {
        let k = i + 1;
        let mut master_times: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
        for (at, frame) in capture.finish_frames()? {
            let Some(seen) = scale::classify(&frame) else {
                continue;
            };
            if at >= window_start && at < window_end {
                if let Seen::Advert { source, vhid } = seen {
                    if source == host_addr(k, MASTER) {
                        master_times.entry(vhid).or_default().push(secs(at));
                    }
                }
            }
            // The master's frames stop at its port going down, in the order seen.
            if let Seen::Advert { source, vhid } = seen {
                if source == host_addr(k, MASTER) {
                    master_last.insert((k, vhid), at);
                }
            }
            if at < down_at[i] {
                continue;
            }
            let vhid = match seen {
                Seen::Advert { source, vhid } if source == host_addr(k, BACKUP) => Some(vhid),
                Seen::Arp { sender } => vip_of.get(&(k, sender)).copied(),
                Seen::Advert { .. } => None,
            };
            if let Some(vhid) = vhid {
                taken.entry((k, vhid)).or_insert(at);
            }
        }
        for times in master_times.values() {
            late.extend(scale::lateness(times, INTERVAL));
        }
    }
    let takeovers: Vec<f64> = taken
        .iter()
        .filter_map(|((k, _), at)| at.duration_since(down_at[k - 1]).ok())
        .map(|d| d.as_secs_f64())
        .collect();
    // From each vhid's last advert from the master: the backup's master-down
    // and its own reaction, without the phase of the master's adverts.
    let reactions: Vec<f64> = taken
        .iter()
        .filter_map(|(key, at)| at.duration_since(*master_last.get(key)?).ok())
        .map(|d| d.as_secs_f64())
        .collect();
    let adverts = late.len();
    Ok(Row {
        size,
        subject: subject.name(),
        startup: startup.as_secs_f64(),
        rss,
        cpu,
        late_p50: scale::percentile(&mut late, 0.50),
        late_p99: scale::percentile(&mut late, 0.99),
        adverts,
        takeover_first: takeovers.iter().copied().reduce(f64::min),
        takeover_last: takeovers.iter().copied().reduce(f64::max),
        taken: takeovers.len(),
        reaction_min: reactions.iter().copied().reduce(f64::min),
        reaction_max: reactions.iter().copied().reduce(f64::max),
        load,
    })
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.2}", v * 1e3))
}

fn print_rows(rows: &[Row]) {
    println!(
        "\n{:>5} {:<10} {:>8} {:>8} {:>5} {:>7} {:>6} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>5}",
        "vhids",
        "subject",
        "start s",
        "RSS MB m",
        "b",
        "CPU % m",
        "b",
        "late50",
        "late99",
        "adverts",
        "taken",
        "first ms",
        "last ms",
        "l/f",
        "last-first",
        "adv>min",
        "adv>max",
        "load"
    );
    for r in rows {
        let ratio = match (r.takeover_first, r.takeover_last) {
            (Some(f), Some(l)) if f > 0.0 => format!("{:.3}", l / f),
            _ => "-".into(),
        };
        let spread = match (r.takeover_first, r.takeover_last) {
            (Some(f), Some(l)) => format!("{:.1}", (l - f) * 1e3),
            _ => "-".into(),
        };
        println!(
            "{:>5} {:<10} {:>8.3} {:>8.1} {:>5.1} {:>7.3} {:>6.3} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>5.1}",
            r.size,
            r.subject,
            r.startup,
            r.rss[0],
            r.rss[1],
            r.cpu[0],
            r.cpu[1],
            ms(r.late_p50),
            ms(r.late_p99),
            r.adverts,
            format!("{}/{}", r.taken, r.size),
            ms(r.takeover_first),
            ms(r.takeover_last),
            ratio,
            spread,
            ms(r.reaction_min),
            ms(r.reaction_max),
            r.load
        );
    }
    println!(
        "\nstart s: backup's process start to every vhid BACKUP; RSS MB: master, backup (VmRSS; \
         keepalived: parent + VRRP child); CPU %: of one CPU, master, backup, over the idle \
         window; late50/late99: ms an advert came after the configured 1 s, over every \
         spacing of one vhid's adverts from the master (adverts: spacings counted); taken, \
         first/last ms: from the master's trunk going down to the backup's first advert or \
         gratuitous ARP of each vhid on the bridge, of the first and the last vhid; l/f = last / \
         first; adv>min/max ms: from each vhid's last advert from the master to the backup's \
         first frame of it (master-down plus reaction, without the phase of the master's \
         adverts), fastest and slowest vhid; load: 1-minute load average"
    );
    println!("\nours / keepalived:");
    println!(
        "{:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "vhids", "start", "RSS m", "RSS b", "CPU m", "CPU b", "late99", "last ms", "adv>max"
    );
    // Only between positive figures: a signed lateness over another says nothing.
    let ratio = |a: f64, b: f64| {
        if b > 0.0 && a >= 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "-".to_string()
        }
    };
    for ours in rows.iter().filter(|r| r.subject == Subject::Ours.name()) {
        let Some(theirs) = rows
            .iter()
            .find(|r| r.size == ours.size && r.subject == Subject::Keepalived.name())
        else {
            continue;
        };
        let opt = |v: Option<f64>| v.unwrap_or(f64::NAN);
        println!(
            "{:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
            ours.size,
            ratio(ours.startup, theirs.startup),
            ratio(ours.rss[0], theirs.rss[0]),
            ratio(ours.rss[1], theirs.rss[1]),
            ratio(ours.cpu[0], theirs.cpu[0]),
            ratio(ours.cpu[1], theirs.cpu[1]),
            ratio(opt(ours.late_p99), opt(theirs.late_p99)),
            ratio(opt(ours.takeover_last), opt(theirs.takeover_last)),
            ratio(opt(ours.reaction_max), opt(theirs.reaction_max)),
        );
    }
}

struct Args {
    sizes: Vec<usize>,
    seconds: u64,
    filter: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "scale".into());
    if what != "scale" {
        bail!(
            "unknown benchmark `{what}`; available: scale [--sizes 1,10,100,1000] [--seconds N] \
             [--quick] [ours|keepalived]"
        );
    }
    let mut parsed = Args {
        sizes: DEFAULT_SIZES.to_vec(),
        seconds: DEFAULT_SECONDS,
        filter: String::new(),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => parsed.seconds = QUICK_SECONDS,
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                parsed.seconds = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .with_context(|| {
                        format!("--seconds {value:?}: give whole seconds, 1..={MAX_SECONDS}")
                    })?;
            }
            "--sizes" => {
                let value = args.next().context("--sizes needs a list, e.g. 1,10,100")?;
                parsed.sizes = value
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=MAX_SIZE).contains(n))
                            .with_context(|| {
                                format!("--sizes: {s:?} is not a vhid count in 1..={MAX_SIZE}")
                            })
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            _ => parsed.filter = arg,
        }
    }
    Ok(parsed)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the scale benchmark builds network namespaces: run it as root");
    }
    let subjects: Vec<Subject> = [Subject::Ours, Subject::Keepalived]
        .into_iter()
        .filter(|s| s.name().contains(args.filter.as_str()))
        .collect();
    if subjects.is_empty() {
        bail!(
            "no subject matches {:?}; subjects: ours, keepalived",
            args.filter
        );
    }
    println!(
        "scale benchmark: vhids {:?}, {} s idle window, {} CPUs",
        args.sizes,
        args.seconds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut rows = Vec::new();
    for &size in &args.sizes {
        for &subject in &subjects {
            let row = run_case(subject, size, args.seconds)
                .with_context(|| format!("{} x {size}", subject.name()))?;
            rows.push(row);
        }
    }
    print_rows(&rows);
    Ok(())
}
