//! Where `carp-agent run` logs: to the systemd journal, with structured
//! fields, when systemd connected stderr to it; otherwise to stderr as
//! plain lines (colours only on a terminal).
//!
//! systemd sets `JOURNAL_STREAM=DEV:INODE` for a service whose stderr (or
//! stdout) goes to the journal; the agent uses the journal only if stderr is
//! still that very stream (systemd.exec(5)): a shell started from the unit,
//! or a redirect, leaves the variable set but stderr elsewhere. In the
//! journal each line keeps its level as PRIORITY, and `journalctl -u
//! carp-agent -o verbose` also shows the tracing fields (TARGET, CODE_FILE,
//! CODE_LINE, and VHID, INTERFACE, STATE on state changes).
use std::{io::IsTerminal as _, os::unix::fs::MetadataExt as _};

use tracing_subscriber::{EnvFilter, layer::SubscriberExt as _, util::SubscriberInitExt as _};

/// The log destination chosen for this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Journal,
    Stderr,
}

/// Installs the global subscriber. Level filter: `CARP_LOG` (tracing
/// filter syntax), default `info`. Returns where the log goes.
pub fn init() -> Destination {
    let filter = EnvFilter::try_from_env("CARP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if stderr_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref()) {
        match tracing_journald::layer() {
            Ok(journal) => {
                tracing_subscriber::registry()
                    .with(filter)
                    .with(
                        journal
                            .with_syslog_identifier("carp-agent".to_string())
                            // VHID=, not F_VHID=: `journalctl VHID=1` reads naturally.
                            .with_field_prefix(None),
                    )
                    .init();
                return Destination::Journal;
            }
            Err(err) => {
                // The journal's socket is missing: log where stderr goes.
                eprintln!("carp-agent: cannot log to the journal ({err}); logging to stderr");
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(stderr_fields())
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    Destination::Stderr
}

/// Fields given to the journal as its own fields (`VHID=1`,
/// `INTERFACE=eth0`, `STATE=MASTER`, for `journalctl VHID=1`), which
/// the stderr line leaves out: its message says the same in words.
const JOURNAL_ONLY: &[&str] = &["vhid", "interface", "state"];

/// How a stderr line shows an event's fields: the message, then any other
/// field as ` name=value`, except [`JOURNAL_ONLY`] ones.
fn stderr_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| match field.name() {
        "message" => write!(writer, "{value:?}"),
        name if JOURNAL_ONLY.contains(&name) => Ok(()),
        name => write!(writer, " {name}={value:?}"),
    })
}

/// Whether stderr is the stream `JOURNAL_STREAM` (`DEV:INODE`, decimal)
/// names.
fn stderr_is_journal(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(parse_journal_stream) else {
        return false;
    };
    stderr_identity().is_some_and(|(d, i)| d == dev && i == ino)
}

/// `DEV:INODE` as systemd writes it; anything else is not a journal stream.
fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The device and inode of stderr (fstat of fd 2), read through a
/// duplicate of the descriptor.
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd as _;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(fd).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `MakeWriter` into a shared buffer, to read what was logged.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn stderr_lines_keep_their_old_form_without_the_journal_fields() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(stderr_fields())
            .with_writer(move || writer.clone())
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                vhid = 1,
                interface = "eth0",
                state = "MASTER",
                "vhid {} on {}: BACKUP -> MASTER",
                1,
                "eth0"
            );
            tracing::info!("plain");
            tracing::info!(other = 5, "with another field");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "vhid 1 on eth0: BACKUP -> MASTER\nplain\nwith another field other=5\n"
        );
    }

    #[test]
    fn journal_stream_is_dev_colon_inode() {
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        for bad in [
            "",
            "8",
            "8:",
            ":1",
            "a:1",
            "8:1:2",
            "-1:5",
            "99999999999999999999:1",
        ] {
            assert_eq!(parse_journal_stream(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_stream_stderr_really_is_counts_as_the_journal() {
        let (dev, ino) = stderr_identity().expect("stderr is open in tests");
        assert!(stderr_is_journal(Some(&format!("{dev}:{ino}"))));
        assert!(!stderr_is_journal(Some(&format!(
            "{dev}:{}",
            ino.wrapping_add(1)
        ))));
        assert!(!stderr_is_journal(Some("garbage")));
        assert!(!stderr_is_journal(None));
    }
}
