//! Hooks: programs run when a vhid enters MASTER, BACKUP or INIT (what
//! devd(8) `notify` rules or ucarp's up/down scripts do on the BSDs), before
//! a vhid takes its VIPs (`pre-master`), and when the host demotion changes.
//!
//! Hooks of one vhid run one at a time, in transition order, from a queue
//! owned by a per-vhid task: a slow `promote-db` for MASTER is never overtaken
//! by the BACKUP hook that follows it. Demotion hooks have a queue of their
//! own. Different queues run concurrently. The caller (the election loop)
//! never waits for a hook: a pre-MASTER run reports its end through a
//! callback (the daemon's channel), see [`HookRunner::pre_master`].
//!
//! Every run gets `CARP_EVENT` (`state`, `pre-master` or `demotion`) and
//! `CARP_REASON` (a stable token, [`crate::engine::Reason::token`], or for
//! demotion hooks the cause of the change) with `CARP_REASON_TEXT` (the same
//! for people). State and pre-master runs add `CARP_VHID`, `CARP_STATE`,
//! `CARP_PREVIOUS_STATE`, `CARP_INTERFACE` and `CARP_VIPS`
//! (space-separated); demotion runs add `CARP_DEMOTION` and
//! `CARP_PREVIOUS_DEMOTION`. A hook that outlives its timeout is killed with
//! its process group. Its output is logged within bounds (see [`output`]).
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

/// One hook of a vhid: the states that trigger it and what to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookSpec {
    /// Run on entering any of these states.
    pub on: Vec<State>,
    /// Also run, and waited for, when the vhid becomes MASTER, before its
    /// VIPs are added and the dataplane answers for them (`on =
    /// ["pre-master"]`).
    pub pre_master: bool,
    pub program: HookProgram,
    /// This hook's bound; `None`: the agent's `hook_timeout`.
    pub timeout: Option<Duration>,
}

/// A host-wide hook: run when the host demotion changes (`on =
/// ["demotion"]` in a top-level `[[hook]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostHook {
    pub program: HookProgram,
    /// This hook's bound; `None`: the agent's `hook_timeout`.
    pub timeout: Option<Duration>,
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

    /// The process to start; `None` for an empty argv.
    pub(crate) fn command(&self) -> Option<Command> {
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
    /// Why: [`crate::engine::Reason::token`] (`CARP_REASON`).
    pub reason: String,
    /// Why, for people: the reason's `Display` (`CARP_REASON_TEXT`).
    pub reason_text: String,
    /// The vhid's virtual addresses, `ADDR/PREFIX`.
    pub vips: Vec<String>,
}

impl Transition {
    /// The environment of a hook run for this transition; `event` is
    /// `CARP_EVENT` (`state` or `pre-master`).
    pub fn env(&self, event: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CARP_EVENT", event.to_string()),
            ("CARP_VHID", self.vhid.to_string()),
            ("CARP_STATE", self.to.to_string()),
            ("CARP_PREVIOUS_STATE", self.from.to_string()),
            ("CARP_INTERFACE", self.interface.clone()),
            ("CARP_VIPS", self.vips.join(" ")),
            ("CARP_REASON", self.reason.clone()),
            ("CARP_REASON_TEXT", self.reason_text.clone()),
        ]
    }
}

/// A change of the host demotion, as the demotion hooks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemotionChange {
    pub previous: u32,
    pub demotion: u32,
    /// What changed it, a token (`CARP_REASON`): `admin` for the control
    /// socket (`carp-agent demote`).
    pub reason: String,
}

impl DemotionChange {
    /// The environment of a demotion hook run.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let text = format!(
            "host demotion {} -> {} ({})",
            self.previous, self.demotion, self.reason
        );
        vec![
            ("CARP_EVENT", "demotion".to_string()),
            ("CARP_DEMOTION", self.demotion.to_string()),
            ("CARP_PREVIOUS_DEMOTION", self.previous.to_string()),
            ("CARP_REASON", self.reason.clone()),
            ("CARP_REASON_TEXT", text),
        ]
    }
}

/// How a run of hooks ended, for a pre-MASTER wait and `carp-agent events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    /// Every hook exited with status 0.
    Done,
    /// A hook exited non-zero, or could not be started.
    Failed,
    /// A hook outlived its timeout and was killed.
    TimedOut,
}

