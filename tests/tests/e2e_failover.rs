//! End-to-end: real agents in network namespaces on a bridge, a client
//! probing the VIP. Scenarios 1 (election) and 2 (kill -9 of the MASTER);
//! the others are in e2e_scenarios.rs, e2e_multi.rs, e2e_ucarp.rs, e2e_ipv6.rs.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{Lab, VIP, vhid1_args, vmac},
    privileges::require_root,
};

#[test]
fn lower_advskew_wins_and_the_client_reaches_the_vip_through_the_virtual_mac() {
    if !require_root("e2e scenario 1") {
        return;
    }
    let mut lab = Lab::new("e1", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.start_agent(1, &vhid1_args("100", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    let ping = lab.client_pings(VIP);
    assert!(
        ping.is_ok(),
        "client reaches the VIP: {ping:?}\n{}",
        lab.log(0)
    );
    assert_eq!(lab.client_neighbour_mac(VIP), vmac(1));
    assert!(
        lab.log(0)
            .contains("vhid 1 on eth0: BACKUP -> MASTER (master down"),
        "{}",
        lab.log(0)
    );
    // The VIP lives on the MASTER's interface only.
    assert!(lab.host_has_addr(0, VIP));
    assert!(!lab.host_has_addr(1, VIP));
}

#[test]
fn kill9_of_the_master_fails_over_within_master_down_plus_one_interval() {
    if !require_root("e2e scenario 2") {
        return;
    }
    let mut lab = Lab::new("e2", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.start_agent(1, &vhid1_args("100", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    lab.kill9(0);
    // master-down (3*1 + 100/256 s) + one interval (1 + 100/256 s) = 4.78 s.
    let took = lab
        .wait_state(1, 1, "MASTER", Duration::from_millis(4800))
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "failover after kill -9: backup MASTER after {took:?}; client outage {:?} ({} replies in {:?})",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.replies > 50, "the VIP answered before and after");
    assert!(result.longest_gap < Duration::from_millis(4800));
}
