//! One agent per control socket and per bpffs, and a record, outside the
//! process, of what the agent changed on the host and must put back.
//!
//! # Locks
//! A second agent pointed at the same bpffs would unpin the first one's maps
//! and replace its VIPs; one on the same control socket would take over its
//! clients. So before touching anything the agent takes two exclusive,
//! non-blocking `flock`s and fails at once, naming the resource and the
//! holder's pid, if either is held:
//!
//! - `<control-socket>.lock`, beside the socket;
//! - `<state-dir>/bpffs-<path>.lock` for the bpffs root (a bpffs holds no
//!   regular files), `<path>` being the absolute path with `/` as `-`
//!   (`/sys/fs/bpf` → `bpffs-sys-fs-bpf.lock`).
//!
//! A flock dies with its process, so a kill -9 leaves a file but no lock.
//!
//! # What to put back
//! `<control-socket>.state` (JSON, written to a temporary file and renamed
//! over the old one *before* each change) holds, per interface, the
//! `arp_announce` value found before the agent set 2, and whether the agent
//! turned IFF_PROMISC on. The control socket names the instance (the lab runs
//! several agents on one machine, each with its own socket, and `ip netns
//! exec` shares /run but not sysctls). A clean exit puts the values back and
//! deletes the file. A start that finds the file adopts a record only while
//! it still describes the host: same network namespace, same interface index
//! for the name, and the setting still as the agent left it (`arp_announce`
//! still 2, the flag still on). Anything else means someone changed it after
//! the crash, and their value is the one to keep.
//!
//! An unreadable or corrupt file is moved aside (`.corrupt`) with a warning
//! and the current values count as the originals: an `arp_announce` of 2 left
//! by the crashed agent then stays 2 after the next clean exit. That is the
//! conservative choice (2 is a sane setting; writing a guessed 0 could
//! destroy an administrator's 2).
use std::{
    ffi::CString,
    fs::{self, File, OpenOptions},
    io::{self, Read as _, Write as _},
    os::{
        fd::AsRawFd as _,
        unix::fs::{MetadataExt as _, OpenOptionsExt as _},
    },
    path::{Component, Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{
    config::Config,
    net::{Netlink, sysctl},
};

/// A state file is a few lines per interface; anything bigger is not ours.
const MAX_STATE_BYTES: u64 = 64 * 1024;
const STATE_VERSION: u32 = 1;
/// Longest lock file name built from a bpffs path before it is hashed
/// instead (NAME_MAX is 255).
const MAX_KEY_LEN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error(
        "{resource} is in use by another carp-agent ({holder}; lock file {}); \
         stop it, or give this agent its own {option}",
        lock.display()
    )]
    Busy {
        resource: String,
        lock: PathBuf,
        holder: String,
        option: &'static str,
    },
    #[error("{}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> InstanceError + 'a {
    move |source| InstanceError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// The locks and the record of changes of one running agent.
pub(crate) struct Instance {
    // Dropped (unlinked and unlocked) when the daemon is.
    _locks: [LockFile; 2],
    pub(crate) restore: Restore,
}

impl Instance {
    /// Takes both locks, then reads what a crashed predecessor left to put
    /// back. Changes nothing on the host besides its own files.
    pub(crate) fn acquire(config: &Config) -> Result<Self, InstanceError> {
        let socket = &config.control_socket;
        let socket_lock = LockFile::acquire(
            &with_suffix(socket, ".lock"),
            format!("control socket {}", socket.display()),
            "--control-socket",
        )?;
        fs::create_dir_all(&config.state_dir)
            .map_err(io_err(&config.state_dir, "create directory"))?;
        let bpffs_lock = LockFile::acquire(
            &bpffs_lock_path(&config.state_dir, &config.bpffs),
            format!("bpffs {}", config.bpffs.display()),
            "--bpffs",
        )?;
        let restore = Restore::load(with_suffix(socket, ".state"), current_netns());
        Ok(Self {
            _locks: [socket_lock, bpffs_lock],
            restore,
        })
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// An exclusive flock on a file holding the owner's pid.
struct LockFile {
    path: PathBuf,
    _file: File,
}

impl LockFile {
    fn acquire(path: &Path, resource: String, option: &'static str) -> Result<Self, InstanceError> {
        // An exiting holder unlinks its file while still locking it; whoever
        // opened that inode just before then locks a file nobody else will
        // ever open again, so it checks and starts over with the new one.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .map_err(io_err(path, "open lock file"))?;
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    let holder = match read_pid(&mut file) {
                        Some(pid) => format!("pid {pid}"),
                        None => "pid unknown".to_string(),
                    };
                    return Err(InstanceError::Busy {
                        resource,
                        lock: path.to_path_buf(),
                        holder,
                        option,
                    });
                }
                return Err(io_err(path, "flock")(err));
            }
            let held = file.metadata().map_err(io_err(path, "stat lock file"))?;
            let same = fs::symlink_metadata(path)
                .is_ok_and(|now| now.dev() == held.dev() && now.ino() == held.ino());
            if !same {
                continue;
            }
            file.set_len(0)
                .map_err(io_err(path, "truncate lock file"))?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())
                .map_err(io_err(path, "write pid to lock file"))?;
            return Ok(Self {
                path: path.to_path_buf(),
                _file: file,
            });
        }
        Err(io_err(path, "lock")(io::Error::other(
            "the file kept being replaced by exiting agents",
        )))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Unlink while still holding the lock (see `acquire`).
        let _ = fs::remove_file(&self.path);
    }
}

