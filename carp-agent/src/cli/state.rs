//! `carp-agent state`: force a vhid to MASTER or BACKUP, like
//! `ifconfig em0 vhid 1 state backup`.

use std::path::PathBuf;

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{Request, Response, TargetState, client},
};

/// Force a vhid to MASTER or BACKUP; the election rules apply afterwards.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example (give the address back to the preferred master):
  carp-agent state backup --vhid 1 --interface em0

Exit status: 0 on success, 1 if the agent refuses (e.g. unknown vhid),
2 if it cannot be reached.")]
pub struct StateArgs {
    /// The state to enter.
    #[arg(value_enum)]
    pub state: TargetState,
    /// The vhid, 1..=255.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub vhid: u8,
    /// The interface; needed only if the vhid exists on several.
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &StateArgs) -> anyhow::Result<i32> {
    let request = Request::SetState {
        vhid: args.vhid,
        interface: args.interface.clone(),
        state: args.state,
    };
    match client::request_blocking(&args.control_socket, &request)? {
        Response::Ok(_) => Ok(0),
        Response::Error(error) => {
            eprintln!("carp-agent: error: {}", error.message);
            Ok(1)
        }
    }
}
