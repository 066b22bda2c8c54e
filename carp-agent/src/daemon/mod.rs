//! `carp-agent run`: wires the election engine to the XDP dataplane, the
//! network (AF_PACKET sender, netlink addresses and links), the control
//! socket and the hooks. One task owns all of it, so nothing needs a lock:
//! every input (advert, timer, link event, control request, signal) is
//! handled to completion, then the engine's actions are carried out in order,
//! the map update first.
mod actions;
mod counters;
mod instance;
mod status;
mod systemd;
mod vhid_runtime;
mod watch;

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    time::{Duration, Instant, SystemTime},
};

use anyhow::Context as _;
use carp_common::{VipEntry, VipKey};
pub use counters::AgentCounters;
use instance::Instance;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};
use tracing::{info, warn};
use vhid_runtime::VhidRuntime;

use crate::{
    config::Config,
    control::{self, Request, Response},
    dataplane::{AdvertReader, Dataplane, ReceivedAdvert},
    engine::{Iface, Time},
    hooks::HookRunner,
    net::{
        FrameSender, Interface, LinkEvent, Netlink,
        membership::{Families, Memberships},
    },
    node::{Clock, Node, Received},
    service::notify,
};

/// Adverts read from the ring buffer before a timer is handled, at most: a
/// flood must not keep a MASTER from advertising.
const DRAIN_BEFORE_TIMER: usize = 4096;

/// Everything the event loop owns.
pub(crate) struct Daemon {
    config: Config,
    /// The protocol: election, HMAC, replay checks, announce schedule.
    node: Node,
    dataplane: Dataplane,
    netlink: Netlink,
    senders: HashMap<u32, FrameSender>,
    interfaces: BTreeMap<u32, Interface>,
    vhids: BTreeMap<crate::engine::VhidKey, VhidRuntime>,
    hooks: HookRunner,
    counters: AgentCounters,
    /// The single-instance locks and what to put back on exit
    /// (`arp_announce`, promiscuous mode), recorded outside the process.
    instance: Instance,
    /// IPv6 forwarding per interface, VRRP routers using our ids.
    watch: watch::Watch,
    /// The CARP groups joined on each vhid interface, left on exit.
    memberships: Memberships,
}

/// Runs the agent until SIGTERM/SIGINT; then bows out, withdraws the VIPs,
/// detaches XDP and removes its pins.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // First of all, before anything on the system changes: from here on a
    // SIGTERM/SIGINT waits in its stream until start-up is done and then
    // shuts down cleanly (pins, XDP, sysctls put back) instead of killing a
    // half-started agent. SIGHUP's default action would kill the agent too.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // Before anything is touched: a second agent on the same bpffs or
    // control socket must fail here, having changed nothing.
    let instance = Instance::acquire(&config)?;
    let (netlink, mut link_events) = Netlink::open().context("opening netlink")?;
    let mut daemon = Daemon::start(config, netlink, instance).await?;
    let mut adverts = daemon.dataplane.take_advert_reader()?;
    let (control_tx, mut control_rx) = mpsc::channel::<control::server::Call>(16);
    let control_path = daemon.config.control_socket.clone();
    let control_task = control::server::serve(&control_path, control_tx)
        .await
        .with_context(|| format!("control socket {}", control_path.display()))?;
    info!(
        "carp-agent running: {} vhid(s), control socket {}",
        daemon.vhids.len(),
        control_path.display()
    );
    // Start-up is complete and the control socket answers: systemd may now
    // start what is ordered after the agent.
    let mut service_status = notify::StatusReporter::from_env();
    service_status.ready(daemon.service_status_generation(), || {
        daemon.service_status()
    });
    let mut watchdog = notify::Watchdog::from_env();

    let mut watch_tick = tokio::time::interval(watch::POLL_EVERY);
    watch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = daemon.timer_deadline();
        // In this order when several are ready: signals, then the timer (so a
        // MASTER's advert is never starved by a flood of adverts), then the
        // rest. The timer reads every advert already received first.
        tokio::select! {
            biased;
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = sighup.recv() => warn!(
                "SIGHUP: reloading the configuration is not supported yet; \
                 carp-agent keeps running with the configuration it started with \
                 (restart it to apply a change)"
            ),
            () = tokio::time::sleep_until(deadline) => daemon.on_timer(&mut adverts),
            // Pinged from the loop itself: a loop that stops turning stops
            // the pings, and systemd restarts the agent (WatchdogSec=).
            () = watchdog.tick() => notify::watchdog_ping(),
            advert = adverts.next() => match advert {
                Ok(advert) => daemon.on_advert(advert),
                Err(err) => warn!("reading the advert ring buffer: {err}"),
            },
            Some(event) = link_events.next() => daemon.on_link(event),
            Some((request, reply)) = control_rx.recv() => {
                let response = daemon.on_control(request);
                let _ = reply.send(response);
            }
            _ = watch_tick.tick() => daemon.poll_watch(),
        }
        daemon.carry_out_actions().await;
        service_status.update(daemon.service_status_generation(), || {
            daemon.service_status()
        });
    }

    notify::stopping();
    control_task.abort();
    let _ = std::fs::remove_file(&control_path);
    daemon.shutdown().await;
    Ok(())
}

