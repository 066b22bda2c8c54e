//! `carp-agent run`'s flags.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
};

use super::{
    Config, ConfigError, DEFAULT_BPFFS, DEFAULT_CONTROL_SOCKET, DEFAULT_HOOK_TIMEOUT,
    DEFAULT_PERSIST_DIR, DEFAULT_STATE_DIR, FlavorName, ReplayProtectionName, TieBreakName,
    VhidInput,
};
use crate::{
    dataplane::{AttachMode, share::XdpShare},
    engine::State,
    hooks::{HookProgram, HookSpec, HostHook},
};

/// The single-vhid flags, which `--config` replaces.
const VHID_FLAGS: [&str; 18] = [
    "interface",
    "vlan",
    "vhid",
    "password",
    "password_file",
    "vips",
    "advbase",
    "advskew",
    "preempt",
    "flavor",
    "tie_break",
    "replay_protection",
    "real_mac",
    "source",
    "up_script",
    "down_script",
    "preempt_delay",
    "pre_master_script",
];

/// Run the agent: one vhid from flags, or any number from `--config FILE`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// TOML configuration file (see examples/carp.toml); replaces the
    /// single-vhid flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = VHID_FLAGS)]
    pub config: Option<PathBuf>,
    /// Interface carrying the vhid (e.g. eth0).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Virtual host id, 1..=255.
    #[arg(long, value_name = "N")]
    pub vhid: Option<u32>,
    /// Shared password (at most 19 bytes). Visible to every local user in
    /// `ps`: prefer --password-file (kept for ucarp users; warns at start).
    #[arg(long, conflicts_with = "password_file")]
    pub password: Option<String>,
    /// Read the password from FILE (one trailing \n or \r\n is dropped).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Virtual address ADDR[/PREFIX] (default /32 or /128; an IPv6 link-local
    /// ADDR may carry %IF, the vhid's interface); repeat for each.
    #[arg(long = "vip", value_name = "ADDR[/PREFIX]")]
    pub vips: Vec<String>,
    /// Advertisement interval in seconds [default: 1].
    #[arg(long)]
    pub advbase: Option<u8>,
    /// Skew in 1/256 s, 0..=254; lower wins [default: 0].
    #[arg(long)]
    pub advskew: Option<u8>,
    /// Take over from a less preferred master.
    #[arg(long)]
    pub preempt: bool,
    /// Election semantics of the peers [default: freebsd].
    #[arg(long, value_enum)]
    pub flavor: Option<FlavorName>,
    /// Which of two equal masters (same advbase, advskew, demote) stays
    /// MASTER [default: lower-address]. An equal master is never preempted.
    #[arg(long, value_enum)]
    pub tie_break: Option<TieBreakName>,
    /// How strictly peers' advert counters are checked against replays
    /// [default: auto]: `strict` when every peer is carp-agent, `off` to
    /// accept what the BSDs and ucarp accept.
    #[arg(long, value_enum)]
    pub replay_protection: Option<ReplayProtectionName>,
    /// Send adverts from the NIC's MAC instead of the virtual MAC.
    #[arg(long)]
    pub real_mac: bool,
    /// Control socket [default: /run/carp-agent.sock].
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// bpffs mount point for the pinned maps [default: /sys/fs/bpf].
    #[arg(long, value_name = "PATH")]
    pub bpffs: Option<PathBuf>,
    /// Directory for the lock that keeps a second agent off the same bpffs
    /// [default: /run/carp-agent].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// XDP attach mode [default: auto].
    #[arg(long, value_enum)]
    pub xdp_mode: Option<AttachMode>,
    /// Sharing the interface with other XDP programs through libxdp's
    /// dispatcher [default: auto].
    #[arg(long, value_enum)]
    pub xdp_share: Option<XdpShare>,
    /// Run the election on 802.1Q VLAN ID, tagged on the interface (a
    /// trunk). Not needed for a VLAN device such as eth0.100.
    #[arg(long, value_name = "ID")]
    pub vlan: Option<u16>,
    /// Advert source address [default: the interface's first IPv4 address].
    #[arg(long, value_name = "ADDR")]
    pub source: Option<IpAddr>,
    /// Run PROGRAM on becoming MASTER (like ucarp's --upscript).
    #[arg(long = "up-script", value_name = "PROGRAM")]
    pub up_script: Option<PathBuf>,
    /// Run PROGRAM on entering BACKUP or INIT (like ucarp's --downscript,
    /// also at start-up); CARP_PREVIOUS_STATE tells which.
    #[arg(long = "down-script", value_name = "PROGRAM")]
    pub down_script: Option<PathBuf>,
    /// Run PROGRAM when the vhid becomes MASTER and wait for it (at most
    /// the hook timeout) before adding the VIPs and answering for them,
    /// e.g. `conntrackd -c`; CARP_REASON says why.
    #[arg(long = "pre-master-script", value_name = "PROGRAM")]
    pub pre_master_script: Option<PathBuf>,
    /// Run PROGRAM whenever the host demotion changes, with CARP_DEMOTION
    /// and CARP_PREVIOUS_DEMOTION; added to the file's demotion hooks.
    #[arg(long = "demotion-script", value_name = "PROGRAM")]
    pub demotion_script: Option<PathBuf>,
    /// Run at real-time priority (SCHED_FIFO 10) with all memory locked, so
    /// a busy host still answers in time; what cannot be had is a warning.
    #[arg(long)]
    pub realtime: bool,
    /// For SECS after start, do not preempt a master (keepalived's
    /// preempt_delay, 0..=1000); taking over a silent master is not delayed
    /// [default: 0].
    #[arg(long, value_name = "SECS")]
    pub preempt_delay: Option<u32>,
    /// Directory keeping the demotion set with `demote` across restarts and
    /// reboots [default: /var/lib/carp-agent].
    #[arg(long, value_name = "DIR")]
    pub persist_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics (ADDR is IP:PORT,
    /// e.g. 127.0.0.1:9709; IPv6 in brackets) [default: no metrics listener].
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl RunArgs {
    /// The single-vhid flags given, by name (for the --config conflict).
    fn vhid_flags_given(&self) -> Vec<&'static str> {
        let given = [
            ("--interface", self.interface.is_some()),
            ("--vhid", self.vhid.is_some()),
            ("--password", self.password.is_some()),
            ("--password-file", self.password_file.is_some()),
            ("--vip", !self.vips.is_empty()),
            ("--advbase", self.advbase.is_some()),
            ("--advskew", self.advskew.is_some()),
            ("--preempt", self.preempt),
            ("--flavor", self.flavor.is_some()),
            ("--tie-break", self.tie_break.is_some()),
            ("--replay-protection", self.replay_protection.is_some()),
            ("--real-mac", self.real_mac),
            ("--source", self.source.is_some()),
            ("--vlan", self.vlan.is_some()),
            ("--up-script", self.up_script.is_some()),
            ("--down-script", self.down_script.is_some()),
            ("--preempt-delay", self.preempt_delay.is_some()),
            ("--pre-master-script", self.pre_master_script.is_some()),
        ];
        given
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect()
    }

    fn hooks(&self) -> Vec<HookSpec> {
        let script = |path: &PathBuf, on: Vec<State>| HookSpec {
            on,
            pre_master: false,
            program: HookProgram::Argv(vec![path.to_string_lossy().into_owned()]),
            timeout: None,
        };
        let up = self
            .up_script
            .iter()
            .map(|p| script(p, vec![State::Master]));
        let down = self
            .down_script
            .iter()
            .map(|p| script(p, vec![State::Backup, State::Init]));
        let pre_master = self.pre_master_script.iter().map(|p| HookSpec {
            pre_master: true,
            ..script(p, Vec::new())
        });
        up.chain(down).chain(pre_master).collect()
    }
}

