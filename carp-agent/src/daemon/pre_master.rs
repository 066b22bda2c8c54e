//! The wait for a vhid's pre-MASTER hooks (`on = ["pre-master"]`), e.g.
//! `conntrackd -c` on a firewall, which must finish before this host answers
//! for the VIPs.
//!
//! When the engine makes a vhid MASTER it has already decided: the advert it
//! sends at once (queued behind the state change) goes out as MASTER, and so
//! do the ones that follow, so the peers see a master at once and no backup
//! takes over too. The daemon then holds back what makes the host answer for
//! the VIPs: the XDP map keeps the vhid's previous state (so XDP answers no
//! ARP/ND for the VIPs and drops what is sent to the virtual MAC), the VIPs
//! are not added to the interface (so the kernel answers nothing either) and
//! no gratuitous ARP / unsolicited NA is sent. The hooks run on the vhid's
//! hook queue, off the event loop; adverts, other vhids and control requests
//! carry on. When the last pre-MASTER hook ends, whether it succeeded,
//! failed or timed out, its task reports through a channel and the event
//! loop carries out the rest of the transition: map, VIPs, announcements,
//! then the ordinary MASTER hooks.
//!
//! A failure or time-out is logged and the transition goes on: the peers
//! already follow this host's adverts (the old master has yielded or is
//! gone), so withholding the VIPs would leave nobody answering for them; a
//! firewall without the synced connection table still passes new
//! connections. If the vhid leaves MASTER before the hooks end, the VIPs are
//! never added (the hook itself runs to its end: killing a half-done
//! `conntrackd -c` would help nobody).
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Daemon;
use crate::{
    control::events::{self, Event},
    engine::{State, VhidKey},
    hooks::{HookOutcome, Transition},
};

/// A vhid that is MASTER in the engine and waits for its pre-MASTER hooks.
#[derive(Debug)]
pub struct Waiting {
    /// Tells this wait's end from an earlier one's.
    id: u64,
    /// The transition, for the MASTER hooks that follow.
    transition: Transition,
}

/// A pre-MASTER run ended.
#[derive(Debug)]
pub struct Finished {
    key: VhidKey,
    id: u64,
    outcome: HookOutcome,
    elapsed: Duration,
}

/// Where the hook tasks report: the event loop reads `rx`.
pub struct Channel {
    tx: mpsc::UnboundedSender<Finished>,
    rx: Option<mpsc::UnboundedReceiver<Finished>>,
    next_id: u64,
}

impl Default for Channel {
    fn default() -> Channel {
        let (tx, rx) = mpsc::unbounded_channel();
        Channel {
            tx,
            rx: Some(rx),
            next_id: 0,
        }
    }
}

impl Channel {
    /// The receiving end, for the event loop (once).
    pub fn take_receiver(&mut self) -> Option<mpsc::UnboundedReceiver<Finished>> {
        self.rx.take()
    }
}

impl Daemon {
    /// If `key` has pre-MASTER hooks, queues them and marks the vhid as
    /// waiting; the caller then leaves the map, the VIPs and the MASTER
    /// hooks to [`Daemon::on_pre_master_finished`]. Returns false if the
    /// vhid has none.
    pub(super) fn start_pre_master(&mut self, key: VhidKey, transition: Transition) -> bool {
        let Some(rt) = self.vhids.get_mut(&key) else {
            return false;
        };
        let id = self.pre_master.next_id;
        let tx = self.pre_master.tx.clone();
        let done = Box::new(move |outcome, elapsed| {
            // The receiver is gone only when the agent stops.
            let _ = tx.send(Finished {
                key,
                id,
                outcome,
                elapsed,
            });
        });
        if !self
            .hooks
            .pre_master(&rt.settings.hooks, transition.clone(), done)
        {
            return false;
        }
        self.pre_master.next_id += 1;
        info!(
            "vhid {} on {}: MASTER; the VIPs wait for the pre-master hook(s)",
            key.vhid, rt.interface
        );
        rt.pre_master = Some(Waiting { id, transition });
        true
    }

    /// A pre-MASTER run ended: if the vhid still waits for it, it takes its
    /// VIPs now.
    pub(super) async fn on_pre_master_finished(&mut self, finished: Finished) {
        let Finished {
            key,
            id,
            outcome,
            elapsed,
        } = finished;
        let Some(rt) = self.vhids.get_mut(&key) else {
            return;
        };
        let waiting = rt.pre_master.take_if(|w| w.id == id);
        let interface = rt.interface.clone();
        self.events.publish(&Event::PreMaster {
            time: events::now(),
            vhid: key.vhid,
            interface: interface.clone(),
            result: outcome.name().to_string(),
            elapsed_ms: elapsed.as_millis() as u64,
            vips_added: waiting.is_some(),
        });
        let Some(waiting) = waiting else {
            info!(
                "vhid {} on {interface}: pre-master hook(s) {} after {elapsed:?}; the vhid left \
                 MASTER meanwhile, the VIPs stay away",
                key.vhid,
                outcome.name()
            );
            return;
        };
        match outcome {
            HookOutcome::Done => info!(
                "vhid {} on {interface}: pre-master hook(s) done after {elapsed:?}; taking the VIPs",
                key.vhid
            ),
            _ => warn!(
                "vhid {} on {interface}: pre-master hook(s) {} after {elapsed:?}; taking the \
                 VIPs anyway (the peers already follow this master)",
                key.vhid,
                outcome.name()
            ),
        }
        self.take_vips(key);
        self.node.announce(key);
        if let Some(rt) = self.vhids.get(&key) {
            self.hooks
                .transition(&rt.settings.hooks, waiting.transition);
        }
    }

    /// Whether `key` waits for its pre-MASTER hooks (it must not announce).
    pub(super) fn waits_for_pre_master(&self, key: VhidKey) -> bool {
        self.vhids
            .get(&key)
            .is_some_and(|rt| rt.pre_master.is_some())
    }

    /// The MASTER side of a transition: the map entry now, the VIPs once
    /// the input's outputs are carried out (`address_queue.rs`).
    pub(super) fn take_vips(&mut self, key: VhidKey) {
        let now = self.now();
        let Some(rt) = self.vhids.get_mut(&key) else {
            return;
        };
        rt.state = State::Master;
        let until = (now.mono.since_epoch() + rt.master_hold()).as_nanos() as u64;
        if let Err(err) = self
            .dataplane
            .set_vhid(rt.map_key(), rt.map_entry(State::Master, rt.advskew, until))
        {
            // Never lose the VIP silently: say loudly that the dataplane is stale.
            warn!(
                "vhid {} on {}: updating the XDP map: {err}",
                key.vhid, rt.interface
            );
        }
        self.queue_vips(key, super::address_queue::Direction::Add);
    }
}
