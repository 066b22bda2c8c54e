//! Boot hold-down (`preempt_delay`, keepalived's): for the delay after a
//! vhid is added, it takes over from no live master; a silent master is
//! still taken over at master-down, and preemption resumes after it.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use carp_agent::engine::{
    Action, Engine, Flavor, Iface, PeerAdvert, Reason, State, Time, VhidConfig, VhidKey,
};

const IF1: Iface = Iface::new(1);
const KEY: VhidKey = VhidKey {
    iface: IF1,
    vhid: 1,
};

fn secs(s: f64) -> Time {
    Time::from_duration(Duration::from_secs_f64(s))
}

/// A less preferred master (.1, advskew 100) advertising.
fn weaker_master(demote: u8) -> PeerAdvert {
    PeerAdvert {
        source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        advbase: 1,
        advskew: 100,
        demote,
    }
}

fn reasons(engine: &mut Engine) -> Vec<Reason> {
    std::iter::from_fn(|| engine.poll_action())
        .filter_map(|a| match a {
            Action::StateChange { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

/// A preempting BACKUP (advskew 0) added at `start` with `delay`.
fn backup(start: f64, delay: u64, flavor: Flavor) -> Engine {
    let config = VhidConfig::new(1, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)))
        .preempt(true)
        .flavor(flavor)
        .preempt_delay(Duration::from_secs(delay));
    let mut engine = Engine::new();
    engine.set_link(secs(start), IF1, true);
    engine.add_vhid(secs(start), IF1, config).unwrap();
    reasons(&mut engine);
    assert_eq!(engine.state(KEY), Some(State::Backup));
    engine
}

/// Feeds the weaker master's advert every second from `from` to `to`
/// (exclusive); returns when the vhid became MASTER, if it did.
fn advertise(engine: &mut Engine, from: u32, to: u32, demote: u8) -> Option<(u32, Reason)> {
    for t in from..to {
        engine
            .handle_advert(secs(f64::from(t)), KEY, weaker_master(demote))
            .unwrap();
        if let Some(reason) = reasons(engine).pop() {
            return Some((t, reason));
        }
    }
    None
}

#[test]
fn without_a_delay_a_weaker_master_is_preempted_at_once() {
    let mut engine = backup(100.0, 0, Flavor::FreeBsd);
    let (at, reason) = advertise(&mut engine, 101, 110, 0).unwrap();
    assert_eq!(at, 101);
    assert!(matches!(reason, Reason::Preempting { .. }), "{reason}");
}

#[test]
fn a_weaker_master_is_preempted_only_after_the_delay() {
    // Added at t=100 with a 30 s hold: its adverts at 101..=129 are followed.
    let mut engine = backup(100.0, 30, Flavor::FreeBsd);
    assert_eq!(advertise(&mut engine, 101, 130, 0), None);
    assert_eq!(engine.state(KEY), Some(State::Backup));
    // It is followed: master-down is re-armed by each advert.
    assert_eq!(engine.next_timeout(), Some(secs(129.0 + 3.0)));
    let (at, reason) = advertise(&mut engine, 130, 140, 0).unwrap();
    assert_eq!(at, 130, "the first advert at the end of the hold");
    assert!(matches!(reason, Reason::Preempting { .. }), "{reason}");
}

#[test]
fn a_silent_master_is_taken_over_during_the_delay() {
    let mut engine = backup(100.0, 300, Flavor::FreeBsd);
    assert_eq!(advertise(&mut engine, 101, 105, 0), None);
    // The master falls silent after t=104: master-down (3 s) fires.
    let at = engine.next_timeout().unwrap();
    assert_eq!(at, secs(107.0));
    engine.handle_timeout(at);
    assert_eq!(engine.state(KEY), Some(State::Master));
    let reason = reasons(&mut engine).pop().unwrap();
    assert!(matches!(reason, Reason::MasterDown { .. }), "{reason}");
}

#[test]
fn openbsd_more_demoted_master_waits_for_the_delay_too() {
    let mut engine = backup(0.0, 10, Flavor::OpenBsd);
    assert_eq!(advertise(&mut engine, 1, 10, 1), None);
    let (at, reason) = advertise(&mut engine, 10, 20, 1).unwrap();
    assert_eq!(at, 10);
    assert!(
        matches!(reason, Reason::MoreDemotedMaster { .. }),
        "{reason}"
    );
}
