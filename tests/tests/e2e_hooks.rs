//! Hooks and events end to end: a pre-MASTER hook finishes before the VIP
//! is on the interface and before anything answers ARP for it; hooks see
//! `CARP_REASON` (`master_down` after the master's death, `admin` after
//! `carp-agent state`); demotion hooks run; `carp-agent events` streams the
//! transitions, the pre-MASTER wait and the demotion change. Real agents in
//! namespaces on a bridge (tests/src/lab.rs).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    fs,
    path::Path,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use carp_tests::{
    lab::{Lab, PASSWORD, eventually, vhid1_args},
    netns::Background,
    privileges::require_root,
};

const VIP: &str = "10.77.0.100";
/// How long the pre-MASTER hook sleeps.
const HOOK_SLEEP: &str = "1";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A wall-clock time (`date +%s.%N`) a hook wrote.
fn stamp(path: &Path) -> f64 {
    read(path)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {:?}: {e}", path.display(), read(path)))
}

/// Host 1's configuration: advskew 100, a pre-MASTER hook that records
/// when it starts and ends (and whether the VIP was on the interface at its
/// end), state hooks and a demotion hook that log their environment.
fn backup_config(dir: &Path, pre_sleep: &str) -> String {
    let d = dir.display();
    format!(
        r#"[[vhid]]
interface = "eth0"
vhid = 1
advbase = 1
advskew = 100
password = "{PASSWORD}"
vips = ["{VIP}/24"]

[[vhid.hook]]
on = ["pre-master"]
timeout_ms = 20000
shell = """
date +%s.%N > {d}/pre-start
echo "$CARP_EVENT $CARP_STATE $CARP_PREVIOUS_STATE $CARP_REASON" > {d}/pre-env
sleep {pre_sleep}
ip -4 -o addr show dev eth0 > {d}/pre-addrs
date +%s.%N > {d}/pre-end.tmp && mv {d}/pre-end.tmp {d}/pre-end
"""

[[vhid.hook]]
on = ["master", "backup", "init"]
shell = "echo \"$CARP_EVENT $CARP_STATE $CARP_REASON\" >> {d}/states"

[[hook]]
on = ["demotion"]
shell = "echo \"$CARP_EVENT $CARP_PREVIOUS_DEMOTION $CARP_DEMOTION $CARP_REASON\" >> {d}/demotion"
"#
    )
}

/// `carp-agent events` on host `i`, its lines going to `out`.
fn events(lab: &Lab, i: usize, out: &Path) -> Background {
    let agent = lab.hosts[i].agent.as_ref().unwrap();
    let mut cmd = lab.hosts[i]
        .ns
        .command(carp_tests::agent::binary().to_str().unwrap());
    cmd.args(["events", "--control-socket"])
        .arg(&agent.socket)
        .stdin(Stdio::null())
        .stdout(fs::File::create(out).unwrap())
        .stderr(Stdio::null());
    let process = Background(cmd.spawn().unwrap());
    // Subscribed once the agent counts the connection: wait for the stream
    // to be open by checking that a demotion round trip shows up later; here
    // just give the CLI time to connect (it needs no more than a request).
    std::thread::sleep(Duration::from_millis(500));
    process
}

