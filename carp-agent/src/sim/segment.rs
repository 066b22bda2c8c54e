//! The discrete-event simulation of one shared segment of CARP hosts.

use std::{
    cmp::{Ordering, Reverse},
    collections::{BinaryHeap, VecDeque},
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use super::{
    network::{NetConditions, Network, NodeId},
    rng::SimRng,
    timeline::{Entry, Happening},
};
use crate::{
    engine::{AdminState, Engine, EngineError, Iface, State, Time, VhidConfig, VhidKey},
    node::{Clock, Frame, Node, NodeVhidConfig, Output, ReplayProtection},
    proto::{Advertisement, Auth, AuthKey, VipSet},
};

/// The password of every simulated vhid.
const SIM_PASSWORD: &[u8] = b"simulated";
/// Frames the attacker remembers, newest last.
const CAPTURE_LEN: usize = 4096;
/// The wall clock of node 0 at simulated time zero (2027-01-15); each
/// further node's clock is 7.3 s ahead of the previous one, since real
/// clocks never agree.
const WALL_EPOCH: Duration = Duration::from_secs(1_800_000_000);
const WALL_SKEW_PER_NODE: Duration = Duration::from_millis(7_300);

/// The one interface every simulated node has.
pub const IFACE: Iface = Iface::new(1);

/// A simulated host.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// Name in the timeline, e.g. `node1`.
    pub name: String,
    /// Its address on the segment (also each vhid's `source`).
    pub address: IpAddr,
    pub vhids: Vec<VhidConfig>,
    /// How strictly the node checks its peers' counters.
    pub replay: ReplayProtection,
}

impl NodeSpec {
    /// A node with the default replay protection.
    pub fn new(name: impl Into<String>, address: IpAddr, vhids: Vec<VhidConfig>) -> Self {
        Self {
            name: name.into(),
            address,
            vhids,
            replay: ReplayProtection::default(),
        }
    }

    /// The node's protocol configuration of one vhid: a shared password and
    /// one virtual address per vhid, 10.255.0.<vhid>.
    fn node_config(&self, election: &VhidConfig) -> NodeVhidConfig {
        let key = AuthKey::from_password(SIM_PASSWORD).expect("a short password");
        let vip = IpAddr::V4(Ipv4Addr::new(10, 255, 0, election.vhid));
        let auth = Auth::new(&key, VipSet::new([vip]));
        let sources = match self.address {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => (None, Some(a)),
        };
        NodeVhidConfig::new(election.clone(), &key, auth, sources, self.replay)
    }
}

/// An attacker on the segment without the password: it captured every
/// advert `of` sent, and replays them, possibly with fields changed.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayAttack {
    /// Whose adverts are replayed.
    pub of: NodeId,
    pub vhid: u8,
    /// Only adverts sent at least this long before the attack starts.
    pub min_age: Duration,
    /// Set advskew to this (the checksum fixed, as an attacker would).
    pub advskew: Option<u8>,
    /// Set the demote byte to this.
    pub demote: Option<u8>,
    /// Time between two replayed frames, and how many.
    pub every: Duration,
    pub count: u32,
}

/// Something injected into the run at a chosen time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Start a node that is down: a fresh engine, demotion 0.
    Boot(NodeId),
    /// Kill a node: no bow-out, state lost.
    Crash(NodeId),
    /// Stop a node gracefully: its masters send the bow-out advert.
    Shutdown(NodeId),
    /// Split the segment; nodes not listed form one more group.
    Partition(Vec<Vec<NodeId>>),
    /// Remove partitions.
    Heal,
    /// Set the per-advert loss probability.
    SetLoss(f64),
    /// Add to a node's demotion (`sysctl net.inet.carp.demotion=N`).
    Demote(NodeId, i32),
    /// Set a node's link state.
    Link(NodeId, bool),
    /// `ifconfig ... vhid N state backup|master` on a node.
    Admin(NodeId, u8, AdminState),
    /// An attacker replays captured adverts to every node. Kept out of the
    /// timeline: a replay that changes nothing leaves it exactly as it was.
    Replay(ReplayAttack),
}

