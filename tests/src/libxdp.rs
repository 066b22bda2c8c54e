//! libxdp's tools (Debian `xdp-tools`: `xdp-loader`, `xdp-filter`) in the
//! lab, and what is attached to a host's eth0.
//!
//! libxdp keeps its dispatcher's state as pins in a bpffs
//! (`$LIBXDP_BPFFS`, default /sys/fs/bpf). `ip netns exec` gives each
//! command a fresh /sys, so the tools and the agent of one host share a
//! bpffs of the test's own, passed in `LIBXDP_BPFFS`.
use std::path::PathBuf;

use anyhow::Context as _;

use crate::{lab::Lab, netns::sh};

/// A bpffs for libxdp, unmounted on drop (with everything pinned in it).
pub struct LibxdpFs {
    pub path: PathBuf,
}

impl LibxdpFs {
    /// Mounts one under the lab's directory.
    pub fn mount(lab: &Lab) -> anyhow::Result<Self> {
        let path = lab.dir.join("libxdp-bpffs");
        std::fs::create_dir_all(&path).with_context(|| path.display().to_string())?;
        let text = path.to_str().context("lab path is not UTF-8")?;
        sh("mount", &["-t", "bpf", "bpf", text])?;
        Ok(Self { path })
    }

    /// `LIBXDP_BPFFS=<path>`, for `env`.
    pub fn env(&self) -> String {
        format!("LIBXDP_BPFFS={}", self.path.display())
    }

    /// Runs libxdp tool `tool` with `args` in host `i`'s namespace, with
    /// this bpffs; its output (stdout and stderr), or an error with both.
    pub fn tool(&self, lab: &Lab, i: usize, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        let env = self.env();
        let mut full = vec![env.as_str(), tool];
        full.extend_from_slice(args);
        let out = lab.hosts[i].ns.command("env").args(&full).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        anyhow::ensure!(
            out.status.success(),
            "`{tool} {}` failed: {text}",
            args.join(" ")
        );
        Ok(text)
    }
}

impl Drop for LibxdpFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// The name of the XDP program attached to host `i`'s eth0 (`ip link
/// show`: "prog/xdp id N name NAME ..."), if any.
pub fn attached(lab: &Lab, i: usize) -> Option<String> {
    let out = lab.hosts[i].ns.ip(&["link", "show", "eth0"]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "prog/xdp")?;
    words
        .skip_while(|w| *w != "name")
        .nth(1)
        .map(str::to_string)
}

/// The name libxdp gives its dispatcher program.
pub const DISPATCHER: &str = "xdp_dispatcher";

/// Writes `text` to the test's stderr past libtest's output capture, so a
/// passing test still shows it (a path not taken must not go unnoticed).
pub fn loud(text: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr();
    let _ = writeln!(err, "\n==== {text}\n");
}

/// Returns `true` if `xdp-loader` and `xdp-filter` are on PATH (they have no
/// `--version` that exits 0, so [`crate::privileges::require_tool`] cannot
/// probe them). Without them: a panic on CI (`cargo xtask setup` installs
/// xdp-tools there), a loud skip elsewhere.
#[must_use]
pub fn require_xdp_tools(test: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = |tool: &str| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file());
    if found("xdp-loader") && found("xdp-filter") {
        return true;
    }
    let msg = format!(
        "{test}: needs xdp-loader and xdp-filter (Debian package xdp-tools; `cargo xtask setup`)"
    );
    if crate::privileges::on_ci() {
        panic!("{msg}; CI=true, so this is a failure, not a skip");
    }
    eprintln!("SKIPPED {msg}");
    false
}
