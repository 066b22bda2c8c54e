//! `carp-agent run`: wires the election engine to the XDP dataplane, the
//! network (AF_PACKET sender, netlink addresses and links), the control
//! socket and the hooks. One task owns all of it, so nothing needs a lock:
//! every input (advert, timer, link event, control request, signal) is
//! handled to completion, then the engine's actions are carried out in order,
//! the map update first.
mod actions;
mod address_queue;
mod counters;
mod instance;
mod metrics;
mod pre_master;
mod publish;
mod reload;
mod status;
mod systemd;
mod tracking;
mod vhid_runtime;
mod watch;
mod xdp_slot;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant, SystemTime},
};

use anyhow::Context as _;
use aya::programs::links::PinnedLink;
use carp_common::VhidKey as MapKey;
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
    dataplane::{
        AdvertReader, Dataplane, Leftovers, ReceivedAdvert,
        share::{Occupant, Plan, XdpShare},
    },
    engine::{Iface, State, Time},
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
    /// Per interface XDP runs on (`VhidRuntime::port`).
    senders: HashMap<u32, FrameSender>,
    /// Adverts to unicast peers (`peers`), through the IP stack.
    unicast: crate::net::UnicastSender,
    /// Every interface the agent uses: those the vhids name, and the
    /// trunks under their VLAN devices.
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
    /// The administrative demotion by source: `demote`, `demote --source`,
    /// `[[track]]` (see `crate::track`).
    demotions: crate::track::Ledger,
    /// Where `carp-agent events` subscribers read from.
    events: control::events::EventHub,
    /// Pre-MASTER hook runs report their end here.
    pre_master: pre_master::Channel,
    /// VIP additions and removals held back until every output of the
    /// current input is carried out (`address_queue.rs`).
    addresses: address_queue::AddressQueue,
    /// The host demotion last seen, and what changed it since, if known
    /// (`publish.rs`, `notice_demotion`).
    demotion_seen: u32,
    demotion_cause: Option<&'static str>,
}