pub(super) fn build(args: &RunArgs) -> Result<Config, ConfigError> {
    let mut config = match &args.config {
        Some(path) => {
            let given = args.vhid_flags_given();
            if !given.is_empty() {
                return Err(ConfigError::Usage(format!(
                    "--config cannot be combined with {}: put them in the file",
                    given.join(", ")
                )));
            }
            Config::from_file(path)?
        }
        None => from_flags(args)?,
    };
    // Global flags override the file.
    if let Some(path) = &args.control_socket {
        config.control_socket = path.clone();
    }
    if let Some(path) = &args.bpffs {
        config.bpffs = path.clone();
    }
    if let Some(dir) = &args.state_dir {
        config.state_dir = dir.clone();
    }
    if let Some(mode) = args.xdp_mode {
        config.xdp_mode = mode;
    }
    if let Some(share) = args.xdp_share {
        config.xdp_share = share;
    }
    config.realtime |= args.realtime;
    if let Some(dir) = &args.persist_dir {
        config.persist_dir = dir.clone();
    }
    if let Some(addr) = args.metrics_listen {
        config.metrics_listen = Some(addr);
    }
    if let Some(path) = &args.demotion_script {
        config.demotion_hooks.push(HostHook {
            program: HookProgram::Argv(vec![path.to_string_lossy().into_owned()]),
            timeout: None,
        });
    }
    config.validate()?;
    Ok(config)
}

fn from_flags(args: &RunArgs) -> Result<Config, ConfigError> {
    let (Some(interface), Some(vhid)) = (&args.interface, args.vhid) else {
        return Err(ConfigError::Usage(
            "give --interface IF and --vhid N (and --password-file, --vip), or --config FILE"
                .to_string(),
        ));
    };
    let input = VhidInput {
        interface: interface.clone(),
        vhid: i64::from(vhid),
        advbase: args.advbase.map(i64::from),
        advskew: args.advskew.map(i64::from),
        preempt: args.preempt,
        flavor: args.flavor.unwrap_or_default(),
        tie_break: args.tie_break.unwrap_or_default(),
        replay_protection: args.replay_protection.unwrap_or_default(),
        real_mac: args.real_mac,
        password: args.password.clone(),
        password_file: args.password_file.clone(),
        vips: args.vips.clone(),
        source: args.source,
        vlan: args.vlan.map(i64::from),
        hooks: args.hooks(),
        preempt_delay: args.preempt_delay.map(i64::from),
    };
    Ok(Config {
        vhids: vec![input.build(0)?],
        control_socket: DEFAULT_CONTROL_SOCKET.into(),
        bpffs: DEFAULT_BPFFS.into(),
        state_dir: DEFAULT_STATE_DIR.into(),
        xdp_mode: AttachMode::default(),
        xdp_share: XdpShare::default(),
        hook_timeout: DEFAULT_HOOK_TIMEOUT,
        demotion: 0,
        realtime: false,
        tracks: Vec::new(),
        persist_dir: DEFAULT_PERSIST_DIR.into(),
        metrics_listen: None,
        demotion_hooks: Vec::new(),
    })
}
