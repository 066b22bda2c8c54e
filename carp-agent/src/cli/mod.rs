//! One module per subcommand of the `carp-agent` binary.
pub mod check;
pub mod config;
pub mod decode;
pub mod demote;
pub mod events;
pub mod reload;
pub mod run;
pub mod simulate;
pub mod state;
pub mod status;

use clap::{CommandFactory as _, Parser, Subcommand};

/// CARP (Common Address Redundancy Protocol) agent for Linux, with an XDP dataplane.
#[derive(Debug, Parser)]
#[command(name = "carp-agent", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of `Run`'s flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent (daemon): election, XDP dataplane, VIPs, control socket.
    Run(run::RunArgs),
    /// Decode and authenticate CARP advertisements (hex frame or pcap file).
    Decode(decode::DecodeArgs),
    /// Run a simulated CARP segment and print its election timeline.
    Simulate(simulate::SimulateArgs),
    /// Show every vhid's state and the counters (asks the running agent).
    Status(status::StatusArgs),
    /// Raise or lower the host demotion (`demote +240`, `demote -240`, `--set 0`).
    Demote(demote::DemoteArgs),
    /// Force a vhid to MASTER or BACKUP (`state backup --vhid 1`).
    State(state::StateArgs),
    /// Re-read the configuration and apply it without a failover (as SIGHUP does).
    Reload(reload::ReloadArgs),
    /// Monitoring check: exit 0 OK, 1 WARNING, 2 CRITICAL.
    Check(check::CheckArgs),
    /// Stream the agent's events as JSON lines (transitions, demotion, badauth).
    Events(events::EventsArgs),
    /// Configuration files: `config check FILE` validates one without running.
    Config(config::ConfigArgs),
}

/// The `carp-agent` command line as clap describes it: for the man pages
/// and shell completions generated from it (`cargo xtask gen`).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Writes a command's output to stdout. A reader that went away
/// (`carp-agent status | head`) is not an error: the rest is dropped
/// quietly, as other Unix tools do, instead of `println!`'s panic.
pub(crate) fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
