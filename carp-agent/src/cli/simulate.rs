//! `carp-agent simulate`: STUB, to be replaced.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(_args: &SimulateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented")
}
