//! One module per subcommand of the `carp-agent` binary.
pub mod check;
pub mod config;
pub mod decode;
pub mod demote;
pub mod events;
pub mod reload;
pub mod run;
pub mod simulate;
pub mod state;
pub mod status;

/// Writes a command's output to stdout. A reader that went away
/// (`carp-agent status | head`) is not an error: the rest is dropped
/// quietly, as other Unix tools do, instead of `println!`'s panic.
pub(crate) fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
