//! The agent's configuration: command-line flags for one vhid, or a TOML file
//! for any number.
//!
//! # Flags
//!
//! The FreeBSD line `ifconfig_em0_alias0="inet vhid 1 advskew 100 pass
//! testpass alias 192.168.1.50/32"` becomes
//!
//! ```text
//! carp-agent run --interface em0 --vhid 1 --advskew 100 --password testpass \
//!     --vip 192.168.1.50/32
//! ```
//!
//! # TOML file (`--config FILE`)
//!
//! Unknown keys are errors. Defaults are FreeBSD's: advbase 1, advskew 0, no
//! preemption. See `carp-agent/examples/carp.toml`.
//!
//! ```toml
//! control_socket = "/run/carp-agent.sock" # default
//! bpffs = "/sys/fs/bpf"                   # default
//! state_dir = "/run/carp-agent"           # default; holds the bpffs lock
//! xdp_mode = "auto"                       # auto | native | skb
//! hook_timeout_ms = 30000                 # default 30 s
//! demotion = 0                            # initial host demotion
//!
//! [[vhid]]
//! interface = "em0"
//! vhid = 1                      # 1..=255, unique per interface
//! advbase = 1                   # seconds; 0 only with flavor = "openbsd"
//! advskew = 100                 # 0..=254, lower wins
//! preempt = false
//! flavor = "freebsd"            # freebsd | openbsd
//! tie_break = "lower-address"   # lower-address | higher-address | yield
//! real_mac = false              # advertise from the NIC's MAC, not the virtual MAC
//! password = "testpass"         # at most 19 bytes; or password_file = "..."
//! vips = ["192.168.1.50/24", "fd00::50/64"]  # prefix optional: /32, /128
//! source = "192.168.1.5"        # advert source; default: the interface's first IPv4
//!
//! [[vhid.hook]]
//! on = ["master"]               # any of "master", "backup", "init"
//! command = ["/usr/local/bin/promote-db", "--now"]  # run directly, no shell
//!
//! [[vhid.hook]]
//! on = ["backup", "init"]
//! shell = "logger -t carp \"$CARP_INTERFACE vhid $CARP_VHID: $CARP_STATE\""
//! ```
//!
//! A relative `password_file` is read relative to the TOML file's directory;
//! one trailing `\n` or `\r\n` is dropped from it, nothing else.
//! The interface's existence is checked by the daemon when it starts.
mod args;
mod error;
mod file;
mod vip;

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

pub use args::RunArgs;
pub use error::{ConfigError, Reason};
pub use vip::{Vip, VipError};

use crate::{
    dataplane::AttachMode,
    engine::{Flavor, RangeError, TieBreak, VhidConfig, check_ranges},
    hooks::HookSpec,
    proto::AuthKey,
};

/// Default path of the control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/carp-agent.sock";
/// Default bpffs root, where systemd mounts it; `ip netns exec` hides it, so
/// a lab agent gets its own (see `dataplane::bpffs`).
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";
/// Default directory for the per-bpffs instance lock.
pub const DEFAULT_STATE_DIR: &str = "/run/carp-agent";
/// Largest configuration file read: a thousand vhids with hooks take a
/// fraction of it.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Default bound on one hook run.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the daemon needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    pub vhids: Vec<VhidSettings>,
    pub control_socket: PathBuf,
    pub bpffs: PathBuf,
    /// Where the lock that keeps a second agent off `bpffs` lives (a bpffs
    /// cannot hold regular files).
    pub state_dir: PathBuf,
    pub xdp_mode: AttachMode,
    pub hook_timeout: Duration,
    /// Initial host demotion (`net.inet.carp.demotion`).
    pub demotion: u32,
}

/// One vhid on one interface.
#[derive(Clone, Debug)]
pub struct VhidSettings {
    pub interface: String,
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
    pub preempt: bool,
    pub flavor: Flavor,
    /// Which of two equal masters stays MASTER.
    pub tie_break: TieBreak,
    /// Send adverts from the NIC's own MAC instead of the virtual MAC.
    pub real_mac: bool,
    pub key: AuthKey,
    pub vips: Vec<Vip>,
    /// Advert source; `None`: the interface's first IPv4 address.
    pub source: Option<IpAddr>,
    pub hooks: Vec<HookSpec>,
}

/// `--flavor` / `flavor =`: which BSD's carp(4) a vhid follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlavorName {
    #[default]
    Freebsd,
    Openbsd,
}

