//! Coexistence with other XDP programs through libxdp's dispatcher
//! (docs/xdp-coexistence.md).
//!
//! `xdp_filter_and_the_agent_share_eth0`: an operator runs `xdp-filter` on
//! eth0 and starts the agent with the default `xdp_share = "auto"`. Where
//! the kernel lets libxdp build its dispatcher, both run: the filter drops
//! the client's IPv4 as told (pings to the VIP go unanswered, and are
//! answered once the rule is removed) while the agent becomes MASTER and its
//! XDP program answers ARP for the VIP with the virtual MAC; on a clean exit
//! the agent leaves the filter in place. Where the kernel refuses libxdp's
//! freplace programs (BPF_PROG_TYPE_EXT), libxdp loads the filter alone, no
//! dispatcher exists, and the test says so loudly and checks the refusal
//! instead: the agent refuses, names the filter, changes nothing, and the
//! filter goes on dropping.
//!
//! `a_dispatcher_the_agent_cannot_join_is_left_alone`: a dispatcher libxdp
//! cannot extend (libxdp's own dispatcher program with no pinned state)
//! makes the agent refuse, name it and leave it attached, on any kernel; so
//! does a working one under `--xdp-share exclusive`.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{Lab, SUBNET, VIP, vhid1_args, vmac},
    libxdp::{DISPATCHER, LibxdpFs, attached, loud, require_xdp_tools},
    privileges::require_root,
};

/// The client's address, which the filter is told to drop.
fn client_addr() -> String {
    format!("{SUBNET}.200")
}

/// Whether the client's pings to `ip` get through.
fn pings(lab: &Lab, ip: &str) -> bool {
    lab.client_pings(ip).is_ok()
}

#[test]
fn xdp_filter_and_the_agent_share_eth0() {
    let test = "xdp_filter_and_the_agent_share_eth0";
    if !require_root(test) || !require_xdp_tools(test) {
        return;
    }
    let mut lab = Lab::new("xs", 1).unwrap();
    let fs = LibxdpFs::mount(&lab).unwrap();
    fs.tool(&lab, 0, "xdp-filter", &["load", "--mode", "skb", "eth0"])
        .unwrap();
    let host = format!("{SUBNET}.11");
    assert!(pings(&lab, &host), "the filter passes everything at first");
    fs.tool(
        &lab,
        0,
        "xdp-filter",
        &["ip", &client_addr(), "--mode", "src"],
    )
    .unwrap();
    assert!(
        !pings(&lab, &host),
        "xdp-filter drops the client's IPv4 as told"
    );
    let before = attached(&lab, 0).expect("xdp-filter attached a program");
    let env = fs.env();
    let (key, value) = env.split_once('=').unwrap();

    if before != DISPATCHER {
        let why = fs
            .tool(&lab, 0, "xdp-loader", &["status", "eth0"])
            .unwrap_or_else(|e| e.to_string());
        loud(&format!(
            "{test}: COEXISTENCE NOT EXERCISED on this machine. libxdp could not build its \
             dispatcher and loaded xdp-filter alone ({before}): this kernel refuses the \
             freplace programs (BPF_PROG_TYPE_EXT) a dispatcher is made of (`xdp-filter load \
             -v` logs \"Compatibility check for dispatcher program failed\"). Checking the \
             refusal path instead. A kernel that loads fentry/freplace programs (BPF \
             trampolines) runs the real thing.\n`xdp-loader status eth0`:\n{why}"
        ));
        lab.start_agent_with_env(0, &vhid1_args("0", false), &[(key, value)])
            .unwrap();
        let status = lab.wait_exit(0, Duration::from_secs(15)).unwrap();
        let log = lab.log(0);
        assert!(!status.success(), "{log}");
        assert!(
            log.contains("another XDP program is attached") && log.contains(&before),
            "names the filter:\n{log}"
        );
        assert!(log.contains("xdp-loader"), "says what to do:\n{log}");
        assert_eq!(attached(&lab, 0).as_deref(), Some(before.as_str()));
        assert!(!lab.host_has_addr(0, VIP), "no VIP");
        assert!(!pings(&lab, &host), "the filter still drops");
        return;
    }

    lab.start_agent_with_env(0, &vhid1_args("0", false), &[(key, value)])
        .unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    let status = fs.tool(&lab, 0, "xdp-loader", &["status", "eth0"]).unwrap();
    assert!(
        status.contains("carp_xdp") && status.contains("xdpfilt"),
        "both programs in the dispatcher:\n{status}"
    );
    assert_eq!(attached(&lab, 0).as_deref(), Some(DISPATCHER));
    // The filter drops the client's pings to the VIP; the agent's program
    // still answered the client's ARP for the VIP, with the virtual MAC.
    assert!(!pings(&lab, VIP), "the filter drops IPv4 from the client");
    assert_eq!(
        lab.client_neighbour_mac(VIP),
        vmac(1),
        "ARP for the VIP answered by the agent's XDP program:\n{}",
        lab.log(0)
    );
    fs.tool(
        &lab,
        0,
        "xdp-filter",
        &["ip", &client_addr(), "--mode", "src", "--remove"],
    )
    .unwrap();
    assert!(
        pings(&lab, VIP),
        "with the rule gone the VIP answers:\n{}",
        lab.log(0)
    );

    lab.terminate(0).unwrap();
    let status = fs.tool(&lab, 0, "xdp-loader", &["status", "eth0"]).unwrap();
    assert!(
        status.contains("xdpfilt") && !status.contains("carp_xdp"),
        "the agent took only its own program out:\n{status}"
    );
}