/// A simulation that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node's vhid configuration is invalid.
    #[error("{node}: {source}")]
    Config {
        node: String,
        /// What the engine refused.
        #[source]
        source: EngineError,
    },
    /// Two nodes share an address.
    #[error("{first} and {second} share the address {address}")]
    DuplicateAddress {
        first: String,
        second: String,
        /// The shared address.
        address: IpAddr,
    },
    /// A vhid's `source` differs from its node's address.
    #[error("{node}: vhid {vhid} uses source {source_address}, not the node's address")]
    SourceMismatch {
        node: String,
        vhid: u8,
        /// Its configured source.
        source_address: IpAddr,
    },
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Adverts sent (one per multicast).
    pub adverts_sent: u64,
    /// Copies delivered to a running node.
    pub delivered: u64,
    /// Copies lost, partitioned away, or arriving at a node that was down.
    pub dropped: u64,
    /// Events processed.
    pub events: u64,
    /// Replayed frames delivered by an attacker.
    pub replayed: u64,
    /// Replayed frames a node accepted.
    pub replays_accepted: u64,
}

struct SimNode {
    spec: NodeSpec,
    node: Option<Node>,
    link_up: bool,
    /// The administrator's demotion as the simulation applied it, kept apart
    /// from the engine so checks do not trust the code under test.
    admin_demotion: u32,
    /// The wake-up currently queued for this node's engine.
    wakeup: Option<Time>,
}

enum Event {
    Deliver {
        to: NodeId,
        frame: Frame,
        /// From the attacker, not the sender.
        replayed: bool,
    },
    Wakeup(NodeId),
    Fault(Fault),
}

struct Queued {
    at: Time,
    seq: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// By time, then by insertion: simultaneous events run in the order queued.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A shared segment of simulated CARP hosts, deterministic from its seed.
///
/// Nodes start down; schedule [`Fault::Boot`] to start them. Time only moves in
/// [`Segment::run_until`], from event to event.
pub struct Segment {
    now: Time,
    nodes: Vec<SimNode>,
    /// Every advert sent (sender, vhid, time, frame), newest last.
    capture: VecDeque<(NodeId, u8, Time, Frame)>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    rng: SimRng,
    network: Network,
    timeline: Vec<Entry>,
    stats: Stats,
    scratch: Vec<Output>,
}

impl Segment {
    /// A segment of `specs` nodes, all down, with links up.
    pub fn new(
        seed: u64,
        specs: Vec<NodeSpec>,
        conditions: NetConditions,
    ) -> Result<Self, SimError> {
        for (i, spec) in specs.iter().enumerate() {
            let mut probe = Engine::new();
            for config in &spec.vhids {
                if config.source != spec.address {
                    return Err(SimError::SourceMismatch {
                        node: spec.name.clone(),
                        vhid: config.vhid,
                        source_address: config.source,
                    });
                }
                probe
                    .add_vhid(Time::ZERO, IFACE, config.clone())
                    .map_err(|source| SimError::Config {
                        node: spec.name.clone(),
                        source,
                    })?;
            }
            if let Some(other) = specs[..i].iter().find(|o| o.address == spec.address) {
                return Err(SimError::DuplicateAddress {
                    first: other.name.clone(),
                    second: spec.name.clone(),
                    address: spec.address,
                });
            }
        }
        let network = Network::new(specs.len(), conditions);
        let nodes = specs
            .into_iter()
            .map(|spec| SimNode {
                spec,
                node: None,
                link_up: true,
                admin_demotion: 0,
                wakeup: None,
            })
            .collect();
        Ok(Segment {
            now: Time::ZERO,
            nodes,
            capture: VecDeque::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng: SimRng::new(seed),
            network,
            timeline: Vec::new(),
            stats: Stats::default(),
            scratch: Vec::new(),
        })
    }

