//! The simulation's own model of who should win and how fast, written apart
//! from the engine so that checks do not trust the code under test.

use std::{fmt, time::Duration};

use super::{network::NodeId, segment::Segment};
use crate::engine::{Flavor, Time, VhidConfig};

/// 1/256 s.
const TICK_NS: u64 = 3_906_250;

/// What a candidate node advertises for a vhid, by the BSD rules (docs/interop.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Election key, lower = more preferred: (demote byte, interval in ticks).
    /// Equal ranks are never preempted, so no address enters it.
    pub rank: (u8, u32),
    /// Time between its adverts as MASTER.
    pub interval: Duration,
    /// Time it waits as BACKUP.
    pub master_down: Duration,
    /// Whether it preempts.
    pub preempt: bool,
}

impl Expected {
    /// The model for `config` on a host with demotion `demotion`.
    pub fn new(config: &VhidConfig, demotion: u32) -> Self {
        let (advskew, demote) = match config.flavor {
            // FreeBSD adds the demotion to advskew, at most 240 on the wire.
            Flavor::FreeBsd => ((u32::from(config.advskew) + demotion).min(240), 0),
            // OpenBSD sends it in its own byte, which ranks first.
            Flavor::OpenBsd => (u32::from(config.advskew), demotion.min(255) as u8),
        };
        let base = u32::from(config.advbase);
        let interval_ticks = (256 * base + advskew).max(1);
        let down_ticks = match config.flavor {
            // FreeBSD arms master-down with the configured advskew.
            Flavor::FreeBsd => 3 * 256 * base + u32::from(config.advskew),
            Flavor::OpenBsd => 3 * interval_ticks,
        };
        Expected {
            rank: (demote, 256 * base + advskew),
            interval: Duration::from_nanos(u64::from(interval_ticks) * TICK_NS),
            master_down: Duration::from_nanos(u64::from(down_ticks) * TICK_NS),
            preempt: config.preempt,
        }
    }
}

/// Every vhid configured on some node, ascending.
pub fn vhids(segment: &Segment) -> Vec<u8> {
    let mut all: Vec<u8> = (0..segment.len())
        .flat_map(|n| segment.spec(n).vhids.iter().map(|c| c.vhid))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The model for `vhid` on `node`, if the node can take part (running, link up).
pub fn expected(segment: &Segment, node: NodeId, vhid: u8) -> Option<Expected> {
    if !segment.is_running(node) || !segment.is_link_up(node) {
        return None;
    }
    let config = segment.spec(node).vhids.iter().find(|c| c.vhid == vhid)?;
    Some(Expected::new(config, segment.admin_demotion(node)))
}

/// Nodes that can be MASTER of `vhid` now.
pub fn candidates(segment: &Segment, vhid: u8) -> Vec<NodeId> {
    (0..segment.len())
        .filter(|&n| expected(segment, n, vhid).is_some())
        .collect()
}

/// The candidates that may be MASTER when preemption is on: those of the
/// lowest (demote, advbase, effective advskew). Several when they tie: an
/// equal master is never preempted, so any of them may hold on.
pub fn most_preferred(segment: &Segment, vhid: u8) -> Vec<NodeId> {
    let ranked: Vec<(NodeId, (u8, u32))> = candidates(segment, vhid)
        .into_iter()
        .filter_map(|n| expected(segment, n, vhid).map(|e| (n, e.rank)))
        .collect();
    let Some(best) = ranked.iter().map(|(_, rank)| *rank).min() else {
        return Vec::new();
    };
    ranked
        .into_iter()
        .filter(|(_, rank)| *rank == best)
        .map(|(n, _)| n)
        .collect()
}

/// Whether every candidate preempts.
pub fn all_preempt(segment: &Segment, vhid: u8) -> bool {
    candidates(segment, vhid)
        .into_iter()
        .all(|n| expected(segment, n, vhid).is_some_and(|e| e.preempt))
}

fn max_of(segment: &Segment, vhid: u8, f: impl Fn(&Expected) -> Duration) -> Duration {
    candidates(segment, vhid)
        .into_iter()
        .filter_map(|n| expected(segment, n, vhid))
        .map(|e| f(&e))
        .max()
        .unwrap_or_default()
}

/// How long after the last fault (the segment healed: no partition, no loss,
/// no crash, boot, demotion or link change) `vhid` is certain to have exactly
/// one MASTER among the candidates, and with preemption the most preferred one:
/// `MD + I + 4*D` (largest master-down and interval among the candidates, `D`
/// the longest delivery delay).
///
/// Why that is enough (each step can only happen once, in this order):
/// - `D`: adverts sent before the heal, some by nodes now dead, are still in
///   flight and can make a master yield or re-arm a backup's timer.
/// - `MD`: after that nothing re-arms the timer of a backup that hears no live
///   master, so someone becomes MASTER. With preemption the most preferred node
///   P is MASTER by `D + MD` (less preferred adverts make it take over rather
///   than wait), and stays MASTER for good.
/// - `D`: P's at-once advert reaches every rival, which yields.
/// - `I + D`: a rival that preempted a third master just before hearing P (or,
///   without preemption, a master that formed while an older master was between
///   adverts) yields at the next regular advert of the winner.
/// - `D`: slack for a backup whose timer fired in the same delivery window as
///   the winner's.
///
/// This presumes what the random topologies guarantee: the nodes of a vhid share
/// advbase, flavor and preempt, and `I + D` is shorter than every master-down.
pub fn settle_bound(segment: &Segment, vhid: u8) -> Duration {
    let delay = segment.conditions().max_delay;
    max_of(segment, vhid, |e| e.master_down) + max_of(segment, vhid, |e| e.interval) + delay * 4
}

/// After the master crashes (or is cut off: pass it as `excluded`), some other
/// candidate is MASTER within this: the master's last advert reaches a backup at
/// most `D` after the crash, and the fastest backup's master-down runs from there.
pub fn failover_bound(segment: &Segment, vhid: u8, excluded: Option<NodeId>) -> Duration {
    let fastest = candidates(segment, vhid)
        .into_iter()
        .filter(|&n| Some(n) != excluded)
        .filter_map(|n| expected(segment, n, vhid))
        .map(|e| e.master_down)
        .min()
        .unwrap_or_default();
    fastest + segment.conditions().max_delay
}

/// After `master` bows out (call this while it still runs), some other
/// candidate is MASTER within this: the bow-out reaches the backups within
/// `D`, and the most preferred of them waits 1/1024 s per 1/256 s of rank
/// between itself and the departed master (VRRP's skew time, scaled so the
/// backups take over in their order of preference).
pub fn bow_out_bound(segment: &Segment, vhid: u8, master: NodeId) -> Duration {
    let departed = expected(segment, master, vhid).map_or(0, |e| e.rank.1);
    let wait = candidates(segment, vhid)
        .into_iter()
        .filter(|&n| n != master)
        .filter_map(|n| expected(segment, n, vhid))
        .map(|e| {
            let steps = e.rank.1.saturating_sub(departed);
            Duration::from_nanos(u64::from(steps) * TICK_NS / 4).min(e.master_down)
        })
        .min()
        .unwrap_or_default();
    wait + segment.conditions().max_delay
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// When it was observed.
    pub at: Time,
    pub vhid: u8,
    /// What was expected and what happened.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {} vhid {}: {}", self.at, self.vhid, self.what)
    }
}