/// `--tie-break` / `tie_break =`: which of two equal masters stays MASTER.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreakName {
    /// The lower source address stays (ucarp's order); converges with every peer.
    #[default]
    LowerAddress,
    /// The higher source address stays (keepalived's VRRP rule); two masters
    /// for good against ucarp.
    HigherAddress,
    /// Both yield (FreeBSD); the first master-down settles it.
    Yield,
}

impl From<TieBreakName> for TieBreak {
    fn from(name: TieBreakName) -> TieBreak {
        match name {
            TieBreakName::LowerAddress => TieBreak::LowerAddress,
            TieBreakName::HigherAddress => TieBreak::HigherAddress,
            TieBreakName::Yield => TieBreak::AlwaysYield,
        }
    }
}

impl From<FlavorName> for Flavor {
    fn from(name: FlavorName) -> Flavor {
        match name {
            FlavorName::Freebsd => Flavor::FreeBsd,
            FlavorName::Openbsd => Flavor::OpenBsd,
        }
    }
}

impl VhidSettings {
    /// `em0 vhid 1`, as in errors and logs.
    pub fn name(&self) -> String {
        format!("{} vhid {}", self.interface, self.vhid)
    }

    /// The engine's view, once the daemon knows the source address.
    pub fn engine_config(&self, source: IpAddr) -> VhidConfig {
        VhidConfig::new(self.vhid, source)
            .advbase(self.advbase)
            .advskew(self.advskew)
            .preempt(self.preempt)
            .flavor(self.flavor)
            .tie_break(self.tie_break)
    }

    /// The VIPs as `ADDR/PREFIX` strings (status reports, hook environment).
    pub fn vip_strings(&self) -> Vec<String> {
        self.vips.iter().map(Vip::to_string).collect()
    }

    fn validate(&self, index: usize) -> Result<(), ConfigError> {
        let fail = |field: &str, reason| ConfigError::Vhid {
            index,
            name: if self.interface.is_empty() {
                format!("vhid {}", self.vhid)
            } else {
                self.name()
            },
            field: field.to_string(),
            reason,
        };
        check_interface(&self.interface).map_err(|reason| fail("interface", reason))?;
        check_ranges(self.vhid, self.advbase, self.advskew, self.flavor)
            .map_err(|err| fail(err.field(), Reason::Range(err)))?;
        if self.vips.is_empty() {
            return Err(fail("vips", Reason::NoVips));
        }
        for (i, vip) in self.vips.iter().enumerate() {
            vip.check()
                .map_err(|err| fail(&format!("vips[{i}] = \"{vip}\""), Reason::Vip(err)))?;
        }
        if let Some(source) = self.source {
            if source.is_unspecified() || source.is_multicast() {
                return Err(fail("source", Reason::Source(source)));
            }
        }
        for (i, hook) in self.hooks.iter().enumerate() {
            let empty = match &hook.program {
                crate::hooks::HookProgram::Argv(argv) => argv.first().is_none_or(String::is_empty),
                crate::hooks::HookProgram::Shell(script) => script.trim().is_empty(),
            };
            if empty || hook.on.is_empty() {
                let field = if hook.on.is_empty() { "on" } else { "command" };
                return Err(fail(&format!("hook[{i}].{field}"), Reason::Empty));
            }
        }
        Ok(())
    }
}

fn check_interface(name: &str) -> Result<(), Reason> {
    if name.is_empty() {
        return Err(Reason::Empty);
    }
    // IFNAMSIZ is 16 with the NUL; the kernel refuses '/', ':' and spaces.
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace();
    if name.len() > 15 || name.chars().any(bad) {
        return Err(Reason::InterfaceName(name.to_string()));
    }
    Ok(())
}

impl Config {
    /// Builds the configuration from `run`'s flags, or from the `--config`
    /// file with the global flags overriding it. Reads password files.
    pub fn from_args(args: &RunArgs) -> Result<Config, ConfigError> {
        args::build(args)
    }