    /// Injects `fault` at `at` (not before the current time).
    pub fn schedule(&mut self, at: Time, fault: Fault) {
        self.push(at.max(self.now), Event::Fault(fault));
    }

    /// Processes every event up to and including `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: Time) {
        while self
            .queue
            .peek()
            .is_some_and(|Reverse(next)| next.at <= until)
        {
            let Some(Reverse(next)) = self.queue.pop() else {
                break;
            };
            self.now = next.at;
            self.stats.events += 1;
            match next.event {
                Event::Deliver {
                    to,
                    frame,
                    replayed,
                } => self.deliver(to, &frame, replayed),
                Event::Wakeup(node) => self.wake(node),
                Event::Fault(fault) => self.inject(fault),
            }
        }
        self.now = self.now.max(until);
    }

    /// The simulated clock.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the segment has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A node's description.
    pub fn spec(&self, node: NodeId) -> &NodeSpec {
        &self.nodes[node].spec
    }

    /// A node's name.
    pub fn name(&self, node: NodeId) -> String {
        self.nodes[node].spec.name.clone()
    }

    /// Whether the node runs (booted, not crashed or shut down).
    pub fn is_running(&self, node: NodeId) -> bool {
        self.nodes[node].node.is_some()
    }

    /// Whether the node's link is up.
    pub fn is_link_up(&self, node: NodeId) -> bool {
        self.nodes[node].link_up
    }

    /// The demotion the simulation applied to a running node (not read from its
    /// engine).
    pub fn admin_demotion(&self, node: NodeId) -> u32 {
        self.nodes[node].admin_demotion
    }

    /// State of a vhid on a running node.
    pub fn state(&self, node: NodeId, vhid: u8) -> Option<State> {
        let running = self.nodes[node].node.as_ref()?;
        running.engine().state(VhidKey { iface: IFACE, vhid })
    }