/// libxdp's dispatcher object, where Debian's libxdp1 installs it.
fn dispatcher_object() -> String {
    let out = std::process::Command::new("dpkg")
        .args(["-L", "libxdp1"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("/xdp-dispatcher.o"))
        .expect("libxdp1 ships xdp-dispatcher.o")
        .to_string()
}

#[test]
fn a_dispatcher_the_agent_cannot_join_is_left_alone() {
    let test = "a_dispatcher_the_agent_cannot_join_is_left_alone";
    if !require_root(test) || !require_xdp_tools(test) {
        return;
    }
    let mut lab = Lab::new("xn", 1).unwrap();
    let fs = LibxdpFs::mount(&lab).unwrap();
    // libxdp's dispatcher program attached by hand: libxdp finds none of
    // the state it pins for a dispatcher of its own, so cannot add to it.
    let pin = fs.path.join("lone_dispatcher");
    let pin = pin.to_str().unwrap();
    let object = dispatcher_object();
    let object = object.as_str();
    lab.hosts[0]
        .ns
        .run("bpftool", &["prog", "load", object, pin, "type", "xdp"])
        .unwrap();
    lab.hosts[0]
        .ns
        .ip(&["link", "set", "dev", "eth0", "xdpgeneric", "pinned", pin])
        .unwrap();
    assert_eq!(attached(&lab, 0).as_deref(), Some(DISPATCHER));
    let env = fs.env();
    let (key, value) = env.split_once('=').unwrap();
    lab.hosts[0]
        .ns
        .run(
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_announce"],
        )
        .unwrap();

    for (share, expect) in [
        ("auto", "through libxdp beside"),
        ("exclusive", "xdp_share = \"exclusive\""),
    ] {
        let mut args = vhid1_args("0", false);
        args.extend(["--xdp-share".to_string(), share.to_string()]);
        lab.hosts[0].agent = None;
        lab.start_agent_with_env(0, &args, &[(key, value)]).unwrap();
        let status = lab.wait_exit(0, Duration::from_secs(15)).unwrap();
        let log = lab.log(0);
        assert!(!status.success(), "{share}: {log}");
        assert!(
            log.contains(expect) && log.contains(DISPATCHER),
            "{share}: names the dispatcher and why:\n{log}"
        );
        assert!(log.contains("othing was changed"), "{share}: {log}");
        assert_eq!(
            attached(&lab, 0).as_deref(),
            Some(DISPATCHER),
            "{share}: the dispatcher stays"
        );
        assert!(!lab.host_has_addr(0, VIP), "{share}: no VIP");
        let announce = lab.hosts[0]
            .ns
            .run("cat", &["/proc/sys/net/ipv4/conf/eth0/arp_announce"])
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&announce.stdout).trim(),
            "1",
            "{share}: arp_announce as it was"
        );
    }
    let _ = lab.hosts[0]
        .ns
        .ip(&["link", "set", "dev", "eth0", "xdpgeneric", "off"]);
}

/// `--xdp-share dispatcher` on a free eth0: the agent attaches through
/// libxdp, and the copy of `carp_xdp` libxdp loads works on the maps the
/// agent fills (it answers ARP for the VIP with the virtual MAC). Where the
/// kernel refuses freplace, libxdp attaches it alone (said loudly); either
/// way a clean exit leaves eth0 without a program.
#[test]
fn dispatcher_mode_attaches_through_libxdp() {
    let test = "dispatcher_mode_attaches_through_libxdp";
    if !require_root(test) || !require_xdp_tools(test) {
        return;
    }
    let mut lab = Lab::new("xd", 1).unwrap();
    let fs = LibxdpFs::mount(&lab).unwrap();
    let env = fs.env();
    let (key, value) = env.split_once('=').unwrap();
    let mut args = vhid1_args("0", false);
    args.extend(["--xdp-share".to_string(), "dispatcher".to_string()]);
    lab.start_agent_with_env(0, &args, &[(key, value)]).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    let status = fs.tool(&lab, 0, "xdp-loader", &["status", "eth0"]).unwrap();
    assert!(status.contains("carp_xdp"), "{status}\n{}", lab.log(0));
    match attached(&lab, 0).as_deref() {
        Some(DISPATCHER) => {}
        Some("carp_xdp") => loud(&format!(
            "{test}: libxdp attached carp_xdp ALONE: this kernel refuses the freplace programs \
             (BPF_PROG_TYPE_EXT) of its dispatcher. The agent's libxdp path and map sharing \
             are exercised; the dispatcher itself is not.\n{status}"
        )),
        other => panic!("unexpected program on eth0: {other:?}\n{status}"),
    }
    assert!(
        pings(&lab, VIP),
        "the VIP answers through libxdp's copy of the program:\n{}",
        lab.log(0)
    );
    assert_eq!(lab.client_neighbour_mac(VIP), vmac(1), "{}", lab.log(0));
    lab.terminate(0).unwrap();
    assert_eq!(attached(&lab, 0), None, "detached on a clean exit");
}
