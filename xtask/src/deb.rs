//! `cargo xtask deb`: builds the Debian package with cargo-deb (installed
//! if missing) from `[package.metadata.deb]` in carp-agent/Cargo.toml, then
//! checks it: its control data and file list (`dpkg-deb -I`, `-c`), the
//! packaged binary's `--version`, and, as root, an install with `dpkg -i`
//! into a throwaway copy of this system (an overlay of / in a private mount
//! namespace, so nothing here changes) where the installed agent validates
//! the installed configuration and the unit file is verified.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail, ensure};

use crate::{cmd, setup};

/// Where cargo-deb writes the package.
const OUT_DIR: &str = "target/debian";

/// Paths the package must hold (as `dpkg-deb -c` lists them, without the
/// leading `.`), each with why.
const REQUIRED: &[&str] = &[
    "/usr/bin/carp-agent",
    "/etc/carp-agent/carp.toml",
    "/usr/lib/systemd/system/carp-agent.service",
    "/usr/share/man/man1/carp-agent.1.gz",
    "/usr/share/man/man1/carp-agent-run.1.gz",
    "/usr/share/man/man1/carp-agent-config-check.1.gz",
    "/usr/share/bash-completion/completions/carp-agent",
    "/usr/share/zsh/vendor-completions/_carp-agent",
    "/usr/share/fish/vendor_completions.d/carp-agent.fish",
    "/usr/share/doc/carp-agent/README.md",
    "/usr/share/doc/carp-agent/copyright",
    "/usr/share/doc/carp-agent/examples/carp.toml",
];

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    ensure_cargo_deb()?;
    let out_dir = cmd::workspace_root().join(OUT_DIR);
    // Only the package built now is checked.
    for old in debs_in(&out_dir) {
        fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    cmd::cargo(&["deb", "--package", "carp-agent", "--locked"])?;
    let debs = debs_in(&out_dir);
    let [deb] = debs.as_slice() else {
        bail!("expected one .deb in {}, found {debs:?}", out_dir.display());
    };
    check(deb)?;
    println!("deb: {} checked", deb.display());
    Ok(())
}

fn ensure_cargo_deb() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if cmd::output(&cargo, &["deb", "--version"]).is_some() {
        return Ok(());
    }
    println!("deb: installing cargo-deb (cargo install cargo-deb --locked; once per machine)");
    cmd::cargo(&["install", "cargo-deb", "--locked"])
}

fn debs_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut debs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    debs
}

/// Output of a command that must succeed.
fn stdout_of(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("could not start `{program}`"))?;
    ensure!(
        out.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(deb: &Path) -> anyhow::Result<()> {
    let deb_str = deb.to_str().context("package path is not UTF-8")?;
    let info = stdout_of("dpkg-deb", &["--info", deb_str])?;
    for field in ["Package: carp-agent", "Section: net", "Depends: "] {
        ensure!(info.contains(field), "dpkg-deb -I: no {field:?} in\n{info}");
    }
    let conffiles = stdout_of("dpkg-deb", &["--info", deb_str, "conffiles"])?;
    ensure!(
        conffiles
            .lines()
            .any(|l| l.trim() == "/etc/carp-agent/carp.toml"),
        "/etc/carp-agent/carp.toml is not a conffile: {conffiles:?}"
    );

    let listing = stdout_of("dpkg-deb", &["--contents", deb_str])?;
    let files = contents(&listing);
    for path in REQUIRED {
        ensure!(
            files.iter().any(|(p, _)| p == path),
            "{path} is missing from the package; it holds:\n{listing}"
        );
    }
    let config_mode = files
        .iter()
        .find(|(p, _)| p == "/etc/carp-agent/carp.toml")
        .map(|(_, mode)| mode.as_str());
    ensure!(
        config_mode == Some("-rw-------"),
        "/etc/carp-agent/carp.toml holds passwords and must be root-only, is {config_mode:?}"
    );

    // The packaged files themselves: the binary runs, the unit is ours.
    let root = cmd::workspace_root().join(OUT_DIR).join("extracted");
    let _ = fs::remove_dir_all(&root);
    let root_str = root.to_str().context("path is not UTF-8")?;
    stdout_of("dpkg-deb", &["--extract", deb_str, root_str])?;
    let binary = root.join("usr/bin/carp-agent");
    let version = stdout_of(
        binary.to_str().context("path is not UTF-8")?,
        &["--version"],
    )?;
    ensure!(
        version.trim() == format!("carp-agent {}", env!("CARGO_PKG_VERSION")),
        "the packaged binary says {version:?}"
    );
    let unit = fs::read(root.join("usr/lib/systemd/system/carp-agent.service"))?;
    ensure!(
        unit == fs::read(cmd::workspace_root().join("packaging/carp-agent.service"))?,
        "the packaged unit differs from packaging/carp-agent.service"
    );
    println!(
        "deb: contents, conffile, binary (`{}`) and unit checked",
        version.trim()
    );

    install_in_throwaway_root(deb)
}

/// `(path, mode)` per entry of `dpkg-deb -c` (`-rwxr-xr-x root/root 123
/// 2026-01-01 00:00 ./usr/bin/carp-agent`).
fn contents(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let mode = fields.first()?;
            let path = fields.get(5)?.strip_prefix('.')?;
            Some((path.to_string(), (*mode).to_string()))
        })
        .collect()
}

/// Installs the package with `dpkg -i` into a copy-on-write copy of this
/// system and checks the installed agent there. Needs root (mount
/// namespaces, overlayfs, chroot): without it a failure on CI, a note
/// elsewhere.
fn install_in_throwaway_root(deb: &Path) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            bail!("deb: installing the package in a throwaway root needs root (CI=true)");
        }
        println!("deb: SKIPPED the install check (needs root)");
        return Ok(());
    }
    let script = cmd::workspace_root().join("xtask/src/deb_install_check.sh");
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh"])
        .arg(&script)
        .arg(deb)
        .status()
        .context("could not start unshare")?;
    ensure!(
        status.success(),
        "deb: the install check ({}) failed ({status})",
        script.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_deb_listing_gives_paths_and_modes() {
        let listing = "\
drwxr-xr-x 0/0               0 2026-11-30 16:00 ./
-rwxr-xr-x 0/0         9000000 2026-11-30 16:00 ./usr/bin/carp-agent
-rw------- 0/0            4000 2026-11-30 16:00 ./etc/carp-agent/carp.toml
";
        assert_eq!(
            contents(listing),
            vec![
                ("/".to_string(), "drwxr-xr-x".to_string()),
                ("/usr/bin/carp-agent".to_string(), "-rwxr-xr-x".to_string()),
                (
                    "/etc/carp-agent/carp.toml".to_string(),
                    "-rw-------".to_string()
                ),
            ]
        );
    }
}
