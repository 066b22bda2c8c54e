//! The agent's configuration: command-line flags for one vhid, or a TOML file
//! for any number.
//!
//! # Flags
//!
//! The FreeBSD line `ifconfig_em0_alias0="inet vhid 1 advskew 100 pass
//! testpass alias 192.168.1.50/32"` becomes
//!
//! ```text
//! carp-agent run --interface em0 --vhid 1 --advskew 100 \
//!     --password-file /etc/carp-agent/vhid1.pass --vip 192.168.1.50/32
//! ```
//!
//! (`--password testpass` works too, but shows in `ps`: the agent warns.)
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
//! xdp_share = "auto"                      # auto | dispatcher | exclusive (libxdp's dispatcher, docs/xdp-coexistence.md)
//! hook_timeout_ms = 30000                 # default 30 s
//! demotion = 0                            # host demotion when persist_dir has none kept
//! persist_dir = "/var/lib/carp-agent"     # default; keeps `demote` across restarts
//! realtime = false                        # SCHED_FIFO 10 and locked memory (--realtime)
//! metrics_listen = "127.0.0.1:9709"       # Prometheus GET /metrics; default: none (--metrics-listen)
//!
//! [[vhid]]
//! interface = "em0"
//! vhid = 1                      # 1..=255, unique per interface (and VLAN)
//! vlan = 100                    # 802.1Q id 1..=4094: tagged frames on this
//!                               # trunk; an interface like "em0.100" needs none
//! advbase = 1                   # seconds; 0 only with flavor = "openbsd"
//! advskew = 100                 # 0..=254, lower wins
//! preempt = false
//! preempt_delay = 0             # seconds after start without preempting (0..=1000)
//! flavor = "freebsd"            # freebsd | openbsd
//! tie_break = "lower-address"   # lower-address | higher-address | yield
//! real_mac = false              # advertise from the NIC's MAC, not the virtual MAC
//! password = "testpass"         # at most 19 bytes; or password_file = "..."
//! vips = ["192.168.1.50/24", "fd00::50/64"]  # prefix optional: /32, /128
//! source = "192.168.1.5"        # advert source; default: the interface's first IPv4
//!
//! [[vhid.hook]]
//! on = ["master"]               # any of "master", "backup", "init", "pre-master"
//! command = ["/usr/local/bin/promote-db", "--now"]  # run directly, no shell
//! timeout_ms = 5000             # this hook's bound; default hook_timeout_ms
//!
//! [[vhid.hook]]
//! on = ["pre-master"]           # waited for before the VIPs are added
//! command = ["/usr/sbin/conntrackd", "-c"]
//! timeout_ms = 3000
//!
//! [[vhid.hook]]
//! on = ["backup", "init"]
//! shell = "logger -t carp \"$CARP_INTERFACE vhid $CARP_VHID: $CARP_STATE ($CARP_REASON)\""
//!
//! [[track]]                     # demote by 240 while eth1 is down
//! name = "uplink"               # unique; `carp-agent status` shows it
//! weight = 240                  # added while failing, 1..=2147483647
//! interface = "eth1"            # or command/shell, file, route
//!
//! [[track]]
//! name = "db"
//! weight = 100
//! command = ["pg_isready", "-q"]  # or shell = "..."
//! interval_ms = 2000            # default 2000
//! timeout_ms = 1000             # default interval_ms; killed with its group
//! fall = 3                      # failures in a row to fail (default 1)
//! rise = 2                      # successes in a row to recover (default 1)
//!
//! [[track]]
//! name = "load"
//! weight = 10                   # share = the file's number x weight
//! file = "/run/load-level"      # one non-negative integer; bad content = 0
//!
//! [[track]]
//! name = "gateway"
//! weight = 240
//! route = "default"             # or "default6", "10.1.0.0/16": main table
//!
//! [[hook]]                      # host-wide hooks: only "demotion"
//! on = ["demotion"]
//! shell = "logger -t carp \"demotion $CARP_PREVIOUS_DEMOTION -> $CARP_DEMOTION\""
//! ```
//!
//! `[[track]]` sources, `persist_dir` and `preempt_delay` are described in
//! `docs/tracking.md` and [`crate::track`]. Tracking sources exist in the
//! TOML file only (no flags); `--persist-dir DIR` and `--preempt-delay
//! SECS` are flags too.
//!
//! Hooks, their environment (`CARP_REASON` and the rest) and what a
//! `pre-master` hook's wait means on the wire are described in
//! `docs/hooks.md`.
//!
//! A relative `password_file` is read relative to the TOML file's directory;
//! one trailing `\n` or `\r\n` is dropped from it, nothing else.
//!
//! # Limits
//!
//! Every file is read with a size limit ([`MAX_CONFIG_BYTES`],
//! [`MAX_PASSWORD_FILE_BYTES`]), so a wrong path such as `/dev/zero` gets an
//! error naming the file and the limit. TOML errors never show the source
//! line, and on a `password` line hide quoted values ([`TomlError`]).
//! Virtual addresses no host can own ([`Unusable`]), a subnet's broadcast
//! address, the same address twice, and a `source` that does not fit the
//! VIPs are refused.
//! The interface's existence is checked by the daemon when it starts.
mod args;
mod error;
mod file;
mod read;
mod toml_error;
mod vip;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

