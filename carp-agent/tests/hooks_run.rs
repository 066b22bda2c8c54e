//! The hook runner with real processes, in a temporary directory.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    path::Path,
    time::{Duration, Instant},
};

use carp_agent::{
    engine::State,
    hooks::{HookProgram, HookRunner, HookSpec, Transition},
};

fn transition(vhid: u8, from: State, to: State) -> Transition {
    Transition {
        interface: "eth0".to_string(),
        vhid,
        from,
        to,
        vips: vec!["192.168.1.50/24".to_string(), "fd00::50/64".to_string()],
    }
}

fn shell(on: &[State], script: String) -> HookSpec {
    HookSpec {
        on: on.to_vec(),
        program: HookProgram::Shell(script),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

const ALL: [State; 3] = [State::Master, State::Backup, State::Init];

#[tokio::test(flavor = "multi_thread")]
async fn environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let hooks = [shell(
        &[State::Master],
        format!(
            "echo \"$CARP_VHID|$CARP_STATE|$CARP_PREVIOUS_STATE|$CARP_INTERFACE|$CARP_VIPS\" > {}",
            out.display()
        ),
    )];
    let runner = HookRunner::new(Duration::from_secs(10));
    // Not wanted: BACKUP is not in `on`.
    runner.transition(&hooks, transition(1, State::Init, State::Backup));
    runner.transition(&hooks, transition(1, State::Backup, State::Master));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert_eq!(
        read(&out),
        "1|MASTER|BACKUP|eth0|192.168.1.50/24 fd00::50/64\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_vhid_runs_in_order_even_when_the_first_is_slow() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let marker = dir.path().join("slow-done");
    // The first MASTER run sleeps; later runs are instant.
    let script = format!(
        "if [ \"$CARP_STATE\" = MASTER ] && [ ! -e {m} ]; then sleep 0.5; touch {m}; fi; \
         echo \"$CARP_PREVIOUS_STATE>$CARP_STATE\" >> {log}",
        m = marker.display(),
        log = log.display()
    );
    let hooks = [shell(&ALL, script)];
    let runner = HookRunner::new(Duration::from_secs(10));
    let start = Instant::now();
    runner.transition(&hooks, transition(3, State::Backup, State::Master));
    runner.transition(&hooks, transition(3, State::Master, State::Backup));
    runner.transition(&hooks, transition(3, State::Backup, State::Master));
    // Queuing never waits for the hooks.
    assert!(start.elapsed() < Duration::from_millis(200));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert_eq!(read(&log), "BACKUP>MASTER\nMASTER>BACKUP\nBACKUP>MASTER\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn vhids_run_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow");
    let fast = dir.path().join("fast");
    let runner = HookRunner::new(Duration::from_secs(10));
    let slow_hooks = [shell(&ALL, format!("sleep 1; touch {}", slow.display()))];
    let fast_hooks = [shell(&ALL, format!("touch {}", fast.display()))];
    runner.transition(&slow_hooks, transition(1, State::Init, State::Master));
    runner.transition(&fast_hooks, transition(2, State::Init, State::Master));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fast.exists(), "vhid 2 waited for vhid 1");
    assert!(!slow.exists());
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert!(slow.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_kills_the_hook_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late");
    let after = dir.path().join("after");
    let hooks = [
        // A subshell outlives its parent unless the whole group is killed.
        shell(&ALL, format!("(sleep 1; touch {}) & wait", late.display())),
        shell(&ALL, format!("touch {}", after.display())),
    ];
    let runner = HookRunner::new(Duration::from_millis(200));
    let start = Instant::now();
    runner.transition(&hooks, transition(1, State::Init, State::Master));
    assert!(runner.drain(Duration::from_secs(5)).await);
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    // The next hook still ran.
    assert!(after.exists());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!late.exists(), "the timed-out hook kept running");
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_gives_up_at_its_bound() {
    let runner = HookRunner::new(Duration::from_secs(10));
    let hooks = [shell(&ALL, "sleep 2".to_string())];
    runner.transition(&hooks, transition(1, State::Init, State::Master));
    assert!(!runner.drain(Duration::from_millis(100)).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn argv_is_passed_literally() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args");
    let pwned = dir.path().join("pwned");
    // sh only prints its positional arguments; nothing interprets them.
    let argv = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        format!("printf '%s\\n' \"$@\" > {}", out.display()),
        "hook".to_string(),
        format!("a; touch {}", pwned.display()),
        "$HOME".to_string(),
        "*".to_string(),
    ];
    let hooks = [HookSpec {
        on: vec![State::Backup],
        program: HookProgram::Argv(argv),
    }];
    let runner = HookRunner::new(Duration::from_secs(10));
    runner.transition(&hooks, transition(1, State::Init, State::Backup));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert_eq!(
        read(&out),
        format!("a; touch {}\n$HOME\n*\n", pwned.display())
    );
    assert!(!pwned.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn shell_form_expands() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hooks = [shell(
        &[State::Init],
        format!(
            "for s in $CARP_STATE x; do echo $s; done > {}",
            out.display()
        ),
    )];
    let runner = HookRunner::new(Duration::from_secs(10));
    runner.transition(&hooks, transition(1, State::Backup, State::Init));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert_eq!(read(&out), "INIT\nx\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_program_and_failures_do_not_stop_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hooks = [
        HookSpec {
            on: vec![State::Master],
            program: HookProgram::Argv(vec!["/nonexistent/promote-db".to_string()]),
        },
        shell(&[State::Master], "echo oops >&2; exit 3".to_string()),
        shell(&[State::Master], format!("touch {}", out.display())),
    ];
    let runner = HookRunner::new(Duration::from_secs(10));
    runner.transition(&hooks, transition(1, State::Backup, State::Master));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert!(out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_leaving_a_daemon_behind_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // The background sleep keeps stdout open after the hook exits.
    let hooks = [
        shell(&[State::Master], "sleep 3 &".to_string()),
        shell(&[State::Master], format!("touch {}", out.display())),
    ];
    let runner = HookRunner::new(Duration::from_secs(10));
    let start = Instant::now();
    runner.transition(&hooks, transition(1, State::Backup, State::Master));
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(out.exists());
}