    /// Reads and parses the TOML file at `path` (at most
    /// [`MAX_CONFIG_BYTES`]); not yet validated.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        use std::io::Read as _;
        let read_error = |error| ConfigError::ReadConfig {
            path: path.to_path_buf(),
            error,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::ConfigTooLarge {
                path: path.to_path_buf(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        Config::from_toml_str(&text, path)
    }

    /// Parses a TOML configuration; `origin` names the file in errors and
    /// anchors relative `password_file` paths.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        file::parse(text, origin).map_err(|error| ConfigError::File {
            path: origin.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// Checks every rule that does not need the system (interfaces are
    /// checked by the daemon).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, vhid) in self.vhids.iter().enumerate() {
            vhid.validate(index)?;
            let first = self.vhids[..index]
                .iter()
                .position(|v| v.vhid == vhid.vhid && v.interface == vhid.interface);
            if let Some(first) = first {
                return Err(ConfigError::Vhid {
                    index,
                    name: vhid.name(),
                    field: "vhid".to_string(),
                    reason: Reason::Duplicate {
                        vhid: vhid.vhid,
                        interface: vhid.interface.clone(),
                        first: first + 1,
                    },
                });
            }
        }
        Ok(())
    }
}

/// Largest password file read: a password is at most 19 bytes, so anything
/// near this is the wrong file (or `/dev/zero`, which would never end).
pub const MAX_PASSWORD_FILE_BYTES: u64 = 4096;

/// The contents of a password file, refusing one larger than
/// [`MAX_PASSWORD_FILE_BYTES`] without reading it all.
pub fn read_password_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PASSWORD_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PASSWORD_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {MAX_PASSWORD_FILE_BYTES} bytes; a CARP password is at most {} bytes",
                crate::proto::MAX_PASSWORD_LEN
            ),
        ));
    }
    Ok(bytes)
}

/// Reads a password file; [`AuthKey::from_password_file`] says which line
/// ending is dropped.
fn read_password_file(path: &Path) -> Result<AuthKey, Reason> {
    let bytes = read_password_bytes(path).map_err(|error| Reason::PasswordFile {
        path: path.to_path_buf(),
        error,
    })?;
    AuthKey::from_password_file(&bytes).map_err(Reason::Password)
}

/// The vhid settings common to flags and file, before checking.
struct VhidInput {
    interface: String,
    vhid: i64,
    advbase: Option<i64>,
    advskew: Option<i64>,
    preempt: bool,
    flavor: FlavorName,
    tie_break: TieBreakName,
    real_mac: bool,
    password: Option<String>,
    password_file: Option<PathBuf>,
    vips: Vec<String>,
    source: Option<IpAddr>,
    hooks: Vec<HookSpec>,
}

impl VhidInput {
    /// Converts the input; `validate` then checks the typed result.
    fn build(self, index: usize) -> Result<VhidSettings, ConfigError> {
        let name = if self.interface.is_empty() {
            format!("vhid {}", self.vhid)
        } else {
            format!("{} vhid {}", self.interface, self.vhid)
        };
        let fail = |field: &str, reason| ConfigError::Vhid {
            index,
            name: name.clone(),
            field: field.to_string(),
            reason,
        };
        let vhid = u8::try_from(self.vhid)
            .ok()
            .filter(|&v| v != 0)
            .ok_or_else(|| fail("vhid", Reason::Range(RangeError::Vhid(self.vhid))))?;
        let byte = |field: &str, value: Option<i64>, default: u8| match value {
            None => Ok(default),
            Some(v) => u8::try_from(v).map_err(|_| fail(field, Reason::ByteRange(v))),
        };
        let advbase = byte("advbase", self.advbase, 1)?;
        let advskew = byte("advskew", self.advskew, 0)?;
        let key = match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => return Err(fail("password", Reason::PasswordBoth)),
            (None, None) => return Err(fail("password", Reason::PasswordMissing)),
            (Some(password), None) => AuthKey::from_password(password.as_bytes())
                .map_err(|err| fail("password", Reason::Password(err)))?,
            (None, Some(path)) => {
                read_password_file(path).map_err(|reason| fail("password_file", reason))?
            }
        };
        let vips = self
            .vips
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let field = || format!("vips[{i}] = {text:?}");
                let (vip, zone) =
                    Vip::parse_zoned(text).map_err(|err| fail(&field(), Reason::Vip(err)))?;
                match zone {
                    Some(zone) if zone != self.interface => Err(fail(
                        &field(),
                        Reason::VipZone {
                            zone: zone.to_string(),
                            interface: self.interface.clone(),
                        },
                    )),
                    _ => Ok(vip),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VhidSettings {
            interface: self.interface,
            vhid,
            advbase,
            advskew,
            preempt: self.preempt,
            flavor: self.flavor.into(),
            tie_break: self.tie_break.into(),
            real_mac: self.real_mac,
            key,
            vips,
            source: self.source,
            hooks: self.hooks,
        })
    }
}