impl Daemon {
    async fn start(
        config: Config,
        netlink: Netlink,
        mut instance: Instance,
    ) -> anyhow::Result<Self> {
        let mut interfaces = BTreeMap::new();
        for settings in &config.vhids {
            let iface = netlink
                .interface(&settings.interface)
                .await
                .with_context(|| {
                    format!("vhid {}: interface {}", settings.vhid, settings.interface)
                })?;
            interfaces.insert(iface.index, iface);
        }
        // Before anything changes: an interface whose XDP slot holds someone
        // else's program is refused, and the system is left as it was.
        for iface in interfaces.values() {
            foreign_xdp(&netlink, iface).await?;
        }
        let mut dataplane = Dataplane::load_pinned(&config.bpffs)
            .with_context(|| format!("loading XDP with pins under {}", config.bpffs.display()))?;
        let mut senders = HashMap::new();
        let mut watch = watch::Watch::default();
        for iface in interfaces.values() {
            instance
                .restore
                .set_arp_announce(&iface.name, iface.index)?;
            dataplane.set_iface(
                iface.index,
                watch.add_interface(iface.index, &iface.name, iface.mac),
            )?;
            attach(&mut dataplane, &netlink, iface, config.xdp_mode).await?;
            senders.insert(iface.index, FrameSender::open(iface.index)?);
        }
        // Both groups on every vhid interface; only a family its VIPs use
        // must succeed (net::membership says why both).
        let memberships = Memberships::join(interfaces.values().map(|iface| {
            let vips = config.vhids.iter().filter(|v| v.interface == iface.name);
            let addrs = vips.flat_map(|v| v.vips.iter().map(|vip| vip.addr));
            (iface, Families::of(addrs))
        }))
        .context("joining the CARP multicast groups")?;
        let mut daemon = Self {
            node: Node::new(),
            dataplane,
            netlink,
            senders,
            hooks: HookRunner::new(config.hook_timeout),
            counters: AgentCounters::default(),
            instance,
            watch,
            memberships,
            vhids: BTreeMap::new(),
            interfaces,
            config,
        };
        daemon.add_vhids().await?;
        let now = daemon.now();
        let demotion = daemon.config.demotion;
        daemon.node.input(now, |e, t| e.set_demotion(t, demotion));
        let links: Vec<(u32, bool)> = daemon
            .interfaces
            .values()
            .map(|i| (i.index, i.carrier))
            .collect();
        for (index, carrier) in links {
            daemon
                .node
                .input(now, |e, t| e.set_link(t, Iface(index), carrier));
        }
        daemon.carry_out_actions().await;
        Ok(daemon)
    }

    async fn add_vhids(&mut self) -> anyhow::Result<()> {
        for settings in self.config.vhids.clone() {
            let iface = self
                .interfaces
                .values()
                .find(|i| i.name == settings.interface);
            let iface = iface.expect("looked up in start").clone();
            let rt = VhidRuntime::new(settings, &iface)?;
            // A previous agent killed with -9 may have left its VIPs behind.
            for vip in &rt.settings.vips {
                self.netlink
                    .remove_address(rt.ifindex, vip.addr, vip.prefix)
                    .await?;
                self.dataplane.set_vip(
                    vip_key(rt.ifindex, vip.addr),
                    VipEntry {
                        vhid: rt.settings.vhid,
                        _pad: [0; 3],
                    },
                )?;
            }
            self.dataplane
                .set_vhid(rt.map_key(), rt.map_entry(rt.state, rt.settings.advskew, 0))?;
            // No counter checks in XDP where the node makes none per source.
            let no_replay = rt.settings.flavor == crate::engine::Flavor::OpenBsd
                || rt.settings.replay_protection == crate::node::ReplayProtection::Off;
            self.dataplane
                .set_auth(rt.map_key(), &rt.node_config().auth, no_replay)?;
            if !rt.settings.real_mac {
                self.filter_virtual_mac(rt.ifindex, rt.mac).await?;
            }
            let now = self.now();
            let key = self
                .node
                .add_vhid(now, rt.key.iface, rt.node_config())
                .with_context(|| format!("vhid {} on {}", rt.settings.vhid, rt.interface))?;
            self.vhids.insert(key, rt);
        }
        Ok(())
    }