pub use args::RunArgs;
pub use error::{ConfigError, Reason};
pub use read::{ReadError, read_bounded};
pub use toml_error::TomlError;
pub use vip::{Unusable, Vip, VipError};

use crate::{
    dataplane::{AttachMode, share::XdpShare},
    engine::{Flavor, RangeError, TieBreak, VhidConfig, check_ranges},
    hooks::HookSpec,
    node::ReplayProtection,
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
/// Largest password file read: far more than a CARP password (19 bytes) and
/// its line ending, so a somewhat longer file still gets the password's own
/// length error; a larger one is surely the wrong file.
pub const MAX_PASSWORD_FILE_BYTES: u64 = 1024;
/// Default bound on one hook run.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// Default directory for what must survive a reboot (the demotion set with
/// `carp-agent demote`); `state_dir` is under /run, which does not.
pub const DEFAULT_PERSIST_DIR: &str = "/var/lib/carp-agent";
/// Longest `preempt_delay`, keepalived's bound.
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);

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
    /// Sharing the XDP slot through libxdp's dispatcher (`--xdp-share`,
    /// `xdp_share`; see [`crate::dataplane::share`]).
    pub xdp_share: XdpShare,
    pub hook_timeout: Duration,
    /// Initial host demotion (`net.inet.carp.demotion`).
    pub demotion: u32,
    /// Real-time scheduling and locked memory for the agent
    /// (`--realtime`, `realtime = true`; see [`crate::realtime`]).
    pub realtime: bool,
    /// `[[track]]` sources (TOML only).
    pub tracks: Vec<crate::track::TrackSpec>,
    /// Where the demotion is kept across restarts and reboots
    /// (`<persist_dir>/demotion`, see [`crate::track::persist`]).
    pub persist_dir: PathBuf,
    /// Where to serve Prometheus metrics (`--metrics-listen`,
    /// `metrics_listen =`); `None`: no metrics listener (see [`crate::metrics`]).
    pub metrics_listen: Option<SocketAddr>,
    /// Run when the host demotion changes (`[[hook]]` with `on =
    /// ["demotion"]`, `--demotion-script`).
    pub demotion_hooks: Vec<crate::hooks::HostHook>,
}

/// One vhid on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhidSettings {
    pub interface: String,
    /// The 802.1Q VLAN the election runs on, tagged on `interface` (a
    /// trunk); `None`: untagged, or the VLAN of a VLAN device `interface`.
    pub vlan: Option<u16>,
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
    pub preempt: bool,
    pub flavor: Flavor,
    /// Which of two equal masters stays MASTER.
    pub tie_break: TieBreak,
    /// How strictly peers' counters are checked (`node::replay`).
    pub replay_protection: ReplayProtection,
    /// Send adverts from the NIC's own MAC instead of the virtual MAC.
    pub real_mac: bool,
    pub key: AuthKey,
    pub vips: Vec<Vip>,
    /// Advert source; `None`: the interface's first IPv4 address.
    pub source: Option<IpAddr>,
    pub hooks: Vec<HookSpec>,
    /// For this long after the vhid starts it does not preempt a master
    /// (keepalived's `preempt_delay`; master-down still applies).
    pub preempt_delay: Duration,
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

