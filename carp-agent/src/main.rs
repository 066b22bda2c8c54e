use clap::{Parser, Subcommand};

use carp_agent::cli;

/// CARP (Common Address Redundancy Protocol) agent for Linux, with an XDP dataplane.
#[derive(Debug, Parser)]
#[command(name = "carp-agent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode and authenticate CARP advertisements (hex frame or pcap file).
    Decode(cli::decode::DecodeArgs),
    /// Run a simulated CARP segment and print its election timeline.
    Simulate(cli::simulate::SimulateArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Decode(args) => cli::decode::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("carp-agent: error: {err:#}");
            std::process::exit(2);
        }
    }
}