/// The pid a lock file names, if it is one.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse::<u32>().ok().filter(|&pid| pid > 0)
}

/// `<state-dir>/bpffs-<escaped absolute path>.lock`.
fn bpffs_lock_path(state_dir: &Path, bpffs: &Path) -> PathBuf {
    // The same directory through a symlink or a relative path is the same bpffs.
    let absolute = fs::canonicalize(bpffs)
        .or_else(|_| std::path::absolute(bpffs))
        .unwrap_or_else(|_| bpffs.to_path_buf());
    state_dir.join(format!("bpffs-{}.lock", path_key(&absolute)))
}

/// A file name for `path`, one to one: components joined by `-`, bytes other
/// than `[A-Za-z0-9_.]` as `%XX`; a hash if that gets too long.
fn path_key(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut key = String::new();
    for component in path.components() {
        let bytes = match component {
            Component::Normal(name) => name.as_bytes(),
            Component::ParentDir => b"..",
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        if !key.is_empty() {
            key.push('-');
        }
        for &b in bytes {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                key.push(char::from(b));
            } else {
                key.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if key.is_empty() {
        key.push('-');
    }
    if key.len() > MAX_KEY_LEN {
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = path
            .as_os_str()
            .as_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        key = format!("hash-{hash:016x}");
    }
    key
}

/// The inode of this process's network namespace: records from another
/// namespace describe other interfaces.
fn current_netns() -> u64 {
    fs::metadata("/proc/self/ns/net").map_or(0, |m| m.ino())
}

fn ifindex_of(name: &str) -> Option<u32> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    (index != 0).then_some(index)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    netns: u64,
    interfaces: Vec<IfaceRecord>,
}

/// What the agent changed on one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IfaceRecord {
    name: String,
    ifindex: u32,
    /// The value found before the agent wrote 2.
    #[serde(default)]
    arp_announce: Option<u8>,
    /// The agent turned IFF_PROMISC on (it was off).
    #[serde(default)]
    promiscuous: bool,
}

/// The interface as it is now, for deciding what of a record still holds.
#[derive(Debug, Clone, Copy)]
struct Observed {
    ifindex: Option<u32>,
    arp_announce: Option<u8>,
    promiscuous: Option<bool>,
}

/// What of a previous run's record is still the agent's to put back.
fn adopt(record: &IfaceRecord, now: Observed) -> Option<IfaceRecord> {
    // Gone, or deleted and created again: its settings are fresh defaults.
    if now.ifindex != Some(record.ifindex) {
        return None;
    }
    let arp_announce = record
        .arp_announce
        .filter(|_| now.arp_announce == Some(sysctl::ARP_ANNOUNCE_AGENT));
    let promiscuous = record.promiscuous && now.promiscuous == Some(true);
    (arp_announce.is_some() || promiscuous).then(|| IfaceRecord {
        name: record.name.clone(),
        ifindex: record.ifindex,
        arp_announce,
        promiscuous,
    })
}

/// Parses a state file, checking every field that reaches a path or the
/// kernel.
fn parse_state(text: &str) -> Result<StateFile, String> {
    let state: StateFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if state.version != STATE_VERSION {
        return Err(format!(
            "version {} (this agent writes {STATE_VERSION})",
            state.version
        ));
    }
    for record in &state.interfaces {
        if !sysctl::valid_interface_name(&record.name) {
            return Err(format!("bad interface name {:?}", record.name));
        }
        if let Some(value) = record.arp_announce {
            if sysctl::parse_arp_announce(&value.to_string()).is_none() {
                return Err(format!(
                    "{}: arp_announce {value} is not 0, 1 or 2",
                    record.name
                ));
            }
        }
    }
    Ok(state)
}

/// The record of what the running agent changed, mirrored to its file.
pub(crate) struct Restore {
    path: PathBuf,
    netns: u64,
    records: Vec<IfaceRecord>,
}

impl Restore {
    /// Reads the file a crashed agent left and adopts what still holds.
    fn load(path: PathBuf, netns: u64) -> Self {
        let mut restore = Self {
            path,
            netns,
            records: Vec::new(),
        };
        let state = match restore.read() {
            Ok(None) => return restore,
            Ok(Some(state)) => state,
            Err(reason) => {
                let aside = with_suffix(&restore.path, ".corrupt");
                let moved = fs::rename(&restore.path, &aside).map_or_else(
                    |e| format!("could not move it aside: {e}"),
                    |()| format!("moved to {}", aside.display()),
                );
                warn!(
                    "{}: {reason}; {moved}. The current arp_announce and promiscuous \
                     settings count as the ones to put back",
                    restore.path.display()
                );
                return restore;
            }
        };
        if state.netns != netns {
            warn!(
                "{}: written in another network namespace; ignored",
                restore.path.display()
            );
            return restore;
        }
        for record in &state.interfaces {
            let now = Observed {
                ifindex: ifindex_of(&record.name),
                arp_announce: sysctl::read_arp_announce(&record.name).ok(),
                promiscuous: sysctl::promiscuous(&record.name, record.ifindex).ok(),
            };
            match adopt(record, now) {
                Some(adopted) => {
                    info!(
                        "{}: a previous agent did not exit cleanly; will put back {}",
                        record.name,
                        describe(&adopted)
                    );
                    restore.records.push(adopted);
                }
                None => info!(
                    "{}: a previous agent's record no longer matches the interface \
                     (recreated or changed since); keeping its current settings",
                    record.name
                ),
            }
        }
        restore
    }

    /// The previous file, if any; Err names what is wrong with it.
    fn read(&self) -> Result<Option<StateFile>, String> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("open: {e}")),
        };
        let mut text = String::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("read: {e}"))?;
        if text.len() as u64 > MAX_STATE_BYTES {
            return Err(format!("larger than {MAX_STATE_BYTES} bytes"));
        }
        parse_state(&text).map(Some)
    }

    /// Writes the records to a temporary file and renames it over the state
    /// file, so a crash at any point leaves the old or the new one whole.
    fn save(&self) -> Result<(), InstanceError> {
        let state = StateFile {
            version: STATE_VERSION,
            netns: self.netns,
            interfaces: self.records.clone(),
        };
        let text = serde_json::to_string_pretty(&state).map_err(|e| InstanceError::Io {
            path: self.path.clone(),
            op: "serialize",
            source: io::Error::other(e),
        })?;
        let tmp = with_suffix(&self.path, ".tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_err(&tmp, "write"))?;
        fs::rename(&tmp, &self.path).map_err(io_err(&self.path, "rename into place"))
    }

    fn record_mut(&mut self, name: &str, ifindex: u32) -> &mut IfaceRecord {
        let at = match self
            .records
            .iter()
            .position(|r| r.name == name && r.ifindex == ifindex)
        {
            Some(at) => at,
            None => {
                self.records.push(IfaceRecord {
                    name: name.to_string(),
                    ifindex,
                    arp_announce: None,
                    promiscuous: false,
                });
                self.records.len() - 1
            }
        };
        &mut self.records[at]
    }

    /// Sets `arp_announce` to 2 on `name`, having recorded the value to put
    /// back (kept from an adopted record, else the current one).
    pub(crate) fn set_arp_announce(
        &mut self,
        name: &str,
        ifindex: u32,
    ) -> Result<(), anyhow::Error> {
        let current = sysctl::read_arp_announce(name)?;
        let record = self.record_mut(name, ifindex);
        if record.arp_announce.is_none() {
            record.arp_announce = Some(current);
        }
        self.save()?;
        sysctl::write_arp_announce(name, sysctl::ARP_ANNOUNCE_AGENT)?;
        Ok(())
    }

    /// Whether the agent turned IFF_PROMISC on for `name` (now or in a run
    /// that crashed), i.e. whether it is its own to turn off.
    pub(crate) fn owns_promiscuous(&self, ifindex: u32) -> bool {
        self.records
            .iter()
            .any(|r| r.ifindex == ifindex && r.promiscuous)
    }

    /// Turns IFF_PROMISC on, recording it first; if someone else already
    /// turned it on, leaves it (and will leave it at exit).
    pub(crate) async fn set_promiscuous(
        &mut self,
        netlink: &Netlink,
        name: &str,
        ifindex: u32,
    ) -> Result<(), anyhow::Error> {
        if self.owns_promiscuous(ifindex) {
            return Ok(());
        }
        if sysctl::promiscuous(name, ifindex)? {
            info!("{name} is in promiscuous mode already (not set by us; left on at exit)");
            return Ok(());
        }
        self.record_mut(name, ifindex).promiscuous = true;
        self.save()?;
        netlink.set_promiscuous(ifindex, true).await?;
        Ok(())
    }

    /// On a clean exit: puts every recorded setting back where it is still
    /// as the agent left it, then deletes the file (kept if something could
    /// not be put back, for the next start to retry).
    pub(crate) async fn put_back(&mut self, netlink: &Netlink) {
        let mut left = Vec::new();
        for record in std::mem::take(&mut self.records) {
            if ifindex_of(&record.name) != Some(record.ifindex) {
                continue; // gone: nothing left to put back
            }
            let mut failed = record.clone();
            failed.arp_announce = None;
            failed.promiscuous = false;
            if let Some(original) = record.arp_announce {
                match sysctl::read_arp_announce(&record.name) {
                    Ok(sysctl::ARP_ANNOUNCE_AGENT) => {
                        if let Err(err) = sysctl::write_arp_announce(&record.name, original) {
                            warn!("{err}");
                            failed.arp_announce = Some(original);
                        }
                    }
                    Ok(other) => info!(
                        "{}: arp_announce was changed to {other} while the agent ran; \
                         leaving it (not putting back {original})",
                        record.name
                    ),
                    Err(err) => {
                        warn!("{err}");
                        failed.arp_announce = Some(original);
                    }
                }
            }
            if record.promiscuous {
                if let Err(err) = netlink.set_promiscuous(record.ifindex, false).await {
                    warn!("{err}");
                    failed.promiscuous = true;
                }
            }
            if failed.arp_announce.is_some() || failed.promiscuous {
                left.push(failed);
            }
        }
        self.records = left;
        if self.records.is_empty() {
            if let Err(err) = fs::remove_file(&self.path) {
                if err.kind() != io::ErrorKind::NotFound {
                    warn!("{}: remove: {err}", self.path.display());
                }
            }
        } else if let Err(err) = self.save() {
            warn!("{err}");
        } else {
            warn!(
                "{}: kept; the next start will try to put back what failed",
                self.path.display()
            );
        }
    }
}

