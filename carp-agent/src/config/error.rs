//! Configuration errors: each names where (file, `[[vhid]]` table, vhid),
//! which field, and why.

use std::{fmt, net::IpAddr, path::PathBuf};

use super::{toml_error::TomlError, vip::VipError};
use crate::{engine::RangeError, proto::PasswordError};

/// A configuration the agent refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An error found in a TOML file.
    #[error("{}: {}", path.display(), InFile(error))]
    File {
        path: PathBuf,
        error: Box<ConfigError>,
    },
    #[error("cannot read config file {}: {error}", path.display())]
    ReadConfig {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A configuration file larger than any real one: refused unread.
    #[error("config file {} is larger than {limit} bytes; is it the right file?", path.display())]
    ConfigTooLarge { path: PathBuf, limit: u64 },
    /// Syntax, a wrong type, a missing or unknown key: the toml crate's
    /// message with line and column, never the source line (see
    /// [`TomlError`]).
    #[error("{0}")]
    Toml(TomlError),
    /// Command-line flags that do not go together.
    #[error("{0}")]
    Usage(String),
    /// A top-level setting.
    #[error("{field}: {reason}")]
    Global { field: String, reason: Reason },
    /// A setting of one vhid.
    #[error("{name}: {field}: {reason}")]
    Vhid {
        /// Position among the vhids (the `[[vhid]]` table, 0-based).
        index: usize,
        /// `eth0 vhid 1`, or `vhid 1` while the interface is unknown.
        name: String,
        field: String,
        reason: Reason,
    },
    /// A `[[track]]` table.
    #[error(transparent)]
    Track(#[from] crate::track::TrackConfigError),
}

/// Prefixes a vhid error with its `[[vhid]]` table number inside a file.
struct InFile<'a>(&'a ConfigError);

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ConfigError::Vhid { index, .. } = self.0 {
            write!(f, "[[vhid]] #{}: ", index + 1)?;
        }
        write!(f, "{}", self.0)
    }
}

/// Why a field is refused.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// vhid, advbase or advskew outside what carp(4) accepts (the rules
    /// are the engine's).
    #[error(transparent)]
    Range(RangeError),
    #[error("{0} is out of range 0..=255")]
    ByteRange(i64),
    #[error(transparent)]
    Password(PasswordError),
    #[error("give password or password_file, not both")]
    PasswordBoth,
    #[error("missing: give password or password_file (an empty password is password = \"\")")]
    PasswordMissing,
    #[error("cannot read {}: {error}", path.display())]
    PasswordFile {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A password file larger than any password: refused, never parsed.
    #[error(
        "{} is larger than {limit} bytes (a CARP password is at most 19); is it the right file?",
        path.display()
    )]
    PasswordFileTooLarge { path: PathBuf, limit: u64 },
    #[error(transparent)]
    Vip(VipError),
    #[error("zone %{zone} is not the vhid's interface {interface}")]
    VipZone { zone: String, interface: String },
    #[error("at least one virtual address is required")]
    NoVips,
    #[error("must not be empty")]
    Empty,
    #[error("{0:?} is not a Linux interface name (1 to 15 bytes, no '/', ':' or whitespace)")]
    InterfaceName(String),
    #[error("vhid {vhid} on {interface} is already configured by [[vhid]] #{first}")]
    Duplicate {
        vhid: u8,
        interface: String,
        first: usize,
    },
    #[error("{0} is not an 802.1Q VLAN id (1..=4094)")]
    Vlan(i64),
    #[error("{0} cannot send adverts; give a unicast address of this host")]
    Source(IpAddr),
    /// IPv6 adverts always leave from the interface's link-local address.
    #[error(
        "{0} is IPv6, but `source` sets the IPv4 advert source only (IPv6 adverts are sent from \
         the interface's link-local address)"
    )]
    SourceV6(IpAddr),
    #[error(
        "{0} would never be used: the vhid has no IPv4 virtual address, so sends no IPv4 adverts"
    )]
    SourceUnused(IpAddr),
    /// A BACKUP still sends nothing, but a MASTER's adverts must come from an
    /// address that stays when the vhid moves away.
    #[error("{0} is one of the vhid's virtual addresses; give an address the host keeps")]
    SourceIsVip(IpAddr),
    /// The same address twice: the kernel holds an address once per
    /// interface, whatever its prefix, and two vhids cannot both own it.
    #[error("{addr} is already {first}; each virtual address belongs to one vhid, with one prefix")]
    VipDuplicate { addr: IpAddr, first: String },
    #[error("{0:?} is not an XDP mode (auto, native, skb)")]
    XdpMode(String),
    #[error("{0:?} is not an XDP sharing setting (auto, dispatcher, exclusive)")]
    XdpShare(String),
    #[error(
        "{0} is out of range 0..={max} seconds",
        max = super::MAX_PREEMPT_DELAY.as_secs()
    )]
    PreemptDelay(i64),
    #[error("give command or shell, not both")]
    HookBoth,
    #[error("give command = [\"program\", \"arg\", ...] or shell = \"script\"")]
    HookMissing,
    #[error("timeout_ms must be at least 1")]
    HookTimeout,
    #[error(
        "a top-level [[hook]] runs on host events only: on = [\"demotion\"] (state hooks go \
         in [[vhid.hook]])"
    )]
    HostHookOn,
    #[error(
        "\"demotion\" is a host-wide event: put this hook in a top-level [[hook]], not in \
         [[vhid.hook]]"
    )]
    DemotionHookInVhid,
}
