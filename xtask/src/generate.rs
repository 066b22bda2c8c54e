//! `cargo xtask gen`: regenerates the man pages (packaging/man) and shell
//! completions (packaging/completions) from the agent's command line.
//! The generator is a binary of the test crate, which already depends on
//! the agent; xtask itself must build before bpf-linker exists, so it
//! cannot. The `packaging` test fails when the checked-in files are stale.
use crate::{cmd, setup};

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    cmd::cargo(&[
        "run",
        "--quiet",
        "--package",
        "carp-tests",
        "--bin",
        "gen_packaging",
    ])
}
