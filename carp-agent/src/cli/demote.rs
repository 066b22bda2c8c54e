//! `carp-agent demote`: change the host demotion, like
//! `sysctl net.inet.carp.demotion`, e.g. before maintenance or from a health check.

use std::path::PathBuf;

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{Request, Response, client},
};

/// Raise or lower the host demotion (added to every vhid's advskew).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("change").required(true).args(["delta", "set"])))]
#[command(after_help = "\
Examples:
  carp-agent demote +240     # hand mastership to the peers
  carp-agent demote -240     # undo it
  carp-agent demote --set 0  # clear any demotion

Exit status: 0 on success, 1 if the agent refuses, 2 if it cannot be reached.")]
pub struct DemoteArgs {
    /// Change by this amount; the sign is required.
    #[arg(value_name = "+N|-N", allow_negative_numbers = true, value_parser = parse_delta)]
    pub delta: Option<i32>,
    /// Set the demotion to N.
    #[arg(long, value_name = "N")]
    pub set: Option<u32>,
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// A signed change: `demote 0` would read as "clear" but do nothing.
fn parse_delta(text: &str) -> Result<i32, String> {
    if !text.starts_with(['+', '-']) {
        return Err("give +N or -N to change the demotion, or --set N to set it".to_string());
    }
    text.parse()
        .map_err(|err| format!("{text:?} is not a signed number: {err}"))
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &DemoteArgs) -> anyhow::Result<i32> {
    let request = match (args.delta, args.set) {
        (_, Some(value)) => Request::SetDemotion { value },
        (Some(delta), None) => Request::Demote { delta },
        (None, None) => anyhow::bail!("give +N, -N or --set N"),
    };
    match client::request_blocking(&args.control_socket, &request)? {
        Response::Ok(body) => {
            if let Some(status) = body.status {
                println!("demotion {}", status.demotion);
            }
            Ok(0)
        }
        Response::Error(error) => {
            eprintln!("carp-agent: error: {}", error.message);
            Ok(1)
        }
    }
}
