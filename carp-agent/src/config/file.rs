//! The TOML file layout (documented in the module above) and its conversion.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use clap::ValueEnum as _;
use serde::Deserialize;

use super::{
    Config, ConfigError, DEFAULT_BPFFS, DEFAULT_CONTROL_SOCKET, DEFAULT_HOOK_TIMEOUT,
    DEFAULT_PERSIST_DIR, DEFAULT_STATE_DIR, FlavorName, Reason, ReplayProtectionName, TieBreakName,
    TomlError, VhidInput,
};
use crate::{
    dataplane::{AttachMode, share::XdpShare},
    engine::State,
    hooks::{HookProgram, HookSpec, HostHook},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    control_socket: Option<PathBuf>,
    bpffs: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    xdp_mode: Option<String>,
    xdp_share: Option<String>,
    hook_timeout_ms: Option<u64>,
    #[serde(default)]
    demotion: u32,
    #[serde(default)]
    realtime: bool,
    metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    vhid: Vec<FileVhid>,
    persist_dir: Option<PathBuf>,
    #[serde(default)]
    track: Vec<crate::track::FileTrack>,
    /// Host-wide hooks (`on = ["demotion"]`).
    #[serde(default)]
    hook: Vec<FileHook>,
}

/// Numbers are read as i64 so that out-of-range values get this module's
/// error, which names the vhid, rather than a bare type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVhid {
    interface: String,
    vhid: i64,
    advbase: Option<i64>,
    advskew: Option<i64>,
    #[serde(default)]
    preempt: bool,
    #[serde(default)]
    flavor: FlavorName,
    #[serde(default)]
    tie_break: TieBreakName,
    #[serde(default)]
    replay_protection: ReplayProtectionName,
    #[serde(default)]
    real_mac: bool,
    password: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(default)]
    vips: Vec<String>,
    source: Option<IpAddr>,
    vlan: Option<i64>,
    #[serde(default)]
    hook: Vec<FileHook>,
    preempt_delay: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHook {
    on: Vec<HookOn>,
    command: Option<Vec<String>>,
    shell: Option<String>,
    timeout_ms: Option<u64>,
}

/// What a hook runs on: a vhid's state, the wait before MASTER, or (for a
/// top-level `[[hook]]`) a demotion change.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum HookOn {
    Master,
    Backup,
    Init,
    PreMaster,
    Demotion,
}

impl HookOn {
    fn state(self) -> Option<State> {
        match self {
            HookOn::Master => Some(State::Master),
            HookOn::Backup => Some(State::Backup),
            HookOn::Init => Some(State::Init),
            HookOn::PreMaster | HookOn::Demotion => None,
        }
    }
}

impl FileHook {
    /// The program and the timeout; `field` names the hook in errors.
    fn program(
        &mut self,
        fail: impl Fn(Reason) -> ConfigError,
    ) -> Result<(HookProgram, Option<Duration>), ConfigError> {
        let program = match (self.command.take(), self.shell.take()) {
            (Some(argv), None) => HookProgram::Argv(argv),
            (None, Some(script)) => HookProgram::Shell(script),
            (both, _) => {
                return Err(fail(if both.is_some() {
                    Reason::HookBoth
                } else {
                    Reason::HookMissing
                }));
            }
        };
        let timeout = match self.timeout_ms {
            Some(0) => return Err(fail(Reason::HookTimeout)),
            ms => ms.map(Duration::from_millis),
        };
        Ok((program, timeout))
    }
}

/// The top-level `[[hook]]` entries: demotion hooks only.
fn host_hooks(hooks: Vec<FileHook>) -> Result<Vec<HostHook>, ConfigError> {
    hooks
        .into_iter()
        .enumerate()
        .map(|(i, mut hook)| {
            let fail = |reason| ConfigError::Global {
                field: format!("hook[{i}]"),
                reason,
            };
            if hook.on.is_empty() || hook.on.iter().any(|on| *on != HookOn::Demotion) {
                return Err(fail(Reason::HostHookOn));
            }
            let (program, timeout) = hook.program(fail)?;
            Ok(HostHook { program, timeout })
        })
        .collect()
}

/// Errors come back without the file name; the caller adds it.
pub(super) fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let file: FileConfig =
        toml::from_str(text).map_err(|e| ConfigError::Toml(TomlError::new(&e, text)))?;
    let xdp_mode = match &file.xdp_mode {
        None => AttachMode::default(),
        Some(name) => AttachMode::from_str(name, false).map_err(|_| ConfigError::Global {
            field: "xdp_mode".to_string(),
            reason: Reason::XdpMode(name.clone()),
        })?,
    };
    let xdp_share = match &file.xdp_share {
        None => XdpShare::default(),
        Some(name) => XdpShare::from_str(name, false).map_err(|_| ConfigError::Global {
            field: "xdp_share".to_string(),
            reason: Reason::XdpShare(name.clone()),
        })?,
    };
    let base = origin.parent().unwrap_or(Path::new("."));
    let vhids = file
        .vhid
        .into_iter()
        .enumerate()
        .map(|(index, v)| vhid_input(v, index, base)?.build(index))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        vhids,
        control_socket: file
            .control_socket
            .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()),
        bpffs: file.bpffs.unwrap_or_else(|| DEFAULT_BPFFS.into()),
        state_dir: file.state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
        xdp_mode,
        xdp_share,
        hook_timeout: file
            .hook_timeout_ms
            .map_or(DEFAULT_HOOK_TIMEOUT, Duration::from_millis),
        demotion: file.demotion,
        realtime: file.realtime,
        tracks: crate::track::spec::from_file(file.track, base)?,
        persist_dir: file
            .persist_dir
            .unwrap_or_else(|| DEFAULT_PERSIST_DIR.into()),
        metrics_listen: file.metrics_listen,
        demotion_hooks: host_hooks(file.hook)?,
    };
    if config.vhids.is_empty() {
        return Err(ConfigError::Global {
            field: "[[vhid]]".to_string(),
            reason: Reason::Empty,
        });
    }
    if config.hook_timeout.is_zero() {
        return Err(ConfigError::Global {
            field: "hook_timeout_ms".to_string(),
            reason: Reason::Empty,
        });
    }
    config.validate()?;
    Ok(config)
}

fn vhid_input(v: FileVhid, index: usize, base: &Path) -> Result<VhidInput, ConfigError> {
    let hooks = v
        .hook
        .into_iter()
        .enumerate()
        .map(|(i, mut hook)| {
            let fail = |reason| ConfigError::Vhid {
                index,
                name: format!("{} vhid {}", v.interface, v.vhid),
                field: format!("hook[{i}]"),
                reason,
            };
            if hook.on.contains(&HookOn::Demotion) {
                return Err(fail(Reason::DemotionHookInVhid));
            }
            let (program, timeout) = hook.program(fail)?;
            let on = hook.on.iter().filter_map(|on| on.state()).collect();
            let pre_master = hook.on.contains(&HookOn::PreMaster);
            Ok(HookSpec {
                on,
                pre_master,
                program,
                timeout,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VhidInput {
        interface: v.interface,
        vhid: v.vhid,
        advbase: v.advbase,
        advskew: v.advskew,
        preempt: v.preempt,
        flavor: v.flavor,
        tie_break: v.tie_break,
        replay_protection: v.replay_protection,
        real_mac: v.real_mac,
        password: v.password,
        password_file: v.password_file.map(|path| base.join(path)),
        vips: v.vips,
        source: v.source,
        vlan: v.vlan,
        hooks,
        preempt_delay: v.preempt_delay,
    })
}
