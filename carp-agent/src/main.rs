use carp_agent::cli;
use clap::{Parser, Subcommand};

/// CARP (Common Address Redundancy Protocol) agent for Linux, with an XDP dataplane.
#[derive(Debug, Parser)]
#[command(name = "carp-agent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of `Run`'s flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent (daemon): election, XDP dataplane, VIPs, control socket.
    Run(cli::run::RunArgs),
    /// Decode and authenticate CARP advertisements (hex frame or pcap file).
    Decode(cli::decode::DecodeArgs),
    /// Run a simulated CARP segment and print its election timeline.
    Simulate(cli::simulate::SimulateArgs),
    /// Show every vhid's state and the counters (asks the running agent).
    Status(cli::status::StatusArgs),
    /// Raise or lower the host demotion (`demote +240`, `demote -240`, `--set 0`).
    Demote(cli::demote::DemoteArgs),
    /// Force a vhid to MASTER or BACKUP (`state backup --vhid 1`).
    State(cli::state::StateArgs),
    /// Re-read the configuration and apply it without a failover (as SIGHUP does).
    Reload(cli::reload::ReloadArgs),
    /// Monitoring check: exit 0 OK, 1 WARNING, 2 CRITICAL.
    Check(cli::check::CheckArgs),
    /// Stream the agent's events as JSON lines (transitions, demotion, badauth).
    Events(cli::events::EventsArgs),
    /// Configuration files: `config check FILE` validates one without running.
    Config(cli::config::ConfigArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Decode(args) => cli::decode::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::Status(args) => cli::status::run(args),
        Command::Demote(args) => cli::demote::run(args),
        Command::State(args) => cli::state::run(args),
        Command::Reload(args) => cli::reload::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Config(args) => cli::config::run(args),
        Command::Events(args) => cli::events::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("carp-agent: error: {err:#}");
            std::process::exit(2);
        }
    }
}
