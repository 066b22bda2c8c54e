//! VLANs on a trunk: one XDP program per host serves the same vhid on two
//! VLANs, over tagged frames.
//!
//! The lab kernel has no 802.1Q devices, so this runs the `vlan = N` form:
//! each host's eth0 is a trunk carrying VLANs 100 and 200, vhid 1 on both.
//! Host 0 is preferred on VLAN 100, host 1 on VLAN 200. Checked:
//! - each VLAN elects its own MASTER, on different hosts (so the adverts
//!   of the two elections, tagged, are told apart by the VLAN id in the
//!   XDP keys; before, both would have been one vhid 1);
//! - a tagged ARP request for a VLAN's VIP is answered once, tagged with
//!   that VLAN, from the vhid's virtual MAC, by the right host (its
//!   `arp_replies` counter moves, the other host's does not);
//! - an untagged request for the same VIP gets no answer;
//! - when host 0's agent stops, host 1 takes VLAN 100 over and answers there
//!   too, still tagged.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    process::{Command, Stdio},
    time::Duration,
};

use carp_tests::{
    frames::{Vlan, arp_request_frame},
    lab::Lab,
    packet::PacketSocket,
    privileges::require_root,
};

const VIP100: &str = "10.100.0.1";
const VIP200: &str = "10.200.0.1";
const CLIENT_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0, 0x01];

fn config(host: usize) -> String {
    // Lower advskew wins; each host is preferred on one VLAN.
    let (skew100, skew200) = if host == 0 { (0, 100) } else { (100, 0) };
    format!(
        r#"
[[vhid]]
interface = "eth0"
vlan = 100
vhid = 1
advskew = {skew100}
preempt = true
password = "vlanpw100"
vips = ["{VIP100}/24"]
source = "10.100.0.{src}"

[[vhid]]
interface = "eth0"
vlan = 200
vhid = 1
advskew = {skew200}
preempt = true
password = "vlanpw200"
vips = ["{VIP200}/24"]
source = "10.200.0.{src}"
"#,
        src = 11 + host
    )
}

/// The state of vhid 1 on `vlan` from host `i`'s `status --json`.
fn state(lab: &Lab, i: usize, vlan: u64) -> Option<String> {
    let out = lab.control(i, &["status", "--json"]).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json["vhids"]
        .as_array()?
        .iter()
        .find(|v| v["vlan"] == vlan)?["state"]
        .as_str()
        .map(str::to_string)
}

fn wait_state(lab: &Lab, i: usize, vlan: u64, want: &str) {
    let ok = carp_tests::lab::eventually(Duration::from_secs(15), || {
        state(lab, i, vlan).as_deref() == Some(want)
    });
    assert!(
        ok,
        "host {i} VLAN {vlan}: not {want} (is {:?}); log:\n{}",
        state(lab, i, vlan),
        lab.log(i)
    );
}

/// ARP replies seen by the client for `ip` while `request` is sent once:
/// tcpdump lines (with `-e`, a tagged frame shows "vlan N").
fn replies(lab: &Lab, request: &[u8], ip: &str) -> Vec<String> {
    let mut dump = Command::new("ip")
        .args(["netns", "exec", &lab.client.name, "tcpdump", "-i", "eth0"])
        .args(["-e", "-nn", "-l", "--immediate-mode", "-c", "8"])
        .arg("arp or (vlan and arp)")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // tcpdump needs a moment to open its socket.
    std::thread::sleep(Duration::from_millis(800));
    let socket = PacketSocket::open(&lab.client, "eth0").unwrap();
    socket.send(request).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let _ = dump.kill();
    let out = dump.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Reply") && l.contains(ip))
        .map(str::to_string)
        .collect()
}

fn tagged_request(vlan: u16, vip: [u8; 4]) -> Vec<u8> {
    arp_request_frame(&[Vlan::dot1q(vlan)], CLIENT_MAC, [10, vip[1], 0, 200], vip)
}

fn arp_replies(lab: &Lab, i: usize) -> u64 {
    lab.counter(i, "arp_replies").unwrap()
}

#[test]
fn one_program_per_trunk_runs_the_same_vhid_on_two_vlans() {
    if !require_root("one_program_per_trunk_runs_the_same_vhid_on_two_vlans") {
        return;
    }
    let mut lab = Lab::new("vl", 2).unwrap();
    lab.tags_on_the_wire().unwrap();
    lab.start_agent_config(0, &config(0)).unwrap();
    lab.start_agent_config(1, &config(1)).unwrap();
    wait_state(&lab, 0, 100, "MASTER");
    wait_state(&lab, 1, 200, "MASTER");
    wait_state(&lab, 0, 200, "BACKUP");
    wait_state(&lab, 1, 100, "BACKUP");

    // VLAN 100: host 0 answers, tagged, from the vMAC of vhid 1.
    let before = (arp_replies(&lab, 0), arp_replies(&lab, 1));
    let got = replies(&lab, &tagged_request(100, [10, 100, 0, 1]), VIP100);
    let status = lab.control(0, &["status", "--json"]).unwrap();
    assert_eq!(
        got.len(),
        1,
        "one reply for {VIP100} on VLAN 100: {got:?}; host 0: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    assert!(
        got[0].contains("vlan 100") && got[0].contains("00:00:5e:00:01:01"),
        "tagged with VLAN 100, from the vMAC: {got:?}"
    );
    let after = (arp_replies(&lab, 0), arp_replies(&lab, 1));
    assert_eq!(after.0, before.0 + 1, "host 0 answered on VLAN 100");
    assert_eq!(after.1, before.1, "host 1 did not answer on VLAN 100");

    // VLAN 200: host 1 answers.
    let got = replies(&lab, &tagged_request(200, [10, 200, 0, 1]), VIP200);
    assert_eq!(got.len(), 1, "one reply for {VIP200} on VLAN 200: {got:?}");
    assert!(got[0].contains("vlan 200"), "tagged with VLAN 200: {got:?}");
    let last = (arp_replies(&lab, 0), arp_replies(&lab, 1));
    assert_eq!(last.0, after.0, "host 0 did not answer on VLAN 200");
    assert_eq!(last.1, after.1 + 1, "host 1 answered on VLAN 200");

    // Untagged, the VIP is nobody's: no VIP address is on any interface.
    let untagged = arp_request_frame(&[], CLIENT_MAC, [10, 77, 0, 200], [10, 100, 0, 1]);
    let got = replies(&lab, &untagged, VIP100);
    assert!(got.is_empty(), "no untagged reply for {VIP100}: {got:?}");
    assert!(
        !lab.host_has_addr(0, VIP100),
        "no interface carries VLAN 100"
    );

    // Host 0 leaves: host 1 takes VLAN 100 too and answers there, tagged.
    lab.terminate(0).unwrap();
    wait_state(&lab, 1, 100, "MASTER");
    assert_eq!(state(&lab, 1, 200).as_deref(), Some("MASTER"));
    let before = arp_replies(&lab, 1);
    let got = replies(&lab, &tagged_request(100, [10, 100, 0, 1]), VIP100);
    assert_eq!(
        got.len(),
        1,
        "one reply for {VIP100} after the takeover: {got:?}"
    );
    assert!(got[0].contains("vlan 100"), "still tagged: {got:?}");
    assert_eq!(arp_replies(&lab, 1), before + 1, "host 1 answered");
}
