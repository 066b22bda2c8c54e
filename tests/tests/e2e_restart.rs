//! A crash or restart of the agent alone (kill -9, host alive), two hosts:
//! host 0 MASTER (advskew 0), host 1 BACKUP (advskew 100, master-down
//! 3.39 s). The XDP link is pinned, so it outlives the process; the maps
//! hold the MASTER's dead-man deadline (3 s after its last advert).
//! - `restart_within_master_down_carries_on_as_master`: host 0's agent is
//!   killed and started again 1 s later: the new agent adopts the link and
//!   the MASTER state, host 1 never leaves BACKUP, no hook runs again, and a
//!   client pinging the VIP every 10 ms sees no outage (a failover would
//!   cost at least the backup's master-down, 3.39 s; before, the XDP program
//!   went with the process and the ping failed until then).
//! - `crash_without_restart_hands_over_with_one_answer`: host 0's agent is
//!   killed and not restarted: its XDP program answers as MASTER until the
//!   deadline, then falls silent, and once host 1 is MASTER every ARP request
//!   for the VIP gets exactly one reply, from the virtual MAC (before, host
//!   0's kernel answered too, with its NIC's MAC: 6 replies to 3 requests).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{fs, time::Duration};

use carp_tests::{
    lab::{Lab, PASSWORD, VIP, vhid1_args, vmac},
    privileges::require_root,
};

/// `ip -d link show eth0` in host `i`: the number of attached XDP programs.
fn xdp_programs(lab: &Lab, i: usize) -> usize {
    let out = lab.hosts[i].ns.ip(&["-d", "link", "show", "eth0"]).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .matches("prog/xdp id")
        .count()
}

fn link_pins(lab: &Lab, i: usize) -> usize {
    let dir = lab.dir.join(format!("{}-bpf/carp", lab.hosts[i].name));
    fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("xdp_link_"))
            .count()
    })
}

/// Host 0's configuration: vhid 1 (advskew 0), hooks appending "STATE"
/// lines to `hooks`.
fn master_config(hooks: &std::path::Path) -> String {
    format!(
        r#"
[[vhid]]
interface = "eth0"
vhid = 1
advskew = 0
password = "{PASSWORD}"
vips = ["{VIP}/24"]

[[vhid.hook]]
on = ["master", "backup", "init"]
shell = "echo $CARP_STATE >> {}"
"#,
        hooks.display()
    )
}

/// A pair, host 0 MASTER.
fn pair(tag: &str) -> (Lab, std::path::PathBuf) {
    let mut lab = Lab::new(tag, 2).unwrap();
    let hooks = lab.dir.join("hooks0");
    lab.start_agent_config(0, &master_config(&hooks)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    lab.start_agent(1, &vhid1_args("100", false)).unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(10))
        .unwrap();
    (lab, hooks)
}

