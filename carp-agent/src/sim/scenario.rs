//! Ready-made topologies, fault schedules and the scripted scenarios behind
//! `carp-agent simulate`.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use super::{
    network::{NetConditions, NodeId},
    oracle::{self, Violation},
    rng::SimRng,
    segment::{Fault, NodeSpec, Segment, SimError},
};
use crate::engine::{AdminState, Flavor, State, Time, VhidConfig};

/// Shortest run `run` accepts: boot, settle and two fault phases with time to
/// settle after each.
pub const MIN_DURATION: Duration = Duration::from_secs(24);

/// Which story a run tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioKind {
    /// The master crashes at 1/3 of the run and comes back at 2/3.
    Failover,
    /// The master is demoted by 240 at 1/3 and restored at 2/3.
    Demote,
    /// The master is cut off at 1/3 (split brain); the segment heals at 2/3.
    Partition,
    /// The master shuts down gracefully (bow-out) at 1/3 and boots at 2/3.
    Bowout,
    /// Random topology and faults, then the segment heals.
    Random,
}

/// Parameters of a scenario run.
#[derive(Clone, Debug)]
pub struct ScenarioOptions {
    /// The story.
    pub kind: ScenarioKind,
    /// Number of nodes, 2..=5.
    pub nodes: usize,
    /// Number of vhids, 1..=2.
    pub vhids: u8,
    /// Seed of every random choice.
    pub seed: u64,
    /// Simulated length.
    pub duration: Duration,
}

/// A scenario that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Too few or too many nodes.
    #[error("the segment needs 2 to 5 nodes, not {0}")]
    Nodes(usize),
    /// Too few or too many vhids.
    #[error("a scenario runs 1 or 2 vhids, not {0}")]
    Vhids(u8),
    /// Not enough time for the story.
    #[error("a scenario needs at least {} s, not {} s", MIN_DURATION.as_secs(), .0.as_secs_f64())]
    TooShort(Duration),
    /// The topology is invalid.
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// A timed quantity with the bound it must respect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// What was measured.
    pub label: String,
    /// How long it took, `None` if it never happened.
    pub took: Option<Duration>,
    /// The longest `took` may be for the check to pass.
    pub bound: Duration,
}

impl Measurement {
    /// Whether it happened within its bound.
    pub fn ok(&self) -> bool {
        self.took.is_some_and(|t| t <= self.bound)
    }
}

/// The result of a scenario run.
pub struct Report {
    /// The segment at the end of the run, with its timeline.
    pub segment: Segment,
    /// Timings measured along the way.
    pub measurements: Vec<Measurement>,
    /// Invariants broken (empty if all held).
    pub violations: Vec<Violation>,
}

fn address(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, host))
}

/// The demo topology: nodeK at 10.0.0.K, FreeBSD, advbase 1, preemption on;
/// vhid 1 prefers node1 (advskew 0, 50, 100, ...), vhid 2 the reverse. Delays
/// vary with the seed; no loss.
pub fn demo_topology(rng: &mut SimRng, nodes: usize, vhids: u8) -> (Vec<NodeSpec>, NetConditions) {
    let specs = (0..nodes)
        .map(|i| {
            let source = address(i as u8 + 1);
            let configs = (1..=vhids)
                .map(|vhid| {
                    let rank = if vhid == 1 { i } else { nodes - 1 - i };
                    VhidConfig::new(vhid, source)
                        .advskew(rank as u8 * 50)
                        .preempt(true)
                })
                .collect();
            NodeSpec::new(format!("node{}", i + 1), source, configs)
        })
        .collect();
    let conditions = NetConditions {
        min_delay: Duration::from_micros(200),
        max_delay: rng.duration(Duration::from_millis(1), Duration::from_millis(20)),
        loss: 0.0,
    };
    (specs, conditions)
}

