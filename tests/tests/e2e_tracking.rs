//! End-to-end: `[[track]]` sources, `demote --source` and the kept
//! demotion, with real agents in the lab.
//!
//! - An uplink (an interface without a vhid) losing its carrier demotes the
//!   MASTER, the preempting backup takes over, and the carrier coming back
//!   returns it (the old MASTER preempts).
//! - A script source with `rise`/`fall`: a check that alternates never
//!   changes the state; one that keeps failing demotes by its weight once,
//!   and passing again removes it. A route source follows `ip route add`,
//!   a file source the number in its file (bad content counts as 0), and
//!   `demote --source` sets an external share next to them.
//! - `demote +240` (a maintenance window) and an external source's share
//!   survive a restart of the agent: the restarted MASTER stays BACKUP.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    fs,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{Lab, VIP, vhid1_args},
    privileges::require_root,
};

/// Generous: waits end as soon as the condition holds.
const WITHIN: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Host `i`'s `status --json`.
fn status(lab: &Lab, i: usize) -> serde_json::Value {
    let out = lab.control(i, &["status", "--json"]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The share of the demotion source `name` on host `i` (None: no such row).
fn share(lab: &Lab, i: usize, name: &str) -> Option<u64> {
    status(lab, i)["demotion_sources"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["share"].as_u64())
}

/// Waits until `check` holds, at most [`WITHIN`]; panics with `what` and
/// host `i`'s log otherwise.
fn wait_for(lab: &Lab, i: usize, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < WITHIN {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "not within {WITHIN:?}: {what}; status {}\nlog:\n{}",
        status(lab, i),
        lab.log(i)
    );
}

/// vhid 1 as in the lab's flags (VIP, password), preempting, with
/// `advskew`, followed by `extra` TOML (tables come last).
fn vhid1_toml(advskew: u8, extra: &str) -> String {
    format!(
        r#"
[[vhid]]
interface = "eth0"
vhid = 1
advbase = 1
advskew = {advskew}
preempt = true
password = "{password}"
vips = ["{VIP}/24"]
{extra}
"#,
        password = carp_tests::lab::PASSWORD
    )
}

#[test]
fn an_uplink_going_down_hands_over_and_coming_back_returns() {
    if !require_root("e2e tracking: uplink") {
        return;
    }
    let mut lab = Lab::new("tu", 2).unwrap();
    // host 0's uplink: a veth pair inside its namespace; taking the peer
    // down takes the carrier of up0 away.
    let ns = &lab.hosts[0].ns;
    ns.ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up0p"])
        .unwrap();
    ns.ip(&["link", "set", "up0p", "up"]).unwrap();
    ns.ip(&["link", "set", "up0", "up"]).unwrap();
    let track = r#"
[[track]]
name = "uplink"
weight = 240
interface = "up0"
"#;
    lab.start_agent_config(0, &vhid1_toml(0, track)).unwrap();
    lab.wait_state(0, 1, "MASTER", WITHIN).unwrap();
    lab.start_agent(1, &vhid1_args("100", true)).unwrap();
    lab.wait_state(1, 1, "BACKUP", WITHIN).unwrap();
    wait_for(&lab, 0, "uplink reported up", || {
        share(&lab, 0, "uplink") == Some(0)
    });

    lab.hosts[0]
        .ns
        .ip(&["link", "set", "up0p", "down"])
        .unwrap();
    lab.wait_state(1, 1, "MASTER", WITHIN).unwrap();
    lab.wait_state(0, 1, "BACKUP", WITHIN).unwrap();
    let json = status(&lab, 0);
    assert_eq!(json["demotion"], 240, "{json}");
    let row = json["demotion_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "uplink")
        .unwrap()
        .clone();
    assert_eq!(row["kind"], "interface", "{row}");
    assert_eq!(row["share"], 240, "{row}");
    assert!(row["detail"].as_str().unwrap().starts_with("up0 "), "{row}");

    lab.hosts[0].ns.ip(&["link", "set", "up0p", "up"]).unwrap();
    lab.wait_state(0, 1, "MASTER", WITHIN).unwrap();
    lab.wait_state(1, 1, "BACKUP", WITHIN).unwrap();
    assert_eq!(status(&lab, 0)["demotion"], 0);
    lab.assert_client_reaches(VIP, "after the uplink came back");
}

#[test]
fn a_script_source_follows_rise_and_fall_and_never_piles_up() {
    if !require_root("e2e tracking: script") {
        return;
    }
    let mut lab = Lab::new("ts", 1).unwrap();
    let count = lab.dir.join("runs");
    let mode = lab.dir.join("mode");
    fs::write(&mode, "flap").unwrap();
    // Counts its runs; "flap" alternates failure and success, "fail"
    // always fails, anything else passes.
    let script = format!(
        "n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}; \
         case $(cat {mode}) in flap) [ $((n % 2)) -eq 1 ];; fail) false;; *) true;; esac",
        count = count.display(),
        mode = mode.display()
    );
    let track = format!(
        r#"
[[track]]
name = "check"
weight = 50
shell = "{}"
interval_ms = 50
timeout_ms = 2000
rise = 2
fall = 2
"#,
        script.replace('\\', "\\\\").replace('"', "\\\"")
    );
    // A route and a file source on the same host.
    let level = lab.dir.join("level");
    let track = format!(
        r#"{track}
[[track]]
name = "net99"
weight = 7
route = "10.99.0.0/16"
interval_ms = 100

[[track]]
name = "level"
weight = 3
file = "{}"
interval_ms = 100
"#,
        level.display()
    );
    lab.start_agent_config(0, &vhid1_toml(0, &track)).unwrap();
    lab.wait_state(0, 1, "MASTER", WITHIN).unwrap();
    wait_for(&lab, 0, "the missing route demotes", || {
        share(&lab, 0, "net99") == Some(7)
    });
    lab.hosts[0]
        .ns
        .ip(&["route", "add", "10.99.0.0/16", "via", "10.77.0.1"])
        .unwrap();
    wait_for(&lab, 0, "the route is seen", || {
        share(&lab, 0, "net99") == Some(0)
    });
    // No file yet: counted as 0; a number N: N x weight.
    assert_eq!(share(&lab, 0, "level"), Some(0));
    fs::write(&level, "4\n").unwrap();
    wait_for(&lab, 0, "the file's number", || {
        share(&lab, 0, "level") == Some(12)
    });
    fs::write(&level, "junk").unwrap();
    wait_for(&lab, 0, "bad content counts as 0", || {
        share(&lab, 0, "level") == Some(0)
    });
    let runs = || {
        fs::read_to_string(&count)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Alternating results: never two failures in a row, never failing.
    wait_for(&lab, 0, "20 runs of the flapping check", || runs() >= 20);
    assert_eq!(share(&lab, 0, "check"), Some(0), "{}", lab.log(0));

    fs::write(&mode, "fail").unwrap();
    wait_for(&lab, 0, "the failing check demotes", || {
        share(&lab, 0, "check") == Some(50)
    });
    // It keeps failing: the share stays its weight, nothing piles up.
    let failing_since = runs();
    wait_for(&lab, 0, "10 more failing runs", || {
        runs() >= failing_since + 10
    });
    let json = status(&lab, 0);
    assert_eq!(json["demotion"], 50, "{json}");

    // An external check's share next to it, through the control socket.
    let out = lab
        .control(0, &["demote", "--source", "db", "+30"])
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "source db 30, demotion 80\n");
    let out = lab
        .control(0, &["demote", "--source", "db", "--set", "30"])
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "source db 30, demotion 80\n",
        "set, not added"
    );
    let out = lab
        .control(0, &["demote", "--source", "check", "+1"])
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("\"check\" is a configured [[track]] source"),
        "{}",
        text(&out.stderr)
    );
    let out = lab.control(0, &["status"]).unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains("host demotion 80\n"), "{shown}");
    assert!(shown.contains("    db (external) 30\n"), "{shown}");
    assert!(shown.contains("    check (script) 50: failing"), "{shown}");

    fs::write(&mode, "pass").unwrap();
    wait_for(&lab, 0, "the check passes again", || {
        share(&lab, 0, "check") == Some(0)
    });
    let out = lab
        .control(0, &["demote", "--source", "db", "-30"])
        .unwrap();
    assert_eq!(text(&out.stdout), "source db 0, demotion 0\n");
    assert_eq!(share(&lab, 0, "db"), None, "a source at 0 is removed");
}

