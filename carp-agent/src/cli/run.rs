//! `carp-agent run`: the daemon.
use anyhow::Context as _;

pub use crate::config::RunArgs;
use crate::{config::Config, daemon, realtime, service};

/// Checks the configuration, then runs the agent until SIGTERM/SIGINT.
/// Log level: `CARP_LOG` (tracing filter syntax), default `info`; the log
/// goes to the systemd journal when stderr is connected to it, else to
/// stderr (`service::logging`).
pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    service::logging::init();
    if args.password.is_some() {
        tracing::warn!(
            "--password puts the password on the command line, where every user of this host \
             can read it (ps, /proc/PID/cmdline) and shell history keeps it; use \
             --password-file FILE (mode 0600) or password_file in a --config file instead"
        );
    }
    let config = Config::from_args(args)?;
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if config.realtime {
        // Before the runtime exists: its threads start from this one.
        if go_realtime().scheduler {
            builder.on_thread_start(realtime::follow);
        }
    }
    let runtime = builder.build().context("starting the tokio runtime")?;
    // A reload reads the same flags and files again.
    let read = || Ok(Config::from_args(args)?);
    runtime.block_on(daemon::run(config, read))?;
    Ok(0)
}

/// `--realtime`: asks for real-time scheduling and locked memory and logs
/// what was granted; a refusal is a warning, the agent runs on without it.
fn go_realtime() -> realtime::Granted {
    let (granted, refused) = realtime::enable();
    for refusal in &refused {
        tracing::warn!("{refusal}");
    }
    if granted.scheduler {
        tracing::info!(
            "real-time scheduling: SCHED_FIFO priority {} (hooks run at normal priority)",
            realtime::PRIORITY
        );
    }
    if granted.memory_locked {
        tracing::info!("memory locked (mlockall): the agent is never paged out");
    }
    granted
}
