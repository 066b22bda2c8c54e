//! The `carp-agent` binary the lab runs as a real process.
use std::path::PathBuf;

/// Path of the `carp-agent` binary of this build profile, `target/<profile>/`:
/// the directory of the running executable (the demo) or its parent (test
/// executables live in `deps/`). `cargo xtask test` and `demo` build it first.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("carp-agent"))
        .collect::<Vec<_>>();
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "carp-agent not found in {:?}: run `cargo build -p carp-agent` (cargo xtask test does)",
                candidates
            )
        })
}
