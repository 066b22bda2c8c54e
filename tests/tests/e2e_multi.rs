//! End-to-end with several vhids and peers: scenario 7 (the FreeBSD
//! Handbook's three hosts, two vhids, one shared backup) and scenario 8
//! (a password mismatch between two agents).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant};

use carp_tests::{
    lab::{FAILOVER_BOUND, Lab, vhid_args, vmac},
    privileges::require_root,
};

const VIP1: &str = "10.77.0.50";
const VIP2: &str = "10.77.0.51";

/// hostc's configuration from the Handbook: backs up vhid 1 and vhid 2.
const SHARED_BACKUP: &str = r#"
[[vhid]]
interface = "eth0"
vhid = 1
advbase = 1
advskew = 100
password = "testpass"
vips = ["10.77.0.50/24"]

[[vhid]]
interface = "eth0"
vhid = 2
advbase = 1
advskew = 100
password = "testpass"
vips = ["10.77.0.51/24"]
"#;

#[test]
fn shared_backup_takes_over_each_vhid_on_its_own_then_serves_both() {
    if !require_root("e2e scenario 7") {
        return;
    }
    let mut lab = Lab::new("m7", 3).unwrap();
    lab.start_agent(0, &vhid_args(1, "testpass", &[&format!("{VIP1}/24")], "0"))
        .expect("start agent");
    lab.start_agent(1, &vhid_args(2, "testpass", &[&format!("{VIP2}/24")], "0"))
        .expect("start agent");
    lab.start_agent_config(2, SHARED_BACKUP).unwrap();

    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 2, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(2, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    lab.wait_state(2, 2, "BACKUP", Duration::from_secs(2))
        .unwrap();
    lab.client_pings(VIP1).unwrap();
    lab.client_pings(VIP2).unwrap();
    assert_eq!(lab.client_neighbour_mac(VIP1), vmac(1));
    assert_eq!(lab.client_neighbour_mac(VIP2), vmac(2));
    assert!(!lab.host_has_addr(2, VIP1) && !lab.host_has_addr(2, VIP2));

    // router1 dies: router3 takes vhid 1 only.
    let probe = lab.probe(VIP1).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    lab.kill9(0);
    let took = lab.wait_state(2, 1, "MASTER", FAILOVER_BOUND).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "vhid 1 to router3 after {took:?}; client outage {:?} ({} replies in {:?})",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.replies > 50, "VIP1 answered before and after");
    assert!(result.longest_gap < FAILOVER_BOUND);
    // vhid 2 is untouched: router2 still master, router3 still backup.
    assert_eq!(lab.state(2, 2).as_deref(), Some("BACKUP"));
    assert_eq!(lab.state(1, 2).as_deref(), Some("MASTER"));
    assert!(lab.host_has_addr(2, VIP1) && !lab.host_has_addr(2, VIP2));
    lab.client_pings(VIP1).unwrap();
    lab.client_pings(VIP2).unwrap();

    // router2 dies too: router3 serves both VIPs, each behind its own vMAC.
    lab.kill9(1);
    lab.wait_state(2, 2, "MASTER", FAILOVER_BOUND).unwrap();
    assert_eq!(lab.state(2, 1).as_deref(), Some("MASTER"));
    assert!(lab.host_has_addr(2, VIP1) && lab.host_has_addr(2, VIP2));
    lab.client_pings(VIP1).unwrap();
    lab.client_pings(VIP2).unwrap();
    assert_eq!(lab.client_neighbour_mac(VIP1), vmac(1));
    assert_eq!(lab.client_neighbour_mac(VIP2), vmac(2));
    let log = lab.log(2);
    assert!(
        log.contains("vhid 1 on eth0: BACKUP -> MASTER")
            && log.contains("vhid 2 on eth0: BACKUP -> MASTER"),
        "{log}"
    );
}

/// With different passwords neither agent accepts the other's adverts (they
/// fail the HMAC), so each sees a silent network and becomes MASTER: a
/// split brain the operator must see in `badauth` and in one log line.
#[test]
fn mismatched_passwords_give_two_masters_badauth_and_one_warning_per_peer() {
    if !require_root("e2e scenario 8") {
        return;
    }
    let mut lab = Lab::new("m8", 2).unwrap();
    lab.start_agent(0, &vhid_args(1, "passone", &[&format!("{VIP1}/24")], "0"))
        .expect("start agent");
    lab.start_agent(1, &vhid_args(1, "passtwo", &[&format!("{VIP1}/24")], "100"))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    // The advskew-100 host would be BACKUP with a matching password.
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let first = (
        lab.counter(0, "badauth").unwrap(),
        lab.counter(1, "badauth").unwrap(),
    );
    // Both masters advertise, every 1 s and every 1 + 100/256 s: in 5 s at
    // least 3 more rejected adverts each.
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let second = (
        lab.counter(0, "badauth").unwrap(),
        lab.counter(1, "badauth").unwrap(),
    );
    println!("badauth {first:?} -> {second:?} in {:?}", start.elapsed());
    assert!(first.0 >= 1 && first.1 >= 1, "{first:?}");
    assert!(
        second.0 >= first.0 + 3 && second.1 >= first.1 + 3,
        "{first:?} -> {second:?}"
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    assert_eq!(lab.state(1, 1).as_deref(), Some("MASTER"));
    for (i, peer) in [(0, &lab.hosts[1].addr), (1, &lab.hosts[0].addr)] {
        let log = lab.log(i);
        let warnings: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("badauth") || l.contains("authentication"))
            .collect();
        assert_eq!(warnings.len(), 1, "one rate-limited warning:\n{log}");
        assert!(warnings[0].contains(peer.as_str()), "{}", warnings[0]);
        assert!(warnings[0].contains("vhid 1"), "{}", warnings[0]);
    }
}
