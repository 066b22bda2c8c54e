//! `carp-agent check`: a monitoring plugin (Nagios/Icinga exit codes).

use std::path::PathBuf;

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{Request, Response, StatusReport, VhidState, client},
};

pub const OK: i32 = 0;
pub const WARNING: i32 = 1;
pub const CRITICAL: i32 = 2;
pub const UNKNOWN: i32 = 3;

/// One-line health summary for monitoring.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status (monitoring plugin convention):
  0 OK        every vhid is MASTER or BACKUP and the host is not demoted
  1 WARNING   a vhid is INIT, the host is demoted, no vhid is configured,
              or the XDP counters cannot be read
  2 CRITICAL  the agent cannot be reached or does not answer
  3 UNKNOWN   the agent answered with an error, or in a control protocol
              this CLI does not speak")]
pub struct CheckArgs {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    let (code, message) = match client::request_blocking(&args.control_socket, &Request::Status) {
        Err(err) if err.is_unreachable() => (CRITICAL, format!("CARP CRITICAL: {err}")),
        Err(err) => (UNKNOWN, format!("CARP UNKNOWN: {err}")),
        Ok(Response::Ok(body)) => match body.status {
            Some(status) => evaluate(&status),
            None => (UNKNOWN, "CARP UNKNOWN: no status in the answer".to_string()),
        },
        Ok(Response::Error(error)) => (UNKNOWN, format!("CARP UNKNOWN: {}", error.message)),
    };
    // The exit code is the answer a monitoring system reads: never lose it
    // to a failed write.
    let _ = super::print_stdout(&format!("{message}\n"));
    Ok(code)
}

/// The exit code and message for a report.
pub fn evaluate(status: &StatusReport) -> (i32, String) {
    let vhids: Vec<String> = status
        .vhids
        .iter()
        .map(|v| format!("{} vhid {} {}", v.interface, v.vhid, v.state))
        .collect();
    let mut problems: Vec<String> = Vec::new();
    if status.demotion > 0 {
        problems.push(format!("demotion {}", status.demotion));
    }
    if vhids.is_empty() {
        problems.push("no vhids configured".to_string());
    }
    if let Some(error) = &status.xdp_counters_error {
        problems.push(format!("XDP counters unavailable: {error}"));
    }
    let unhealthy = status
        .vhids
        .iter()
        .filter(|v| !matches!(v.state, VhidState::Master | VhidState::Backup))
        .map(|v| format!("{} vhid {} {}", v.interface, v.vhid, v.state));
    problems.extend(unhealthy);
    if problems.is_empty() {
        (OK, format!("CARP OK: {}", vhids.join(", ")))
    } else {
        (WARNING, format!("CARP WARNING: {}", problems.join(", ")))
    }
}
