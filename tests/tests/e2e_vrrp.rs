//! A real keepalived (VRRPv2, Debian package) on the lab segment. VRRP shares
//! IP protocol 112 and 224.0.0.18 with CARP, and a VRRP router with virtual
//! router id N uses the virtual MAC 00:00:5e:00:01:N, the same as our vhid
//! N: the agent must say so (one warning per router a minute, counter
//! `vrrp_clash`), and must say nothing about a VRRP router with another id.
//! Either way the VRRP packets are passed untouched and our election is
//! undisturbed.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant};

use carp_tests::{
    keepalived::{Instance, Keepalived},
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

const AGENT_HOST: usize = 0;
const VRRP_HOST: usize = 1;
/// keepalived's address: the lab's second host.
const VRRP_SOURCE: &str = "10.77.0.12";

/// keepalived as VRRPv2 MASTER with `vrid`, one advert a second.
fn start_keepalived(lab: &Lab, vrid: u8) -> Keepalived {
    let instance = Instance {
        version: 2,
        vrid,
        state: "MASTER",
        priority: 100,
        advert_int: "1",
        vip: "10.77.0.150/24",
        realtime: None,
    };
    Keepalived::start(lab, VRRP_HOST, &instance).unwrap()
}

/// The agent's log lines about VRRP routers.
fn vrrp_warnings(lab: &Lab) -> Vec<String> {
    lab.log(AGENT_HOST)
        .lines()
        .filter(|l| l.contains("VRRP router"))
        .map(str::to_string)
        .collect()
}

/// Waits until `counter` on the agent reaches `at_least`.
fn wait_counter(lab: &Lab, counter: &str, at_least: u64, within: Duration, vrrp: &Keepalived) {
    let start = Instant::now();
    loop {
        let value = lab.counter(AGENT_HOST, counter).unwrap();
        if value >= at_least {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{counter} = {value} after {within:?}; keepalived log:\n{}\nagent log:\n{}",
            vrrp.log(),
            lab.log(AGENT_HOST)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lab_with_agent(tag: &str) -> Lab {
    let mut lab = Lab::new(tag, 2).unwrap();
    // advbase 2: keepalived restarts its advert timer on every packet to its
    // router id, ours included (it reads CARP's as a short VRRP packet), so
    // a CARP master advertising exactly every second, as ours does, keeps a
    // 1 s VRRP master from ever sending; every 2 s it sends between them.
    let mut args = vhid1_args("0", false);
    let advbase = args.iter().position(|a| a == "--advbase").unwrap() + 1;
    args[advbase] = "2".into();
    lab.start_agent(AGENT_HOST, &args).unwrap();
    lab.wait_state(AGENT_HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab
}

#[test]
fn vrrp_router_with_our_vhid_is_warned_about_once() {
    if !require_root("vrrp_router_with_our_vhid_is_warned_about_once") {
        return;
    }
    let lab = lab_with_agent("vr1");
    let keepalived = start_keepalived(&lab, 1);
    // keepalived sends an advert about every second once it is MASTER
    // (about 3 s after it starts); five of them, each counted, one warning.
    wait_counter(&lab, "vrrp_clash", 5, Duration::from_secs(20), &keepalived);
    std::thread::sleep(Duration::from_millis(1500)); // one more poll
    let warnings = vrrp_warnings(&lab);
    println!("{warnings:#?}");
    assert_eq!(warnings.len(), 1, "one warning a minute: {warnings:#?}");
    let warning = &warnings[0];
    for part in [
        "WARN",
        "eth0: VRRP router 10.77.0.12 (VRRPv2)",
        "uses virtual router id 1, the id of our vhid 1",
        "virtual MAC for it is 00:00:5e:00:01:01",
    ] {
        assert!(warning.contains(part), "no {part:?} in {warning:?}");
    }
    assert!(warning.contains(VRRP_SOURCE));
    assert_eq!(lab.counter(AGENT_HOST, "vrrp_passed").unwrap(), 0);
    // VRRP is no CARP: our election did not notice it.
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
    assert_eq!(lab.counter(AGENT_HOST, "badvhid").unwrap(), 0);
}

#[test]
fn vrrp_router_with_another_id_is_not_warned_about() {
    if !require_root("vrrp_router_with_another_id_is_not_warned_about") {
        return;
    }
    let lab = lab_with_agent("vr2");
    let keepalived = start_keepalived(&lab, 2);
    // The same adverts arrive (passed, counted as VRRP) ...
    wait_counter(&lab, "vrrp_passed", 5, Duration::from_secs(15), &keepalived);
    std::thread::sleep(Duration::from_millis(1500)); // one more poll
    // ... but id 2 is no vhid of ours.
    assert_eq!(vrrp_warnings(&lab), Vec::<String>::new());
    assert_eq!(lab.counter(AGENT_HOST, "vrrp_clash").unwrap(), 0);
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
}
