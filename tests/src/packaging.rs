//! The generated files the Debian package ships beside the binary: a man
//! page per command and subcommand (clap_mangen) and shell completions
//! (clap_complete), all from `carp_agent::cli::command()`. They are checked
//! in under `packaging/`: `cargo xtask gen` rewrites them and the
//! `packaging_generated` test fails when they are stale.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use clap_complete::Shell;

/// Where the generated files live, relative to the workspace root.
pub const MAN_DIR: &str = "packaging/man";
pub const COMPLETIONS_DIR: &str = "packaging/completions";

/// The workspace root (this crate is `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Writes every man page into `man_dir` and every completion script into
/// `completions_dir` (both created); returns the files written.
pub fn generate(man_dir: &Path, completions_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(man_dir).with_context(|| format!("creating {}", man_dir.display()))?;
    fs::create_dir_all(completions_dir)
        .with_context(|| format!("creating {}", completions_dir.display()))?;
    let mut written = Vec::new();
    // carp-agent.1, carp-agent-run.1, carp-agent-config-check.1, ...
    let command = carp_agent::cli::command();
    let mut pages = command.clone().disable_help_subcommand(true);
    pages.build();
    let source = format!("carp-agent {}", env!("CARGO_PKG_VERSION"));
    write_man_pages(&pages, man_dir, &source, &mut written)?;
    // The names Debian's bash-completion, zsh and fish look up.
    for (shell, name) in [
        (Shell::Bash, "carp-agent"),
        (Shell::Zsh, "_carp-agent"),
        (Shell::Fish, "carp-agent.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "carp-agent", &mut text);
        let path = completions_dir.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// One page for `command` and one per (visible) subcommand, recursively,
/// named as clap_mangen names them; every header carries the package
/// version (clap only gives the top command one).
fn write_man_pages(
    command: &clap::Command,
    dir: &Path,
    source: &str,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(command.clone()).source(source);
    let path = man
        .generate_to(dir)
        .with_context(|| format!("writing a man page into {}", dir.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man_pages(sub, dir, source, written)?;
    }
    Ok(())
}

/// The regular files in `dir`, sorted by name.
pub fn files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}