impl HookOutcome {
    /// The name in logs and events.
    pub fn name(self) -> &'static str {
        match self {
            HookOutcome::Done => "done",
            HookOutcome::Failed => "failed",
            HookOutcome::TimedOut => "timeout",
        }
    }

    /// The worse of two outcomes.
    fn worst(self, other: HookOutcome) -> HookOutcome {
        let rank = |o| match o {
            HookOutcome::Done => 0,
            HookOutcome::Failed => 1,
            HookOutcome::TimedOut => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// Output lines read after the process exited, before giving up on the pipes
/// (a hook that starts a daemon may leave them open for good).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// Told when a pre-MASTER run ends, with how and after how long.
pub type Done = Box<dyn FnOnce(HookOutcome, Duration) + Send>;

/// One queued run: the hooks, in order, with the environment they share.
struct Job {
    programs: Vec<(HookProgram, Duration)>,
    env: Vec<(&'static str, String)>,
    /// For the logs: the vhid (0 for demotion hooks) and interface.
    vhid: u8,
    interface: String,
    /// What the run is for, in log lines.
    what: String,
    done: Option<Done>,
}

/// The queue of demotion hooks (no vhid is 0).
const HOST_QUEUE: (&str, u8) = ("", 0);

/// Runs hooks off the caller's task; see the module docs.
pub struct HookRunner {
    timeout: Duration,
    queues: Mutex<HashMap<(String, u8), mpsc::UnboundedSender<Job>>>,
    /// Runs queued and not yet finished.
    pending: Arc<watch::Sender<usize>>,
}

impl HookRunner {
    /// `timeout` bounds each hook run that has no timeout of its own.
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
        let wanted: Vec<(HookProgram, Duration)> = hooks
            .iter()
            .filter(|hook| hook.on.contains(&t.to))
            .map(|hook| (hook.program.clone(), hook.timeout.unwrap_or(self.timeout)))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let what = format!("{} -> {}", t.from, t.to);
        self.queue(
            (t.interface.clone(), t.vhid),
            Job {
                programs: wanted,
                env: t.env("state"),
                vhid: t.vhid,
                interface: t.interface,
                what,
                done: None,
            },
        );
    }

    /// Queues the pre-MASTER hooks of `t`'s vhid (behind its earlier
    /// hooks) and calls `done` when the last one ended, whatever the
    /// outcome. Returns false, without calling `done`, if the vhid has no
    /// pre-MASTER hook. Never blocks.
    pub fn pre_master(&self, hooks: &[HookSpec], t: Transition, done: Done) -> bool {
        let wanted: Vec<(HookProgram, Duration)> = hooks
            .iter()
            .filter(|hook| hook.pre_master)
            .map(|hook| (hook.program.clone(), hook.timeout.unwrap_or(self.timeout)))
            .collect();
        if wanted.is_empty() {
            return false;
        }
        let what = format!("pre-master {} -> {}", t.from, t.to);
        self.queue(
            (t.interface.clone(), t.vhid),
            Job {
                programs: wanted,
                env: t.env("pre-master"),
                vhid: t.vhid,
                interface: t.interface,
                what,
                done: Some(done),
            },
        );
        true
    }

    /// Queues the demotion hooks for `change`, in their own queue.
    pub fn demotion(&self, hooks: &[HostHook], change: &DemotionChange) {
        if hooks.is_empty() {
            return;
        }
        let programs = hooks
            .iter()
            .map(|hook| (hook.program.clone(), hook.timeout.unwrap_or(self.timeout)))
            .collect();
        let key = (HOST_QUEUE.0.to_string(), HOST_QUEUE.1);
        self.queue(
            key,
            Job {
                programs,
                env: change.env(),
                vhid: 0,
                interface: String::new(),
                what: format!("demotion {} -> {}", change.previous, change.demotion),
                done: None,
            },
        );
    }

    fn queue(&self, key: (String, u8), job: Job) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        self.pending.send_modify(|n| *n += 1);
        let mut job = job;
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
        tokio::spawn(worker(jobs, Arc::clone(&self.pending)));
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

async fn worker(mut jobs: mpsc::UnboundedReceiver<Job>, pending: Arc<watch::Sender<usize>>) {
    while let Some(job) = jobs.recv().await {
        let started = tokio::time::Instant::now();
        let mut outcome = HookOutcome::Done;
        for (program, timeout) in &job.programs {
            let run = Run {
                env: &job.env,
                vhid: job.vhid,
                interface: &job.interface,
                what: &job.what,
            };
            outcome = outcome.worst(run_one(program, &run, *timeout).await);
        }
        if let Some(done) = job.done {
            done(outcome, started.elapsed());
        }
        pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What one run is for: its environment and names for the logs.
struct Run<'a> {
    env: &'a [(&'static str, String)],
    vhid: u8,
    interface: &'a str,
    what: &'a str,
}

/// Runs one hook to completion or timeout; every failure is a warning.
async fn run_one(program: &HookProgram, run: &Run<'_>, timeout: Duration) -> HookOutcome {
    let name = program.name();
    let (vhid, interface) = (run.vhid, run.interface);
    let Some(mut command) = program.command() else {
        warn!(vhid, interface, "hook with an empty command; skipped");
        return HookOutcome::Failed;
    };
    command
        .envs(run.env.iter().map(|(k, v)| (k, v)))
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
            return HookOutcome::Failed;
        }
    };
    info!(vhid, interface, "hook {name}: started for {}", run.what);
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
            return HookOutcome::TimedOut;
        }
    };
    finish_output(stdout, stderr, &output, &name, vhid).await;
    report_exit(&name, vhid, interface, status)
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

