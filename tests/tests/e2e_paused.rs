//! Paused agents (issue 8): a process stopped with SIGSTOP (a debugger, a
//! VM pause, a starved host) keeps its XDP program running, so the adverts
//! that arrive meanwhile wait in its queue. On SIGCONT it must read them
//! before any timer decides.
//!
//! - `backup_paused_past_master_down_does_not_take_over`: a BACKUP stopped
//!   longer than its master-down, then continued, five times: it must never
//!   become MASTER (no transition, no advert, no gratuitous ARP from it).
//! - `frozen_master_yields_silently_on_resume`: a MASTER stopped while a
//!   more preferred backup takes over, then continued: it must yield at once
//!   without putting a frame from the virtual MAC on the wire (any such frame
//!   moves the switch's entry for the virtual MAC to it, taking the VIP's
//!   traffic away from the real master).
//!
//! Frames are captured on the host's switch port, so frames from the shared
//! virtual MAC are told apart by sender.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant, SystemTime};

use carp_tests::{
    lab::{Lab, VIP, vhid1_args, vmac},
    packet::{AdvertSeen, Capture, Frame, is_gratuitous_arp, source_mac},
    privileges::require_root,
};

const VIP_BYTES: [u8; 4] = [10, 77, 0, 100];
const SLACK: Duration = Duration::from_millis(600);

/// Advert interval of advbase 1 with `advskew`.
fn interval(advskew: u32) -> Duration {
    Duration::from_secs(1) + Duration::from_secs_f64(f64::from(advskew) / 256.0)
}

/// FreeBSD master-down of advbase 1 with `advskew`: 3*advbase + advskew/256.
fn master_down(advskew: u32) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(advskew) / 256.0)
}

fn count_to_master(log: &str) -> usize {
    log.lines().filter(|l| l.contains("-> MASTER")).count()
}

/// What a host put on the wire, from a capture on its switch port.
#[derive(Debug, Default)]
struct Sent {
    adverts: usize,
    garps: usize,
    from_vmac: usize,
}

fn summarise(frames: &[Frame], after: SystemTime) -> Sent {
    let vmac = carp_common::virtual_mac(1);
    let mut sent = Sent::default();
    for frame in frames.iter().filter(|f| f.at >= after) {
        if AdvertSeen::parse(&frame.bytes).is_some_and(|a| a.vhid == 1) {
            sent.adverts += 1;
        }
        if is_gratuitous_arp(&frame.bytes, VIP_BYTES) {
            sent.garps += 1;
        }
        if source_mac(&frame.bytes) == Some(vmac) {
            sent.from_vmac += 1;
        }
    }
    sent
}