/// `--replay-protection` / `replay_protection =`: how strictly peers'
/// advert counters are checked against replays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayProtectionName {
    /// carp-agent peers strictly, BSD and ucarp peers as far as their
    /// counters allow.
    #[default]
    Auto,
    /// Only carp-agent peers: every advert must carry a sealed counter.
    Strict,
    /// No checks, as the BSDs and ucarp do.
    Off,
}

impl From<ReplayProtectionName> for ReplayProtection {
    fn from(name: ReplayProtectionName) -> ReplayProtection {
        match name {
            ReplayProtectionName::Auto => ReplayProtection::Auto,
            ReplayProtectionName::Strict => ReplayProtection::Strict,
            ReplayProtectionName::Off => ReplayProtection::Off,
        }
    }
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
        match self.vlan {
            Some(vlan) => format!("{} vlan {vlan} vhid {}", self.interface, self.vhid),
            None => format!("{} vhid {}", self.interface, self.vhid),
        }
    }

    /// The engine's view, once the daemon knows the source address.
    pub fn engine_config(&self, source: IpAddr) -> VhidConfig {
        VhidConfig::new(self.vhid, source)
            .advbase(self.advbase)
            .advskew(self.advskew)
            .preempt(self.preempt)
            .flavor(self.flavor)
            .tie_break(self.tie_break)
            .preempt_delay(self.preempt_delay)
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
        let mut seen = HashMap::new();
        for (i, vip) in self.vips.iter().enumerate() {
            let field = || format!("vips[{i}] = \"{vip}\"");
            vip.check()
                .map_err(|err| fail(&field(), Reason::Vip(err)))?;
            if let Some(j) = seen.insert(vip.addr, i) {
                let first = format!("vips[{j}] = \"{}\"", self.vips[j]);
                return Err(fail(
                    &field(),
                    Reason::VipDuplicate {
                        addr: vip.addr,
                        first,
                    },
                ));
            }
        }
        if let Some(source) = self.source {
            self.check_source(source)
                .map_err(|reason| fail("source", reason))?;
        }
        for (i, hook) in self.hooks.iter().enumerate() {
            let empty = match &hook.program {
                crate::hooks::HookProgram::Argv(argv) => argv.first().is_none_or(String::is_empty),
                crate::hooks::HookProgram::Shell(script) => script.trim().is_empty(),
            };
            let no_trigger = hook.on.is_empty() && !hook.pre_master;
            if empty || no_trigger {
                let field = if no_trigger { "on" } else { "command" };
                return Err(fail(&format!("hook[{i}].{field}"), Reason::Empty));
            }
        }
        Ok(())
    }
}

impl VhidSettings {
    /// `source` is only the IPv4 advert source (see `daemon::vhid_runtime`).
    fn check_source(&self, source: IpAddr) -> Result<(), Reason> {
        if Unusable::of(source).is_some() {
            return Err(Reason::Source(source));
        }
        if source.is_ipv6() {
            return Err(Reason::SourceV6(source));
        }
        if !self.vips.iter().any(|v| v.addr.is_ipv4()) {
            return Err(Reason::SourceUnused(source));
        }
        if self.vips.iter().any(|v| v.addr == source) {
            return Err(Reason::SourceIsVip(source));
        }
        Ok(())
    }
}