/// Runs the agent until SIGTERM/SIGINT; then bows out, withdraws the VIPs,
/// detaches XDP and removes its pins. SIGHUP and the control socket's
/// `reload` call `read` for the configuration to apply (see `daemon/reload.rs`).
pub async fn run(config: Config, read: impl Fn() -> anyhow::Result<Config>) -> anyhow::Result<()> {
    // First of all, before anything on the system changes: from here on a
    // SIGTERM/SIGINT waits in its stream until start-up is done and then
    // shuts down cleanly (pins, XDP, sysctls put back) instead of killing a
    // half-started agent. SIGHUP's default action would kill the agent too.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigusr2 = signal(SignalKind::user_defined2())?;
    // Before anything is touched: a second agent on the same bpffs or
    // control socket must fail here, having changed nothing.
    let instance = Instance::acquire(&config)?;
    // Before the pins are replaced: what an agent that did not exit cleanly
    // left attached and still MASTER (its successor carries on).
    let leftovers = Leftovers::read(&config.bpffs, monotonic_now().as_nanos() as u64);
    // Also before anything changes: an address in use stops the agent here.
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(crate::metrics::bind(addr).await?),
        None => None,
    };
    let (netlink, mut link_events) = Netlink::open().context("opening netlink")?;
    let mut daemon = Daemon::start(config, netlink, instance, leftovers).await?;
    let mut adverts = daemon.dataplane.take_advert_reader()?;
    let mut pre_master_done = daemon
        .pre_master
        .take_receiver()
        .context("the pre-master channel")?;
    let (control_tx, mut control_rx) = mpsc::channel::<control::server::Call>(16);
    let control_path = daemon.config.control_socket.clone();
    let events = Some(daemon.events.clone());
    let limits = control::server::Limits::default();
    let control_task =
        control::server::serve_with_events(&control_path, control_tx, limits, events)
            .await
            .with_context(|| format!("control socket {}", control_path.display()))?;
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<crate::metrics::Call>(4);
    let metrics_task = metrics_listener.map(|listener| {
        crate::metrics::serve(listener, metrics_tx, crate::metrics::Limits::default())
    });
    if let Some(addr) = daemon.config.metrics_listen {
        info!("metrics on http://{addr}/metrics");
    }
    info!(
        "carp-agent running: {} vhid(s), control socket {}",
        daemon.vhids.len(),
        control_path.display()
    );
    // What loading the XDP object parsed and freed goes back to the kernel
    // (service::memory): most of an idle agent's heap otherwise.
    crate::service::memory::release_free_heap();
    // Start-up is complete and the control socket answers: systemd may now
    // start what is ordered after the agent.
    let mut service_status = notify::StatusReporter::from_env();
    service_status.ready(daemon.service_status_generation(), || {
        daemon.service_status()
    });
    let mut watchdog = notify::Watchdog::from_env();

    // The sender stays here, so the channel never closes.
    let (track_tx, mut track_rx) = mpsc::channel::<crate::track::Update>(64);
    let track_tasks = crate::track::spawn(&daemon.config.tracks, &track_tx);

    let mut watch_tick = tokio::time::interval(watch::POLL_EVERY);
    watch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut handover = false;
    loop {
        let deadline = daemon.timer_deadline();
        // In this order when several are ready: signals, then the timer (so a
        // MASTER's advert is never starved by a flood of adverts), then the
        // rest. The timer reads every advert already received first.
        tokio::select! {
            biased;
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = sigusr2.recv() => {
                info!(
                    "SIGUSR2: exiting for a successor (a restart or an upgrade): no bow-out, the \
                     VIPs and the XDP dataplane stay; a new agent started within 3 x advbase adopts them"
                );
                handover = true;
                break;
            }
            _ = sighup.recv() => {
                info!("SIGHUP: reloading the configuration");
                let _ = daemon.reload_logged(&read).await;
            }
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
                let response = match request {
                    Request::Reload => {
                        info!("reload requested through the control socket");
                        daemon.reload_logged(&read).await
                    }
                    request => daemon.on_control(request),
                };
                let _ = reply.send(response);
            }
            Some(reply) = metrics_rx.recv() => {
                let _ = reply.send(daemon.metrics_snapshot());
            }
            _ = watch_tick.tick() => daemon.poll_watch(),
            Some(update) = track_rx.recv() => daemon.on_track(update),
            Some(done) = pre_master_done.recv() => daemon.on_pre_master_finished(done).await,
        }
        daemon.carry_out_actions().await;
        service_status.update(daemon.service_status_generation(), || {
            daemon.service_status()
        });
    }

    notify::stopping();
    control_task.abort();
    track_tasks.iter().for_each(tokio::task::JoinHandle::abort);
    if let Some(task) = metrics_task {
        task.abort();
    }
    let _ = std::fs::remove_file(&control_path);
    match handover {
        true => daemon.leave_for_successor().await,
        false => daemon.shutdown().await,
    }
    Ok(())
}