/// Exactly one candidate is MASTER of `vhid` (none if there are no candidates),
/// and if every candidate preempts it is the most preferred one.
pub fn check_converged(segment: &Segment, vhid: u8) -> Result<(), Violation> {
    let masters = segment.masters(vhid);
    let names = |nodes: &[NodeId]| {
        nodes
            .iter()
            .map(|&n| segment.name(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let violation = |what: String| Violation {
        at: segment.now(),
        vhid,
        what,
    };
    let best = most_preferred(segment, vhid);
    if best.is_empty() {
        return match masters.is_empty() {
            true => Ok(()),
            false => Err(violation(format!(
                "no candidates, yet MASTER: {}",
                names(&masters)
            ))),
        };
    }
    if masters.len() != 1 {
        return Err(violation(format!(
            "expected exactly one MASTER, found {} [{}]",
            masters.len(),
            names(&masters)
        )));
    }
    if all_preempt(segment, vhid) && !best.contains(&masters[0]) {
        return Err(violation(format!(
            "with preemption the MASTER should be one of [{}] (most preferred), found {}",
            names(&best),
            segment.name(masters[0])
        )));
    }
    Ok(())
}

/// The first change of a node other than `excluded` to MASTER of `vhid` at or
/// after `since`, from the timeline.
pub fn first_master_since(
    segment: &Segment,
    vhid: u8,
    since: Time,
    excluded: Option<NodeId>,
) -> Option<(Time, NodeId)> {
    segment
        .timeline()
        .iter()
        .filter(|e| e.at >= since && e.node != excluded)
        .find_map(|e| match e.state_change() {
            Some((v, _, to)) if v == vhid && to == crate::engine::State::Master => {
                Some((e.at, e.node?))
            }
            _ => None,
        })
}

/// State changes of `vhid` strictly after `after`.
pub fn transitions_after(segment: &Segment, vhid: u8, after: Time) -> usize {
    segment
        .timeline()
        .iter()
        .filter(|e| e.at > after && e.state_change().is_some_and(|(v, _, _)| v == vhid))
        .count()
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    #[test]
    fn model_matches_the_protocol_doc() {
        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let free = VhidConfig::new(1, source).advskew(100);
        let e = Expected::new(&free, 0);
        assert_eq!(e.interval, Duration::from_nanos(1_390_625_000));
        assert_eq!(e.master_down, Duration::from_nanos(3_390_625_000));
        assert_eq!(Expected::new(&free, 500).rank.1, 256 + 240);
        let open = VhidConfig::new(1, source)
            .flavor(Flavor::OpenBsd)
            .advbase(0)
            .advskew(128);
        let e = Expected::new(&open, 300);
        assert_eq!(e.rank.0, 255);
        assert_eq!(e.interval, Duration::from_millis(500));
        assert_eq!(e.master_down, Duration::from_millis(1_500));
    }
}
