//! The `carp-agent` binary the lab runs as a real process.
use std::path::PathBuf;

/// Path of the `carp-agent` binary of this build profile (`target/<profile>/`,
/// the parent of the test executable's `deps/`). `cargo xtask test` builds it
/// before running the tests.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executables live in target/<profile>/deps");
    let agent = profile_dir.join("carp-agent");
    assert!(
        agent.exists(),
        "{} is missing: run `cargo build -p carp-agent` (cargo xtask test does)",
        agent.display()
    );
    agent
}
