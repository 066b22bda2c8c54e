//! End-to-end scenarios beyond the first failover: the old master returning
//! (3), demotion (4), SIGTERM bow-out (5), carrier loss (6), hooks (10) and a
//! restart after kill -9 (11). Real agents in namespaces on a bridge; timings
//! are asserted only as protocol bounds with slack (docs/protocol.md, "Timers").
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use aya::programs::{SchedClassifier, TcAttachType};
use carp_tests::{
    lab::{Lab, eventually, vhid1_args},
    privileges::require_root,
};

const VIP: &str = "10.77.0.100";
const VMAC: &str = "00:00:5e:00:01:01";
/// Slack on top of a protocol bound: process start, scheduling, polling.
const SLACK: Duration = Duration::from_millis(600);

/// Advertisement interval of advbase 1 with `advskew`.
fn interval(advskew: u32) -> Duration {
    Duration::from_secs(1) + Duration::from_secs_f64(f64::from(advskew) / 256.0)
}

/// FreeBSD master-down of advbase 1 with `advskew`: 3*advbase + advskew/256.
fn master_down(advskew: u32) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(advskew) / 256.0)
}

/// Host `i`'s IPv4 addresses on eth0.
fn addrs(lab: &Lab, i: usize) -> String {
    let out = lab.hosts[i].ns.ip(&["-4", "addr", "show", "eth0"]).unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_vip(lab: &Lab, i: usize) -> bool {
    lab.host_has_addr(i, VIP)
}

/// Asserts that host `i` stays in `state` for `duration`.
fn stays(lab: &Lab, i: usize, state: &str, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        let now = lab.state(i, 1);
        assert_eq!(
            now.as_deref(),
            Some(state),
            "{} left {state} after {:?}; log:\n{}",
            lab.hosts[i].name,
            start.elapsed(),
            lab.log(i)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two hosts, host 0 (advskew 0) MASTER and host 1 (advskew 100) BACKUP.
fn elected_pair(tag: &str, preempt0: bool, preempt1: bool) -> Lab {
    let mut lab = Lab::new(tag, 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", preempt0))
        .expect("start agent");
    lab.start_agent(1, &vhid1_args("100", preempt1))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    lab
}

/// kill -9 of host 0; host 1 takes over within master-down + one interval.
fn kill_master_and_fail_over(lab: &mut Lab) {
    lab.kill9(0);
    lab.wait_state(1, 1, "MASTER", master_down(100) + interval(100) + SLACK)
        .unwrap();
}

// ---- Scenario 3: the old master returns ----

#[test]
fn s3_returning_master_preempts_back_when_preempt_is_on() {
    if !require_root("e2e scenario 3 (preempt)") {
        return;
    }
    let mut lab = elected_pair("s3a", true, true);
    kill_master_and_fail_over(&mut lab);
    let restarted = Instant::now();
    lab.start_agent(0, &vhid1_args("0", true))
        .expect("start agent");
    // It comes up BACKUP and preempts on the first advert it hears from the
    // less preferred master: within one of that master's intervals, well
    // before its own master-down would fire.
    let took = lab
        .wait_state(
            0,
            1,
            "MASTER",
            interval(100) + Duration::from_secs(1) + SLACK,
        )
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", interval(0) + SLACK).unwrap();
    println!(
        "preempt: returning master MASTER {took:?} after restart ({:?} since restart)",
        restarted.elapsed()
    );
    let log = lab.log(0);
    assert!(
        log.contains("BACKUP -> MASTER (preempting less preferred master 10.77.0.12"),
        "{log}"
    );
    assert!(
        lab.log(1)
            .contains("MASTER -> BACKUP (more preferred master 10.77.0.11"),
        "{}",
        lab.log(1)
    );
    assert!(has_vip(&lab, 0) && !has_vip(&lab, 1));
    stays(&lab, 0, "MASTER", Duration::from_secs(2));
}

#[test]
fn s3_returning_master_stays_backup_without_preempt() {
    if !require_root("e2e scenario 3 (no preempt)") {
        return;
    }
    let mut lab = elected_pair("s3b", false, false);
    kill_master_and_fail_over(&mut lab);
    lab.start_agent(0, &vhid1_args("0", false))
        .expect("start agent");
    lab.wait_state(0, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    // Longer than its master-down plus an interval: it hears the working
    // master and never takes over.
    stays(&lab, 0, "BACKUP", master_down(0) + interval(100) + SLACK);
    assert_eq!(lab.state(1, 1).as_deref(), Some("MASTER"));
    assert!(!has_vip(&lab, 0), "{}", addrs(&lab, 0));
    assert!(has_vip(&lab, 1));
}

// ---- Scenario 4: demotion hands mastership over ----

#[test]
fn s4_demote_240_hands_over_within_one_interval_without_outage() {
    if !require_root("e2e scenario 4") {
        return;
    }
    let lab = elected_pair("s4", false, true);
    let probe = lab.probe(VIP).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let demoted = Instant::now();
    let demoted_wall = std::time::SystemTime::now();
    let out = lab.control(0, &["demote", "+240"]).unwrap();
    assert!(out.status.success(), "demote: {out:?}");
    // A demotion change makes the master advertise at once; the preempting
    // backup takes over on that advert: within one interval.
    let took = lab.wait_state(1, 1, "MASTER", interval(0) + SLACK).unwrap();
    lab.wait_state(0, 1, "BACKUP", interval(100) + SLACK)
        .unwrap();
    let handover = demoted.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    println!(
        "demote +240: backup MASTER after {took:?}, old master BACKUP after {handover:?}; \
         client outage {:?} ({} replies in {:?})",
        result.longest_gap, result.replies, result.sent_for
    );
    assert!(
        result.answered_across(demoted_wall),
        "the VIP answered before and after the demotion: {} replies",
        result.replies
    );
    assert!(
        result.longest_gap < Duration::from_secs(1),
        "outage {:?}",
        result.longest_gap
    );

    let out = lab.control(0, &["status", "--json"]).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["demotion"], 240, "{json}");
    let out = lab.control(0, &["check"]).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "check on the demoted host: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("WARNING"));
    let out = lab.control(1, &["check"]).unwrap();
    assert_eq!(out.status.code(), Some(0), "check on the new master");
    assert!(!has_vip(&lab, 0) && has_vip(&lab, 1));
}

// ---- Scenario 5: SIGTERM bows out ----

#[test]
fn s5_sigterm_bows_out_and_the_backup_takes_over_within_one_interval() {
    if !require_root("e2e scenario 5") {
        return;
    }
    let mut lab = elected_pair("s5", false, false);
    let log0 = lab.hosts[0].agent.as_ref().unwrap().log.clone();
    let stopped = Instant::now();
    lab.terminate(0).unwrap();
    // The bow-out advert (advbase 255) is slower than the backup's
    // master-down: it takes over at once, without preempt, far sooner than
    // master-down (3.39 s) would.
    let took = lab
        .wait_state(1, 1, "MASTER", interval(100) + SLACK)
        .unwrap();
    let since_sigterm = stopped.elapsed();
    println!("SIGTERM: backup MASTER {took:?} after exit, {since_sigterm:?} after SIGTERM");
    assert!(since_sigterm < master_down(100), "{since_sigterm:?}");
    assert!(
        lab.log(1)
            .contains("BACKUP -> MASTER (bow-out received from 10.77.0.11"),
        "reason names the bow-out:\n{}",
        lab.log(1)
    );
    assert!(
        !has_vip(&lab, 0),
        "VIP left on the old master: {}",
        addrs(&lab, 0)
    );
    assert!(has_vip(&lab, 1));
    let log = fs::read_to_string(log0).unwrap();
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(log.contains("MASTER -> INIT"), "{log}");
    assert!(
        log.contains("carp-agent stopped: VIPs removed, XDP detached"),
        "{log}"
    );
    assert!(
        !log.contains("WARN") && !log.contains("ERROR") && !log.contains("carp-agent: error"),
        "{log}"
    );
}

// ---- Scenario 6: carrier loss ----

fn carrier_loss(tag: &str, preempt: bool) -> Lab {
    let lab = elected_pair(tag, preempt, preempt);
    let lost = Instant::now();
    lab.switch.ip(&["link", "set", "p1", "down"]).unwrap();
    lab.wait_state(0, 1, "INIT", Duration::from_secs(1))
        .unwrap();
    assert!(!has_vip(&lab, 0), "VIP kept in INIT: {}", addrs(&lab, 0));
    let log = lab.log(0);
    assert!(log.contains("eth0: carrier down"), "{log}");
    assert!(log.contains("MASTER -> INIT (link down)"), "{log}");
    // The master fell silent: the backup waits master-down.
    let took = lab
        .wait_state(1, 1, "MASTER", master_down(100) + interval(100) + SLACK)
        .unwrap();
    println!(
        "carrier loss: backup MASTER {:?} after the port went down",
        lost.elapsed()
    );
    let _ = took;
    let out = lab.control(0, &["status", "--json"]).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["demotion"], 240, "link down demotes the host: {json}");
    lab.switch.ip(&["link", "set", "p1", "up"]).unwrap();
    lab
}

#[test]
fn s6_carrier_loss_sends_the_master_to_init_and_back_to_backup() {
    if !require_root("e2e scenario 6") {
        return;
    }
    let lab = carrier_loss("s6a", false);
    lab.wait_state(0, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    assert!(
        lab.log(0).contains("INIT -> BACKUP (link up)"),
        "{}",
        lab.log(0)
    );
    stays(&lab, 0, "BACKUP", master_down(0) + interval(100) + SLACK);
    assert_eq!(lab.state(1, 1).as_deref(), Some("MASTER"));
    let out = lab.control(0, &["status", "--json"]).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["demotion"], 0,
        "carrier back lifts the demotion: {json}"
    );
}

#[test]
fn s6_carrier_back_with_preempt_takes_mastership_back() {
    if !require_root("e2e scenario 6 (preempt)") {
        return;
    }
    let lab = carrier_loss("s6b", true);
    // BACKUP on link up, then preempts on the first advert of the less
    // preferred master.
    lab.wait_state(
        0,
        1,
        "MASTER",
        Duration::from_secs(1) + interval(100) + SLACK,
    )
    .unwrap();
    lab.wait_state(1, 1, "BACKUP", interval(0) + SLACK).unwrap();
    assert!(has_vip(&lab, 0) && !has_vip(&lab, 1));
}

// ---- Scenario 10: hooks ----

fn hook_script(dir: &Path, name: &str, out: &Path) -> PathBuf {
    let path = dir.join(name);
    fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$CARP_VHID $CARP_STATE $CARP_PREVIOUS_STATE $CARP_INTERFACE $CARP_VIPS\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait_lines(path: &Path, expected: &[&str], lab: &Lab, i: usize) {
    let ok = eventually(Duration::from_secs(3), || lines(path) == expected);
    assert!(
        ok,
        "{} hook lines {:?}, expected {expected:?}; log:\n{}",
        path.display(),
        lines(path),
        lab.log(i)
    );
}

#[test]
fn s10_up_and_down_scripts_run_in_transition_order() {
    if !require_root("e2e scenario 10 (scripts)") {
        return;
    }
    let mut lab = Lab::new("s10a", 2).unwrap();
    let mut outs = Vec::new();
    for i in 0..2 {
        let out = lab.dir.join(format!("hooks{i}.txt"));
        let up = hook_script(&lab.dir, &format!("up{i}.sh"), &out);
        let down = hook_script(&lab.dir, &format!("down{i}.sh"), &out);
        let mut args = vhid1_args(if i == 0 { "0" } else { "100" }, false);
        args.extend([
            "--up-script".to_string(),
            up.display().to_string(),
            "--down-script".to_string(),
            down.display().to_string(),
        ]);
        lab.start_agent(i, &args).expect("start agent");
        outs.push(out);
    }
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    let backup = "1 BACKUP INIT eth0 10.77.0.100/24";
    let master = "1 MASTER BACKUP eth0 10.77.0.100/24";
    wait_lines(&outs[0], &[backup, master], &lab, 0);
    wait_lines(&outs[1], &[backup], &lab, 1);
    kill_master_and_fail_over(&mut lab);
    wait_lines(&outs[1], &[backup, master], &lab, 1);
    // The killed agent ran nothing more.
    assert_eq!(lines(&outs[0]), [backup, master]);
}

#[test]
fn s10_toml_config_hook_runs_only_on_master() {
    if !require_root("e2e scenario 10 (toml)") {
        return;
    }
    let mut lab = Lab::new("s10b", 2).unwrap();
    let out = lab.dir.join("hook-master.txt");
    let config = lab.dir.join("carp.toml");
    fs::write(
        &config,
        format!(
            r#"[[vhid]]
interface = "eth0"
vhid = 1
advbase = 1
advskew = 0
password = "labpass"
vips = ["10.77.0.100/24"]

[[vhid.hook]]
on = ["master"]
shell = "echo \"$CARP_VHID $CARP_STATE $CARP_PREVIOUS_STATE $CARP_INTERFACE $CARP_VIPS\" >> {}"
"#,
            out.display()
        ),
    )
    .unwrap();
    lab.start_agent_with_config(0, &config).unwrap();
    lab.start_agent(1, &vhid1_args("100", false))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    let master = "1 MASTER BACKUP eth0 10.77.0.100/24";
    wait_lines(&out, &[master], &lab, 0);
    // Leaving MASTER (SIGTERM: MASTER -> INIT) runs no hook: only "master" is wanted.
    let log0 = lab.hosts[0].agent.as_ref().unwrap().log.clone();
    lab.terminate(0).unwrap();
    let log = fs::read_to_string(log0).unwrap();
    assert!(log.contains("MASTER -> INIT"), "{log}");
    assert_eq!(lines(&out), [master]);
}

// ---- Scenario 11: restart after kill -9 ----

/// `ip -d link show eth0` in host `i`: the number of attached XDP programs.
fn xdp_programs(lab: &Lab, i: usize) -> usize {
    let out = lab.hosts[i].ns.ip(&["-d", "link", "show", "eth0"]).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .matches("prog/xdp id")
        .count()
}

/// The tcx egress programs on host `i`'s eth0 named `carp_tc_egress` (the
/// kernel is ≥ 6.6, so the agent attaches through tcx; the bpftool of the
/// build machines does not list tcx links yet).
fn egress_programs(lab: &Lab, i: usize) -> usize {
    let (_, programs) = lab.hosts[i].ns.enter(|| {
        SchedClassifier::query_tcx("eth0", TcAttachType::Egress).expect("querying tcx egress")
    });
    programs
        .iter()
        .filter(|p| p.name_as_str() == Some(carp_agent::dataplane::EGRESS_PROGRAM))
        .count()
}

/// `bridge fdb show dev eth0` in host `i`: lines with the vMAC as `self permanent`.
fn vmac_fdb_entries(lab: &Lab, i: usize) -> usize {
    let out = lab.hosts[i]
        .ns
        .run("bridge", &["fdb", "show", "dev", "eth0"])
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(VMAC) && l.contains("self permanent"))
        .count()
}

fn pins(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("carp"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn s11_restart_after_kill9_leaves_nothing_stale() {
    if !require_root("e2e scenario 11") {
        return;
    }
    let mut lab = Lab::new("s11", 2).unwrap();
    // The lab mounts each host's bpffs in the test's own mount namespace, as
    // /sys/fs/bpf is on a real host: the agent's pins outlive a kill -9
    // there, so a restart must cope with them.
    let bpffs = lab.dir.join(format!("{}-bpf", lab.hosts[0].name));
    lab.start_agent(0, &vhid1_args("0", false))
        .expect("start agent");
    lab.start_agent(1, &vhid1_args("100", false))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();
    // The maps, and the XDP link (by interface index) that a killed agent
    // leaves for its successor (tests/e2e_restart.rs).
    let expected_pins: Vec<String> = {
        let out = lab.hosts[0].ns.ip(&["-o", "link", "show", "eth0"]).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ifindex = text.split(':').next().unwrap().trim().to_string();
        let mut v: Vec<String> = carp_agent::dataplane::PINNED_MAPS
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(format!("xdp_link_{ifindex}"));
        v.sort();
        v
    };
    assert_eq!(pins(&bpffs), expected_pins, "pins while running");
    assert_eq!(xdp_programs(&lab, 0), 1);
    assert_eq!(egress_programs(&lab, 0), 1);
    assert_eq!(vmac_fdb_entries(&lab, 0), 1);

    kill_master_and_fail_over(&mut lab);
    println!(
        "left by kill -9: VIP {}, XDP programs {}, egress programs {}, vMAC fdb entries {}, pins {:?}",
        has_vip(&lab, 0),
        xdp_programs(&lab, 0),
        egress_programs(&lab, 0),
        vmac_fdb_entries(&lab, 0),
        pins(&bpffs)
    );
    assert!(
        has_vip(&lab, 0),
        "kill -9 leaves the VIP (nobody removed it)"
    );
    assert_eq!(
        egress_programs(&lab, 0),
        0,
        "the egress tcx link went with the process"
    );
    // What a killed agent leaves behind on a kernel without tcx: a clsact
    // qdisc. The restart must cope with it.
    lab.hosts[0]
        .ns
        .run("tc", &["qdisc", "add", "dev", "eth0", "clsact"])
        .unwrap();

    let log_path = lab.hosts[0].agent.as_ref().map(|a| a.log.clone());
    let before = log_path
        .as_ref()
        .and_then(|p| fs::read_to_string(p).ok())
        .map_or(0, |s| s.len());
    lab.start_agent(0, &vhid1_args("0", false))
        .expect("start agent");
    lab.wait_state(0, 1, "BACKUP", Duration::from_secs(3))
        .unwrap();
    let restart_log = lab.log(0)[before..].to_string();
    assert!(
        !restart_log.contains("WARN")
            && !restart_log.contains("ERROR")
            && !restart_log.contains("carp-agent: error"),
        "restart is clean:\n{restart_log}"
    );
    assert!(
        eventually(Duration::from_secs(1), || !has_vip(&lab, 0)),
        "stale VIP removed while BACKUP: {}",
        addrs(&lab, 0)
    );
    assert_eq!(xdp_programs(&lab, 0), 1, "exactly one XDP program");
    assert_eq!(egress_programs(&lab, 0), 1, "exactly one egress program");
    assert_eq!(pins(&bpffs), expected_pins, "exactly the maps and the link");
    assert_eq!(vmac_fdb_entries(&lab, 0), 1, "one vMAC fdb entry");
    // It works as a BACKUP: stays one while the other is MASTER.
    stays(&lab, 0, "BACKUP", Duration::from_secs(2));
    assert!(has_vip(&lab, 1));

    lab.terminate(0).unwrap();
    assert_eq!(xdp_programs(&lab, 0), 0, "XDP left after SIGTERM");
    assert_eq!(
        egress_programs(&lab, 0),
        0,
        "egress program left after SIGTERM"
    );
    assert!(!has_vip(&lab, 0), "VIP left after SIGTERM");
    assert_eq!(vmac_fdb_entries(&lab, 0), 0, "fdb entry left after SIGTERM");
    assert_eq!(
        pins(&bpffs),
        Vec::<String>::new(),
        "pins left after SIGTERM"
    );
}
