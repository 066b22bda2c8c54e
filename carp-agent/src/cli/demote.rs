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
  carp-agent demote --set 0  # clear the administrative demotion
  carp-agent demote --source db +50     # an external check's own share
  carp-agent demote --source db --set 0 # ... gone again (not added twice)

The administrative demotion and external sources' shares are kept in
<persist_dir>/demotion (default /var/lib/carp-agent) and survive restarts.

Exit status: 0 on success, 1 if the agent refuses, 2 if it cannot be reached.")]
pub struct DemoteArgs {
    /// Change by this amount; the sign is required.
    #[arg(value_name = "+N|-N", allow_negative_numbers = true, value_parser = parse_delta)]
    pub delta: Option<i32>,
    /// Set the demotion to N.
    #[arg(long, value_name = "N")]
    pub set: Option<u32>,
    /// Change the share of the external source NAME instead of the
    /// administrative demotion (created at its first change, removed at 0).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
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
    let source = args.source.clone();
    let request = match (args.delta, args.set) {
        (_, Some(value)) => Request::SetDemotion { value, source },
        (Some(delta), None) => Request::Demote { delta, source },
        (None, None) => anyhow::bail!("give +N, -N or --set N"),
    };
    match client::request_blocking(&args.control_socket, &request)? {
        Response::Ok(body) => {
            let Some(status) = body.status else {
                return Ok(0);
            };
            if let Some(name) = &args.source {
                // An agent from before sources ignores the member and
                // changes the administrative demotion instead: say so.
                if status.demotion_sources.is_empty() {
                    eprintln!(
                        "carp-agent: error: the running agent does not know demotion sources \
                         and changed the administrative demotion instead (now {}); restart it \
                         with this release, and undo the change with `carp-agent demote`",
                        status.demotion
                    );
                    return Ok(1);
                }
                let share = status
                    .demotion_sources
                    .iter()
                    .find(|s| s.name == *name)
                    .map_or(0, |s| s.share);
                println!("source {name} {share}, demotion {}", status.demotion);
            } else {
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