/// A random topology within the limits CARP itself needs to converge: the nodes
/// of one vhid share flavor, advbase and preempt (as hosts configured alike
/// do), and advert interval plus delay stays below every master-down. Addresses
/// are shuffled so that node order says nothing about the tie-break.
pub fn random_topology(
    rng: &mut SimRng,
    nodes: usize,
    vhids: u8,
) -> (Vec<NodeSpec>, NetConditions) {
    let mut hosts: Vec<u8> = Vec::with_capacity(nodes);
    while hosts.len() < nodes {
        let host = rng.between(1, 254) as u8;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    // Repeated values make ties (broken by address) common; 240 ties with any
    // FreeBSD host demoted by 240 or more.
    const SKEWS: [u8; 8] = [0, 0, 10, 50, 100, 100, 200, 240];
    // advbase 0 (OpenBSD): master-down is 3x the interval, so skews within a
    // factor of 3 keep every interval + delay below every master-down.
    const SUBSECOND_SKEWS: [u8; 4] = [100, 120, 150, 200];
    let mut configs: Vec<Vec<VhidConfig>> = vec![Vec::new(); nodes];
    for vhid in 1..=vhids {
        let flavor = if rng.chance(0.25) {
            Flavor::OpenBsd
        } else {
            Flavor::FreeBsd
        };
        let advbase = match flavor {
            Flavor::FreeBsd => *rng.pick(&[1, 1, 1, 2]),
            Flavor::OpenBsd => *rng.pick(&[0, 1]),
        };
        let skews: &[u8] = if advbase == 0 {
            &SUBSECOND_SKEWS
        } else {
            &SKEWS
        };
        let preempt = rng.chance(0.6);
        for (node, list) in configs.iter_mut().enumerate() {
            list.push(
                VhidConfig::new(vhid, address(hosts[node]))
                    .flavor(flavor)
                    .advbase(advbase)
                    .advskew(*rng.pick(skews))
                    .preempt(preempt),
            );
        }
    }
    let specs = configs
        .into_iter()
        .enumerate()
        .map(|(i, vhids)| NodeSpec::new(format!("node{}", i + 1), address(hosts[i]), vhids))
        .collect();
    let min_delay = rng.duration(Duration::from_micros(100), Duration::from_millis(1));
    let conditions = NetConditions {
        min_delay,
        max_delay: rng.duration(min_delay, Duration::from_millis(50)),
        loss: 0.0,
    };
    (specs, conditions)
}

/// Boots every node at a random time in `[0, within]`; returns the last boot time.
pub fn boot_all(rng: &mut SimRng, segment: &mut Segment, within: Duration) -> Time {
    let mut last = Time::ZERO;
    for node in 0..segment.len() {
        let at = Time::from_duration(rng.duration(Duration::ZERO, within));
        segment.schedule(at, Fault::Boot(node));
        last = last.max(at);
    }
    last
}

/// Random faults between `from` and `until` (nodes assumed all up at `from`),
/// then at `until` the segment heals: no partition, no loss, some nodes back,
/// and at least one node running with its link up.
pub fn random_chaos(
    rng: &mut SimRng,
    nodes: usize,
    vhids: u8,
    from: Time,
    until: Time,
) -> Vec<(Time, Fault)> {
    let mut running = vec![true; nodes];
    let mut link = vec![true; nodes];
    let mut faults = Vec::new();
    let mut at = from;
    loop {
        at += rng.duration(Duration::from_millis(200), Duration::from_secs(4));
        if at >= until {
            break;
        }
        let node = rng.below(nodes as u64) as NodeId;
        let fault = match rng.below(100) {
            0..15 => {
                running[node] = false;
                Fault::Crash(node)
            }
            15..30 => {
                running[node] = true;
                Fault::Boot(node)
            }
            30..36 => {
                running[node] = false;
                Fault::Shutdown(node)
            }
            36..48 => {
                let groups = rng.between(2, 3);
                let mut split = vec![Vec::new(); groups as usize];
                for n in 0..nodes {
                    split[rng.below(groups) as usize].push(n);
                }
                Fault::Partition(split)
            }
            48..56 => Fault::Heal,
            56..66 => Fault::SetLoss(rng.unit() * 0.4),
            66..80 => Fault::Demote(node, *rng.pick(&[240, -240, 100, -100, 50, 1_000, -1_000])),
            80..90 => {
                link[node] = !link[node];
                Fault::Link(node, link[node])
            }
            _ => {
                let vhid = rng.between(1, u64::from(vhids)) as u8;
                let target = *rng.pick(&[AdminState::Backup, AdminState::Master]);
                Fault::Admin(node, vhid, target)
            }
        };
        faults.push((at, fault));
    }
    faults.push((until, Fault::Heal));
    faults.push((until, Fault::SetLoss(0.0)));
    for node in 0..nodes {
        if !running[node] && rng.chance(0.5) {
            running[node] = true;
            faults.push((until, Fault::Boot(node)));
        }
        if !link[node] && rng.chance(0.5) {
            link[node] = true;
            faults.push((until, Fault::Link(node, true)));
        }
    }
    if !(0..nodes).any(|n| running[n] && link[n]) {
        faults.push((until, Fault::Boot(0)));
        faults.push((until, Fault::Link(0, true)));
    }
    faults
}

/// Runs one scenario and checks it against the oracle.
pub fn run(options: &ScenarioOptions) -> Result<Report, ScenarioError> {
    if !(2..=5).contains(&options.nodes) {
        return Err(ScenarioError::Nodes(options.nodes));
    }
    if !(1..=2).contains(&options.vhids) {
        return Err(ScenarioError::Vhids(options.vhids));
    }
    if options.duration < MIN_DURATION {
        return Err(ScenarioError::TooShort(options.duration));
    }
    let mut rng = SimRng::new(options.seed);
    let (specs, conditions) = match options.kind {
        ScenarioKind::Random => random_topology(&mut rng, options.nodes, options.vhids),
        _ => demo_topology(&mut rng, options.nodes, options.vhids),
    };
    let mut segment = Segment::new(rng.next_u64(), specs, conditions)?;
    let booted = boot_all(&mut rng, &mut segment, Duration::from_secs(2));
    let mut run = Checked {
        segment,
        measurements: Vec::new(),
        violations: Vec::new(),
    };
    let end = Time::from_duration(options.duration);
    let third = Time::from_duration(options.duration / 3);
    let two_thirds = Time::from_duration(options.duration * 2 / 3);
    match options.kind {
        ScenarioKind::Random => {
            // leave room to settle and then stay quiet for a while
            let heal =
                Time::from_duration(options.duration.saturating_sub(Duration::from_secs(15)));
            let settled = run.settle_after(booted);
            for (at, fault) in random_chaos(&mut rng, options.nodes, options.vhids, settled, heal) {
                run.segment.schedule(at, fault);
            }
            run.segment.run_until(heal);
            let bounds: Vec<(u8, Duration)> = oracle::vhids(&run.segment)
                .into_iter()
                .map(|v| (v, oracle::settle_bound(&run.segment, v)))
                .collect();
            run.converge_and_stay_quiet(heal, end);
            for (vhid, bound) in bounds {
                // converge_and_stay_quiet ran past the bound and reported any violation
                let took = run.settled_since(vhid, heal);
                let label = format!("vhid {vhid} settled after the heal");
                run.measurements.push(Measurement { label, took, bound });
            }
        }
        kind => {
            run.converge_and_stay_quiet(booted, third);
            let master = run.master_of_vhid_1();
            match kind {
                ScenarioKind::Failover => run.failover(master, third),
                ScenarioKind::Demote => run.demote(master, third),
                ScenarioKind::Partition => run.partition(master, third),
                ScenarioKind::Bowout => run.bow_out(master, third),
                ScenarioKind::Random => unreachable!(),
            }
            run.second_phase(kind, master, two_thirds);
            run.converge_and_stay_quiet(two_thirds, end);
        }
    }
    run.segment.run_until(end);
    Ok(Report {
        segment: run.segment,
        measurements: run.measurements,
        violations: run.violations,
    })
}

/// A run under way, collecting measurements and violations.
struct Checked {
    segment: Segment,
    measurements: Vec<Measurement>,
    violations: Vec<Violation>,
}

impl Checked {
    /// Runs to `at` (the last fault) and returns when every vhid must have settled.
    fn settle_after(&mut self, at: Time) -> Time {
        self.segment.run_until(at);
        let settle = oracle::vhids(&self.segment)
            .into_iter()
            .map(|v| oracle::settle_bound(&self.segment, v))
            .max()
            .unwrap_or_default();
        at + settle
    }

    /// Invariants 1 and 3: settled after the last fault at `from`, and no
    /// transition from then until `until` (the next fault).
    fn converge_and_stay_quiet(&mut self, from: Time, until: Time) {
        let settled = self.settle_after(from);
        self.segment.run_until(settled);
        for vhid in oracle::vhids(&self.segment) {
            if let Err(violation) = oracle::check_converged(&self.segment, vhid) {
                self.violations.push(violation);
            }
        }
        self.segment.run_until(until);
        for vhid in oracle::vhids(&self.segment) {
            let changes = oracle::transitions_after(&self.segment, vhid, settled);
            let faults_since = self
                .segment
                .timeline()
                .iter()
                .any(|e| e.at > settled && e.state_change().is_none());
            if changes > 0 && !faults_since {
                self.violations.push(Violation {
                    at: until,
                    vhid,
                    what: format!(
                        "{changes} state changes in the steady state after {settled} without a fault"
                    ),
                });
            }
        }
    }

    /// If `vhid` is settled now (see [`oracle::check_converged`]), how long after
    /// `since` its last state change came.
    fn settled_since(&self, vhid: u8, since: Time) -> Option<Duration> {
        oracle::check_converged(&self.segment, vhid).ok()?;
        let last_change = self
            .segment
            .timeline()
            .iter()
            .rev()
            .take_while(|e| e.at >= since)
            .find(|e| e.state_change().is_some_and(|(v, _, _)| v == vhid))
            .map_or(since, |e| e.at);
        Some(last_change.saturating_duration_since(since))
    }

    fn master_of_vhid_1(&self) -> NodeId {
        let masters = self.segment.masters(1);
        masters.first().copied().unwrap_or(0)
    }

    fn measure(&mut self, vhid: u8, label: String, took: Option<Duration>, bound: Duration) {
        if took.is_none_or(|t| t > bound) {
            let what = match took {
                Some(t) => format!(
                    "{label}: took {:.3} s, bound {:.3} s",
                    t.as_secs_f64(),
                    bound.as_secs_f64()
                ),
                None => format!(
                    "{label}: never happened (bound {:.3} s)",
                    bound.as_secs_f64()
                ),
            };
            self.violations.push(Violation {
                at: self.segment.now(),
                vhid,
                what,
            });
        }
        self.measurements.push(Measurement { label, took, bound });
    }

    /// Time from `since` until a node other than `excluded` is MASTER of vhid 1,
    /// if within `bound`; runs to `since + bound`.
    fn takeover_time(
        &mut self,
        since: Time,
        excluded: Option<NodeId>,
        bound: Duration,
    ) -> Option<Duration> {
        self.segment.run_until(since);
        if self.segment.masters(1).iter().any(|&m| Some(m) != excluded) {
            return Some(Duration::ZERO);
        }
        self.segment.run_until(since + bound);
        oracle::first_master_since(&self.segment, 1, since, excluded)
            .map(|(at, _)| at.saturating_duration_since(since))
    }

    /// Invariant 2: after the master crashes a backup is MASTER within master-down
    /// (of the fastest backup) plus one delivery delay.
    fn failover(&mut self, master: NodeId, at: Time) {
        self.segment.schedule(at, Fault::Crash(master));
        self.segment.run_until(at);
        let bound = oracle::failover_bound(&self.segment, 1, Some(master));
        let took = self.takeover_time(at, Some(master), bound);
        let label = format!(
            "vhid 1 failover after {} crashed",
            self.segment.name(master)
        );
        self.measure(1, label, took, bound);
    }

    /// Invariant 4: a master demoted by 240 hands over within two delivery delays
    /// (its at-once advert out, the preempting backup's at-once advert back),
    /// well within one advert interval. Needs preemption (the demo topology has it).
    fn demote(&mut self, master: NodeId, at: Time) {
        self.segment.schedule(at, Fault::Demote(master, 240));
        self.segment.run_until(at);
        let bound = self.segment.conditions().max_delay * 2;
        let expected = oracle::most_preferred(&self.segment, 1);
        self.segment.run_until(at + bound);
        if let Err(v) = oracle::check_converged(&self.segment, 1) {
            self.violations.push(v);
        }
        let handed_over = self
            .segment
            .timeline()
            .iter()
            .filter(|e| e.at >= at && e.node == Some(master))
            .find(|e| {
                e.state_change()
                    .is_some_and(|(v, from, _)| v == 1 && from == State::Master)
            })
            .map(|e| e.at.saturating_duration_since(at));
        if !expected.contains(&master) {
            let label = format!("vhid 1 handover by demoted {}", self.segment.name(master));
            self.measure(1, label, handed_over, bound);
        }
    }

    /// A partition isolating the master: the rest elect their own master within
    /// the failover bound (split brain until the heal).
    fn partition(&mut self, master: NodeId, at: Time) {
        let others: Vec<NodeId> = (0..self.segment.len()).filter(|&n| n != master).collect();
        self.segment
            .schedule(at, Fault::Partition(vec![vec![master], others]));
        self.segment.run_until(at);
        let bound = oracle::failover_bound(&self.segment, 1, Some(master));
        let took = self.takeover_time(at, Some(master), bound);
        let label = format!(
            "vhid 1 master elected behind the partition from {}",
            self.segment.name(master)
        );
        self.measure(1, label, took, bound);
    }

    /// Invariant 5: after a graceful shutdown of the master the most
    /// preferred backup is MASTER within one delivery delay plus its bow-out
    /// wait ([`oracle::bow_out_bound`]), and exactly one (a most preferred)
    /// two delays later (see the simulation test of the same name).
    fn bow_out(&mut self, master: NodeId, at: Time) {
        self.segment.run_until(at);
        let bound = oracle::bow_out_bound(&self.segment, 1, master);
        self.segment.schedule(at, Fault::Shutdown(master));
        self.segment.run_until(at);
        let delay = self.segment.conditions().max_delay;
        let took = self.takeover_time(at, Some(master), bound);
        let label = format!(
            "vhid 1 takeover after {} bowed out",
            self.segment.name(master)
        );
        self.measure(1, label, took, bound);
        self.segment.run_until(at + bound + delay * 3);
        if let Err(v) = oracle::check_converged(&self.segment, 1) {
            self.violations.push(v);
        }
    }

    /// Undo the first fault; measure how long the segment takes to be settled again.
    fn second_phase(&mut self, kind: ScenarioKind, master: NodeId, at: Time) {
        let fault = match kind {
            ScenarioKind::Failover | ScenarioKind::Bowout => Fault::Boot(master),
            ScenarioKind::Demote => Fault::Demote(master, -240),
            ScenarioKind::Partition => Fault::Heal,
            ScenarioKind::Random => return,
        };
        self.segment.schedule(at, fault);
        self.segment.run_until(at);
        let bound = oracle::settle_bound(&self.segment, 1);
        let expected = oracle::most_preferred(&self.segment, 1);
        let label = match kind {
            ScenarioKind::Partition => "vhid 1 single master again after the heal".to_string(),
            _ => format!(
                "vhid 1 back to {}",
                expected
                    .iter()
                    .map(|&n| self.segment.name(n))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        };
        self.segment.run_until(at + bound);
        let took = self.settled_since(1, at);
        self.measure(1, label, took, bound);
    }
}
