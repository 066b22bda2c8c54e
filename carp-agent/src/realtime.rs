//! `--realtime` / `realtime = true`: real-time scheduling and locked memory,
//! so that a host whose CPUs are busy still reads adverts and sends its own
//! on time. At `advbase 0` a backup gives up on its master after a few
//! milliseconds; a normal-priority agent that waits that long for a CPU
//! behind a CPU hog (or for a page swapped out) takes over from a master that
//! never failed.
//!
//! - Scheduling: `SCHED_FIFO` at [`PRIORITY`] for the thread that calls
//!   [`enable`] (the agent's event loop: the runtime runs on it) and, through
//!   [`follow`], for every thread the runtime starts later. The policy is set
//!   with `SCHED_RESET_ON_FORK`, so processes the agent starts (hooks, the
//!   user's scripts) run at normal priority: a hook that spins must not
//!   starve the machine.
//! - Memory: `mlockall(MCL_CURRENT | MCL_FUTURE)`, the agent's pages
//!   present and never swapped out (`VmLck` in `/proc/PID/status`). The
//!   lock does not pass to processes the agent starts (exec drops it).
//!
//! Either may be refused (no `CAP_SYS_NICE` and an `RLIMIT_RTPRIO` below
//! the priority; a cgroup with no real-time budget; no `CAP_IPC_LOCK` and an
//! `RLIMIT_MEMLOCK` smaller than the agent): each refusal is a warning that
//! names what failed and what it needs, and the agent runs on without it.
use nix::{
    errno::Errno,
    sys::{
        mman::{MlockAllFlags, mlockall},
        resource::{RLIM_INFINITY, Resource, getrlimit},
    },
};

/// The `SCHED_FIFO` priority (1..=99). Any real-time priority runs before
/// every normal task; a low one leaves the kernel's own real-time threads
/// (threaded interrupts run at 50) ahead of the agent.
pub const PRIORITY: i32 = 10;

/// What [`enable`] could not get.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error(
        "real-time scheduling (SCHED_FIFO priority {PRIORITY}) refused: {errno}; it needs \
         CAP_SYS_NICE or RLIMIT_RTPRIO >= {PRIORITY} (now {rtprio}), and a cgroup that \
         allows real-time tasks; running at normal priority"
    )]
    Scheduler { errno: Errno, rtprio: String },
    #[error(
        "locking memory (mlockall MCL_CURRENT|MCL_FUTURE) refused: {errno}; it needs \
         CAP_IPC_LOCK or an RLIMIT_MEMLOCK above the agent's size (now {memlock}); \
         running with pageable memory"
    )]
    LockMemory { errno: Errno, memlock: String },
}

/// What [`enable`] got.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub scheduler: bool,
    pub memory_locked: bool,
}

/// Asks for both; returns what was granted and the refusals, for the caller
/// to log. Call it before the runtime starts threads.
pub fn enable() -> (Granted, Vec<RealtimeError>) {
    let mut refused = Vec::new();
    let scheduler = match set_fifo() {
        Ok(()) => true,
        Err(errno) => {
            refused.push(RealtimeError::Scheduler {
                errno,
                rtprio: limit(Resource::RLIMIT_RTPRIO, |v| v.to_string()),
            });
            false
        }
    };
    let memory_locked = match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        Ok(()) => true,
        Err(errno) => {
            refused.push(RealtimeError::LockMemory {
                errno,
                memlock: limit(Resource::RLIMIT_MEMLOCK, |v| format!("{} KiB", v / 1024)),
            });
            false
        }
    };
    (
        Granted {
            scheduler,
            memory_locked,
        },
        refused,
    )
}

/// For the runtime's `on_thread_start`: a thread the runtime starts later
/// gets the same policy (`SCHED_RESET_ON_FORK` gave it the normal one).
/// A refusal here was already reported by [`enable`].
pub fn follow() {
    if let Err(errno) = set_fifo() {
        tracing::debug!("real-time scheduling for a runtime thread refused: {errno}");
    }
}

/// `SCHED_FIFO | SCHED_RESET_ON_FORK` at [`PRIORITY`] for the calling thread
/// (pid 0 means the caller; on Linux that is this thread only).
fn set_fifo() -> Result<(), Errno> {
    let param = libc::sched_param {
        sched_priority: PRIORITY,
    };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the
    // call; pid 0 names the calling thread. nix has no wrapper for this call.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    Errno::result(rc).map(drop)
}

/// The soft limit of `resource`, shown by `show`, or "unlimited".
fn limit(resource: Resource, show: impl Fn(u64) -> String) -> String {
    match getrlimit(resource) {
        Ok((soft, _)) if soft == RLIM_INFINITY => "unlimited".to_string(),
        Ok((soft, _)) => show(soft),
        Err(errno) => format!("unknown: {errno}"),
    }
}