    /// Frames to the virtual MAC must pass the NIC's unicast filter to reach XDP.
    async fn filter_virtual_mac(&mut self, ifindex: u32, mac: [u8; 6]) -> anyhow::Result<()> {
        let _ = self.netlink.remove_unicast_mac(ifindex, mac).await;
        if !self.netlink.add_unicast_mac(ifindex, mac).await?
            && !self.instance.restore.owns_promiscuous(ifindex)
        {
            warn!("interface {ifindex} cannot filter extra unicast MACs; using promiscuous mode");
            let name = self.interfaces.get(&ifindex).map_or("", |i| &i.name);
            self.instance
                .restore
                .set_promiscuous(&self.netlink, name, ifindex)
                .await?;
        }
        Ok(())
    }

    /// Now, on the kernel's monotonic clock (the clock of the XDP
    /// program's receive timestamps) and the wall clock.
    fn now(&self) -> Clock {
        Clock {
            mono: Time::from_duration(monotonic_now()),
            wall: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    fn timer_deadline(&self) -> tokio::time::Instant {
        let far = Duration::from_secs(3600);
        let now = Instant::now();
        let mono = monotonic_now();
        let at = self.node.next_timeout().map_or(now + far, |t| {
            now + t.since_epoch().saturating_sub(mono).min(far)
        });
        tokio::time::Instant::from_std(at)
    }

    /// A deadline passed. Adverts already in the ring buffer are read first:
    /// this process may have run late (a busy CPU, SIGSTOP, a paused VM) and
    /// an advert that arrived before the deadline, at its kernel timestamp,
    /// must re-arm the timer rather than lose to it.
    fn on_timer(&mut self, adverts: &mut AdvertReader) {
        for advert in adverts.drain(DRAIN_BEFORE_TIMER) {
            self.on_advert(advert);
        }
        let now = self.now();
        self.node.handle_timeout(now);
    }

    fn on_advert(&mut self, advert: ReceivedAdvert) {
        let now = self.now();
        let received = Time::from_duration(advert.received);
        let iface = Iface(advert.ifindex);
        match self
            .node
            .handle_advert(now, received, iface, advert.source, &advert.header)
        {
            Received::Accepted => self.counters.accepted += 1,
            Received::Own => {}
            Received::Malformed => {
                // The XDP program validated it; a mismatch here is a bug, not input.
                self.counters.malformed += 1;
            }
            Received::UnknownVhid => self.counters.badvhid += 1,
            Received::BadAuth { vhid } => {
                self.counters.badauth += 1;
                let interface = self.interfaces.get(&advert.ifindex).map_or("", |i| &i.name);
                self.counters.warn_badauth(advert.source, interface, vhid);
            }
            Received::Refused { vhid, why } => {
                match why {
                    crate::node::Refused::Unsealed => self.counters.badtag += 1,
                    _ => self.counters.replayed += 1,
                }
                let key = crate::engine::VhidKey { iface, vhid };
                if let Some(rt) = self.vhids.get_mut(&key) {
                    let due = rt
                        .last_refused_warning
                        .is_none_or(|at| at.elapsed() >= Duration::from_secs(60));
                    if due {
                        rt.last_refused_warning = Some(Instant::now());
                        warn!(
                            "vhid {vhid} on {}: refused an authenticated advert from {}: {why} \
                             (counted as {}; warned about once a minute)",
                            rt.interface,
                            advert.source,
                            why.counter_name()
                        );
                    }
                }
            }
        }
    }

    fn on_link(&mut self, event: LinkEvent) {
        let Some(iface) = self.interfaces.get_mut(&event.index) else {
            return;
        };
        if iface.carrier != event.carrier {
            info!(
                "{}: carrier {}",
                iface.name,
                if event.carrier { "up" } else { "down" }
            );
            iface.carrier = event.carrier;
            let now = self.now();
            let (index, carrier) = (event.index, event.carrier);
            self.node
                .input(now, |e, t| e.set_link(t, Iface(index), carrier));
        }
    }

    fn on_control(&mut self, request: Request) -> Response {
        status::handle(self, request)
    }

    async fn shutdown(&mut self) {
        let now = self.now();
        self.node.input(now, |e, t| e.shutdown(t));
        self.carry_out_actions().await;
        for rt in self.vhids.values() {
            for vip in &rt.settings.vips {
                if let Err(err) = self
                    .netlink
                    .remove_address(rt.ifindex, vip.addr, vip.prefix)
                    .await
                {
                    warn!("removing {} from {}: {err}", vip.addr, rt.interface);
                }
            }
            if !rt.settings.real_mac {
                let _ = self.netlink.remove_unicast_mac(rt.ifindex, rt.mac).await;
            }
        }
        self.memberships.leave();
        self.instance.restore.put_back(&self.netlink).await;
        self.hooks.drain(Duration::from_secs(10)).await;
        self.dataplane.detach_all();
        info!("carp-agent stopped: VIPs removed, XDP detached");
    }
}

/// Attaches XDP, replacing a program a crashed agent left attached through
/// netlink (bpf_link attachments vanish with their process; netlink ones do
/// not), then the TC egress program. Any other program on the interface (an
/// operator's filter, a libxdp dispatcher) is left alone: the agent refuses
/// to start on that interface and says which program is in the way.
async fn attach(
    dataplane: &mut Dataplane,
    netlink: &Netlink,
    iface: &Interface,
    mode: crate::dataplane::AttachMode,
) -> anyhow::Result<()> {
    let choice = crate::dataplane::choose_mode(mode, iface.kind.as_deref());
    if let Some(warning) = &choice.warning {
        warn!("{}: {warning}", iface.name);
    }
    let used = match dataplane.attach(&iface.name, choice.mode) {
        Ok(used) => used,
        Err(first) => {
            // Someone else's program may have arrived since the check at start.
            let Some(id) = foreign_xdp(netlink, iface).await? else {
                return Err(first.into());
            };
            warn!(
                "{first}; {} still has the XDP program of an agent that did not exit \
                 cleanly ({} id {id}): detaching it and retrying",
                iface.name,
                carp_common::PROGRAM_NAME
            );
            netlink.detach_xdp(iface.index).await?;
            dataplane.attach(&iface.name, choice.mode)?
        }
    };
    info!(
        "XDP attached to {} in {} mode ({})",
        iface.name,
        used.label(),
        choice.describe(used)
    );
    // Without it the agent still works; IPv6 neighbours may just learn a
    // VIP on the NIC's MAC (until the next failover's NA moves them).
    match dataplane.attach_egress(&iface.name) {
        Ok(()) => info!("TC egress program attached to {}", iface.name),
        Err(err) => warn!(
            "{err}; Neighbor Discovery sent from IPv6 VIPs will carry the NIC's MAC, not the virtual MAC"
        ),
    }
    Ok(())
}

/// The XDP program attached to `iface`: `Ok(None)` if there is none,
/// `Ok(Some(id))` if it is carp-agent's own (named `carp_xdp`: left by an
/// agent killed while it held the interface through netlink; one held by a
/// live agent's link cannot be detached anyway), and an error naming it if
/// it is anyone else's, which the agent never removes.
async fn foreign_xdp(netlink: &Netlink, iface: &Interface) -> anyhow::Result<Option<u32>> {
    let Some(id) = netlink.attached_xdp(iface.index).await? else {
        return Ok(None);
    };
    let name = crate::dataplane::program_name(id);
    if name.as_deref() == Some(carp_common::PROGRAM_NAME) {
        return Ok(Some(id));
    }
    anyhow::bail!(
        "{}: another XDP program is attached (id {id}, name {}) and it is not carp-agent's; \
         refusing to replace it, nothing was changed. Remove it if it is not needed \
         (`ip link set dev {} xdp off`, or `xdp-loader unload {} --all`), or give \
         carp-agent an interface whose XDP slot is free",
        iface.name,
        name.as_deref().unwrap_or("unknown"),
        iface.name,
        iface.name
    )
}

fn vip_key(ifindex: u32, addr: IpAddr) -> VipKey {
    match addr {
        IpAddr::V4(a) => VipKey::v4(ifindex, a.octets()),
        IpAddr::V6(a) => VipKey::v6(ifindex, a.octets()),
    }
}

/// CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns` and so of the
/// receive timestamps in the ring buffer.
fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
