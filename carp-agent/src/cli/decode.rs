//! `carp-agent decode`: STUB, to be replaced.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(_args: &DecodeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented")
}
