//! Where the maps are pinned: `<bpffs>/carp/<MAP>`. The bpffs root is
//! configurable because `ip netns exec` remounts /sys and hides
//! /sys/fs/bpf; if the root is not a bpffs yet, we mount one there.
use std::{
    ffi::CString,
    fs,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
};

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

#[derive(Debug, thiserror::Error)]
pub enum BpffsError {
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> BpffsError + 'a {
    move |source| BpffsError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// True if `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and a properly sized out-buffer.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
}

/// Makes sure `root` is a bpffs (mounting one if needed) and returns the
/// directory the agent pins into, `<root>/carp`, created empty of stale pins.
pub fn prepare_pin_dir(root: &Path) -> Result<PathBuf, BpffsError> {
    fs::create_dir_all(root).map_err(io_err(root, "create directory"))?;
    if !is_bpffs(root) {
        mount_bpffs(root)?;
    }
    let dir = root.join("carp");
    remove_pins(&dir)?;
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
    Ok(dir)
}

/// Removes `<root>/carp` and everything pinned in it (left by a crashed agent
/// or by this one on shutdown). Missing is fine.
pub fn remove_pins(dir: &Path) -> Result<(), BpffsError> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_err(&path, "unpin"))?;
            }
            fs::remove_dir(dir).map_err(io_err(dir, "remove directory"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dir, "read directory")(e)),
    }
}

fn mount_bpffs(root: &Path) -> Result<(), BpffsError> {
    let target = CString::new(root.as_os_str().as_bytes()).map_err(|_| BpffsError::Io {
        path: root.to_path_buf(),
        op: "mount bpffs",
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    // SAFETY: all pointers are valid NUL-terminated strings; data is null.
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io_err(root, "mount bpffs")(std::io::Error::last_os_error()));
    }
    Ok(())
}
