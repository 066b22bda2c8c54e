//! Scenario 9: interoperation with a real ucarp (Debian package) on the lab
//! bridge, both directions, and with a wrong password. ucarp adds nothing
//! itself: its up/down scripts add and remove the VIP, and it announces the
//! VIP with gratuitous ARP from the NIC's real MAC (ours: the virtual MAC),
//! so after every failover the client must still reach the VIP.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant};

// FAILOVER_BOUND holds for ucarp as the advskew-100 backup too: it computes
// master-down the same way (deadratio 3).
use carp_tests::{
    lab::{FAILOVER_BOUND, Lab, PASSWORD, VIP, vhid1_args, vmac},
    privileges::require_root,
    ucarp::Ucarp,
};

/// ucarp on host 0 (10.77.0.11); our agent runs on host 1 (10.77.0.12).
const UCARP_HOST: usize = 0;
const AGENT_HOST: usize = 1;

/// Starts ucarp on host 0 for vhid 1 with the VIP.
fn start_ucarp(lab: &Lab, password: &str, advskew: &str) -> Ucarp {
    start_ucarp_on(lab, UCARP_HOST, password, advskew)
}

/// [`start_ucarp`] on host `i`.
fn start_ucarp_on(lab: &Lab, i: usize, password: &str, advskew: &str) -> Ucarp {
    Ucarp::start(lab, i, password, advskew).unwrap()
}

fn start_agent(lab: &mut Lab, advskew: &str) {
    start_agent_on(lab, AGENT_HOST, advskew, &[]);
}

/// Our agent on host `i` for vhid 1, with `extra` flags.
fn start_agent_on(lab: &mut Lab, i: usize, advskew: &str, extra: &[&str]) {
    let mut args = vhid1_args(advskew, false);
    args.extend(extra.iter().map(|s| s.to_string()));
    lab.start_agent(i, &args).expect("start agent");
}

#[test]
fn ucarp_master_our_backup_takes_over_when_ucarp_dies() {
    if !require_root("e2e scenario 9a") {
        return;
    }
    let mut lab = Lab::new("u9a", 2).unwrap();
    let ucarp = start_ucarp(&lab, PASSWORD, "0");
    ucarp.wait_state("MASTER", Duration::from_secs(6)).unwrap();
    start_agent(&mut lab, "100");
    lab.wait_state(AGENT_HOST, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    // Longer than our master-down: ucarp's adverts keep us BACKUP.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        lab.state(AGENT_HOST, 1).as_deref(),
        Some("BACKUP"),
        "{}",
        lab.log(AGENT_HOST)
    );
    lab.assert_client_reaches(VIP, "ucarp master");
    assert_eq!(
        lab.client_neighbour_mac(VIP),
        lab.real_mac(UCARP_HOST).unwrap()
    );

    // ucarp's host dies: the daemon is killed and its link goes away, so its
    // left-over VIP cannot answer either.
    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    drop(ucarp);
    lab.hosts[UCARP_HOST]
        .ns
        .ip(&["link", "set", "eth0", "down"])
        .unwrap();
    let took = lab
        .wait_state(AGENT_HOST, 1, "MASTER", FAILOVER_BOUND)
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "ucarp -> agent: MASTER after {took:?}; client outage {:?} ({} replies in {:?})",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.replies > 50, "the VIP answered before and after");
    assert!(result.longest_gap < FAILOVER_BOUND);
    lab.assert_client_reaches(VIP, "agent master");
    // Our gratuitous ARP moved the client from ucarp's real MAC to the vMAC.
    assert_eq!(lab.client_neighbour_mac(VIP), vmac(1));
}

