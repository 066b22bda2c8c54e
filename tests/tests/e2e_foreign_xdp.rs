//! An operator's XDP program on the interface is never removed.
//!
//! `xdp-filter` (Debian `xdp-tools`) is loaded on the host's eth0 first, as
//! an operator would. The agent must refuse to start there, name the program
//! in the way, and change nothing: the filter stays attached, `arp_announce`
//! keeps its value, no VIP appears. With the filter gone the same agent
//! starts and becomes MASTER, so the refusal was about the program alone.
//! (Before, the agent logged "detaching the XDP program already on eth0 and
//! retrying" and the operator's filter was gone.)
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{Lab, SUBNET, vhid1_args},
    privileges::require_root,
};

/// The program name on host `i`'s eth0.
fn xdp_program(lab: &Lab, i: usize) -> Option<String> {
    carp_tests::libxdp::attached(lab, i)
}

fn arp_announce(lab: &Lab, i: usize) -> String {
    let out = lab.hosts[i]
        .ns
        .run("cat", &["/proc/sys/net/ipv4/conf/eth0/arp_announce"])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn an_operators_xdp_program_is_left_alone_and_named() {
    if !require_root("an_operators_xdp_program_is_left_alone_and_named") {
        return;
    }
    let mut lab = Lab::new("fx", 1).unwrap();
    // `ip netns exec` hides /sys/fs/bpf; xdp-filter wants a bpffs there for
    // its pins. The program stays attached after the shell exits.
    lab.hosts[0]
        .ns
        .run(
            "sh",
            &[
                "-c",
                "mount -t bpf bpf /sys/fs/bpf && xdp-filter load --mode skb eth0",
            ],
        )
        .expect("xdp-filter load (apt-get install xdp-tools)");
    let filter = xdp_program(&lab, 0).expect("xdp-filter's program is attached");
    assert!(filter.starts_with("xdpfilt"), "{filter}");
    lab.hosts[0]
        .ns
        .run(
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_announce"],
        )
        .unwrap();

    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    let status = lab
        .wait_exit(0, Duration::from_secs(10))
        .expect("the agent should refuse at once");
    let log = lab.log(0);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("another XDP program is attached") && log.contains(&filter),
        "the error names the program in the way:\n{log}"
    );
    assert!(!log.contains("detaching"), "{log}");
    assert_eq!(
        xdp_program(&lab, 0).as_deref(),
        Some(filter.as_str()),
        "the operator's program is still attached"
    );
    assert_eq!(arp_announce(&lab, 0), "1", "arp_announce untouched");
    assert!(!lab.host_has_addr(0, &format!("{SUBNET}.100")));

    // Without the filter, the same agent runs.
    lab.hosts[0]
        .ns
        .ip(&["link", "set", "dev", "eth0", "xdpgeneric", "off"])
        .unwrap();
    lab.hosts[0].agent = None;
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    assert_eq!(xdp_program(&lab, 0).as_deref(), Some("carp_xdp"));
}
