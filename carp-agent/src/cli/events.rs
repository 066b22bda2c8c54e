//! `carp-agent events`: the agent's events as they happen, one JSON object
//! a line (like `ip monitor`); see [`crate::control::events`] for the lines.

use std::{io::Write as _, path::PathBuf};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{MAX_MESSAGE, Response, client},
};

/// Print the agent's events as JSON lines until it stops.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each line is one JSON object with an \"event\" member: transition, pre_master,
demotion, badauth, or lost (this reader fell behind; \"count\" events were
dropped). Exit status: 0 when the agent closed the stream (it stopped), 1 if
it refused the subscription, 2 if it cannot be reached.")]
pub struct EventsArgs {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &EventsArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(stream(args))
}

async fn stream(args: &EventsArgs) -> anyhow::Result<i32> {
    let (response, mut reader) = client::subscribe(&args.control_socket).await?;
    if let Response::Error(error) = response {
        eprintln!("carp-agent: error: {}", error.message);
        return Ok(1);
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_MESSAGE)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            // Cut at the bound or at the end: never print half an event.
            break;
        }
        // Each line as it comes (stdout is a pipe for scripts: flush it).
        let mut out = std::io::stdout().lock();
        match out.write_all(&line).and_then(|()| out.flush()) {
            Ok(()) => {}
            // The reader went away (`carp-agent events | head -1`): done.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
            Err(err) => anyhow::bail!("writing to stdout: {err}"),
        }
    }
    eprintln!(
        "carp-agent: the agent at {} closed the event stream",
        args.control_socket.display()
    );
    Ok(0)
}