#[test]
fn our_master_ucarp_backup_takes_over_when_we_stop() {
    if !require_root("e2e scenario 9b") {
        return;
    }
    let mut lab = Lab::new("u9b", 2).unwrap();
    start_agent(&mut lab, "0");
    lab.wait_state(AGENT_HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let ucarp = start_ucarp(&lab, PASSWORD, "100");
    // Longer than ucarp's master-down (3 + 100/256 s): it stays BACKUP.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(ucarp.state().as_deref(), Some("BACKUP"), "{}", ucarp.log());
    assert!(
        !ucarp.up_script_ran(),
        "ucarp ran its up script:\n{}",
        ucarp.log()
    );
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
    lab.assert_client_reaches(VIP, "agent master");
    assert_eq!(lab.client_neighbour_mac(VIP), vmac(1));

    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    // SIGTERM: our bow-out advert (advbase 255, advskew 255), VIPs removed.
    lab.terminate(AGENT_HOST).unwrap();
    let took = ucarp.wait_state("MASTER", FAILOVER_BOUND).unwrap();
    assert!(
        ucarp.up_script_ran_within(Duration::from_secs(2)),
        "{}",
        ucarp.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "agent -> ucarp: MASTER after {took:?}; client outage {:?} ({} replies in {:?})",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.replies > 50, "the VIP answered before and after");
    assert!(result.longest_gap < FAILOVER_BOUND);
    lab.assert_client_reaches(VIP, "ucarp master");
    // ucarp's gratuitous ARP moved the client to its real MAC.
    assert_eq!(
        lab.client_neighbour_mac(VIP),
        lab.real_mac(UCARP_HOST).unwrap()
    );
}

#[test]
fn ucarp_with_a_wrong_password_is_counted_as_badauth_and_both_are_master() {
    if !require_root("e2e scenario 9c") {
        return;
    }
    let mut lab = Lab::new("u9c", 2).unwrap();
    start_agent(&mut lab, "0");
    lab.wait_state(AGENT_HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let ucarp = start_ucarp(&lab, "notthepass", "100");
    // ucarp ignores our adverts (bad digest) and takes over after its
    // master-down; we ignore its adverts and stay MASTER.
    ucarp.wait_state("MASTER", Duration::from_secs(6)).unwrap();
    // ucarp's MASTER line can come before its first advert has reached our
    // agent's counter (a run read 0 here): wait for it, then take the reading.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut before = lab.counter(AGENT_HOST, "badauth").unwrap();
    while before == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        before = lab.counter(AGENT_HOST, "badauth").unwrap();
    }
    // ucarp with advskew 100 advertises every 1 + 100/256 s: at least 2 in 4 s.
    std::thread::sleep(Duration::from_secs(4));
    let after = lab.counter(AGENT_HOST, "badauth").unwrap();
    println!("badauth {before} -> {after}; ucarp log:\n{}", ucarp.log());
    assert!(before >= 1, "{before}");
    assert!(after >= before + 2, "{before} -> {after}");
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
    assert_eq!(ucarp.state().as_deref(), Some("MASTER"));
    let log = lab.log(AGENT_HOST);
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("badauth")).collect();
    assert_eq!(warnings.len(), 1, "one rate-limited warning:\n{log}");
    assert!(
        warnings[0].contains(&lab.hosts[UCARP_HOST].addr),
        "names ucarp's address: {}",
        warnings[0]
    );
}

/// Who is MASTER of vhid 1 now: (ours, ucarp's).
fn masters(lab: &Lab, agent: usize, ucarp: &Ucarp) -> (bool, bool) {
    (
        lab.state(agent, 1).as_deref() == Some("MASTER"),
        ucarp.state().as_deref() == Some("MASTER"),
    )
}

