//! The agent speaks systemd's notification protocol (sd_notify(3)) to the
//! socket in `NOTIFY_SOCKET`, here a datagram socket the test binds, as
//! systemd would for a `Type=notify` unit with `WatchdogSec=`.
//!
//! - `ready_status_watchdog_and_stopping`: `READY=1` is the first message
//!   and arrives when the control socket already answers; `STATUS=` names
//!   the vhid, its interface and its state, and follows it to MASTER;
//!   `WATCHDOG=1` arrives periodically at half `WATCHDOG_USEC`; SIGTERM
//!   brings `STOPPING=1` before the agent exits cleanly; SIGHUP (a reload)
//!   brings `RELOADING=1`, then `READY=1` with the status.
//! - `no_watchdog_pings_unless_asked`: without `WATCHDOG_USEC` the agent is
//!   ready and reports status but never pings.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    os::unix::net::UnixDatagram,
    path::Path,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

/// Generous: the machine may be busy; these bound waiting, not speed.
const START_WITHIN: Duration = Duration::from_secs(30);
const MASTER_WITHIN: Duration = Duration::from_secs(20);

struct Notifications {
    socket: UnixDatagram,
    /// Every datagram received, in order.
    seen: Vec<String>,
}

impl Notifications {
    fn bind(path: &Path) -> Self {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Self {
            socket,
            seen: Vec::new(),
        }
    }

    /// Receives until a datagram satisfies `done` or `within` passes;
    /// returns that datagram.
    fn until(&mut self, within: Duration, done: impl Fn(&str) -> bool) -> Option<String> {
        let start = Instant::now();
        let mut buf = vec![0u8; 4096];
        while start.elapsed() < within {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(text.clone());
            if done(&text) {
                return Some(text);
            }
        }
        None
    }

    fn count(&self, line: &str) -> usize {
        self.seen
            .iter()
            .filter(|m| m.lines().any(|l| l == line))
            .count()
    }
}

fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

#[test]
fn ready_status_watchdog_and_stopping() {
    if !require_root("ready_status_watchdog_and_stopping") {
        return;
    }
    let mut lab = Lab::new("sdn", 1).unwrap();
    let path = lab.dir.join("notify.sock");
    let mut notes = Notifications::bind(&path);
    lab.start_agent_with_env(
        0,
        &vhid1_args("0", false),
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            // Pings every 0.5 s.
            ("WATCHDOG_USEC", "1000000"),
        ],
    )
    .unwrap();

    let ready = notes
        .until(START_WITHIN, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1; got {:?}\n{}", notes.seen, lab.log(0)));
    // The control socket answers by the time READY=1 is sent.
    let state = lab.state(0, 1);
    assert!(
        matches!(state.as_deref(), Some("INIT" | "BACKUP" | "MASTER")),
        "control socket not answering at READY=1: {state:?}\n{}",
        lab.log(0)
    );
    assert_eq!(notes.seen.len(), 1, "READY=1 comes first: {:?}", notes.seen);
    let first_status = ready
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("READY=1 carries the first STATUS=: {ready:?}"));
    assert!(
        first_status.starts_with("vhid 1 eth0 "),
        "status names vhid and interface: {first_status:?}"
    );

    let master = notes.until(MASTER_WITHIN, |m| has_line(m, "STATUS=vhid 1 eth0 MASTER"));
    assert!(
        master.is_some(),
        "STATUS follows the vhid to MASTER: {:?}\n{}",
        notes.seen,
        lab.log(0)
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));

    // Pings keep coming (every 0.5 s; the deadline only bounds the wait).
    assert!(notes.count("WATCHDOG=1") >= 1, "{:?}", notes.seen);
    for _ in 0..3 {
        let ping = notes.until(Duration::from_secs(10), |m| has_line(m, "WATCHDOG=1"));
        assert!(ping.is_some(), "WATCHDOG=1 stopped: {:?}", notes.seen);
    }

    // A reload (systemd's ExecReload sends SIGHUP): RELOADING=1 with the
    // monotonic time Type=notify-reload wants, then READY=1 with the status.
    lab.signal(0, libc::SIGHUP);
    let reloading = notes.until(START_WITHIN, |m| has_line(m, "RELOADING=1"));
    let reloading = reloading.unwrap_or_else(|| panic!("no RELOADING=1: {:?}", notes.seen));
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let ready = notes.until(START_WITHIN, |m| has_line(m, "READY=1"));
    assert!(
        ready.is_some_and(|m| has_line(&m, "STATUS=vhid 1 eth0 MASTER")),
        "READY=1 with the status after the reload: {:?}",
        notes.seen
    );

    lab.signal(0, libc::SIGTERM);
    let stopping = notes.until(START_WITHIN, |m| has_line(m, "STOPPING=1"));
    assert!(
        stopping.is_some(),
        "STOPPING=1 at shutdown: {:?}",
        notes.seen
    );
    let status = lab.wait_exit(0, START_WITHIN).unwrap();
    assert!(status.success(), "{status:?}\n{}", lab.log(0));
}

#[test]
fn no_watchdog_pings_unless_asked() {
    if !require_root("no_watchdog_pings_unless_asked") {
        return;
    }
    let mut lab = Lab::new("sdw", 1).unwrap();
    let path = lab.dir.join("notify.sock");
    let mut notes = Notifications::bind(&path);
    lab.start_agent_with_env(
        0,
        &vhid1_args("0", false),
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    )
    .unwrap();
    notes
        .until(START_WITHIN, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1; got {:?}\n{}", notes.seen, lab.log(0)));
    let master = notes.until(MASTER_WITHIN, |m| has_line(m, "STATUS=vhid 1 eth0 MASTER"));
    assert!(master.is_some(), "{:?}\n{}", notes.seen, lab.log(0));
    assert_eq!(notes.count("WATCHDOG=1"), 0, "{:?}", notes.seen);
}
