//! End-to-end: hostile floods on the segment of two real agents, sent from
//! an attacker namespace on the bridge by `carp_flood` at the highest rate
//! the veth takes. Adverts with a wrong HMAC (from the master's own address,
//! spoofed, then from random sources), a captured genuine advert replayed
//! (as is, then from random sources), and ARP requests for the VIP: the
//! XDP program must absorb them (its `badauth` / `replayed` / `ratelimited`
//! counters grow by about the flood size, the agent's own `agent_badauth`
//! only by the one-per-10-s sample), no agent may change state, and the
//! master stays MASTER. The agents' CPU use is measured by
//! `cargo xtask bench flood`, not here.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_common::BADAUTH_SAMPLE_INTERVAL_NS;
use carp_tests::{
    flood,
    lab::{Lab, VIP, vhid1_args},
    privileges::require_root,
};

const FLOOD: &str = env!("CARGO_BIN_EXE_carp_flood");
/// Frames per phase at most, and how long a phase may last.
const COUNT: &str = "200000";
const SECONDS: &str = "4";
const MASTER: usize = 0;
const BACKUP: usize = 1;

/// The counters each phase is judged by, on one host.
#[derive(Clone, Copy, Debug, Default)]
struct Reading {
    transitions: u64,
    badauth: u64,
    agent_badauth: u64,
    replayed: u64,
    ratelimited: u64,
    adverts: u64,
    arp: u64,
}

fn read(lab: &Lab, i: usize) -> Reading {
    let c = |name| lab.counter(i, name).unwrap();
    Reading {
        transitions: c("transitions"),
        badauth: c("badauth"),
        agent_badauth: c("agent_badauth"),
        replayed: c("replayed"),
        ratelimited: c("ratelimited"),
        adverts: c("adverts"),
        arp: c("arp_replies") + c("arp_suppressed"),
    }
}

/// What a phase must have made grow on every host.
#[derive(Clone, Copy)]
enum Absorbed {
    /// `badauth` by about the flood.
    Badauth,
    /// `replayed` + `ratelimited` by about the flood.
    Replayed,
    /// ARP replies / suppressions by about the flood.
    Arp,
}

#[test]
fn floods_stay_in_the_kernel_and_nobody_changes_state() {
    if !require_root("e2e flood") {
        return;
    }
    let mut lab = Lab::new("fl", 2).unwrap();
    lab.start_agent(MASTER, &vhid1_args("0", false)).unwrap();
    lab.wait_state(MASTER, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.start_agent(BACKUP, &vhid1_args("100", false)).unwrap();
    lab.wait_state(BACKUP, 1, "BACKUP", Duration::from_secs(8))
        .unwrap();
    // The backup has heard the master: its source is known in CARP_REPLAY.
    std::thread::sleep(Duration::from_secs(2));
    let attacker = lab.attach_station("fla", "pa").unwrap();
    let master_addr = format!("fixed:{}", lab.hosts[MASTER].addr);
    let phases: [(&str, Vec<&str>, Absorbed); 5] = [
        (
            "wrong HMAC, the master's address spoofed",
            vec!["wrong-hmac", "1", &master_addr],
            Absorbed::Badauth,
        ),
        (
            "wrong HMAC, random sources",
            vec!["wrong-hmac", "1", "random"],
            Absorbed::Badauth,
        ),
        (
            "a genuine advert replayed",
            vec!["replay", "1", "fixed"],
            Absorbed::Replayed,
        ),
        (
            "a genuine advert replayed from random sources",
            vec!["replay", "1", "random"],
            Absorbed::Replayed,
        ),
        ("ARP requests for the VIP", vec!["arp", VIP], Absorbed::Arp),
    ];
    let mut problems = Vec::new();
    for (name, args, absorbed) in phases {
        let before = [read(&lab, MASTER), read(&lab, BACKUP)];
        let mut full = vec!["eth0"];
        full.extend(args);
        full.extend([COUNT, SECONDS]);
        let sent = flood::run_in(&attacker, FLOOD, &full).unwrap();
        // Adverts the master sends during the phase still arrive.
        std::thread::sleep(Duration::from_millis(1500));
        let after = [read(&lab, MASTER), read(&lab, BACKUP)];
        println!(
            "{name}: sent {} in {:?} ({:.0}/s)\n  before {before:?}\n  after  {after:?}",
            sent.frames,
            sent.elapsed,
            sent.per_second()
        );
        // Allowances: one sample of a wrong digest per 10 s (and one more
        // for the boundary) reaches the agent.
        let samples = sent.elapsed.as_nanos() as u64 / BADAUTH_SAMPLE_INTERVAL_NS + 2;
        for i in [MASTER, BACKUP] {
            let (b, a) = (before[i], after[i]);
            let host = &lab.hosts[i].name;
            if a.transitions != b.transitions {
                problems.push(format!("{name}: {host} changed state"));
            }
            let grew = match absorbed {
                Absorbed::Badauth => a.badauth - b.badauth,
                Absorbed::Replayed => a.replayed + a.ratelimited - b.replayed - b.ratelimited,
                Absorbed::Arp => a.arp - b.arp,
            };
            // "About the flood": a veth under flood may lose some frames on
            // the way (backlog), but most must have been seen and absorbed.
            if grew < sent.frames / 2 || grew > sent.frames {
                problems.push(format!(
                    "{name}: {host} absorbed {grew} of {} frames",
                    sent.frames
                ));
            }
            if a.agent_badauth - b.agent_badauth > samples {
                problems.push(format!(
                    "{name}: {host}'s agent checked {} wrong digests itself (at most {samples})",
                    a.agent_badauth - b.agent_badauth
                ));
            }
            // What reached the agent: the master's genuine adverts (the
            // backup's only), the budget for new sources, the samples.
            let budget = carp_common::NEW_SOURCE_BURST
                + sent.elapsed.as_nanos() as u64 / carp_common::NEW_SOURCE_INTERVAL_NS
                + 1;
            let reached = a.adverts - b.adverts;
            let genuine = 10;
            if reached > budget + genuine {
                problems.push(format!(
                    "{name}: {reached} adverts reached {host}'s agent (at most {})",
                    budget + genuine
                ));
            }
        }
        if lab.state(MASTER, 1).as_deref() != Some("MASTER") {
            problems.push(format!("{name}: the master is {:?}", lab.state(MASTER, 1)));
        }
        if lab.state(BACKUP, 1).as_deref() != Some("BACKUP") {
            problems.push(format!("{name}: the backup is {:?}", lab.state(BACKUP, 1)));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nmaster log:\n{}\nbackup log:\n{}",
        problems.join("\n"),
        lab.log(MASTER),
        lab.log(BACKUP)
    );
}
