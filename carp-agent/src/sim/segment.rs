//! The discrete-event simulation of one shared segment of CARP hosts.

use std::{
    cmp::{Ordering, Reverse},
    collections::BinaryHeap,
    net::IpAddr,
};

use super::{
    network::{NetConditions, Network, NodeId},
    rng::SimRng,
    timeline::{Entry, Happening},
};
use crate::engine::{
    Action, AdminState, Engine, EngineError, Iface, PeerAdvert, State, Time, VhidConfig, VhidKey,
};

/// The one interface every simulated node has.
pub const IFACE: Iface = Iface(1);

/// A simulated host.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// Name in the timeline, e.g. `node1`.
    pub name: String,
    /// Its address on the segment (also each vhid's `source`).
    pub address: IpAddr,
    pub vhids: Vec<VhidConfig>,
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
}

struct Node {
    spec: NodeSpec,
    engine: Option<Engine>,
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
        vhid: u8,
        advert: PeerAdvert,
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
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    rng: SimRng,
    network: Network,
    timeline: Vec<Entry>,
    stats: Stats,
    scratch: Vec<Action>,
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
            .map(|spec| Node {
                spec,
                engine: None,
                link_up: true,
                admin_demotion: 0,
                wakeup: None,
            })
            .collect();
        Ok(Segment {
            now: Time::ZERO,
            nodes,
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
                Event::Deliver { to, vhid, advert } => self.deliver(to, vhid, advert),
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
        self.nodes[node].engine.is_some()
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
        let engine = self.nodes[node].engine.as_ref()?;
        engine.state(VhidKey { iface: IFACE, vhid })
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

    fn deliver(&mut self, to: NodeId, vhid: u8, advert: PeerAdvert) {
        let now = self.now;
        let node = &mut self.nodes[to];
        let Some(engine) = node.engine.as_mut().filter(|_| node.link_up) else {
            self.stats.dropped += 1;
            return;
        };
        self.stats.delivered += 1;
        // Every node runs every vhid of the segment; an unknown one is ignored,
        // as the dataplane would drop it (badvhid).
        if engine
            .handle_advert(now, VhidKey { iface: IFACE, vhid }, advert)
            .is_ok()
        {
            self.after_input(to);
        }
    }

    fn wake(&mut self, node: NodeId) {
        let now = self.now;
        let n = &mut self.nodes[node];
        if n.wakeup != Some(now) {
            return; // superseded
        }
        n.wakeup = None;
        if let Some(engine) = n.engine.as_mut() {
            engine.handle_timeout(now);
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
                let n = &mut self.nodes[node];
                let mut engine = Engine::new();
                for config in &n.spec.vhids {
                    // validated in `new`
                    let _ = engine.add_vhid(now, IFACE, config.clone());
                }
                n.admin_demotion = 0;
                n.wakeup = None;
                n.engine = Some(engine);
                self.record(Some(node), Happening::Booted);
                let up = self.nodes[node].link_up;
                self.with_engine(node, |e| e.set_link(now, IFACE, up));
            }
            Fault::Crash(node) => {
                if self.nodes[node].engine.take().is_some() {
                    self.nodes[node].wakeup = None;
                    self.record(Some(node), Happening::Crashed);
                }
            }
            Fault::Shutdown(node) => {
                if self.is_running(node) {
                    self.record(Some(node), Happening::ShutDown);
                    self.with_engine(node, |e| e.shutdown(now));
                    self.nodes[node].engine = None;
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
        }
    }

    /// Runs `input` on a running node's engine, then carries out its actions.
    fn with_engine(&mut self, node: NodeId, input: impl FnOnce(&mut Engine)) {
        if let Some(engine) = self.nodes[node].engine.as_mut() {
            input(engine);
            self.after_input(node);
        }
    }

    /// Carries out a node's pending actions and re-arms its wake-up.
    fn after_input(&mut self, node: NodeId) {
        let mut actions = std::mem::take(&mut self.scratch);
        let next_timeout = {
            let Some(engine) = self.nodes[node].engine.as_mut() else {
                return;
            };
            actions.extend(std::iter::from_fn(|| engine.poll_action()));
            engine.next_timeout()
        };
        for action in actions.drain(..) {
            match action {
                Action::SendAdvert {
                    key,
                    advbase,
                    advskew,
                    demote,
                } => {
                    let advert = PeerAdvert {
                        source: self.nodes[node].spec.address,
                        advbase,
                        advskew,
                        demote,
                    };
                    self.broadcast(node, key.vhid, advert);
                }
                Action::StateChange {
                    key,
                    from,
                    to,
                    reason,
                } => self.record(
                    Some(node),
                    Happening::StateChange {
                        vhid: key.vhid,
                        from,
                        to,
                        reason,
                    },
                ),
                Action::Reassert { key, peer } => self.record(
                    Some(node),
                    Happening::Reassert {
                        vhid: key.vhid,
                        peer: peer.source,
                    },
                ),
            }
        }
        self.scratch = actions;
        if self.nodes[node].wakeup != next_timeout {
            self.nodes[node].wakeup = next_timeout;
            if let Some(at) = next_timeout {
                self.push(at, Event::Wakeup(node));
            }
        }
    }

    fn broadcast(&mut self, from: NodeId, vhid: u8, advert: PeerAdvert) {
        self.stats.adverts_sent += 1;
        for to in 0..self.nodes.len() {
            if to == from {
                continue;
            }
            match self.network.transmit(&mut self.rng, self.now, from, to) {
                Some(at) => self.push(at, Event::Deliver { to, vhid, advert }),
                None => self.stats.dropped += 1,
            }
        }
    }
}
