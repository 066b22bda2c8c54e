//! State-change hooks: programs run when a vhid enters MASTER, BACKUP or INIT
//! (what devd(8) `notify` rules or ucarp's up/down scripts do on the BSDs).
//!
//! Hooks of one vhid run one at a time, in transition order, from a queue
//! owned by a per-vhid task: a slow `promote-db` for MASTER is never overtaken
//! by the BACKUP hook that follows it. Different vhids run concurrently. The
//! caller (the election loop) never waits for a hook.
//!
//! Each run gets `CARP_VHID`, `CARP_STATE`, `CARP_PREVIOUS_STATE`,
//! `CARP_INTERFACE` and `CARP_VIPS` (space-separated) in its environment. A
//! hook that outlives the timeout is killed with its process group. Its
//! output is logged within bounds (see [`output`]).
pub mod output;

use std::{
    collections::HashMap,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use output::Output;
use tokio::{
    process::Command,
    sync::{mpsc, watch},
};
use tracing::{info, warn};

use crate::engine::State;

/// One hook: the states that trigger it and what to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookSpec {
    /// Run on entering any of these states.
    pub on: Vec<State>,
    pub program: HookProgram,
}

/// How a hook is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookProgram {
    /// Program and arguments, executed directly: no shell, no expansion.
    Argv(Vec<String>),
    /// A script for `/bin/sh -c`.
    Shell(String),
}

impl HookProgram {
    /// A short name for logs.
    pub fn name(&self) -> String {
        match self {
            HookProgram::Argv(argv) => argv.join(" "),
            HookProgram::Shell(script) => format!("sh -c {script:?}"),
        }
    }

    fn command(&self) -> Option<Command> {
        match self {
            HookProgram::Argv(argv) => {
                let (program, args) = argv.split_first()?;
                let mut command = Command::new(program);
                command.args(args);
                Some(command)
            }
            HookProgram::Shell(script) => {
                let mut command = Command::new("/bin/sh");
                command.arg("-c").arg(script);
                Some(command)
            }
        }
    }
}

/// A state change of one vhid, as the hooks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub interface: String,
    pub vhid: u8,
    pub from: State,
    pub to: State,
    /// The vhid's virtual addresses, `ADDR/PREFIX`.
    pub vips: Vec<String>,
}

/// Output lines read after the process exited, before giving up on the pipes
/// (a hook that starts a daemon may leave them open for good).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

type Job = (Vec<HookSpec>, Transition);

/// Runs hooks off the caller's task; see the module docs.
pub struct HookRunner {
    timeout: Duration,
    queues: Mutex<HashMap<(String, u8), mpsc::UnboundedSender<Job>>>,
    /// Transitions queued and not yet finished.
    pending: Arc<watch::Sender<usize>>,
}

impl HookRunner {
    /// `timeout` bounds each hook run.
    pub fn new(timeout: Duration) -> HookRunner {
        HookRunner {
            timeout,
            queues: Mutex::new(HashMap::new()),
            pending: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Queues the hooks of `t`'s vhid that want `t.to`. Must be called from
    /// within a tokio runtime; never blocks.
    pub fn transition(&self, hooks: &[HookSpec], t: Transition) {
        let wanted: Vec<HookSpec> = hooks
            .iter()
            .filter(|hook| hook.on.contains(&t.to))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let key = (t.interface.clone(), t.vhid);
        self.pending.send_modify(|n| *n += 1);
        let mut job = (wanted, t);
        // A worker only goes away if its task died; start a new one then.
        if let Some(queue) = queues.get(&key) {
            match queue.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => job = back,
            }
        }
        let (queue, jobs) = mpsc::unbounded_channel();
        let _ = queue.send(job);
        queues.insert(key, queue);
        tokio::spawn(worker(jobs, self.timeout, Arc::clone(&self.pending)));
    }

    /// Waits until every queued hook has finished, at most `bound`. Returns
    /// false (and logs) if some were still running.
    pub async fn drain(&self, bound: Duration) -> bool {
        let mut pending = self.pending.subscribe();
        let done = tokio::time::timeout(bound, pending.wait_for(|n| *n == 0)).await;
        if done.is_err() {
            warn!(
                "{} hook run(s) still queued or running after {bound:?}",
                *self.pending.borrow()
            );
        }
        done.is_ok()
    }
}

async fn worker(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    timeout: Duration,
    pending: Arc<watch::Sender<usize>>,
) {
    while let Some((hooks, t)) = jobs.recv().await {
        for hook in &hooks {
            run_one(&hook.program, &t, timeout).await;
        }
        pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Runs one hook to completion or timeout; every failure is a warning.
async fn run_one(program: &HookProgram, t: &Transition, timeout: Duration) {
    let name = program.name();
    let (vhid, interface) = (t.vhid, t.interface.as_str());
    let Some(mut command) = program.command() else {
        warn!(vhid, interface, "hook with an empty command; skipped");
        return;
    };
    command
        .env("CARP_VHID", t.vhid.to_string())
        .env("CARP_STATE", t.to.to_string())
        .env("CARP_PREVIOUS_STATE", t.from.to_string())
        .env("CARP_INTERFACE", &t.interface)
        .env("CARP_VIPS", t.vips.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what a shell started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            warn!(vhid, interface, "hook {name}: cannot start: {err}");
            return;
        }
    };
    info!(
        vhid,
        interface, "hook {name}: started for {} -> {}", t.from, t.to
    );
    let output = Arc::new(Output::default());
    let stdout = child
        .stdout
        .take()
        .map(|out| tokio::spawn(Arc::clone(&output).log(out, name.clone(), vhid, false)));
    let stderr = child
        .stderr
        .take()
        .map(|err| tokio::spawn(Arc::clone(&output).log(err, name.clone(), vhid, true)));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) with a negative pid signals the process
                // group the child leads; no memory is involved.
                unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            }
            let _ = child.kill().await;
            warn!(
                vhid,
                interface, "hook {name}: still running after {timeout:?}; killed"
            );
            finish_output(stdout, stderr, &output, &name, vhid).await;
            return;
        }
    };
    finish_output(stdout, stderr, &output, &name, vhid).await;
    report_exit(&name, vhid, interface, status);
}

/// Lets the readers log what is left in the pipes (for at most
/// [`OUTPUT_GRACE`]: a child left behind may hold them open for good; its
/// reader then goes on draining), then says how much output was dropped.
async fn finish_output(
    stdout: Option<tokio::task::JoinHandle<()>>,
    stderr: Option<tokio::task::JoinHandle<()>>,
    output: &Output,
    name: &str,
    vhid: u8,
) {
    let deadline = tokio::time::Instant::now() + OUTPUT_GRACE;
    for reader in [stdout, stderr].into_iter().flatten() {
        let _ = tokio::time::timeout_at(deadline, reader).await;
    }
    output.report(name, vhid);
}

fn report_exit(name: &str, vhid: u8, interface: &str, status: std::io::Result<ExitStatus>) {
    match status {
        Ok(status) if status.success() => info!(vhid, interface, "hook {name}: done"),
        Ok(status) => warn!(vhid, interface, "hook {name}: failed ({status})"),
        Err(err) => warn!(vhid, interface, "hook {name}: waiting for it: {err}"),
    }
}
