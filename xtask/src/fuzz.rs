//! `cargo xtask fuzz TARGET [RUNS]`: one libFuzzer run of a carp-agent fuzz
//! target (`decode`, `config`, `control`), installing cargo-fuzz first if
//! it is missing. See docs/fuzzing.md for the targets and recorded runs.
use anyhow::bail;

use crate::cmd;

/// The targets in carp-agent/fuzz, with the seed and dictionary files of each
/// under carp-agent/fuzz/seeds/TARGET and carp-agent/fuzz/dicts/TARGET.dict.
pub const TARGETS: [&str; 3] = ["decode", "config", "control"];

/// Executions of a run unless told otherwise: the figure docs/fuzzing.md
/// records for each target.
pub const DEFAULT_RUNS: u64 = 10_000_000;

const FUZZ_DIR: &str = "carp-agent/fuzz";

/// `no_sanitizer`: build without AddressSanitizer. The code the targets
/// reach is safe Rust (the decoders, the TOML and JSON readers), where ASan
/// finds nothing the bounds checks would not; it is still the default.
pub fn run(target: &str, runs: Option<u64>, no_sanitizer: bool) -> anyhow::Result<()> {
    if !TARGETS.contains(&target) {
        bail!(
            "unknown fuzz target `{target}`; available: {}",
            TARGETS.join(", ")
        );
    }
    if cmd::output("rustup", &["run", "nightly", "cargo", "fuzz", "--version"]).is_none() {
        cmd::cargo(&["install", "cargo-fuzz", "--locked"])?;
    }
    let root = cmd::workspace_root();
    // New inputs go to the first directory (not checked in); the seeds are
    // read as a starting point only.
    let corpus = format!("{FUZZ_DIR}/corpus/{target}");
    std::fs::create_dir_all(root.join(&corpus))?;
    let seeds = format!("{FUZZ_DIR}/seeds/{target}");
    let runs = format!("-runs={}", runs.unwrap_or(DEFAULT_RUNS));
    let dict = format!("{FUZZ_DIR}/dicts/{target}.dict");
    let mut args = vec![
        "run",
        "nightly",
        "cargo",
        "fuzz",
        "run",
        "--fuzz-dir",
        FUZZ_DIR,
    ];
    if no_sanitizer {
        args.extend(["--sanitizer", "none"]);
    }
    args.extend([target, &corpus, &seeds, "--", &runs, "-print_final_stats=1"]);
    let dict_arg = format!("-dict={dict}");
    if root.join(&dict).exists() {
        args.push(&dict_arg);
    }
    cmd::run("rustup", &args)
}
