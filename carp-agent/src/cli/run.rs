//! `carp-agent run`: the daemon.
use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

pub use crate::config::RunArgs;
use crate::{config::Config, daemon, realtime};

/// Checks the configuration, then runs the agent until SIGTERM/SIGINT.
/// Log level: `CARP_LOG` (tracing filter syntax), default `info`.
pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let filter = EnvFilter::try_from_env("CARP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
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
