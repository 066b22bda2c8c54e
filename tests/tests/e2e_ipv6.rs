//! Scenario 12: an IPv6 VIP. The client (fd77::200) reaches fd77::100
//! through the MASTER and the VIP fails over on kill -9 of the MASTER. An
//! IPv6-only vhid advertises from eth0's link-local address to ff02::12.
//!
//! The client's neighbour entry for the IPv6 VIP stays on the virtual MAC.
//! The XDP program answers the client's NS with the vMAC, but to send its
//! echo reply the MASTER's kernel solicits the client itself, from the VIP,
//! with eth0's real MAC in the Source Link-Layer Address option, and the
//! client (RFC 4861 7.2.3) would move its entry for the VIP to that MAC.
//! IPv4 has `arp_announce = 2` for this; IPv6 has no such knob, so the TC
//! egress program `carp_tc_egress` puts the vMAC into ND sent from a MASTER
//! VIP (as FreeBSD's carp_macmatch6 does); `nd_egress_rewritten` counts it.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{FAILOVER_BOUND, Lab, PASSWORD, vhid_args, vmac},
    privileges::require_root,
};

const VIP6: &str = "fd77::100";
const VIP4: &str = carp_tests::lab::VIP;

/// One advert as the client sees it, as tcpdump prints it.
fn capture_one_advert6(lab: &Lab) -> String {
    let out = lab
        .client
        .run(
            "timeout",
            &[
                "5",
                "tcpdump",
                "-i",
                "eth0",
                "-n",
                "-c",
                "1",
                "-l",
                "ip6",
                "and",
                "ip6[6] == 112",
            ],
        )
        .expect("an IPv6 advert within 5 s");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The client's entry for a VIP (IPv4 or IPv6) is the vMAC.
fn check_neighbour(lab: &Lab, target: &str) {
    assert_eq!(
        lab.client_neighbour_mac(target),
        vmac(1),
        "client's entry for {target}"
    );
}

/// The failover of `vips`, checked on every address in `targets`.
fn failover(tag: &str, vips: &[&str], targets: &[&str]) -> Lab {
    let mut lab = Lab::new(tag, 2).unwrap();
    lab.start_agent(0, &vhid_args(1, PASSWORD, vips, "0"))
        .expect("start agent");
    lab.start_agent(1, &vhid_args(1, PASSWORD, vips, "100"))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    for target in targets {
        lab.assert_client_reaches(target, "router1 master");
        check_neighbour(&lab, target);
        assert!(lab.host_has_addr(0, target) && !lab.host_has_addr(1, target));
    }

    let probe = lab.probe(targets[0]).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    lab.kill9(0);
    // kill -9 leaves the VIPs on router1's eth0 (no cleanup), and its
    // kernel would keep answering whatever still reaches it. A crash takes
    // the host with it: its link goes too, so only router2 can answer now.
    lab.hosts[0]
        .ns
        .ip(&["link", "set", "eth0", "down"])
        .unwrap();
    let took = lab.wait_state(1, 1, "MASTER", FAILOVER_BOUND).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "{tag}: kill -9, backup MASTER after {took:?}; client outage on {} {:?} ({} replies in {:?})",
        targets[0], result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.replies > 50, "the VIP answered before and after");
    assert!(result.longest_gap < FAILOVER_BOUND);
    for target in targets {
        lab.assert_client_reaches(target, "router2 master");
        check_neighbour(&lab, target);
        assert!(lab.host_has_addr(1, target));
    }
    lab
}

#[test]
fn ipv6_only_vip_is_reached_through_the_master_and_fails_over() {
    if !require_root("e2e scenario 12 (IPv6 only)") {
        return;
    }
    let lab = failover("v6", &["fd77::100/64"], &[VIP6]);
    let advert = capture_one_advert6(&lab);
    println!("advert: {advert}");
    assert!(
        advert.contains("IP6 fe80::") && advert.contains("> ff02::12"),
        "IPv6-only adverts come from the link-local address: {advert:?}"
    );
}

#[test]
fn dual_stack_vhid_serves_both_vips_and_fails_over() {
    if !require_root("e2e scenario 12 (dual stack)") {
        return;
    }
    failover("v46", &["10.77.0.100/24", "fd77::100/64"], &[VIP6, VIP4]);
}

#[test]
fn ipv6_vip_neighbour_entry_stays_on_the_virtual_mac() {
    if !require_root("e2e scenario 12 (IPv6 neighbour entry)") {
        return;
    }
    let mut lab = Lab::new("v6n", 1).unwrap();
    lab.start_agent(0, &vhid_args(1, PASSWORD, &["fd77::100/64"], "0"))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    // Each round: the client's entry is gone, it resolves the VIP again.
    for round in 0..3 {
        let _ = lab.client.ip(&["neigh", "flush", "dev", "eth0"]);
        let _ = lab.hosts[0].ns.ip(&["neigh", "flush", "dev", "eth0"]);
        lab.assert_client_reaches(VIP6, "master");
        assert_eq!(lab.client_neighbour_mac(VIP6), vmac(1), "round {round}");
    }
    // The MASTER's own solicitations from the VIP went through the egress
    // program (the flushes made its kernel resolve the client each round).
    let rewritten = lab.counter(0, "nd_egress_rewritten").unwrap();
    assert!(rewritten >= 3, "nd_egress_rewritten = {rewritten}");
}