fn event_lines(path: &Path) -> Vec<serde_json::Value> {
    read(path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn has_event(path: &Path, f: impl Fn(&serde_json::Value) -> bool) -> bool {
    event_lines(path).iter().any(f)
}

/// One ARP request from the client for the VIP; true if answered.
fn arp_answered(lab: &Lab) -> bool {
    lab.client
        .run("arping", &["-c", "1", "-w", "0.3", "-i", "eth0", VIP])
        .is_ok()
}

#[test]
fn pre_master_hook_ends_before_the_vip_is_served_and_hooks_see_the_reason() {
    if !require_root("e2e hooks (pre-master)") {
        return;
    }
    let mut lab = Lab::new("hk1", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.start_agent_config(1, &backup_config(&lab.dir, HOOK_SLEEP))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(8))
        .unwrap();
    let events_out = lab.dir.join("events.jsonl");
    let _events = events(&lab, 1, &events_out);
    assert!(arp_answered(&lab), "the master does not answer ARP");

    // The master dies for the segment: its switch port goes down.
    lab.switch
        .ip(&["link", "set", &Lab::port(0), "down"])
        .unwrap();
    let pre_start = lab.dir.join("pre-start");
    let started = eventually(Duration::from_secs(10), || pre_start.exists());
    assert!(started, "no pre-master hook; log:\n{}", lab.log(1));
    // From the hook's start on: when is the VIP first on the interface, and
    // when is ARP first answered for it?
    lab.client.ip(&["neigh", "flush", "dev", "eth0"]).unwrap();
    let mut first_addr = None;
    let mut first_arp = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while (first_addr.is_none() || first_arp.is_none()) && Instant::now() < deadline {
        if first_addr.is_none() && lab.host_has_addr(1, VIP) {
            first_addr = Some(now());
        }
        if first_arp.is_none() && arp_answered(&lab) {
            first_arp = Some(now());
        }
    }
    let log = lab.log(1);
    let (Some(first_addr), Some(first_arp)) = (first_addr, first_arp) else {
        panic!("VIP at {first_addr:?}, ARP answered at {first_arp:?}; log:\n{log}");
    };
    let pre_end = lab.dir.join("pre-end");
    assert!(
        pre_end.exists(),
        "VIP served before the hook ended; log:\n{log}"
    );
    let (start, end) = (stamp(&pre_start), stamp(&pre_end));
    assert!(end - start >= 0.9, "the hook slept {}", end - start);
    eprintln!(
        "pre-master hook {:.3} s; after its end: VIP on the interface +{:.3} s, first ARP reply \
         seen +{:.3} s",
        end - start,
        first_addr - end,
        first_arp - end
    );
    assert!(
        first_addr > end,
        "the VIP was on the interface at {first_addr}, the hook ended at {end}; log:\n{log}"
    );
    assert!(
        first_arp > end,
        "ARP was answered at {first_arp}, the hook ended at {end}; log:\n{log}"
    );
    // Still absent when the hook was about to end.
    let addrs = read(&lab.dir.join("pre-addrs"));
    assert!(!addrs.contains(VIP), "VIP present during the hook: {addrs}");
    assert_eq!(
        read(&lab.dir.join("pre-env")).trim(),
        "pre-master MASTER BACKUP master_down"
    );
    let states = lab.dir.join("states");
    let takeover = "state MASTER master_down";
    assert!(
        eventually(Duration::from_secs(5), || read(&states).contains(takeover)),
        "state hooks: {:?}",
        read(&states)
    );

    // A demotion change runs the demotion hook and is an event.
    let out = lab.control(1, &["demote", "+10"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    let demotion = lab.dir.join("demotion");
    assert!(
        eventually(Duration::from_secs(5), || read(&demotion).trim()
            == "demotion 0 10 admin"),
        "demotion hook: {:?}",
        read(&demotion)
    );

    // An administrative change: CARP_REASON=admin.
    let out = lab.control(1, &["state", "backup", "--vhid", "1"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        eventually(Duration::from_secs(5), || read(&states)
            .contains("state BACKUP admin")),
        "state hooks: {:?}",
        read(&states)
    );

    // The event stream saw all of it.
    let seen = |f: &dyn Fn(&serde_json::Value) -> bool| {
        eventually(Duration::from_secs(5), || has_event(&events_out, f))
    };
    assert!(
        seen(&|e| e["event"] == "transition"
            && e["vhid"] == 1
            && e["interface"] == "eth0"
            && e["from"] == "BACKUP"
            && e["to"] == "MASTER"
            && e["reason"] == "master_down"
            && e["reason_text"]
                .as_str()
                .is_some_and(|t| t.starts_with("master down"))),
        "events: {}",
        read(&events_out)
    );
    assert!(
        seen(&|e| e["event"] == "pre_master" && e["result"] == "done" && e["vips_added"] == true),
        "events: {}",
        read(&events_out)
    );
    assert!(
        seen(&|e| e["event"] == "demotion"
            && e["demotion"] == 10
            && e["previous"] == 0
            && e["reason"] == "admin"),
        "events: {}",
        read(&events_out)
    );
    assert!(
        seen(&|e| e["event"] == "transition" && e["to"] == "BACKUP" && e["reason"] == "admin"),
        "events: {}",
        read(&events_out)
    );
}

#[test]
fn a_vhid_that_leaves_master_during_its_pre_master_hook_never_takes_the_vip() {
    if !require_root("e2e hooks (pre-master abandoned)") {
        return;
    }
    let mut lab = Lab::new("hk2", 1).unwrap();
    lab.start_agent_config(0, &backup_config(&lab.dir, "2"))
        .unwrap();
    let events_out = lab.dir.join("events.jsonl");
    lab.wait_state(0, 1, "BACKUP", Duration::from_secs(8))
        .unwrap();
    let mut events = events(&lab, 0, &events_out);
    // Alone on the segment: MASTER after master-down, then the hook waits.
    let pre_start = lab.dir.join("pre-start");
    let started = eventually(Duration::from_secs(10), || pre_start.exists());
    assert!(started, "no pre-master hook; log:\n{}", lab.log(0));
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    // Its link goes down during the hook: INIT, and it stays there.
    lab.switch
        .ip(&["link", "set", &Lab::port(0), "down"])
        .unwrap();
    let states = lab.dir.join("states");
    assert!(
        eventually(Duration::from_secs(5), || read(&states)
            .contains("state INIT link_down")),
        "state hooks: {:?}; log:\n{}",
        read(&states),
        lab.log(0)
    );
    let pre_end = lab.dir.join("pre-end");
    assert!(
        eventually(Duration::from_secs(10), || pre_end.exists()),
        "the hook did not end; log:\n{}",
        lab.log(0)
    );
    // The hook's end is reported, and the VIP stays away.
    assert!(
        eventually(Duration::from_secs(5), || has_event(
            &events_out,
            |e| e["event"] == "pre_master" && e["vips_added"] == false
        )),
        "events: {}",
        read(&events_out)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!lab.host_has_addr(0, VIP), "log:\n{}", lab.log(0));
    // No MASTER hook ran: the vhid never served as MASTER.
    assert!(!read(&states).contains("state MASTER"), "{}", read(&states));

    // `carp-agent events` ends when the agent does.
    lab.terminate(0).unwrap();
    let mut status = None;
    let ended = eventually(Duration::from_secs(10), || {
        status = events.0.try_wait().unwrap();
        status.is_some()
    });
    assert!(
        ended,
        "carp-agent events still runs after the agent stopped"
    );
    assert!(status.unwrap().success(), "{status:?}");
}