#[test]
fn restart_within_master_down_carries_on_as_master() {
    if !require_root("restart_within_master_down_carries_on_as_master") {
        return;
    }
    let (mut lab, hooks) = pair("rst");
    assert_eq!(link_pins(&lab, 0), 1, "the XDP link is pinned");
    // Hooks run in the background: wait for the MASTER one.
    let start = std::time::Instant::now();
    while !fs::read_to_string(&hooks)
        .unwrap_or_default()
        .contains("MASTER")
    {
        assert!(start.elapsed() < Duration::from_secs(5), "no MASTER hook");
        std::thread::sleep(Duration::from_millis(50));
    }
    let hooks_before = fs::read_to_string(&hooks).unwrap_or_default();
    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    lab.kill9(0);
    let killed = std::time::SystemTime::now();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(xdp_programs(&lab, 0), 1, "XDP outlives the killed agent");
    lab.start_agent_config(0, &master_config(&hooks)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let result = probe.finish();

    let log0 = lab.log(0);
    assert!(
        log0.contains("INIT -> MASTER (adopted: MASTER under the previous agent"),
        "{log0}"
    );
    let log1 = lab.log(1);
    assert!(
        !log1.contains("BACKUP -> MASTER"),
        "host 1 took over:\n{log1}"
    );
    assert_eq!(lab.state(1, 1).as_deref(), Some("BACKUP"));
    assert_eq!(xdp_programs(&lab, 0), 1, "one program, the new agent's");
    assert_eq!(link_pins(&lab, 0), 1);
    assert_eq!(
        fs::read_to_string(&hooks).unwrap_or_default(),
        hooks_before,
        "no hook: the host never left MASTER"
    );
    println!(
        "restart after kill -9: longest gap {:?}, {} replies in {:?}",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(result.answered_across(killed), "{:?}", result.longest_gap);
    // A failover or a silent dataplane would leave a gap of seconds.
    assert!(
        result.longest_gap < Duration::from_millis(1000),
        "outage {:?}",
        result.longest_gap
    );

    // A clean stop takes the link with it.
    lab.terminate(0).unwrap();
    assert_eq!(xdp_programs(&lab, 0), 0, "XDP left after SIGTERM");
    assert_eq!(link_pins(&lab, 0), 0, "link pin left after SIGTERM");
}

#[test]
fn crash_without_restart_hands_over_with_one_answer() {
    if !require_root("crash_without_restart_hands_over_with_one_answer") {
        return;
    }
    let (mut lab, _) = pair("rsc");
    lab.kill9(0);
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    assert_eq!(xdp_programs(&lab, 0), 1, "the link stays, silent");
    assert!(lab.host_has_addr(0, VIP), "the address stays on host 0");
    let out = lab.client.ip(&["neigh", "flush", "dev", "eth0"]).map(drop);
    out.unwrap();
    let arp = lab
        .client
        .run(
            "arping",
            &["-c", "3", "-i", "0.2", "-w", "3", "-I", "eth0", VIP],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&arp.stdout).to_lowercase();
    let replies: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" bytes from "))
        .collect();
    assert_eq!(replies.len(), 3, "one reply per request:\n{text}\n{arp:?}");
    assert!(
        replies.iter().all(|l| l.contains(&vmac(1))),
        "all from the virtual MAC:\n{text}"
    );
    lab.assert_client_reaches(VIP, "host 1 after the handover");
}

/// An upgrade: SIGUSR2 makes the agent exit for a successor (no bow-out,
/// dataplane and VIPs left), and the new agent carries on as MASTER.
#[test]
fn sigusr2_exits_for_a_successor_without_a_failover() {
    if !require_root("sigusr2_exits_for_a_successor_without_a_failover") {
        return;
    }
    let (mut lab, hooks) = pair("rsu");
    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    lab.signal(0, libc::SIGUSR2);
    let status = lab.wait_exit(0, Duration::from_secs(10)).unwrap();
    let stopped = std::time::SystemTime::now();
    assert!(status.success(), "{status:?}\n{}", lab.log(0));
    assert!(lab.log(0).contains("SIGUSR2: exiting for a successor"));
    assert_eq!(xdp_programs(&lab, 0), 1, "the dataplane stays");
    assert!(lab.host_has_addr(0, VIP), "the VIP stays");
    assert_eq!(link_pins(&lab, 0), 1);
    lab.start_agent_config(0, &master_config(&hooks)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let result = probe.finish();
    assert!(
        lab.log(0).contains("INIT -> MASTER (adopted"),
        "{}",
        lab.log(0)
    );
    let log1 = lab.log(1);
    assert!(
        !log1.contains("BACKUP -> MASTER"),
        "host 1 took over:\n{log1}"
    );
    assert!(!log1.contains("bow-out"), "no bow-out was sent:\n{log1}");
    assert!(result.answered_across(stopped), "{:?}", result.longest_gap);
    assert!(
        result.longest_gap < Duration::from_millis(1000),
        "outage {:?}",
        result.longest_gap
    );
}