    /// Running nodes that are MASTER of `vhid`.
    pub fn masters(&self, vhid: u8) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&n| self.state(n, vhid) == Some(State::Master))
            .collect()
    }

    /// Current delivery conditions (loss changes with [`Fault::SetLoss`]).
    pub fn conditions(&self) -> &NetConditions {
        &self.network.conditions
    }

    /// Whether the segment is currently partitioned.
    pub fn is_partitioned(&self) -> bool {
        self.network.is_partitioned()
    }

    /// Everything that happened so far.
    pub fn timeline(&self) -> &[Entry] {
        &self.timeline
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Renders an entry with this segment's node names.
    pub fn render(&self, entry: &Entry) -> String {
        entry.render(|n| self.nodes[n].spec.name.clone())
    }

    fn push(&mut self, at: Time, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn record(&mut self, node: Option<NodeId>, what: Happening) {
        self.timeline.push(Entry {
            at: self.now,
            node,
            what,
        });
    }

    /// A node's clocks at the current time.
    fn clock(&self, node: NodeId) -> Clock {
        Clock {
            mono: self.now,
            wall: WALL_EPOCH + WALL_SKEW_PER_NODE * node as u32 + self.now.since_epoch(),
        }
    }

    fn deliver(&mut self, to: NodeId, frame: &Frame, replayed: bool) {
        let now = self.now;
        let clock = self.clock(to);
        let n = &mut self.nodes[to];
        let Some(running) = n.node.as_mut().filter(|_| n.link_up) else {
            self.stats.dropped += 1;
            return;
        };
        self.stats.delivered += 1;
        self.stats.replayed += u64::from(replayed);
        // Every node runs every vhid of the segment; an unknown one is
        // ignored, as the dataplane would drop it (badvhid).
        let received = running.handle_advert(clock, now, IFACE, frame.source, &frame.header);
        if replayed && received == crate::node::Received::Accepted {
            self.stats.replays_accepted += 1;
        }
        self.after_input(to);
    }

    fn wake(&mut self, node: NodeId) {
        let now = self.now;
        let clock = self.clock(node);
        let n = &mut self.nodes[node];
        if n.wakeup != Some(now) {
            return; // superseded
        }
        n.wakeup = None;
        if let Some(running) = n.node.as_mut() {
            running.handle_timeout(clock);
            self.after_input(node);
        }
    }

    fn inject(&mut self, fault: Fault) {
        let now = self.now;
        match fault {
            Fault::Boot(node) => {
                if self.is_running(node) {
                    return;
                }
                let clock = self.clock(node);
                let n = &mut self.nodes[node];
                let mut running = Node::new();
                for config in &n.spec.vhids {
                    // validated in `new`
                    let _ = running.add_vhid(clock, IFACE, n.spec.node_config(config));
                }
                n.admin_demotion = 0;
                n.wakeup = None;
                n.node = Some(running);
                self.record(Some(node), Happening::Booted);
                let up = self.nodes[node].link_up;
                self.with_engine(node, |e| e.set_link(now, IFACE, up));
            }
            Fault::Crash(node) => {
                if self.nodes[node].node.take().is_some() {
                    self.nodes[node].wakeup = None;
                    self.record(Some(node), Happening::Crashed);
                }
            }
            Fault::Shutdown(node) => {
                if self.is_running(node) {
                    self.record(Some(node), Happening::ShutDown);
                    self.with_engine(node, |e| e.shutdown(now));
                    self.nodes[node].node = None;
                    self.nodes[node].wakeup = None;
                }
            }
            Fault::Partition(groups) => {
                let mut groups: Vec<Vec<NodeId>> =
                    groups.into_iter().filter(|g| !g.is_empty()).collect();
                let rest: Vec<NodeId> = (0..self.nodes.len())
                    .filter(|n| !groups.iter().any(|g| g.contains(n)))
                    .collect();
                if !rest.is_empty() {
                    groups.push(rest);
                }
                self.network.partition(&groups);
                self.record(None, Happening::Partitioned(groups));
            }
            Fault::Heal => {
                self.network.heal();
                self.record(None, Happening::Healed);
            }
            Fault::SetLoss(loss) => {
                self.network.conditions.loss = loss.clamp(0.0, 1.0);
                self.record(None, Happening::LossSet(self.network.conditions.loss));
            }
            Fault::Demote(node, delta) => {
                if !self.is_running(node) {
                    return;
                }
                let n = &mut self.nodes[node];
                let value = i64::from(n.admin_demotion) + i64::from(delta);
                n.admin_demotion = value.clamp(0, i64::from(i32::MAX)) as u32;
                let total = n.admin_demotion;
                self.record(Some(node), Happening::Demoted { delta, total });
                self.with_engine(node, |e| e.demote(now, delta));
            }
            Fault::Link(node, up) => {
                if self.nodes[node].link_up == up {
                    return;
                }
                self.nodes[node].link_up = up;
                self.record(Some(node), Happening::Link { up });
                self.with_engine(node, |e| e.set_link(now, IFACE, up));
            }
            Fault::Admin(node, vhid, target) => {
                if !self.is_running(node) {
                    return;
                }
                let key = VhidKey { iface: IFACE, vhid };
                let mut result = Ok(());
                // Record the command before the state change it causes.
                let index = self.timeline.len();
                self.with_engine(node, |e| result = e.admin_set_state(now, key, target));
                let refused = result.err().map(|e| e.to_string());
                let entry = Entry {
                    at: now,
                    node: Some(node),
                    what: Happening::Admin {
                        vhid,
                        target,
                        refused,
                    },
                };
                self.timeline.insert(index, entry);
            }
            Fault::Replay(attack) => self.replay(&attack),
        }
    }

    /// Queues the attacker's frames: the captured adverts of `attack.of` old
    /// enough, oldest first, over and over, changed as asked. Deliveries do
    /// not draw from the random generator, so a run with an attack that
    /// changes nothing matches the run without it event for event.
    fn replay(&mut self, attack: &ReplayAttack) {
        let Some(cutoff) = self.now.since_epoch().checked_sub(attack.min_age) else {
            return;
        };
        let frames: Vec<Frame> = self
            .capture
            .iter()
            .filter(|(from, vhid, at, _)| {
                *from == attack.of && *vhid == attack.vhid && at.since_epoch() <= cutoff
            })
            .map(|(_, _, _, frame)| tamper(frame, attack))
            .collect();
        if frames.is_empty() {
            return;
        }
        for k in 0..attack.count {
            let at = self.now + attack.every * k;
            let frame = &frames[k as usize % frames.len()];
            for to in 0..self.nodes.len() {
                let event = Event::Deliver {
                    to,
                    frame: frame.clone(),
                    replayed: true,
                };
                self.push(at, event);
            }
        }
    }

    /// Runs `input` on a running node's engine, then carries out its outputs.
    fn with_engine(&mut self, node: NodeId, input: impl FnOnce(&mut Engine)) {
        let clock = self.clock(node);
        if let Some(running) = self.nodes[node].node.as_mut() {
            running.input(clock, |engine, _| input(engine));
            self.after_input(node);
        }
    }

    /// Carries out a node's pending outputs and re-arms its wake-up.
    fn after_input(&mut self, node: NodeId) {
        let mut outputs = std::mem::take(&mut self.scratch);
        let clock = self.clock(node);
        let next_timeout = {
            let Some(running) = self.nodes[node].node.as_mut() else {
                return;
            };
            // A transmit is reported at once (the simulated send never
            // fails), which may queue more outputs.
            while let Some(output) = running.poll_output() {
                if let Output::Transmit { key, .. } = &output {
                    running.report_send(clock, *key, true);
                }
                outputs.push(output);
            }
            running.next_timeout()
        };
        for output in outputs.drain(..) {
            match output {
                Output::Transmit { key, frames } => {
                    for frame in frames {
                        self.broadcast(node, key.vhid, frame);
                    }
                }
                Output::StateChange {
                    key,
                    from,
                    to,
                    reason,
                    ..
                } => self.record(
                    Some(node),
                    Happening::StateChange {
                        vhid: key.vhid,
                        from,
                        to,
                        reason,
                    },
                ),
                Output::Reassert { key, peer } => self.record(
                    Some(node),
                    Happening::Reassert {
                        vhid: key.vhid,
                        peer: peer.source,
                    },
                ),
                Output::Announce { .. } => {}
            }
        }
        self.scratch = outputs;
        if self.nodes[node].wakeup != next_timeout {
            self.nodes[node].wakeup = next_timeout;
            if let Some(at) = next_timeout {
                self.push(at, Event::Wakeup(node));
            }
        }
    }

    fn broadcast(&mut self, from: NodeId, vhid: u8, frame: Frame) {
        self.stats.adverts_sent += 1;
        if self.capture.len() == CAPTURE_LEN {
            self.capture.pop_front();
        }
        self.capture
            .push_back((from, vhid, self.now, frame.clone()));
        for to in 0..self.nodes.len() {
            if to == from {
                continue;
            }
            match self.network.transmit(&mut self.rng, self.now, from, to) {
                Some(at) => self.push(
                    at,
                    Event::Deliver {
                        to,
                        frame: frame.clone(),
                        replayed: false,
                    },
                ),
                None => self.stats.dropped += 1,
            }
        }
    }
}

/// A captured frame as the attacker sends it: fields changed as asked, the
/// checksum fixed; the counter and digest as captured (it has no password).
fn tamper(frame: &Frame, attack: &ReplayAttack) -> Frame {
    let Ok(mut advert) = Advertisement::decode(&frame.header) else {
        return frame.clone();
    };
    if let Some(advskew) = attack.advskew {
        advert.advskew = advskew;
    }
    if let Some(demote) = attack.demote {
        advert.demote = demote;
    }
    Frame {
        source: frame.source,
        header: advert.encode(),
    }
}
