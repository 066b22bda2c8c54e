//! Signals the agent meets as a service.
//!
//! - `sigterm_during_start_up_shuts_down_cleanly`: SIGTERM sent the moment the
//!   agent holds its lock (it is about to change the system) is handled once
//!   start-up is done: a clean exit that puts everything back. Before, the
//!   handlers were installed after start-up, so such a SIGTERM killed a
//!   half-started agent and left its XDP program, pins and sysctls behind.
//! - `sighup_does_not_kill_the_agent`: keepalived users send SIGHUP to reload;
//!   its default action killed the agent (and so handed the VIP over). Now it
//!   reloads the configuration (tests/e2e_reload.rs has the rest) and the
//!   agent runs on, still MASTER.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::{Duration, Instant};

use carp_tests::{
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

fn has_xdp(lab: &Lab, i: usize) -> bool {
    let out = lab.hosts[i].ns.ip(&["link", "show", "eth0"]).unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

#[test]
fn sigterm_during_start_up_shuts_down_cleanly() {
    if !require_root("sigterm_during_start_up_shuts_down_cleanly") {
        return;
    }
    let mut lab = Lab::new("sgt", 1).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    // The instance lock is taken after the handlers exist and before the
    // first change to the system: the earliest moment a SIGTERM must be safe.
    let lock = {
        let socket = &lab.hosts[0].agent.as_ref().unwrap().socket;
        let mut name = socket.clone().into_os_string();
        name.push(".lock");
        std::path::PathBuf::from(name)
    };
    let start = Instant::now();
    while !lock.exists() {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", lab.log(0));
        std::thread::sleep(Duration::from_millis(1));
    }
    lab.signal(0, libc::SIGTERM);
    let status = lab.wait_exit(0, Duration::from_secs(10)).unwrap();
    let log = lab.log(0);
    assert!(
        status.success(),
        "a clean exit, not death by signal: {status:?}\n{log}"
    );
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(!has_xdp(&lab, 0), "XDP detached:\n{log}");
    assert!(!lock.exists(), "the lock file is removed on a clean exit");
}

#[test]
fn sighup_does_not_kill_the_agent() {
    if !require_root("sighup_does_not_kill_the_agent") {
        return;
    }
    let mut lab = Lab::new("sgh", 1).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.signal(0, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    let agent = lab.hosts[0].agent.as_mut().unwrap();
    assert!(
        agent.process.0.try_wait().unwrap().is_none(),
        "still running"
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    let log = lab.log(0);
    assert!(
        log.contains("SIGHUP: reloading the configuration")
            && log.contains(
                "configuration reloaded: added: none; removed: none; changed: none; unchanged: 1"
            ),
        "{log}"
    );
}
