//! `carp-agent reload`: the running agent re-reads its configuration and
//! applies it without a failover (what SIGHUP does), answering with what
//! changed or why it refused.

use std::path::PathBuf;

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{Request, Response, client},
};

/// Apply the configuration file's changes to the running agent.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Unchanged vhids are not touched; changed ones keep their state; added ones
start; removed ones bow out. A configuration that does not validate is
refused and the running one stays. `carp-agent config check FILE` checks a
file first without asking the agent.

Exit status: 0 when applied, 1 if the agent refuses, 2 if it cannot be reached.")]
pub struct ReloadArgs {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &ReloadArgs) -> anyhow::Result<i32> {
    match client::request_blocking(&args.control_socket, &Request::Reload)? {
        Response::Ok(body) => {
            let report = body.reload.unwrap_or_default();
            super::print_stdout(&format!("reloaded: {report}\n"))?;
            Ok(0)
        }
        Response::Error(error) => {
            eprintln!("carp-agent: error: {}", error.message);
            Ok(1)
        }
    }
}
