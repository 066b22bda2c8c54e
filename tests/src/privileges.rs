//! Tests that need root, BPF or namespaces must not pass by skipping on CI.

/// True when running under CI (`CI=true`), where a missing privilege is a failure.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns `true` if the test may go on. Without root it panics on CI and
/// returns `false` (with a loud message) elsewhere, so a developer without
/// root still sees that the test did not run.
#[must_use]
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return true;
    }
    let msg = format!("{test}: needs root (CAP_BPF, CAP_NET_ADMIN); running as uid {euid}");
    if on_ci() {
        panic!("{msg}; CI=true, so this is a failure, not a skip");
    }
    eprintln!("SKIPPED {msg}");
    false
}

/// Returns `true` if `tool` (a program on PATH) runs with `--version`.
/// Without it: a panic on CI (`cargo xtask setup` installs it there), a
/// loud skip elsewhere, as [`require_root`].
#[must_use]
pub fn require_tool(test: &str, tool: &str, package: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return true;
    }
    let msg = format!("{test}: needs {tool} (Debian package {package}; `cargo xtask setup`)");
    if on_ci() {
        panic!("{msg}; CI=true, so this is a failure, not a skip");
    }
    eprintln!("SKIPPED {msg}");
    false
}
