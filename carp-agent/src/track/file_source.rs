//! `file` sources (keepalived's `track_file`): a file holding one
//! non-negative integer N, written by some other program; the source's
//! share is N × weight. The file is read every `interval_ms`, at most
//! [`MAX_FILE_BYTES`] of it.
//!
//! A file that is missing, unreadable, too long or does not hold such a
//! number counts as 0 (no demotion) and is logged once, until its content
//! changes: a typo by hand must not take a healthy master down, and a check
//! that wants to demote when it breaks should write its number itself.
//! Write the file atomically (a temporary file, then `mv`), so the agent
//! never reads half of it.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{TrackSpec, Update};
use crate::{config::ReadError, engine::demotion::MAX_DEMOTION};

/// Longest file read: a number and its line ending fit many times over.
pub const MAX_FILE_BYTES: u64 = 64;

/// Why a file's content is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileValueError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: String },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes; it should hold one number")]
    TooLarge { path: String },
    #[error("{path} does not hold a non-negative integer (read {content:?})")]
    NotANumber { path: String, content: String },
}

/// The number in `content`: surrounding whitespace allowed, nothing else.
pub fn parse_value(content: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(content).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than a u64 holds: as good as infinite, clamped later.
    Some(text.parse().unwrap_or(u64::MAX))
}

/// The share for `value` with `weight`, clamped to the demotion's range.
pub fn share(value: u64, weight: u32) -> u32 {
    let product = value.saturating_mul(u64::from(weight));
    u32::try_from(product.min(u64::from(MAX_DEMOTION))).unwrap_or(MAX_DEMOTION)
}

/// Reads the file's number; the error says what is wrong with it.
pub fn read_value(path: &Path) -> Result<u64, FileValueError> {
    let name = path.display().to_string();
    let bytes = crate::config::read_bounded(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::TooLarge { .. } => FileValueError::TooLarge { path: name.clone() },
        ReadError::Io(error) => FileValueError::Read {
            path: name.clone(),
            error: error.to_string(),
        },
    })?;
    parse_value(&bytes).ok_or_else(|| FileValueError::NotANumber {
        path: name,
        // Bounded by MAX_FILE_BYTES; shown escaped.
        content: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Polls the file of `spec` every `interval` and sends its share when it
/// changes.
pub(super) async fn run(
    spec: TrackSpec,
    path: PathBuf,
    interval: std::time::Duration,
    updates: mpsc::Sender<Update>,
) {
    let mut last_share = None;
    let mut last_error: Option<FileValueError> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (share, detail) = match read_value(&path) {
            Ok(value) => {
                if last_error.take().is_some() {
                    info!("track {}: {} is readable again", spec.name, path.display());
                }
                (
                    share(value, spec.weight),
                    format!("{value} in {}", path.display()),
                )
            }
            Err(error) => {
                if last_error.as_ref() != Some(&error) {
                    warn!("track {}: {error}; counted as 0", spec.name);
                }
                last_error = Some(error);
                (0, "unreadable or not a number: counted as 0".to_string())
            }
        };
        if last_share != Some(share) {
            last_share = Some(share);
            let update = Update {
                name: spec.name.clone(),
                share,
                detail,
            };
            if updates.send(update).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_strictly() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  7 \r\n"), Some(7));
        assert_eq!(parse_value(b"0"), Some(0));
        assert_eq!(parse_value(b"99999999999999999999999"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"\n",
            b"-1",
            b"+1",
            b"1.5",
            b"1 2",
            b"abc",
            b"\xff",
        ] {
            assert_eq!(parse_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shares_multiply_and_clamp() {
        assert_eq!(share(3, 50), 150);
        assert_eq!(share(0, 240), 0);
        assert_eq!(share(u64::MAX, 240), MAX_DEMOTION);
    }

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("load");
        let err = read_value(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read {}", path.display())),
            "{err}"
        );
        std::fs::write(&path, "lots").unwrap();
        let err = read_value(&path).unwrap_err().to_string();
        assert!(
            err.contains("does not hold a non-negative integer (read \"lots\")"),
            "{err}"
        );
        std::fs::write(&path, "1".repeat(100)).unwrap();
        let err = read_value(&path).unwrap_err().to_string();
        assert!(err.contains("larger than 64 bytes"), "{err}");
        std::fs::write(&path, "12\n").unwrap();
        assert_eq!(read_value(&path).unwrap(), 12);
    }
}