#[test]
fn a_maintenance_demotion_survives_a_restart_of_the_agent() {
    if !require_root("e2e tracking: kept demotion") {
        return;
    }
    let mut lab = Lab::new("tp", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", true)).unwrap();
    lab.wait_state(0, 1, "MASTER", WITHIN).unwrap();
    lab.start_agent(1, &vhid1_args("100", true)).unwrap();
    lab.wait_state(1, 1, "BACKUP", WITHIN).unwrap();

    // The maintenance window: host 0 hands over.
    let out = lab.control(0, &["demote", "+240"]).unwrap();
    assert_eq!(text(&out.stdout), "demotion 240\n", "{}", text(&out.stderr));
    let out = lab.control(0, &["demote", "--source", "db", "+5"]).unwrap();
    assert_eq!(text(&out.stdout), "source db 5, demotion 245\n");
    lab.wait_state(1, 1, "MASTER", WITHIN).unwrap();
    lab.wait_state(0, 1, "BACKUP", WITHIN).unwrap();

    // Restart (SIGTERM, start again): the demotion is back at once.
    lab.terminate(0).unwrap();
    let kept = lab.dir.join("router1-persist").join("demotion");
    assert_eq!(
        fs::read_to_string(&kept).unwrap(),
        "{\"admin\":240,\"sources\":{\"db\":5}}\n"
    );
    lab.start_agent(0, &vhid1_args("0", true)).unwrap();
    lab.wait_state(0, 1, "BACKUP", WITHIN).unwrap();
    let json = status(&lab, 0);
    assert_eq!(json["demotion"], 245, "{json}");
    assert_eq!(share(&lab, 0, "admin"), Some(240));
    assert_eq!(share(&lab, 0, "db"), Some(5));
    // A preempting host 0 without its demotion would take over at host
    // 1's next advert; demoted, it follows host 1. Several adverts later:
    let backup_since = Instant::now();
    while backup_since.elapsed() < Duration::from_secs(4) {
        assert_eq!(lab.state(1, 1).as_deref(), Some("MASTER"), "{}", lab.log(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab.state(0, 1).as_deref(), Some("BACKUP"), "{}", lab.log(0));

    // The window ends: host 0 preempts again.
    let out = lab.control(0, &["demote", "--set", "0"]).unwrap();
    assert_eq!(text(&out.stdout), "demotion 5\n");
    let out = lab
        .control(0, &["demote", "--source", "db", "--set", "0"])
        .unwrap();
    assert_eq!(text(&out.stdout), "source db 0, demotion 0\n");
    lab.wait_state(0, 1, "MASTER", WITHIN).unwrap();
    assert_eq!(
        fs::read_to_string(&kept).unwrap(),
        "{\"admin\":0,\"sources\":{}}\n"
    );
}
