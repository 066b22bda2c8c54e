//! The default XDP mode on veth (docs/xdp-modes.md).
//!
//! - `auto_on_veth_takes_skb_mode_and_the_vip_answers`: with no
//!   `--xdp-mode`, the agent reads the link kind, attaches in skb (generic)
//!   mode, says why, and the client resolves the VIP to the virtual MAC and
//!   pings it. Before the mode was chosen per kind, `auto` attached natively
//!   here and the client reached nothing.
//! - `native_on_veth_warns_and_the_vip_is_unreachable`: `--xdp-mode native`
//!   is obeyed with a warning, and the VIP is indeed unreachable although the
//!   program built ARP replies and rewrote the pings (its counters say so):
//!   veth drops XDP_TX toward a peer without XDP and keeps the rewritten
//!   frames PACKET_OTHERHOST. Should a kernel fix veth, this test fails and
//!   `auto` can go native on veth again.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{Lab, SUBNET, vhid1_args},
    privileges::require_root,
};

const VMAC: &str = "00:00:5e:00:01:01";

fn vip() -> String {
    format!("{SUBNET}.100")
}

/// `ip -d link show eth0` of host `i`: "xdpgeneric" (skb mode) or "xdp"
/// (native) after the flags.
fn xdp_flag(lab: &Lab, i: usize) -> String {
    let out = lab.hosts[i].ns.ip(&["link", "show", "eth0"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find(|w| w.starts_with("xdp"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn auto_on_veth_takes_skb_mode_and_the_vip_answers() {
    if !require_root("auto_on_veth_takes_skb_mode_and_the_vip_answers") {
        return;
    }
    let mut lab = Lab::new("xa", 1).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let log = lab.log(0);
    let ping = lab.client_pings(&vip());
    assert!(ping.is_ok(), "client pings the VIP: {ping:?}\n{log}");
    assert_eq!(lab.client_neighbour_mac(&vip()), VMAC);
    assert!(
        log.contains(
            "XDP attached to eth0 in skb mode (auto: skb mode because the interface is a veth"
        ),
        "{log}"
    );
    assert_eq!(xdp_flag(&lab, 0), "xdpgeneric");
}

#[test]
fn native_on_veth_warns_and_the_vip_is_unreachable() {
    if !require_root("native_on_veth_warns_and_the_vip_is_unreachable") {
        return;
    }
    let mut lab = Lab::new("xn", 1).unwrap();
    let mut args = vhid1_args("0", false);
    args.extend(["--xdp-mode".to_string(), "native".to_string()]);
    lab.start_agent(0, &args).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let log = lab.log(0);
    assert!(
        log.contains("WARN") && log.contains("the VIP would be unreachable"),
        "{log}"
    );
    assert!(
        log.contains("XDP attached to eth0 in native mode (--xdp-mode native)"),
        "{log}"
    );
    assert_eq!(xdp_flag(&lab, 0), "xdp");

    // ARP: the program answers (XDP_TX), the answer never arrives.
    let arp = lab.client.run(
        "arping",
        &["-c", "3", "-i", "0.2", "-w", "2", "-I", "eth0", &vip()],
    );
    assert!(arp.is_err(), "arping got an answer: {arp:?}");
    assert!(lab.counter(0, "arp_replies").unwrap() >= 1);

    // Frames to the vMAC: the program rewrites them, IP drops them.
    lab.client
        .ip(&["neigh", "replace", &vip(), "lladdr", VMAC, "dev", "eth0"])
        .unwrap();
    let ping = lab.client_pings(&vip());
    assert!(ping.is_err(), "a ping was answered: {ping:?}");
    assert!(lab.counter(0, "vmac_accepted").unwrap() >= 3);
}
