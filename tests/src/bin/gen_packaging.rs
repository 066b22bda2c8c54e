//! `cargo xtask gen`: writes the man pages and shell completions under
//! packaging/ from the agent's command line (see carp_tests::packaging).
fn main() -> anyhow::Result<()> {
    let root = carp_tests::packaging::workspace_root();
    let man = root.join(carp_tests::packaging::MAN_DIR);
    let completions = root.join(carp_tests::packaging::COMPLETIONS_DIR);
    // Stale pages of a removed subcommand must not linger.
    for dir in [&man, &completions] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    for path in carp_tests::packaging::generate(&man, &completions)? {
        let shown = path.strip_prefix(&root).unwrap_or(&path);
        println!("wrote {}", shown.display());
    }
    Ok(())
}
