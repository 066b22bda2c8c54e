//! The demotion that must survive a restart or a reboot: the
//! administrator's (`carp-agent demote`) and the external sources'
//! (`demote --source NAME`). Tracked sources are not kept: they are
//! measured again at start.
//!
//! The file (`<persist_dir>/demotion`, default
//! `/var/lib/carp-agent/demotion`) is one JSON object,
//! `{"admin":240,"sources":{"db":50}}`, rewritten atomically on each change
//! (a temporary file in the same directory, synced, then renamed over it),
//! so a crash or power loss leaves the old or the new content, never half.
//! It is read at start, at most [`MAX_STATE_BYTES`]; a file that cannot be
//! read or parsed is an error naming it, which the daemon logs as a warning
//! before starting with the configured `demotion`.

use std::{
    collections::BTreeMap,
    io::Write as _,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{ledger::MAX_EXTERNAL_SOURCES, spec::check_name};
use crate::{
    config::{ReadError, read_bounded},
    engine::demotion::MAX_DEMOTION,
};

/// The file's name in `persist_dir`.
pub const STATE_FILE: &str = "demotion";
/// Largest state file read: 64 sources with long names fit many times.
pub const MAX_STATE_BYTES: u64 = 64 * 1024;

/// What the file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    /// The administrator's demotion.
    pub admin: u32,
    /// External sources' shares, by name.
    #[serde(default)]
    pub sources: BTreeMap<String, u32>,
}

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is larger than {MAX_STATE_BYTES} bytes; not a carp-agent demotion file", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not a carp-agent demotion file: {why}", path.display())]
    Bad { path: PathBuf, why: String },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Reads the state file; `Ok(None)` if there is none.
pub fn load(path: &Path) -> Result<Option<Persisted>, PersistError> {
    let bytes = match read_bounded(path, MAX_STATE_BYTES) {
        Ok(bytes) => bytes,
        Err(ReadError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(ReadError::Io(error)) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
        Err(ReadError::TooLarge { .. }) => {
            return Err(PersistError::TooLarge {
                path: path.to_path_buf(),
            });
        }
    };
    let bad = |why: String| PersistError::Bad {
        path: path.to_path_buf(),
        why,
    };
    // serde_json's messages quote no input beyond a token, and the file
    // holds no secret anyway.
    let state: Persisted = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if state.admin > MAX_DEMOTION {
        return Err(bad(format!(
            "admin {} is above {MAX_DEMOTION}",
            state.admin
        )));
    }
    if state.sources.len() > MAX_EXTERNAL_SOURCES {
        return Err(bad(format!(
            "{} sources, at most {MAX_EXTERNAL_SOURCES} are kept",
            state.sources.len()
        )));
    }
    for (name, share) in &state.sources {
        check_name(name).map_err(|why| bad(format!("source {name:?}: {why}")))?;
        if *share > MAX_DEMOTION {
            return Err(bad(format!(
                "source {name:?}: {share} is above {MAX_DEMOTION}"
            )));
        }
    }
    Ok(Some(state))
}

/// Replaces the state file atomically, creating its directory if needed.
pub fn save(path: &Path, state: &Persisted) -> Result<(), PersistError> {
    let fail = |error| PersistError::Write {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut text = serde_json::to_string(state)
        .map_err(|e| fail(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    text.push('\n');
    let file_name = path
        .file_name()
        .map_or_else(|| STATE_FILE.into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself must reach the disk before we say it is saved.
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|error| {
        let _ = std::fs::remove_file(&tmp);
        fail(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(STATE_FILE);
        assert!(load(&path).unwrap().is_none(), "no file: nothing kept");
        let state = Persisted {
            admin: 240,
            sources: [("db".to_string(), 50)].into(),
        };
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), Some(state.clone()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"admin\":240,\"sources\":{\"db\":50}}\n");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(STATE_FILE)]);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let cases: [(&str, &str); 5] = [
            ("240", "is not a carp-agent demotion file"),
            ("{\"admin\":-1}", "is not a carp-agent demotion file"),
            ("{\"admin\":4294967295}", "is above 2147483647"),
            (
                "{\"admin\":0,\"sources\":{\"admin\":1}}",
                "\"admin\" is reserved",
            ),
            ("{\"admin\":0,\"extra\":1}", "unknown field"),
        ];
        for (content, expected) in cases {
            std::fs::write(&path, content).unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(err.starts_with(&path.display().to_string()), "{err}");
            assert!(err.contains(expected), "{content}: {err}");
        }
        std::fs::write(&path, vec![b' '; 70 * 1024]).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("larger than"));
    }
}
