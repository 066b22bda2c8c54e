//! Replayed adverts on a hostile segment (issue 8). An attacker plugged into
//! the lab's bridge captures real adverts and sends them again:
//!
//! - `replay_with_raised_rank_does_not_unseat_the_master`: the backup's
//!   captured adverts (advskew 100, taken while it was MASTER) with advskew
//!   and demote set to 0 and the checksum fixed (the HMAC does not cover
//!   those fields), ten a second for 5 s, against a master at advskew 10.
//!   The master must stay MASTER and the client keep reaching the VIP.
//! - `replayed_adverts_of_a_dead_master_do_not_delay_the_failover`: the
//!   master's own adverts, replayed unchanged after a kill -9 of the master.
//!   The backup must take over within master-down plus one interval of the
//!   kill, and stay MASTER while the replay goes on.
//!
//! Real agents with the settings a user gets (no --xdp-mode).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant, SystemTime};

use carp_tests::{
    lab::{FAILOVER_BOUND, Lab, VIP, vhid1_args},
    packet::{AdvertSeen, Capture, PacketSocket, Replayer, rewrite_advert, with_source_mac},
    privileges::require_root,
};

/// The attacker's own MAC: replayed frames do not come from the virtual
/// MAC, so the switch keeps sending the VIP's traffic to the real master.
const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x77];
/// Polling and process start-up on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(600);
const HOST_A: [u8; 4] = [10, 77, 0, 11];
const HOST_B: [u8; 4] = [10, 77, 0, 12];

/// Frames of vhid 1 adverts sent from `src` with `advskew`, as captured.
fn adverts_from(frames: &[carp_tests::packet::Frame], src: [u8; 4], advskew: u8) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter(|f| {
            AdvertSeen::parse(&f.bytes)
                .is_some_and(|a| a.src == src && a.vhid == 1 && a.advskew == advskew)
        })
        .map(|f| f.bytes.clone())
        .collect()
}

/// Samples host `i`'s state every 50 ms for `duration`; returns each state
/// other than `expected` with when it was seen.
fn sample_other_states(
    lab: &Lab,
    i: usize,
    expected: &str,
    duration: Duration,
) -> Vec<(Duration, Option<String>)> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < duration {
        let state = lab.state(i, 1);
        if state.as_deref() != Some(expected) {
            seen.push((start.elapsed(), state));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

#[test]
fn replay_with_raised_rank_does_not_unseat_the_master() {
    if !require_root("replay_with_raised_rank_does_not_unseat_the_master") {
        return;
    }
    let mut lab = Lab::new("rpa", 2).unwrap();
    let attacker = lab.attach_station("rpax", "px").unwrap();
    let capture = Capture::start(&attacker, "eth0").unwrap();
    // B alone first: it becomes MASTER and the attacker records its adverts.
    lab.start_agent(1, &vhid1_args("100", true)).unwrap();
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // A, more preferred and preempting, takes over on B's next advert.
    // Advskew 10, not 0: a forged advskew 0 must outrank A. (Against an
    // advskew-0 master it only ties, and the default tie rule keeps the
    // lower address, A's, as MASTER anyway.)
    lab.start_agent(0, &vhid1_args("10", true)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    let captured = adverts_from(&capture.finish(), HOST_B, 100);
    assert!(
        !captured.is_empty(),
        "the attacker captured none of B's adverts"
    );
    let forged: Vec<Vec<u8>> = captured
        .iter()
        .map(|f| rewrite_advert(f, 0, 0, ATTACKER_MAC).unwrap())
        .collect();

    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let transitions = lab.counter(0, "transitions").unwrap();
    let started = SystemTime::now();
    let replay = Replayer::start(
        PacketSocket::open(&attacker, "eth0").unwrap(),
        forged,
        Duration::from_millis(100),
    );
    let left_master = sample_other_states(&lab, 0, "MASTER", Duration::from_secs(5));
    let sent = replay.stop();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    let transitions_after = lab.counter(0, "transitions").unwrap();
    println!(
        "replay of B's adverts with advskew 0: {sent} sent from {} captured; A not MASTER in \
         {} samples (first {:?}); A transitions +{}; client outage {:?} ({} replies)",
        captured.len(),
        left_master.len(),
        left_master.first(),
        transitions_after - transitions,
        result.longest_gap,
        result.replies
    );
    assert!(sent >= 40, "the replay ran: {sent} frames");
    assert!(
        left_master.is_empty(),
        "A left MASTER under the forged adverts: {} of the samples, first {:?}\nA's log:\n{}",
        left_master.len(),
        &left_master[..left_master.len().min(3)],
        lab.log(0)
    );
    assert_eq!(
        transitions_after,
        transitions,
        "A changed state under the forged adverts; A's log:\n{}",
        lab.log(0)
    );
    assert!(
        result.answered_across(started),
        "the VIP answered before and after the replay: {} replies",
        result.replies
    );
    assert!(
        result.longest_gap < Duration::from_secs(1),
        "client outage {:?} during the replay",
        result.longest_gap
    );
}

#[test]
fn replayed_adverts_of_a_dead_master_do_not_delay_the_failover() {
    if !require_root("replayed_adverts_of_a_dead_master_do_not_delay_the_failover") {
        return;
    }
    let mut lab = Lab::new("rpb", 2).unwrap();
    let attacker = lab.attach_station("rpbx", "px").unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.start_agent(1, &vhid1_args("100", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    let capture = Capture::start(&attacker, "eth0").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let captured = adverts_from(&capture.finish(), HOST_A, 0);
    assert!(
        !captured.is_empty(),
        "the attacker captured none of A's adverts"
    );
    let replayed: Vec<Vec<u8>> = captured
        .iter()
        .map(|f| with_source_mac(f, ATTACKER_MAC))
        .collect();

    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let killed_wall = SystemTime::now();
    lab.kill9(0);
    let replay = Replayer::start(
        PacketSocket::open(&attacker, "eth0").unwrap(),
        replayed,
        Duration::from_millis(100),
    );
    // master-down of B (3 + 100/256 s) plus one of its intervals.
    let took = lab.wait_state(1, 1, "MASTER", FAILOVER_BOUND + SLACK);
    // Once MASTER, B must not yield to the dead master's replayed adverts.
    let left_master = if took.is_ok() {
        sample_other_states(&lab, 1, "MASTER", Duration::from_secs(4))
    } else {
        Vec::new()
    };
    let sent = replay.stop();
    std::thread::sleep(Duration::from_millis(500));
    let result = probe.finish();
    println!(
        "replay of a killed master's adverts: {sent} sent from {} captured; B MASTER after \
         {:?}; B not MASTER afterwards in {} samples; client outage {:?} ({} replies)",
        captured.len(),
        took.as_ref().map_err(|_| "never"),
        left_master.len(),
        result.longest_gap,
        result.replies
    );
    assert!(sent >= 20, "the replay ran: {sent} frames");
    if let Err(err) = took {
        panic!("B did not take over while a dead master's adverts were replayed: {err:#}");
    }
    assert!(
        left_master.is_empty(),
        "B left MASTER under the replayed adverts: {} of the samples, first {:?}\nB's log:\n{}",
        left_master.len(),
        &left_master[..left_master.len().min(3)],
        lab.log(1)
    );
    assert!(
        result.answered_across(killed_wall),
        "the VIP answered before and after the kill: {} replies",
        result.replies
    );
    assert!(
        result.longest_gap < FAILOVER_BOUND + SLACK,
        "client outage {:?}",
        result.longest_gap
    );
}
