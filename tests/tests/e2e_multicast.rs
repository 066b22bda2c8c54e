//! Multicast membership: the agent joins 224.0.0.18 and ff02::12 on its
//! interface at the IP level, as FreeBSD, OpenBSD and ucarp do, so NIC
//! filters pass the adverts and snooping switches forward them.
//!
//! - `groups_joined_while_running_and_left_on_sigterm`: both groups (and
//!   their MACs) are in `ip maddr` while the agent runs, gone after SIGTERM
//!   (and after kill -9: the kernel closes the sockets); an agent started
//!   with the join disabled has neither, so the check can fail.
//! - `snooping_switch_elects_one_master_for_an_ipv6_only_vhid`: on a bridge
//!   that snoops MLD and is the querier (what a managed switch does),
//!   ff02::12 reaches only ports that reported it. With the join, the
//!   bridge learns both agents' ports and exactly one agent is MASTER.
//! - `snooping_switch_without_the_join_gives_two_masters`: the same segment
//!   with the join disabled (the test-only CARP_DEBUG_SKIP_MULTICAST_JOIN=1):
//!   the adverts never reach the other agent and both become MASTER. This is
//!   what the agent did before it joined, and shows the lab segment snoops.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant};

use carp_tests::{lab::Lab, privileges::require_root};

const SKIP_JOIN: (&str, &str) = ("CARP_DEBUG_SKIP_MULTICAST_JOIN", "1");

/// An IPv6-only vhid: its adverts go to ff02::12 only, which snooping
/// switches do not flood (224.0.0.x they do).
fn ipv6_only(advskew: &str) -> Vec<String> {
    [
        "--vhid",
        "1",
        "--password",
        "labpass",
        "--vip",
        "fd77::100/64",
        "--advbase",
        "1",
        "--advskew",
        advskew,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn maddr(lab: &Lab, i: usize) -> String {
    let out = lab.hosts[i]
        .ns
        .ip(&["maddr", "show", "dev", "eth0"])
        .expect("ip maddr");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The four lines of `ip maddr` that the joins add.
const GROUP_LINES: [&str; 4] = [
    "link  01:00:5e:00:00:12",
    "link  33:33:00:00:00:12",
    "inet  224.0.0.18",
    "inet6 ff02::12",
];

#[test]
fn groups_joined_while_running_and_left_on_sigterm() {
    if !require_root("groups_joined_while_running_and_left_on_sigterm") {
        return;
    }
    let mut lab = Lab::new("mg", 2).unwrap();
    let mut args = ipv6_only("0");
    args.extend(["--vip".to_string(), "10.77.0.100/24".to_string()]);
    lab.start_agent(0, &args).unwrap();
    lab.start_agent_with_env(1, &ipv6_only("100"), &[SKIP_JOIN])
        .unwrap();
    // Running: the vhid has left INIT, so the start-up (and the join) is done.
    for i in 0..2 {
        lab.wait_state(i, 1, "BACKUP", Duration::from_secs(5))
            .unwrap();
    }
    let running = maddr(&lab, 0);
    for line in GROUP_LINES {
        assert!(
            running.contains(line),
            "router1 runs: no `{line}` in ip maddr:\n{running}\nlog:\n{}",
            lab.log(0)
        );
    }
    assert!(
        lab.log(0).contains("eth0: joined 224.0.0.18, ff02::12"),
        "{}",
        lab.log(0)
    );
    let skipped = maddr(&lab, 1);
    for line in GROUP_LINES {
        assert!(
            !skipped.contains(line),
            "router2 runs without the join, yet `{line}` is in ip maddr:\n{skipped}"
        );
    }

    lab.terminate(0).unwrap();
    let after = maddr(&lab, 0);
    for line in GROUP_LINES {
        assert!(
            !after.contains(line),
            "after SIGTERM `{line}` is still in ip maddr:\n{after}"
        );
    }
    // terminate() dropped the agent handle, so read its log file directly.
    let log = std::fs::read_to_string(lab.dir.join("router1.log")).unwrap();
    assert!(
        log.contains("eth0: left the CARP multicast groups"),
        "{log}"
    );

    // kill -9: no explicit leave, but the kernel drops the memberships of
    // the dead process's sockets.
    lab.start_agent(0, &args).unwrap();
    lab.wait_state(0, 1, "BACKUP", Duration::from_secs(5))
        .unwrap();
    assert!(maddr(&lab, 0).contains("inet6 ff02::12"));
    lab.kill9(0);
    let start = Instant::now();
    while GROUP_LINES.iter().any(|line| maddr(&lab, 0).contains(line)) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "after kill -9 the groups are still in ip maddr:\n{}",
            maddr(&lab, 0)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The MASTERs among the two hosts' vhid 1.
fn masters(lab: &Lab) -> Vec<usize> {
    (0..2)
        .filter(|&i| lab.state(i, 1).as_deref() == Some("MASTER"))
        .collect()
}

fn logs(lab: &Lab) -> String {
    format!(
        "bridge mdb:\n{}\nrouter1:\n{}\nrouter2:\n{}",
        lab.mdb(),
        lab.log(0),
        lab.log(1)
    )
}

#[test]
fn snooping_switch_elects_one_master_for_an_ipv6_only_vhid() {
    if !require_root("snooping_switch_elects_one_master_for_an_ipv6_only_vhid") {
        return;
    }
    let mut lab = Lab::new_snooping("ms", 2).unwrap();
    // router1 first: without preemption, whichever master-down fires first
    // wins, and agents started together may start in either order.
    lab.start_agent(0, &ipv6_only("0")).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&lab)));
    lab.start_agent(1, &ipv6_only("100")).unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&lab)));
    // Several master-down intervals of the backup (3 + 100/256 s): a backup
    // that missed the adverts would have taken over within this time.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let now = masters(&lab);
        assert_eq!(
            now,
            vec![0],
            "after {:?}: MASTERs {now:?}, want router1 only\n{}",
            start.elapsed(),
            logs(&lab)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(lab.state(1, 1).as_deref(), Some("BACKUP"));
    // The bridge forwards ff02::12 to both ports because both reported it.
    let mdb = lab.mdb();
    for port in ["p1", "p2"] {
        assert!(
            mdb.contains(&format!("port {port} grp ff02::12")),
            "no ff02::12 membership for {port}:\n{mdb}"
        );
    }
}

#[test]
fn snooping_switch_without_the_join_gives_two_masters() {
    if !require_root("snooping_switch_without_the_join_gives_two_masters") {
        return;
    }
    let mut lab = Lab::new_snooping("mn", 2).unwrap();
    lab.start_agent_with_env(0, &ipv6_only("0"), &[SKIP_JOIN])
        .unwrap();
    lab.start_agent_with_env(1, &ipv6_only("100"), &[SKIP_JOIN])
        .unwrap();
    let start = Instant::now();
    while masters(&lab) != [0, 1] {
        assert!(
            start.elapsed() < Duration::from_secs(12),
            "without the join, expected both MASTER behind a snooping switch; have {:?}\n{}",
            masters(&lab),
            logs(&lab)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mdb = lab.mdb();
    assert!(!mdb.contains("grp ff02::12"), "{mdb}");
}
