//! The node: one host's CARP protocol, sans-IO, between the election
//! (`engine`) and the I/O (`daemon`, or the simulation in `sim`).
//!
//! Everything about adverts that is not the election lives here, so that
//! the simulator runs the same code the daemon runs:
//! - receiving: decode, the own-advert filter, the HMAC, the sealed-counter
//!   tag and replay checks ([`seal`], [`replay`]), and the time of arrival
//!   (the kernel's receive timestamp, not the moment the daemon read it);
//! - sending: the counter (a sealed sequence), signing, one header per
//!   address family;
//! - the announce schedule: a new master announces its VIPs at once and
//!   again after two more adverts.
//!
//! Inputs carry a [`Clock`]; outputs are drained with [`Node::poll_output`]
//! and carried out in order.
pub mod replay;
pub mod seal;

use std::{
    collections::{BTreeMap, VecDeque},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

pub use replay::{Refused, ReplayGuard, ReplayProtection};
pub use seal::{SealKey, SequenceClock, Unsigned};

use crate::{
    engine::{
        Action, Engine, EngineError, Flavor, Iface, PeerAdvert, Reason, State, Time, VhidConfig,
        VhidKey, timing::BOW_OUT,
    },
    proto::{ADVERT_LEN, Advertisement, Auth, AuthKey},
};

/// The time of an input on both clocks a node needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic: every deadline.
    pub mono: Time,
    /// Wall clock since the Unix epoch: the sealed sequence.
    pub wall: Duration,
}

/// What a node needs of one vhid beyond the election.
#[derive(Clone, Debug)]
pub struct NodeVhidConfig {
    pub election: VhidConfig,
    pub auth: Auth,
    pub seal: SealKey,
    /// Advert source per family; `None` when the vhid has no VIP of it.
    pub source_v4: Option<Ipv4Addr>,
    pub source_v6: Option<Ipv6Addr>,
    pub replay: ReplayProtection,
}

impl NodeVhidConfig {
    /// The usual shape: the HMAC key and the tag key from one CARP key.
    pub fn new(
        election: VhidConfig,
        key: &AuthKey,
        auth: Auth,
        sources: (Option<Ipv4Addr>, Option<Ipv6Addr>),
        replay: ReplayProtection,
    ) -> Self {
        Self {
            election,
            auth,
            seal: SealKey::derive(key),
            source_v4: sources.0,
            source_v6: sources.1,
            replay,
        }
    }

    fn is_own(&self, source: IpAddr) -> bool {
        match source {
            IpAddr::V4(a) => self.source_v4 == Some(a),
            IpAddr::V6(a) => self.source_v6 == Some(a),
        }
    }
}

/// One advert header to send from one source address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub source: IpAddr,
    pub header: [u8; ADVERT_LEN],
}

/// What the caller must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// The vhid changed state: mirror it in the dataplane first, then add or
    /// remove the VIPs and run the hooks.
    StateChange {
        key: VhidKey,
        from: State,
        to: State,
        reason: Reason,
        /// The advskew the vhid advertises now (for the dataplane).
        advskew: u8,
    },
    /// Gratuitous ARP / unsolicited NA for every VIP of the vhid.
    Announce { key: VhidKey },
    /// A MASTER heard a less preferred master and re-asserted (logged; an
    /// advert and an `Announce` follow).
    Reassert { key: VhidKey, peer: PeerAdvert },
    /// Send these frames (one per address family), then report the outcome
    /// with [`Node::report_send`].
    Transmit { key: VhidKey, frames: Vec<Frame> },
}

/// What became of a received advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// Authenticated, fresh, given to the election.
    Accepted,
    /// Our own advert (a bridge looped it back).
    Own,
    /// Not a CARP header (the XDP program checked it: a bug if seen).
    Malformed,
    /// No such vhid on that interface.
    UnknownVhid,
    /// Wrong HMAC: another password, or forged.
    BadAuth { vhid: u8 },
    /// Authenticated but refused by the replay checks.
    Refused { vhid: u8, why: Refused },
}

struct NodeVhid {
    config: NodeVhidConfig,
    guard: ReplayGuard,
    sequence: SequenceClock,
    state: State,
    /// Adverts left before the VIPs are announced again (at 1).
    announce_repeat: u8,
}

/// One host's CARP protocol, sans-IO. See the module documentation.
#[derive(Default)]
pub struct Node {
    engine: Engine,
    vhids: BTreeMap<VhidKey, NodeVhid>,
    outputs: VecDeque<Output>,
    /// The latest time given to the engine: inputs never go back in time,
    /// even an advert whose kernel timestamp is older than a timer that ran.
    latest: Time,
}

