//! Project tasks: `cargo xtask setup | build | test | demo | lint | bench | chaos | fuzz | gen | deb`.
mod bench;
mod chaos;
mod cmd;
mod deb;
mod demo;
mod fuzz;
mod generate;
mod setup;
mod test;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, test and demo tasks for carp-agent"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what a fresh machine lacks (Debian packages, nightly rust-src, bpf-linker).
    Setup,
    /// Build the agent and its embedded XDP program.
    Build {
        /// Build with optimisations.
        #[arg(long)]
        release: bool,
    },
    /// Run every test: unit, property, simulation, BPF and namespace tests.
    Test,
    /// Run the main job: a demo of a CARP election and failover.
    Demo,
    /// rustfmt and clippy, as CI runs them.
    Lint,
    /// Run a benchmark: `xdp` (per-packet cost of the XDP program; root),
    /// `busy` (spurious takeovers and advert timing on a busy host, against
    /// keepalived; root), `flood` (agents under a forged-advert flood, per
    /// XDP auth mode; root), `restart` (the VIP through a crash, restart or
    /// reload of the master's daemon, against keepalived and ucarp; root),
    /// `scale` (cost by number of vhids: CPU, advert lateness, start-up,
    /// RSS, takeover of every VIP, against keepalived; root).
    Bench {
        /// Which benchmark.
        what: String,
        /// Only the cases (xdp, restart) or subjects (busy) whose name contains this.
        filter: Option<String>,
        /// busy: seconds per phase (idle, then CPU hogs) and subject [default: 30];
        /// scale: seconds of the idle window per case [default: 10].
        #[arg(long)]
        seconds: Option<u64>,
        /// scale: the vhid counts, comma-separated [default: 1,10,100,1000].
        #[arg(long)]
        sizes: Option<String>,
        /// scale: a 3-second idle window per case.
        #[arg(long)]
        quick: bool,
        /// restart: rounds per case [default: 3].
        #[arg(long)]
        rounds: Option<usize>,
    },
    /// Run the chaos suite: faults injected into namespace labs (root).
    Chaos {
        /// Only the quick subset (under 4 minutes).
        #[arg(long)]
        short: bool,
        /// Only the scenarios whose name contains this.
        filter: Option<String>,
    },
    /// Fuzz one target of carp-agent/fuzz (nightly; installs cargo-fuzz if missing).
    Fuzz {
        /// decode, config or control.
        target: String,
        /// Executions (default 10,000,000).
        runs: Option<u64>,
        /// Build without AddressSanitizer (`cargo fuzz --sanitizer none`):
        /// 10 to 70 times faster on the agent's safe-Rust parsers.
        #[arg(long)]
        no_sanitizer: bool,
    },
    /// Regenerate the man pages and shell completions under packaging/.
    Gen,
    /// Build the Debian package (cargo-deb, installed if missing) and check
    /// its contents; as root, also install it into a throwaway root and run it.
    Deb,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::run(),
        Task::Build { release } => {
            setup::run()?;
            let mut args = vec!["build"];
            if release {
                args.push("--release");
            }
            cmd::cargo(&args)
        }
        Task::Test => test::run(),
        Task::Demo => demo::run(),
        Task::Lint => test::lint(),
        Task::Bench {
            what,
            filter,
            seconds,
            sizes,
            quick,
            rounds,
        } => bench::run(
            &what,
            filter.as_deref(),
            bench::Options {
                seconds,
                sizes,
                quick,
                rounds,
            },
        ),
        Task::Chaos { short, filter } => chaos::run(short, filter.as_deref()),
        Task::Fuzz {
            target,
            runs,
            no_sanitizer,
        } => fuzz::run(&target, runs, no_sanitizer),
        Task::Gen => generate::run(),
        Task::Deb => deb::run(),
    }
}