#[test]
fn backup_paused_past_master_down_does_not_take_over() {
    if !require_root("backup_paused_past_master_down_does_not_take_over") {
        return;
    }
    const TRIES: usize = 5;
    let mut lab = Lab::new("pzb", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.start_agent(1, &vhid1_args("100", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    let capture = Capture::start(&lab.switch, &Lab::port(1)).unwrap();
    let first_pause = SystemTime::now();
    let mut flips = Vec::new();
    for attempt in 1..=TRIES {
        let transitions = lab.counter(1, "transitions").unwrap();
        let masters = count_to_master(&lab.log(1));
        lab.signal(1, libc::SIGSTOP);
        // Its master-down (3.39 s) and more than one of A's adverts besides.
        std::thread::sleep(master_down(100) + Duration::from_millis(1500));
        lab.signal(1, libc::SIGCONT);
        std::thread::sleep(interval(100) + Duration::from_millis(500));
        let changed = lab.counter(1, "transitions").unwrap() - transitions;
        let to_master = count_to_master(&lab.log(1)) - masters;
        if changed > 0 || to_master > 0 {
            flips.push((attempt, changed, to_master));
            // A re-asserts; let B settle before the next try.
            lab.wait_state(1, 1, "BACKUP", Duration::from_secs(5))
                .unwrap();
        }
        assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    }
    let sent = summarise(&capture.finish(), first_pause);
    println!(
        "paused BACKUP, {TRIES} tries: flips (try, transitions, -> MASTER) {flips:?}; \
         from B's port: {} adverts, {} gratuitous ARPs, {} frames from the virtual MAC",
        sent.adverts, sent.garps, sent.from_vmac
    );
    assert!(
        flips.is_empty(),
        "a paused BACKUP took over on SIGCONT in {} of {TRIES} tries {flips:?}; B's log:\n{}",
        flips.len(),
        lab.log(1)
    );
    assert_eq!(sent.adverts, 0, "B advertised after a pause: {sent:?}");
    assert_eq!(sent.garps, 0, "B sent gratuitous ARPs after a pause");
}

#[test]
fn frozen_master_yields_silently_on_resume() {
    if !require_root("frozen_master_yields_silently_on_resume") {
        return;
    }
    let mut lab = Lab::new("pzm", 2).unwrap();
    // A (advskew 100) is MASTER; B (advskew 0, no preemption) joins later
    // and stays BACKUP: once it has taken over, it outranks A.
    lab.start_agent(0, &vhid1_args("100", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.start_agent(1, &vhid1_args("0", false)).unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    std::thread::sleep(interval(100));
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));

    lab.signal(0, libc::SIGSTOP);
    lab.wait_state(1, 1, "MASTER", master_down(0) + interval(100) + SLACK)
        .unwrap();
    // A few of B's adverts queue up at the frozen A.
    std::thread::sleep(interval(0) * 2);
    let b_transitions = lab.counter(1, "transitions").unwrap();
    let probe = lab.probe(VIP).unwrap();
    let capture = Capture::start(&lab.switch, &Lab::port(0)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let resumed = SystemTime::now();
    let resumed_at = Instant::now();
    lab.signal(0, libc::SIGCONT);
    let yielded = lab.wait_state(0, 1, "BACKUP", Duration::from_secs(1));
    let mut b_states = Vec::new();
    while resumed_at.elapsed() < Duration::from_secs(3) {
        let state = lab.state(1, 1);
        if state.as_deref() != Some("MASTER") {
            b_states.push((resumed_at.elapsed(), state));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = summarise(&capture.finish(), resumed);
    let result = probe.finish();
    let fdb = lab.fdb_port(&vmac(1));
    let b_changed = lab.counter(1, "transitions").unwrap() - b_transitions;
    println!(
        "frozen MASTER resumed: A BACKUP after {yielded:?}; from A's port after SIGCONT: {} \
         adverts, {} gratuitous ARPs, {} frames from the virtual MAC; B left MASTER {b_states:?}, \
         B transitions +{b_changed}; switch has the virtual MAC on {fdb:?}; client outage {:?} \
         ({} replies)",
        sent.adverts, sent.garps, sent.from_vmac, result.longest_gap, result.replies
    );
    if let Err(err) = yielded {
        panic!("the resumed MASTER did not yield within 1 s: {err:#}");
    }
    assert_eq!(
        sent.garps,
        0,
        "the resumed MASTER sent gratuitous ARPs for the VIP; A's log:\n{}",
        lab.log(0)
    );
    assert_eq!(
        sent.from_vmac,
        0,
        "the resumed MASTER sent {} frames from the virtual MAC ({} adverts) before yielding, \
         moving the switch's entry away from B; A's log:\n{}",
        sent.from_vmac,
        sent.adverts,
        lab.log(0)
    );
    assert!(b_states.is_empty(), "B left MASTER: {b_states:?}");
    assert_eq!(b_changed, 0, "B changed state; B's log:\n{}", lab.log(1));
    assert_eq!(fdb.as_deref(), Some(Lab::port(1).as_str()));
    assert!(result.answered_across(resumed));
    assert!(
        result.longest_gap < Duration::from_millis(500),
        "client outage {:?} when the frozen master resumed",
        result.longest_gap
    );
}
