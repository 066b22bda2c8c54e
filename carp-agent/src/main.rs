use carp_agent::cli::{self, Cli, Command};
use clap::Parser as _;

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