fn describe(record: &IfaceRecord) -> String {
    let mut parts = Vec::new();
    if let Some(value) = record.arp_announce {
        parts.push(format!("arp_announce {value}"));
    }
    if record.promiscuous {
        parts.push("promiscuous mode off".to_string());
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(arp: Option<u8>, promisc: bool) -> IfaceRecord {
        IfaceRecord {
            name: "eth0".into(),
            ifindex: 7,
            arp_announce: arp,
            promiscuous: promisc,
        }
    }

    fn observed(ifindex: u32, arp: u8, promisc: bool) -> Observed {
        Observed {
            ifindex: Some(ifindex),
            arp_announce: Some(arp),
            promiscuous: Some(promisc),
        }
    }

    #[test]
    fn a_crashed_agents_original_wins_over_its_own_2() {
        let adopted = adopt(&record(Some(1), false), observed(7, 2, false));
        assert_eq!(adopted, Some(record(Some(1), false)));
    }

    #[test]
    fn a_value_changed_after_the_crash_is_the_admins() {
        assert_eq!(adopt(&record(Some(1), false), observed(7, 0, false)), None);
        // The flag turned off since: not ours to touch any more.
        assert_eq!(
            adopt(&record(Some(1), true), observed(7, 2, false)),
            Some(record(Some(1), false))
        );
        assert_eq!(
            adopt(&record(Some(0), true), observed(7, 1, true)),
            Some(record(None, true))
        );
    }

    #[test]
    fn a_recreated_or_missing_interface_has_fresh_settings() {
        assert_eq!(adopt(&record(Some(1), true), observed(8, 2, true)), None);
        let gone = Observed {
            ifindex: None,
            arp_announce: None,
            promiscuous: None,
        };
        assert_eq!(adopt(&record(Some(1), true), gone), None);
    }

    #[test]
    fn state_files_are_parsed_defensively() {
        let good = r#"{"version":1,"netns":5,"interfaces":[{"name":"eth0","ifindex":7,"arp_announce":1}]}"#;
        let state = parse_state(good).unwrap();
        assert_eq!(state.interfaces, vec![record(Some(1), false)]);
        for (bad, says) in [
            ("", "EOF"),
            ("{", "EOF"),
            (r#"{"version":2,"netns":5,"interfaces":[]}"#, "version 2"),
            (
                r#"{"version":1,"netns":5,"interfaces":[{"name":"../x","ifindex":7}]}"#,
                "bad interface name",
            ),
            (
                r#"{"version":1,"netns":5,"interfaces":[{"name":"eth0","ifindex":7,"arp_announce":9}]}"#,
                "not 0, 1 or 2",
            ),
            (
                r#"{"version":1,"netns":5,"interfaces":[{"name":"eth0","ifindex":7,"arp_announce":300}]}"#,
                "invalid value",
            ),
            (
                r#"{"version":1,"netns":5,"interfaces":[],"extra":1}"#,
                "unknown field",
            ),
        ] {
            let err = parse_state(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_corrupt_or_oversized_file_is_moved_aside_and_nothing_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sock.state");
        fs::write(&path, "{not json").unwrap();
        let restore = Restore::load(path.clone(), current_netns());
        assert!(restore.records.is_empty());
        assert!(!path.exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("a.sock.state.corrupt")).unwrap(),
            "{not json"
        );
        fs::write(&path, vec![b' '; MAX_STATE_BYTES as usize + 10]).unwrap();
        assert!(restore.read().unwrap_err().contains("larger than"));
    }

    #[test]
    fn saved_state_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sock.state");
        let mut restore = Restore::load(path.clone(), 42);
        restore.records.push(record(Some(0), true));
        restore.save().unwrap();
        assert!(!with_suffix(&path, ".tmp").exists());
        let state = restore.read().unwrap().unwrap();
        assert_eq!(state.netns, 42);
        assert_eq!(state.interfaces, vec![record(Some(0), true)]);
    }

    #[test]
    fn path_keys_are_readable_and_distinct() {
        assert_eq!(path_key(Path::new("/sys/fs/bpf")), "sys-fs-bpf");
        assert_eq!(path_key(Path::new("/a-b/c")), "a%2Db-c");
        assert_ne!(path_key(Path::new("/a-b/c")), path_key(Path::new("/a/b-c")));
        assert_eq!(path_key(Path::new("/")), "-");
        let long = format!("/{}", "x".repeat(300));
        assert!(path_key(Path::new(&long)).starts_with("hash-"));
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = LockFile::acquire(&path, "thing".into(), "--thing").unwrap();
        let err = LockFile::acquire(&path, "thing".into(), "--thing")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("thing is in use")
                && err.contains(&format!("pid {}", std::process::id()))
                && err.contains("--thing"),
            "{err}"
        );
        drop(first);
        assert!(!path.exists());
        // A file left by a killed agent holds no lock.
        fs::write(&path, "999999\n").unwrap();
        let again = LockFile::acquire(&path, "thing".into(), "--thing").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(again);
    }
}