impl Node {
    pub fn new() -> Self {
        Self::default()
    }

    /// The election, read-only (status, tests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The vhids configured.
    pub fn keys(&self) -> impl Iterator<Item = VhidKey> + '_ {
        self.vhids.keys().copied()
    }

    /// Adds a vhid on `iface`.
    pub fn add_vhid(
        &mut self,
        now: Clock,
        iface: Iface,
        config: NodeVhidConfig,
    ) -> Result<VhidKey, EngineError> {
        let per_source_counters = config.election.flavor != Flavor::OpenBsd;
        let guard = ReplayGuard::new(config.replay, per_source_counters);
        let election = config.election.clone();
        let key = VhidKey {
            iface,
            vhid: election.vhid,
        };
        self.vhids.insert(
            key,
            NodeVhid {
                config,
                guard,
                sequence: SequenceClock::default(),
                state: State::Init,
                announce_repeat: 0,
            },
        );
        let now = self.mono(now);
        if let Err(err) = self.engine.add_vhid(now.mono, iface, election) {
            self.vhids.remove(&key);
            return Err(err);
        }
        self.drain(now);
        Ok(key)
    }

    /// Carries on as MASTER after the previous agent (see
    /// [`Engine::adopt_master`]).
    pub fn adopt_master(&mut self, now: Clock, key: VhidKey) -> Result<(), EngineError> {
        let now = self.mono(now);
        self.engine.adopt_master(now.mono, key)?;
        self.drain(now);
        Ok(())
    }

    /// Removes a vhid: a MASTER bows out first (its advert is queued with
    /// the state change), then the vhid is forgotten.
    pub fn remove_vhid(&mut self, now: Clock, key: VhidKey) -> Result<(), EngineError> {
        let now = self.mono(now);
        self.engine.remove_vhid(now.mono, key)?;
        self.drain(now);
        self.vhids.remove(&key);
        Ok(())
    }

    /// Gives a vhid a new configuration (a reload) in place: its state, its
    /// sequence and, while the replay rules stay the same, what it knows of
    /// its peers' counters are kept.
    pub fn reconfigure_vhid(
        &mut self,
        now: Clock,
        key: VhidKey,
        config: NodeVhidConfig,
    ) -> Result<(), EngineError> {
        let now = self.mono(now);
        let vhid = self
            .vhids
            .get_mut(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        self.engine
            .reconfigure_vhid(now.mono, key, config.election.clone())?;
        // Sequences are wall-clock based: a new password keeps them growing.
        let same_rules = vhid.config.replay == config.replay
            && vhid.config.election.flavor == config.election.flavor;
        if !same_rules {
            let per_source_counters = config.election.flavor != Flavor::OpenBsd;
            vhid.guard = ReplayGuard::new(config.replay, per_source_counters);
        }
        vhid.config = config;
        self.drain(now);
        Ok(())
    }

    /// A protocol-112 payload that arrived on `iface` from `source`, at
    /// `received` (the kernel's timestamp on the monotonic clock); `now` is
    /// when it is handled.
    pub fn handle_advert(
        &mut self,
        now: Clock,
        received: Time,
        iface: Iface,
        source: IpAddr,
        payload: &[u8],
    ) -> Received {
        let Ok(advert) = Advertisement::decode(payload) else {
            return Received::Malformed;
        };
        let key = VhidKey {
            iface,
            vhid: advert.vhid,
        };
        let Some(vhid) = self.vhids.get_mut(&key) else {
            return Received::UnknownVhid;
        };
        if vhid.config.is_own(source) {
            return Received::Own;
        }
        if advert.authenticate(&vhid.config.auth).is_err() {
            return Received::BadAuth { vhid: advert.vhid };
        }
        let fields = Unsigned {
            vhid: advert.vhid,
            advbase: advert.advbase,
            advskew: advert.advskew,
            demote: advert.demote,
        };
        let peer = PeerAdvert {
            source,
            advbase: advert.advbase,
            advskew: advert.advskew,
            demote: advert.demote,
        };
        // Never before the latest input: the engine's timers only go forward.
        let at = received.max(self.latest);
        let sealed = vhid.config.seal.open(fields, advert.counter, source);
        if let Err(why) = vhid
            .guard
            .check(at, source, advert.counter, sealed, peer.interval())
        {
            return Received::Refused {
                vhid: advert.vhid,
                why,
            };
        }
        self.latest = at;
        let now = Clock { mono: at, ..now };
        let _ = self.engine.handle_advert(at, key, peer);
        self.drain(now);
        Received::Accepted
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Clock) {
        let now = self.mono(now);
        self.engine.handle_timeout(now.mono);
        self.drain(now);
    }

    /// When [`Node::handle_timeout`] is next due.
    pub fn next_timeout(&self) -> Option<Time> {
        self.engine.next_timeout()
    }

    /// Runs any other engine input (link, demotion, admin, shutdown) at
    /// `now` and queues what it causes.
    pub fn input<R>(&mut self, now: Clock, input: impl FnOnce(&mut Engine, Time) -> R) -> R {
        let now = self.mono(now);
        let result = input(&mut self.engine, now.mono);
        self.drain(now);
        result
    }

    /// The outcome of a [`Output::Transmit`].
    pub fn report_send(&mut self, now: Clock, key: VhidKey, ok: bool) {
        let now = self.mono(now);
        let _ = self.engine.report_send(now.mono, key, ok);
        self.drain(now);
    }

    /// Queues the announcements of a new master for `key` (now and again
    /// after two more adverts), for a caller that held them back: the
    /// daemon adds a vhid's VIPs only after its pre-MASTER hook.
    pub fn announce(&mut self, key: VhidKey) {
        self.announce_and_repeat(key);
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// `now`, never before an earlier input.
    fn mono(&mut self, now: Clock) -> Clock {
        self.latest = self.latest.max(now.mono);
        Clock {
            mono: self.latest,
            ..now
        }
    }

    /// Turns the engine's actions into outputs.
    fn drain(&mut self, now: Clock) {
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::StateChange {
                    key,
                    from,
                    to,
                    reason,
                } => {
                    let advskew = self
                        .engine
                        .status(key)
                        .map(|s| s.advertised.advskew)
                        .unwrap_or_default();
                    // An adopted MASTER's VIPs never moved: nothing to announce.
                    let announce = to == State::Master && reason != Reason::Adopted;
                    self.outputs.push_back(Output::StateChange {
                        key,
                        from,
                        to,
                        reason,
                        advskew,
                    });
                    if let Some(vhid) = self.vhids.get_mut(&key) {
                        vhid.state = to;
                    }
                    if announce {
                        self.announce_and_repeat(key);
                    }
                }
                Action::SendAdvert {
                    key,
                    advbase,
                    advskew,
                    demote,
                } => self.transmit(now, key, advbase, advskew, demote),
                Action::Reassert { key, peer } => {
                    self.outputs.push_back(Output::Reassert { key, peer });
                    self.announce_and_repeat(key);
                }
            }
        }
    }

    /// Announces now and again after two more adverts (OpenBSD repeats a new
    /// master's ARP so): a neighbour that updated its entry from another
    /// master less than its locktime (1 s on Linux) ago ignores the first.
    fn announce_and_repeat(&mut self, key: VhidKey) {
        self.outputs.push_back(Output::Announce { key });
        if let Some(vhid) = self.vhids.get_mut(&key) {
            vhid.announce_repeat = 3;
        }
    }

    fn transmit(&mut self, now: Clock, key: VhidKey, advbase: u8, advskew: u8, demote: u8) {
        let Some(vhid) = self.vhids.get_mut(&key) else {
            return;
        };
        let sequence = vhid.sequence.next(now.wall);
        let fields = Unsigned {
            vhid: key.vhid,
            advbase,
            advskew,
            demote,
        };
        let sources = [
            vhid.config.source_v4.map(IpAddr::V4),
            vhid.config.source_v6.map(IpAddr::V6),
        ];
        let frames = sources
            .into_iter()
            .flatten()
            .map(|source| {
                let mut advert = Advertisement {
                    vhid: key.vhid,
                    advskew,
                    advbase,
                    demote,
                    counter: vhid.config.seal.seal(fields, sequence, source),
                    md: [0; 20],
                };
                advert.sign(&vhid.config.auth);
                Frame {
                    source,
                    header: advert.encode(),
                }
            })
            .collect();
        self.outputs.push_back(Output::Transmit { key, frames });
        let repeat_now = vhid.state == State::Master && vhid.announce_repeat == 1;
        vhid.announce_repeat = vhid.announce_repeat.saturating_sub(1);
        let is_bow_out = advbase == BOW_OUT && advskew == BOW_OUT;
        if repeat_now && !is_bow_out {
            self.outputs.push_back(Output::Announce { key });
        }
    }
}
