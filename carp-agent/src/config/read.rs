//! Reading a file the user named, with an upper bound on its size: a wrong
//! path (`/dev/zero`, a log file, a disk image) must get a clear error, not
//! exhaust memory or hang reading.

use std::{
    fs::File,
    io::{self, Read as _},
    path::Path,
};

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// More than the limit: nothing was parsed.
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

/// Reads all of `path` if it holds at most `limit` bytes.
///
/// A regular file's size is checked before reading; anything else (a
/// device such as `/dev/zero`, a pipe such as `<(pass show carp)`) is read
/// up to `limit + 1` bytes, so at most that much is ever held in memory.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    if metadata.is_file() && metadata.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn at_the_limit_reads_one_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [b'x'; 10]).unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap().len(), 10);
        assert!(matches!(
            read_bounded(&path, 9),
            Err(ReadError::TooLarge { limit: 9 })
        ));
    }

    #[test]
    fn an_endless_device_is_refused_at_the_limit() {
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 1000),
            Err(ReadError::TooLarge { limit: 1000 })
        ));
    }
}