fn report_exit(
    name: &str,
    vhid: u8,
    interface: &str,
    status: std::io::Result<ExitStatus>,
) -> HookOutcome {
    match status {
        Ok(status) if status.success() => {
            info!(vhid, interface, "hook {name}: done");
            HookOutcome::Done
        }
        Ok(status) => {
            warn!(vhid, interface, "hook {name}: failed ({status})");
            HookOutcome::Failed
        }
        Err(err) => {
            warn!(vhid, interface, "hook {name}: waiting for it: {err}");
            HookOutcome::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition() -> Transition {
        Transition {
            interface: "eth0".to_string(),
            vhid: 7,
            from: State::Backup,
            to: State::Master,
            reason: "master_down".to_string(),
            reason_text: "master down: no advert for 3.00 s".to_string(),
            vips: vec!["10.0.0.50/24".to_string(), "fd00::50/64".to_string()],
        }
    }

    fn get<'a>(env: &'a [(&'static str, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn transition_environment() {
        let env = transition().env("pre-master");
        let expected = [
            ("CARP_EVENT", "pre-master"),
            ("CARP_VHID", "7"),
            ("CARP_STATE", "MASTER"),
            ("CARP_PREVIOUS_STATE", "BACKUP"),
            ("CARP_INTERFACE", "eth0"),
            ("CARP_VIPS", "10.0.0.50/24 fd00::50/64"),
            ("CARP_REASON", "master_down"),
            ("CARP_REASON_TEXT", "master down: no advert for 3.00 s"),
        ];
        for (key, value) in expected {
            assert_eq!(get(&env, key), Some(value), "{key}");
        }
        assert_eq!(env.len(), expected.len());
    }

    #[test]
    fn demotion_environment() {
        let change = DemotionChange {
            previous: 0,
            demotion: 240,
            reason: "admin".to_string(),
        };
        let env = change.env();
        assert_eq!(get(&env, "CARP_EVENT"), Some("demotion"));
        assert_eq!(get(&env, "CARP_DEMOTION"), Some("240"));
        assert_eq!(get(&env, "CARP_PREVIOUS_DEMOTION"), Some("0"));
        assert_eq!(get(&env, "CARP_REASON"), Some("admin"));
        assert_eq!(
            get(&env, "CARP_REASON_TEXT"),
            Some("host demotion 0 -> 240 (admin)")
        );
        // No vhid in a host-wide event.
        assert_eq!(get(&env, "CARP_VHID"), None);
    }

    #[test]
    fn outcomes_keep_the_worst() {
        use HookOutcome::*;
        assert_eq!(Done.worst(Failed), Failed);
        assert_eq!(Failed.worst(Done), Failed);
        assert_eq!(Failed.worst(TimedOut), TimedOut);
        assert_eq!(TimedOut.worst(Failed), TimedOut);
        assert_eq!(Done.worst(Done), Done);
    }
}
