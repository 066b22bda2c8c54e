//! The hook runner with real processes, in a temporary directory.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    path::Path,
    time::{Duration, Instant},
};

use carp_agent::{
    engine::State,
    hooks::{
        DemotionChange, HookOutcome, HookProgram, HookRunner, HookSpec, HostHook, Transition,
        output::{MAX_LINE_BYTES, MAX_RUN_BYTES, MAX_RUN_LINES},
    },
};

fn transition(vhid: u8, from: State, to: State) -> Transition {
    Transition {
        interface: "eth0".to_string(),
        vhid,
        from,
        to,
        reason: "master_down".to_string(),
        reason_text: "master down: no advert for 3.00 s".to_string(),
        vips: vec!["192.168.1.50/24".to_string(), "fd00::50/64".to_string()],
    }
}

fn shell(on: &[State], script: String) -> HookSpec {
    HookSpec {
        on: on.to_vec(),
        pre_master: false,
        program: HookProgram::Shell(script),
        timeout: None,
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
        pre_master: false,
        program: HookProgram::Argv(argv),
        timeout: None,
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
            pre_master: false,
            program: HookProgram::Argv(vec!["/nonexistent/promote-db".to_string()]),
            timeout: None,
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

/// Runs `script` as a MASTER hook (on this thread, so the tasks it spawns
/// log here) and returns what it logged.
async fn logged(script: &str, timeout: Duration) -> Vec<String> {
    let buffer = carp_agent::testdata::LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_target(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let runner = HookRunner::new(timeout);
    let hooks = [shell(&[State::Master], script.to_string())];
    runner.transition(&hooks, transition(1, State::Backup, State::Master));
    assert!(runner.drain(timeout + Duration::from_secs(10)).await);
    drop(guard);
    buffer.lines()
}

/// The hook's output lines as logged: `hook NAME: TEXT vhid=1`, where the
/// runner's own lines also name the interface.
fn output_lines(log: &[String]) -> Vec<&str> {
    log.iter()
        .filter(|l| !l.contains("bytes of output dropped"))
        .filter_map(|l| l.strip_suffix(" vhid=1"))
        .filter_map(|l| l.split_once("\": ").map(|(_, text)| text))
        .collect()
}

/// Short enough to print: the lines' lengths and their first bytes.
fn brief(log: &[String]) -> Vec<String> {
    log.iter()
        .map(|l| {
            format!(
                "{} bytes: {}",
                l.len(),
                l.chars().take(120).collect::<String>()
            )
        })
        .collect()
}

fn summary(log: &[String]) -> Option<&str> {
    let lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("bytes of output dropped"))
        .collect();
    assert!(lines.len() <= 1, "one summary at most: {lines:#?}");
    lines.first().map(|l| l.as_str())
}

#[tokio::test]
async fn an_output_line_at_the_bound_is_logged_whole_one_byte_more_is_cut() {
    let at = MAX_LINE_BYTES;
    let log = logged(
        &format!("printf '%{at}s\\n' | tr ' ' a"),
        Duration::from_secs(10),
    )
    .await;
    assert!(output_lines(&log) == ["a".repeat(at)], "{:#?}", brief(&log));
    assert_eq!(summary(&log), None, "{:#?}", brief(&log));

    let over = at + 1;
    let log = logged(
        &format!("printf '%{over}s\\n' | tr ' ' b"),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        output_lines(&log) == [format!("{} [cut]", "b".repeat(at))],
        "{:#?}",
        brief(&log)
    );
    let summary = summary(&log).unwrap();
    assert!(
        summary.contains("hook sh -c ")
            && summary.contains(": 1 bytes of output dropped (1 lines cut, 0 lines not logged"),
        "{summary}"
    );
}

#[tokio::test]
async fn output_at_the_run_byte_bound_is_logged_one_byte_more_is_dropped() {
    let lines = MAX_RUN_BYTES / MAX_LINE_BYTES;
    assert_eq!(lines * MAX_LINE_BYTES, MAX_RUN_BYTES);
    let script =
        format!("for i in $(seq {lines}); do printf '%{MAX_LINE_BYTES}s\\n' | tr ' ' c; done");
    let log = logged(&script, Duration::from_secs(10)).await;
    assert_eq!(output_lines(&log).len(), lines, "{:#?}", brief(&log));
    assert_eq!(summary(&log), None);

    let log = logged(&format!("{script}; echo x"), Duration::from_secs(10)).await;
    assert_eq!(output_lines(&log).len(), lines);
    let summary = summary(&log).unwrap();
    assert!(
        summary.contains(": 1 bytes of output dropped (0 lines cut, 1 lines not logged"),
        "{summary}"
    );
}

#[tokio::test]
async fn output_at_the_run_line_bound_is_logged_one_line_more_is_dropped() {
    let log = logged(&format!("seq {MAX_RUN_LINES}"), Duration::from_secs(10)).await;
    let lines = output_lines(&log);
    assert_eq!(lines.len(), MAX_RUN_LINES);
    assert_eq!(lines.last(), Some(&MAX_RUN_LINES.to_string().as_str()));
    assert_eq!(summary(&log), None);

    // stdout and stderr share the bound.
    let log = logged(
        &format!("seq {MAX_RUN_LINES}; echo oops >&2"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(output_lines(&log).len(), MAX_RUN_LINES);
    let summary = summary(&log).unwrap();
    assert!(
        summary.contains(": 4 bytes of output dropped (0 lines cut, 1 lines not logged"),
        "{summary}"
    );
}

#[tokio::test]
async fn an_endless_hook_logs_a_bounded_number_of_lines() {
    let log = logged("yes", Duration::from_secs(1)).await;
    assert_eq!(output_lines(&log).len(), MAX_RUN_LINES);
    assert!(
        log.iter()
            .any(|l| l.contains("still running after 1s; killed"))
    );
    let summary = summary(&log).unwrap();
    println!("{} log lines; {summary}", log.len());
    // 2 bytes a line ("y" and its newline, the newline not counted).
    let dropped: u64 = summary
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(dropped > 1000, "{summary}");
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn a_huge_line_without_newline_is_cut_not_kept() {
    let size: u64 = 100_000_000;
    let before = peak_rss();
    let log = logged(
        &format!("head -c {size} /dev/zero | tr '\\0' z"),
        Duration::from_secs(60),
    )
    .await;
    let grown = peak_rss().saturating_sub(before);
    println!("peak memory grew by {grown} bytes");
    assert!(
        output_lines(&log) == [format!("{} [cut]", "z".repeat(MAX_LINE_BYTES))],
        "{:#?}",
        brief(&log)
    );
    let summary = summary(&log).unwrap();
    let dropped = size - MAX_LINE_BYTES as u64;
    assert!(
        summary.contains(&format!(": {dropped} bytes of output dropped (1 lines cut")),
        "{summary}"
    );
    // Reading it whole would take 100 MB; the reader keeps one line's worth.
    assert!(grown < 32 << 20, "peak memory grew by {grown} bytes");
}

fn pre_master(script: String, timeout: Option<Duration>) -> HookSpec {
    HookSpec {
        on: Vec::new(),
        pre_master: true,
        program: HookProgram::Shell(script),
        timeout,
    }
}

/// Queues the pre-MASTER hooks and returns what their callback reports.
async fn run_pre_master(
    runner: &HookRunner,
    hooks: &[HookSpec],
    t: Transition,
) -> (HookOutcome, Duration) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let done = Box::new(move |outcome, elapsed| {
        let _ = tx.send((outcome, elapsed));
    });
    assert!(runner.pre_master(hooks, t, done));
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_master_waits_for_earlier_hooks_and_reports_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let runner = HookRunner::new(Duration::from_secs(10));
    let hooks = [
        shell(
            &[State::Backup],
            format!("sleep 0.3; echo backup >> {}", log.display()),
        ),
        pre_master(
            format!(
                "echo \"pre $CARP_EVENT $CARP_STATE $CARP_REASON\" >> {}; exit 3",
                log.display()
            ),
            None,
        ),
    ];
    // The state hooks ignore the pre-master one and vice versa.
    runner.transition(&hooks, transition(1, State::Master, State::Backup));
    let (outcome, _) =
        run_pre_master(&runner, &hooks, transition(1, State::Backup, State::Master)).await;
    assert_eq!(outcome, HookOutcome::Failed);
    assert_eq!(read(&log), "backup\npre pre-master MASTER master_down\n");
    assert!(runner.drain(Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_master_outcomes() {
    let runner = HookRunner::new(Duration::from_secs(10));
    let t = || transition(2, State::Backup, State::Master);
    let ok = [pre_master("true".to_string(), None)];
    assert_eq!(run_pre_master(&runner, &ok, t()).await.0, HookOutcome::Done);
    // Its own timeout, not the runner's.
    let slow = [pre_master(
        "sleep 5".to_string(),
        Some(Duration::from_millis(100)),
    )];
    let (outcome, elapsed) = run_pre_master(&runner, &slow, t()).await;
    assert_eq!(outcome, HookOutcome::TimedOut);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // No pre-master hook: nothing queued, no callback.
    let none = [shell(&[State::Master], "true".to_string())];
    assert!(!runner.pre_master(&none, t(), Box::new(|_, _| {})));
}

#[tokio::test(flavor = "multi_thread")]
async fn demotion_hooks_see_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let runner = HookRunner::new(Duration::from_secs(10));
    let hooks = [HostHook {
        program: HookProgram::Shell(format!(
            "echo \"$CARP_EVENT $CARP_PREVIOUS_DEMOTION $CARP_DEMOTION $CARP_REASON\" >> {}",
            out.display()
        )),
        timeout: None,
    }];
    for (previous, demotion) in [(0, 240), (240, 0)] {
        let change = DemotionChange {
            previous,
            demotion,
            reason: "admin".to_string(),
        };
        runner.demotion(&hooks, &change);
    }
    assert!(runner.drain(Duration::from_secs(10)).await);
    assert_eq!(read(&out), "demotion 0 240 admin\ndemotion 240 0 admin\n");
}