/// Whether two vhids may not both have `addr`: on one interface never; on
/// two, unless it is an IPv6 link-local address (scoped to its interface).
fn clashes(addr: IpAddr, a: &VhidSettings, b: &VhidSettings) -> bool {
    let link_local = matches!(addr, IpAddr::V6(v6) if v6.is_unicast_link_local());
    a.interface == b.interface || !link_local
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
    /// [`MAX_CONFIG_BYTES`], checked before parsing); not yet validated.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let bytes = read_bounded(path, MAX_CONFIG_BYTES).map_err(|error| match error {
            ReadError::TooLarge { limit } => ConfigError::ConfigTooLarge {
                path: path.to_path_buf(),
                limit,
            },
            ReadError::Io(error) => ConfigError::ReadConfig {
                path: path.to_path_buf(),
                error,
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::ReadConfig {
            path: path.to_path_buf(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
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
        // First [[vhid]] of each (interface, vhid), and every vhid holding
        // each address with the VIP's index: maps, so a file of thousands
        // of vhids is checked in linear time.
        let mut vhids: HashMap<(&str, Option<u16>, u8), usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, Vec<(usize, usize)>> = HashMap::new();
        for (index, vhid) in self.vhids.iter().enumerate() {
            vhid.validate(index)?;
            let fail = |field: String, reason| ConfigError::Vhid {
                index,
                name: vhid.name(),
                field,
                reason,
            };
            if let Some(first) = vhids.insert((&vhid.interface, vhid.vlan, vhid.vhid), index) {
                let reason = Reason::Duplicate {
                    vhid: vhid.vhid,
                    interface: match vhid.vlan {
                        Some(vlan) => format!("{} vlan {vlan}", vhid.interface),
                        None => vhid.interface.clone(),
                    },
                    first: first + 1,
                };
                return Err(fail("vhid".to_string(), reason));
            }
            for (i, vip) in vhid.vips.iter().enumerate() {
                let holders = addresses.entry(vip.addr).or_default();
                let clash = holders
                    .iter()
                    .find(|&&(other, _)| clashes(vip.addr, vhid, &self.vhids[other]));
                if let Some(&(other_index, j)) = clash {
                    let other = &self.vhids[other_index];
                    let reason = Reason::VipDuplicate {
                        addr: vip.addr,
                        first: format!(
                            "vips[{j}] = \"{}\" of {} ([[vhid]] #{})",
                            other.vips[j],
                            other.name(),
                            other_index + 1
                        ),
                    };
                    return Err(fail(format!("vips[{i}] = \"{vip}\""), reason));
                }
                holders.push((index, i));
            }
        }
        Ok(())
    }
}

/// Reads a password file; [`AuthKey::from_password_file`] says which line
/// ending is dropped.
fn read_password_file(path: &Path) -> Result<AuthKey, Reason> {
    let bytes = read_bounded(path, MAX_PASSWORD_FILE_BYTES).map_err(|error| match error {
        ReadError::TooLarge { limit } => Reason::PasswordFileTooLarge {
            path: path.to_path_buf(),
            limit,
        },
        ReadError::Io(error) => Reason::PasswordFile {
            path: path.to_path_buf(),
            error,
        },
    })?;
    AuthKey::from_password_file(&bytes).map_err(Reason::Password)
}

/// The vhid settings common to flags and file, before checking.
struct VhidInput {
    interface: String,
    vlan: Option<i64>,
    vhid: i64,
    advbase: Option<i64>,
    advskew: Option<i64>,
    preempt: bool,
    flavor: FlavorName,
    tie_break: TieBreakName,
    replay_protection: ReplayProtectionName,
    real_mac: bool,
    password: Option<String>,
    password_file: Option<PathBuf>,
    vips: Vec<String>,
    source: Option<IpAddr>,
    hooks: Vec<HookSpec>,
    /// Seconds.
    preempt_delay: Option<i64>,
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
        let vlan = match self.vlan {
            None => None,
            Some(id) => Some(
                u16::try_from(id)
                    .ok()
                    .filter(|v| (1..=carp_common::VLAN_MAX).contains(v))
                    .ok_or_else(|| fail("vlan", Reason::Vlan(id)))?,
            ),
        };
        let advbase = byte("advbase", self.advbase, 1)?;
        let advskew = byte("advskew", self.advskew, 0)?;
        let preempt_delay = match self.preempt_delay {
            None => Duration::ZERO,
            Some(secs) => u64::try_from(secs)
                .ok()
                .map(Duration::from_secs)
                .filter(|d| *d <= MAX_PREEMPT_DELAY)
                .ok_or_else(|| fail("preempt_delay", Reason::PreemptDelay(secs)))?,
        };
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
            vlan,
            vhid,
            advbase,
            advskew,
            preempt: self.preempt,
            flavor: self.flavor.into(),
            tie_break: self.tie_break.into(),
            replay_protection: self.replay_protection.into(),
            real_mac: self.real_mac,
            key,
            vips,
            source: self.source,
            hooks: self.hooks,
            preempt_delay,
        })
    }
}