impl Daemon {
    async fn start(
        config: Config,
        netlink: Netlink,
        instance: Instance,
        mut leftovers: Leftovers,
    ) -> anyhow::Result<Self> {
        let mut interfaces = BTreeMap::new();
        let mut trunks = BTreeMap::new();
        for settings in &config.vhids {
            let (iface, trunk) = resolve_interface(&netlink, settings).await?;
            trunks.insert(trunk.index, trunk);
            interfaces.insert(iface.index, iface);
        }
        // Before anything changes: an interface whose XDP slot holds someone
        // else's program is refused, and the system is left as it was.
        for trunk in trunks.values() {
            foreign_xdp(&netlink, trunk, config.xdp_share).await?;
        }
        let dataplane = Dataplane::load_pinned(&config.bpffs)
            .with_context(|| format!("loading XDP with pins under {}", config.bpffs.display()))?;
        let mut daemon = Self {
            node: Node::new(),
            dataplane,
            netlink,
            senders: HashMap::new(),
            unicast: crate::net::UnicastSender::default(),
            hooks: HookRunner::new(config.hook_timeout),
            counters: AgentCounters::default(),
            instance,
            watch: watch::Watch::default(),
            memberships: Memberships::default(),
            events: control::events::EventHub::default(),
            pre_master: pre_master::Channel::default(),
            addresses: address_queue::AddressQueue::default(),
            demotion_seen: config.demotion,
            demotion_cause: None,
            vhids: BTreeMap::new(),
            demotions: tracking::ledger(&config),
            interfaces: BTreeMap::new(),
            config,
        };
        daemon.addresses.start(daemon.netlink.clone());
        let opened: anyhow::Result<()> = async {
            for iface in interfaces.into_values() {
                // Both groups on every vhid interface; only a family its VIPs
                // use must succeed (net::membership says why both).
                let vips = daemon.config.vhids.iter();
                // Not for a vhid tagged on this trunk: the groups are joined
                // untagged (net::vlan).
                let vips = vips.filter(|v| {
                    v.interface == iface.name && (v.vlan.is_none() || iface.vlan.is_some())
                });
                let families = Families::of(vips.flat_map(|v| v.vips.iter().map(|vip| vip.addr)));
                daemon.open_interface(iface, families).await?;
            }
            for trunk in trunks.into_values() {
                daemon.open_trunk(trunk)?;
            }
            // The maps are filled before XDP runs on them: an adopted link
            // switches to this agent's program with every vhid in place.
            daemon.add_vhids(&leftovers.masters).await?;
            for index in daemon.trunk_indexes() {
                let adopted = leftovers.links.remove(&index);
                daemon.attach_interface(index, adopted).await?;
            }
            Ok(())
        }
        .await;
        if let Err(err) = opened {
            // A refusal at attach time (libxdp's dispatcher would not take
            // the program) leaves the interfaces as they were found.
            daemon.memberships.leave();
            daemon.instance.restore.put_back(&daemon.netlink).await;
            return Err(err);
        }
        // Links of interfaces no longer configured close here: unpinned
        // already, their XDP program goes.
        drop(leftovers);
        let now = daemon.now();
        let demotion = daemon.demotions.total();
        daemon.node.input(now, |e, t| e.set_demotion(t, demotion));
        let links: Vec<(u32, bool)> = daemon
            .interfaces
            .values()
            .map(|i| (i.index, i.carrier))
            .collect();
        for (index, carrier) in links {
            daemon.set_link(now, index, carrier);
        }
        daemon.carry_out_actions().await;
        Ok(daemon)
    }

    /// Adds the configured vhids; `masters`: the previous agent's MASTERs
    /// still within their deadline, (ifindex, vhid) → deadline.
    async fn add_vhids(&mut self, masters: &BTreeMap<MapKey, u64>) -> anyhow::Result<()> {
        for settings in self.config.vhids.clone() {
            let iface = self
                .interfaces
                .values()
                .find(|i| i.name == settings.interface);
            let iface = iface.expect("looked up in start");
            let port = crate::net::vlan::resolve(iface, settings.vlan)?;
            // Only on a running link: a down one starts in INIT anyway.
            let adopted = masters
                .get(&MapKey::new(port, settings.vhid))
                .filter(|_| iface.carrier)
                .copied();
            let rt = VhidRuntime::new(settings, iface, port)?;
            self.add_vhid(rt, adopted).await?;
        }
        Ok(())
    }

    /// Sets up the advert sender, the CARP groups and the interface's map
    /// entry on a vhid interface; `families`: the groups it cannot do
    /// without. XDP comes after ([`Self::attach_interface`]).
    async fn open_interface(&mut self, iface: Interface, families: Families) -> anyhow::Result<()> {
        self.instance
            .restore
            .set_arp_announce(&iface.name, iface.index)?;
        let entry = self
            .watch
            .add_interface(iface.index, &iface.name, iface.mac);
        self.dataplane.set_iface(iface.index, entry)?;
        self.memberships
            .join(&iface, families)
            .context("joining the CARP multicast groups")?;
        self.interfaces.insert(iface.index, iface);
        Ok(())
    }