/// Samples for `how_long` that exactly the expected one of the two is
/// MASTER and the client's neighbour entry for the VIP stays `mac`.
fn assert_settled(
    lab: &Lab,
    agent: usize,
    ucarp: &Ucarp,
    ours_wins: bool,
    mac: &str,
    how_long: Duration,
    context: &str,
) {
    let start = Instant::now();
    while start.elapsed() < how_long {
        let (ours, theirs) = masters(lab, agent, ucarp);
        assert_eq!(
            (ours, theirs),
            (ours_wins, !ours_wins),
            "{context}: (ours MASTER, ucarp MASTER) after {:?}\nagent log:\n{}\nucarp log:\n{}",
            start.elapsed(),
            lab.log(agent),
            ucarp.log()
        );
        assert_eq!(
            lab.client_neighbour_mac(VIP),
            mac,
            "{context}: the client's entry moved after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 9d: equal advbase and advskew, ucarp MASTER first, ours started
/// with --preempt, in both address orders. Nobody preempts an equal master:
/// ucarp stays MASTER and the client's entry stays on ucarp's MAC. (With the
/// old higher-address rule, ours at .12 preempted ucarp at .11 and both
/// stayed MASTER for good.)
#[test]
fn equal_rank_with_preempt_never_takes_over_from_ucarp_in_either_order() {
    if !require_root("e2e scenario 9d") {
        return;
    }
    for (ucarp_host, agent_host) in [(0, 1), (1, 0)] {
        let context = format!(
            "ucarp on .{} MASTER, ours on .{} with --preempt",
            11 + ucarp_host,
            11 + agent_host
        );
        let mut lab = Lab::new(&format!("u9d{ucarp_host}"), 2).unwrap();
        let ucarp = start_ucarp_on(&lab, ucarp_host, PASSWORD, "0");
        ucarp.wait_state("MASTER", Duration::from_secs(6)).unwrap();
        lab.assert_client_reaches(VIP, &context);
        let ucarp_mac = lab.real_mac(ucarp_host).unwrap();
        assert_eq!(lab.client_neighbour_mac(VIP), ucarp_mac, "{context}");
        start_agent_on(&mut lab, agent_host, "0", &["--preempt"]);
        lab.wait_state(agent_host, 1, "BACKUP", Duration::from_secs(3))
            .unwrap();
        // Past our master-down (3 s) and several of ucarp's adverts.
        assert_settled(
            &lab,
            agent_host,
            &ucarp,
            false,
            &ucarp_mac,
            Duration::from_secs(5),
            &context,
        );
        lab.assert_client_reaches(VIP, &context);
    }
}

/// Scenario 9e: a partition heals with ucarp and ours both MASTER at equal
/// rank, in both address orders. Both rules keep the lower address (ucarp
/// compares the last octet first; .11 < .12 either way): exactly one MASTER
/// within a couple of intervals, and the client's entry settles on the
/// winner's MAC and stays there.
#[test]
fn healed_partition_with_ucarp_leaves_the_lower_address_master_in_either_order() {
    if !require_root("e2e scenario 9e") {
        return;
    }
    for (ucarp_host, agent_host) in [(0, 1), (1, 0)] {
        let ours_wins = agent_host < ucarp_host;
        let context = format!(
            "ucarp on .{}, ours on .{}, partition healed",
            11 + ucarp_host,
            11 + agent_host
        );
        let mut lab = Lab::new(&format!("u9e{ucarp_host}"), 2).unwrap();
        // Isolated bridge ports cannot reach each other but still reach the
        // client's port: the two routers are partitioned, the client is not.
        let switch = lab.switch.name.clone();
        let isolate = |on: &str| {
            for port in ["p1", "p2"] {
                carp_tests::netns::sh(
                    "bridge",
                    &["-n", &switch, "link", "set", "dev", port, "isolated", on],
                )
                .unwrap();
            }
        };
        isolate("on");
        let ucarp = start_ucarp_on(&lab, ucarp_host, PASSWORD, "0");
        start_agent_on(&mut lab, agent_host, "0", &[]);
        ucarp.wait_state("MASTER", Duration::from_secs(6)).unwrap();
        lab.wait_state(agent_host, 1, "MASTER", Duration::from_secs(6))
            .unwrap();
        // The client learns the VIP while both answer (split brain): its
        // entry is on whichever MAC answered last.
        let _ = lab
            .client
            .run("ping", &["-c", "2", "-i", "0.2", "-W", "1", VIP]);
        let split_mac = lab.client_neighbour_mac(VIP);
        assert!(!split_mac.is_empty(), "{context}: the client has an entry");
        isolate("off");
        let winner_mac = if ours_wins {
            vmac(1)
        } else {
            lab.real_mac(ucarp_host).unwrap()
        };
        // The loser yields on the winner's first advert, the winner
        // re-announces on the loser's, and again two adverts later: a Linux
        // client ignores a gratuitous ARP within 1 s (locktime) of its last
        // update, which the split brain may just have made. So: settled
        // within about three intervals.
        let start = Instant::now();
        while masters(&lab, agent_host, &ucarp) != (ours_wins, !ours_wins)
            || lab.client_neighbour_mac(VIP) != winner_mac
        {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{context}: not settled 5 s after the heal: {:?}, client entry {}\nagent log:\n{}\nucarp log:\n{}",
                masters(&lab, agent_host, &ucarp),
                lab.client_neighbour_mac(VIP),
                lab.log(agent_host),
                ucarp.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "{context}: settled {:?} after the heal (client entry {split_mac} -> {winner_mac})",
            start.elapsed()
        );
        assert_settled(
            &lab,
            agent_host,
            &ucarp,
            ours_wins,
            &winner_mac,
            Duration::from_secs(4),
            &context,
        );
        lab.assert_client_reaches(VIP, &context);
        if ours_wins {
            assert!(
                lab.counter(agent_host, "reasserts").unwrap() >= 1,
                "{context}: the winner re-announced"
            );
        }
    }
}
