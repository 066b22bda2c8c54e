//! `--realtime`: a real agent in the lab runs every thread at SCHED_FIFO 10
//! with its memory locked, its hooks at normal priority; without the
//! privileges it warns, naming what was refused and why, and runs on.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    os::unix::fs::PermissionsExt as _,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

const HOST: usize = 0;

fn realtime_args(extra: &[&str]) -> Vec<String> {
    let mut args = vhid1_args("0", false);
    args.push("--realtime".into());
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn agent_pid(lab: &Lab) -> u32 {
    let pid = lab.agent_pid(HOST).unwrap();
    // The wrappers and `ip netns exec` exec the agent in their own process.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "carp-agent", "pid {pid}");
    pid
}

/// `chrt -p PID`: "pid N's current scheduling policy: ..." and "...priority: N".
fn chrt(pid: u32) -> String {
    let out = std::process::Command::new("chrt")
        .args(["-p", &pid.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "chrt -p {pid}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (policy, real-time priority) of every thread of `pid`, from
/// /proc/PID/task/TID/stat fields 41 and 40.
fn thread_policies(pid: u32) -> Vec<(u32, String, String)> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let entry = entry.unwrap();
        let tid: u32 = entry.file_name().to_string_lossy().parse().unwrap();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // the thread just ended
        };
        let (_, rest) = stat.rsplit_once(')').unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // rest starts at field 3.
        threads.push((tid, fields[41 - 3].to_string(), fields[40 - 3].to_string()));
    }
    threads
}

/// `VmLck` of /proc/PID/status, in kB.
fn locked_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmLck:"))
        .unwrap_or_else(|| panic!("no VmLck in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn realtime_agent_runs_fifo_with_locked_memory_and_hooks_do_not() {
    if !require_root("realtime_agent_runs_fifo_with_locked_memory_and_hooks_do_not") {
        return;
    }
    let mut lab = Lab::new("rt1", 1).unwrap();
    // The hook reports its own policy: it must not inherit the agent's.
    let hook_out = lab.dir.join("hook-policy");
    let hook = lab.dir.join("up.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nchrt -p $$ > {}.tmp\nmv {0}.tmp {0}\n",
            hook_out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    lab.start_agent(
        HOST,
        &realtime_args(&["--up-script", hook.to_str().unwrap()]),
    )
    .unwrap();
    lab.wait_state(HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let pid = agent_pid(&lab);
    let log = lab.log(HOST);

    let main = chrt(pid);
    assert!(
        main.contains("SCHED_FIFO") && main.contains("priority: 10"),
        "{main}\nlog:\n{log}"
    );
    let threads = thread_policies(pid);
    assert!(!threads.is_empty());
    for (tid, policy, priority) in &threads {
        assert_eq!(
            (policy.as_str(), priority.as_str()),
            ("1", "10"),
            "thread {tid} of {pid} is not SCHED_FIFO 10: {threads:?}"
        );
    }
    let locked = locked_kb(pid);
    assert!(locked > 0, "VmLck {locked} kB\nlog:\n{log}");
    assert!(
        log.contains("real-time scheduling: SCHED_FIFO priority 10"),
        "{log}"
    );
    assert!(log.contains("memory locked (mlockall)"), "{log}");
    assert!(!log.contains("refused"), "{log}");

    let start = Instant::now();
    while !hook_out.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the up-script did not run; log:\n{}",
            lab.log(HOST)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let hook_policy = std::fs::read_to_string(&hook_out).unwrap();
    assert!(hook_policy.contains("SCHED_OTHER"), "{hook_policy}");
}

#[test]
fn realtime_refused_is_a_warning_naming_what_and_the_agent_runs_on() {
    if !require_root("realtime_refused_is_a_warning_naming_what_and_the_agent_runs_on") {
        return;
    }
    let mut lab = Lab::new("rt2", 1).unwrap();
    // Root without CAP_SYS_NICE and CAP_IPC_LOCK, and no limits to fall
    // back on: both requests must be refused.
    let wrapper = [
        "prlimit",
        "--rtprio=0",
        "--memlock=0",
        "setpriv",
        "--bounding-set=-sys_nice,-ipc_lock",
    ];
    lab.start_agent_via(HOST, &wrapper, &realtime_args(&[]))
        .unwrap();
    lab.wait_state(HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let pid = agent_pid(&lab);
    let log = lab.log(HOST);
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    let scheduler = warnings
        .iter()
        .find(|l| l.contains("real-time scheduling (SCHED_FIFO priority 10) refused"))
        .unwrap_or_else(|| panic!("no scheduler warning in:\n{log}"));
    for part in [
        "CAP_SYS_NICE",
        "RLIMIT_RTPRIO >= 10 (now 0)",
        "normal priority",
    ] {
        assert!(scheduler.contains(part), "no {part:?} in {scheduler}");
    }
    let memory = warnings
        .iter()
        .find(|l| l.contains("locking memory (mlockall MCL_CURRENT|MCL_FUTURE) refused"))
        .unwrap_or_else(|| panic!("no memory warning in:\n{log}"));
    for part in ["CAP_IPC_LOCK", "RLIMIT_MEMLOCK", "(now 0 KiB)"] {
        assert!(memory.contains(part), "no {part:?} in {memory}");
    }
    assert!(!log.contains("real-time scheduling: SCHED_FIFO"), "{log}");
    let main = chrt(pid);
    assert!(main.contains("SCHED_OTHER"), "{main}");
    assert_eq!(locked_kb(pid), 0);
}