    /// Sets up an interface XDP runs on: the advert sender (tagged frames
    /// for VLANs leave here) and, for a trunk under VLAN devices that names
    /// no vhid itself, its map entry (the NIC MAC frames to a virtual MAC
    /// are rewritten to).
    fn open_trunk(&mut self, trunk: Interface) -> anyhow::Result<()> {
        if !self.interfaces.contains_key(&trunk.index) {
            let entry = self
                .watch
                .add_interface(trunk.index, &trunk.name, trunk.mac);
            self.dataplane.set_iface(trunk.index, entry)?;
            self.interfaces.insert(trunk.index, trunk.clone());
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.senders.entry(trunk.index) {
            slot.insert(FrameSender::open(trunk.index)?);
        }
        Ok(())
    }

    /// The interfaces XDP runs on: every vhid's `port`.
    fn trunk_indexes(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self.vhids.values().map(|rt| rt.port.ifindex).collect();
        set.into_iter().collect()
    }

    /// A carrier change on interface `index`, for every segment of a vhid
    /// on it (one per VLAN when the vhids run tagged on a trunk).
    fn set_link(&mut self, now: Clock, index: u32, carrier: bool) {
        let segments: BTreeSet<Iface> = self
            .vhids
            .values()
            .filter(|rt| rt.ifindex == index)
            .map(|rt| rt.key.iface)
            .collect();
        for segment in segments {
            self.node.input(now, |e, t| e.set_link(t, segment, carrier));
        }
    }

    /// Attaches XDP to an opened interface, adopting the link a previous
    /// agent left there if any.
    async fn attach_interface(
        &mut self,
        index: u32,
        adopted: Option<PinnedLink>,
    ) -> anyhow::Result<()> {
        let Some(iface) = self.interfaces.get(&index) else {
            return Ok(());
        };
        let vlans: BTreeSet<u16> = self
            .vhids
            .values()
            .filter(|rt| rt.port.ifindex == index && rt.port.vlan != 0)
            .map(|rt| rt.port.vlan)
            .collect();
        warn_if_tags_stripped(iface, &vlans);
        attach(
            &mut self.dataplane,
            &self.netlink,
            iface,
            (self.config.xdp_mode, self.config.xdp_share),
            adopted,
        )
        .await
    }

    /// Starts one vhid: its VIPs and map entries, then the node. `adopted`:
    /// the deadline of the previous agent's MASTER, carried on.
    async fn add_vhid(&mut self, rt: VhidRuntime, adopted: Option<u64>) -> anyhow::Result<()> {
        for vip in &rt.settings.vips {
            // A previous agent killed with -9 may have left its VIPs behind;
            // an adopted MASTER keeps them.
            if let (None, Some(ifindex)) = (adopted, rt.address_ifindex()) {
                self.netlink
                    .remove_address(ifindex, vip.addr, vip.prefix)
                    .await?;
            }
            self.dataplane
                .set_vip(rt.port, vip.addr, rt.settings.vhid)?;
        }
        let entry = match adopted {
            Some(until) => rt.map_entry(State::Master, rt.settings.advskew, until),
            None => rt.map_entry(rt.state, rt.settings.advskew, 0),
        };
        self.dataplane.set_vhid(rt.map_key(), entry)?;
        // No counter checks in XDP where the node makes none per source.
        let no_replay = rt.settings.flavor == crate::engine::Flavor::OpenBsd
            || rt.settings.replay_protection == crate::node::ReplayProtection::Off;
        self.dataplane
            .set_auth(rt.map_key(), &rt.node_config().auth, no_replay)?;
        rt.write_peers(&mut self.dataplane, &[])?;
        if !rt.settings.real_mac {
            self.filter_virtual_mac(rt.ifindex, rt.mac).await?;
        }
        let now = self.now();
        let key = self
            .node
            .add_vhid(now, rt.key.iface, rt.node_config())
            .with_context(|| format!("vhid {} on {}", rt.settings.vhid, rt.interface))?;
        if adopted.is_some() {
            info!(
                "vhid {} on {}: the previous agent's MASTER, within its deadline: carrying on",
                rt.settings.vhid, rt.interface
            );
            self.node.adopt_master(now, key)?;
        }
        self.vhids.insert(key, rt);
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
        let iface = Iface::tagged(advert.ifindex, advert.vlan);
        match self
            .node
            .handle_advert(now, received, iface, advert.source, &advert.header)
        {
            Received::Accepted => {
                self.counters.accepted += 1;
                // Byte 1 of the CARP header is the vhid (proto::advert).
                let key = crate::engine::VhidKey {
                    iface,
                    vhid: advert.header[1],
                };
                self.counters.vhid(key).received += 1;
            }
            Received::Own => {}
            Received::Malformed => {
                // The XDP program validated it; a mismatch here is a bug, not input.
                self.counters.malformed += 1;
            }
            Received::UnknownVhid => self.counters.badvhid += 1,
            Received::BadAuth { vhid } => {
                self.counters.badauth += 1;
                self.counters
                    .vhid(crate::engine::VhidKey { iface, vhid })
                    .badauth += 1;
                let interface = self.interfaces.get(&advert.ifindex).map_or("", |i| &i.name);
                if self.counters.warn_badauth(advert.source, interface, vhid) {
                    let interface = interface.to_string();
                    self.publish_badauth(vhid, &interface, advert.source);
                }
            }
            Received::Refused { vhid, why } => {
                let key = crate::engine::VhidKey { iface, vhid };
                match why {
                    crate::node::Refused::Unsealed => {
                        self.counters.badtag += 1;
                        self.counters.vhid(key).badtag += 1;
                    }
                    _ => {
                        self.counters.replayed += 1;
                        self.counters.vhid(key).replayed += 1;
                    }
                }
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
            self.set_link(now, event.index, event.carrier);
        }
    }

    /// A reload, logged, with its answer for a control client.
    async fn reload_logged(&mut self, read: &dyn Fn() -> anyhow::Result<Config>) -> Response {
        // systemd (Type=notify) hears RELOADING=1 and then READY=1 with the
        // status, whether the reload applied or was refused.
        notify::reloading();
        let outcome = self.reload(read).await;
        notify::reloaded(&self.service_status());
        match outcome {
            Ok(report) => {
                info!("configuration reloaded: {report}");
                Response::reloaded(report)
            }
            Err(err) => {
                let message = format!("{err:#}");
                warn!("reload: {message}; the agent runs on with the configuration it had");
                Response::error(control::ErrorKind::Refused, message)
            }
        }
    }

    fn on_control(&mut self, request: Request) -> Response {
        status::handle(self, request)
    }

    /// Exits as a crash would for the dataplane, but tidily for the rest:
    /// no bow-out, the VIPs stay, the XDP link and maps stay pinned with
    /// each MASTER's dead-man deadline, so the next agent adopts them
    /// (`dataplane::leftovers`). Running hooks are waited for.
    async fn leave_for_successor(mut self) {
        // The VIPs of the MASTERs stay: every one queued is in place.
        self.settle_addresses().await;
        self.hooks.drain(Duration::from_secs(10)).await;
        self.dataplane.leave_for_successor();
        info!("carp-agent stopped for a successor: XDP keeps answering until its deadline");
    }

    async fn shutdown(&mut self) {
        let now = self.now();
        self.node.input(now, |e, t| e.shutdown(t));
        self.carry_out_actions().await;
        // No queued addition may land after the removals below.
        self.settle_addresses().await;
        for rt in self.vhids.values() {
            let Some(ifindex) = rt.address_ifindex() else {
                continue;
            };
            for vip in &rt.settings.vips {
                if let Err(err) = self
                    .netlink
                    .remove_address(ifindex, vip.addr, vip.prefix)
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
/// not), then the TC egress program. With `xdp_share` the program joins
/// libxdp's dispatcher instead (`xdp_slot`). Any other program on the
/// interface (an operator's filter, a dispatcher it cannot join) is left
/// alone: the agent refuses to start on that interface and says which
/// program is in the way.
async fn attach(
    dataplane: &mut Dataplane,
    netlink: &Netlink,
    iface: &Interface,
    (mode, share): (crate::dataplane::AttachMode, XdpShare),
    adopted: Option<PinnedLink>,
) -> anyhow::Result<()> {
    if let Some(link) = adopted {
        match dataplane.adopt(&iface.name, iface.index, link) {
            Ok(()) => {
                info!(
                    "XDP on {}: adopted the previous agent's link, now running this agent's program",
                    iface.name
                );
                attach_egress(dataplane, iface);
                return Ok(());
            }
            // The link is closed with the error: attach afresh.
            Err(err) => warn!("{err}; attaching afresh"),
        }
    }
    // Shared through libxdp's dispatcher (`xdp_share`), or alone.
    let (plan, occupant) = xdp_slot::check(netlink, iface, share).await?;
    if plan == Plan::Join {
        xdp_slot::join(dataplane, netlink, iface, mode, &occupant).await?;
        attach_egress(dataplane, iface);
        return Ok(());
    }
    let choice = crate::dataplane::choose_mode(mode, iface.kind.as_deref());
    if let Some(warning) = &choice.warning {
        warn!("{}: {warning}", iface.name);
    }
    let used = match dataplane.attach(&iface.name, iface.index, choice.mode) {
        Ok(used) => used,
        Err(first) => {
            // Someone else's program may have arrived since the check at start.
            let Some(id) = foreign_xdp(netlink, iface, share).await? else {
                return Err(first.into());
            };
            warn!(
                "{first}; {} still has the XDP program of an agent that did not exit \
                 cleanly ({} id {id}): detaching it and retrying",
                iface.name,
                carp_common::PROGRAM_NAME
            );
            netlink.detach_xdp(iface.index).await?;
            dataplane.attach(&iface.name, iface.index, choice.mode)?
        }
    };
    info!(
        "XDP attached to {} in {} mode ({})",
        iface.name,
        used.label(),
        choice.describe(used)
    );
    attach_egress(dataplane, iface);
    Ok(())
}

fn attach_egress(dataplane: &mut Dataplane, iface: &Interface) {
    // Without it the agent still works; IPv6 neighbours may just learn a
    // VIP on the NIC's MAC (until the next failover's NA moves them).
    match dataplane.attach_egress(&iface.name) {
        Ok(()) => info!("TC egress program attached to {}", iface.name),
        Err(err) => warn!(
            "{err}; Neighbor Discovery sent from IPv6 VIPs will carry the NIC's MAC, not the virtual MAC"
        ),
    }
}

/// The XDP program attached to `iface`, as it concerns attaching alone:
/// `Ok(Some(id))` if it is carp-agent's own (named `carp_xdp`: left by an
/// agent killed while it held the interface through netlink; one held by a
/// live agent's link cannot be detached anyway), `Ok(None)` if the slot is
/// free or the agent will join libxdp's dispatcher there (`xdp_share`), and
/// an error naming the program if it is anyone else's, which the agent never
/// removes (see `xdp_slot`).
async fn foreign_xdp(
    netlink: &Netlink,
    iface: &Interface,
    share: XdpShare,
) -> anyhow::Result<Option<u32>> {
    match xdp_slot::check(netlink, iface, share).await? {
        (Plan::Alone, Occupant::Ours { id }) => Ok(Some(id)),
        _ => Ok(None),
    }
}

/// A physical NIC that strips VLAN tags on receive hides them from XDP:
/// the vhids of `vlans` would hear no advert (and all become MASTER). Said
/// loudly, not changed: the NIC's settings are the administrator's. A
/// virtual interface (veth, bridge) reports the offload too, but a tag
/// that arrives in the frame stays there, so only NICs are checked.
fn warn_if_tags_stripped(iface: &Interface, vlans: &BTreeSet<u16>) {
    if vlans.is_empty() || iface.kind.is_some() {
        return;
    }
    match crate::net::offload::strips_vlan_tags(&iface.name, iface.index) {
        Ok(false) => {}
        Ok(true) => warn!(
            "{name}: the NIC strips VLAN tags on receive (rx-vlan-offload on), so the XDP program \
             sees the frames of VLAN(s) {vlans:?} untagged and their vhids hear no advert: run \
             `ethtool -K {name} rxvlan off` (see docs/vlan.md)",
            name = iface.name
        ),
        Err(err) => warn!(
            "{err}; if the NIC strips VLAN tags, the vhids of VLAN(s) {vlans:?} hear no advert"
        ),
    }
}

/// The interface a vhid names and the one XDP runs on for it: the same
/// one, or the trunk under a VLAN device (`net::vlan`).
async fn resolve_interface(
    netlink: &Netlink,
    settings: &crate::config::VhidSettings,
) -> anyhow::Result<(Interface, Interface)> {
    let context = || format!("vhid {}: interface {}", settings.vhid, settings.interface);
    let iface = netlink
        .interface(&settings.interface)
        .await
        .with_context(context)?;
    let port = crate::net::vlan::resolve(&iface, settings.vlan).with_context(context)?;
    if port.ifindex == iface.index {
        return Ok((iface.clone(), iface));
    }
    let trunk = netlink
        .interface_by_index(port.ifindex)
        .await
        .with_context(|| format!("{}: the trunk under VLAN {}", context(), port.vlan))?;
    Ok((iface, trunk))
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
