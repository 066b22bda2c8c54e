//! VIP address changes held back until every output of an input is carried
//! out, so that a takeover's cost on the wire does not grow with the number
//! of VIPs moving at once.
//!
//! When a link failure moves hundreds of vhids in one timer run, the node
//! queues, per vhid, the state change, its gratuitous ARP / unsolicited NA
//! and its first advert. Adding each vhid's VIPs through netlink in line
//! would make the announcements of the last vhid wait for every earlier
//! vhid's netlink round trips (milliseconds each while the kernel's RTNL
//! lock is busy), so the last VIP would move long after the first. What
//! makes the host answer for a VIP does not need the address on the
//! interface: the XDP map entry (MASTER: XDP answers ARP and ND for the
//! VIP) is written at once, then the announcement and the advert go out;
//! the addresses are added (or, leaving MASTER, removed) after the last
//! output, by a worker task beside the event loop: a timer that falls due
//! while hundreds of addresses are being added is not kept waiting. The
//! worker takes the changes in the order they were decided; before the
//! daemon changes addresses itself (reload, shutdown) it waits for the
//! worker to finish what it was given (`settle_addresses`).
//!
//! Within that short window the kernel does not yet own a VIP it is
//! announced for; this was already so between the map update and the
//! netlink reply, for every vhid, before the change.
use futures::StreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::Daemon;
use crate::{
    config::Vip,
    engine::{State, VhidKey},
    net::Netlink,
};

/// Add or remove a vhid's VIPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The vhid became MASTER: add them, if it still is when the queue runs.
    Add,
    /// The vhid left MASTER: remove them.
    Remove,
}

/// One held-back change: the addresses as they were when it was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: VhidKey,
    pub direction: Direction,
    pub ifindex: u32,
    pub interface: String,
    pub vips: Vec<Vip>,
}

/// Changes in the order they were decided, and the worker task that
/// carries them out ([`AddressQueue::start`]).
#[derive(Debug, Default)]
pub struct AddressQueue {
    changes: Vec<Change>,
    worker: Option<mpsc::UnboundedSender<Work>>,
}

/// What the worker task is given, in order.
#[derive(Debug)]
enum Work {
    /// Requests independent of each other ([`plan`]).
    Ops(Vec<AddressOp>),
    /// Answered once everything sent before is done.
    Barrier(oneshot::Sender<()>),
}

impl AddressQueue {
    /// Spawns the worker on the current runtime: it carries out batches in
    /// the order they are sent, [`IN_FLIGHT`] requests of a batch at a
    /// time, while the event loop goes on (a timer due meanwhile is not
    /// kept waiting by hundreds of address changes).
    pub fn start(&mut self, netlink: Netlink) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Work>();
        tokio::spawn(async move {
            while let Some(work) = rx.recv().await {
                match work {
                    Work::Ops(ops) => carry_out(&netlink, ops).await,
                    Work::Barrier(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        self.worker = Some(tx);
    }

    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Every change queued so far, oldest first; the queue is left empty.
    pub fn take(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }
}

/// Whether an `Add` decided earlier still applies: the vhid is still
/// configured, MASTER, and not waiting for its pre-MASTER hooks (a later
/// change in the same pass, e.g. leaving MASTER again, wins).
pub fn add_still_wanted(state: Option<State>, waiting_for_hooks: bool) -> bool {
    state == Some(State::Master) && !waiting_for_hooks
}

/// One netlink request: one VIP added to or removed from one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressOp {
    pub direction: Direction,
    pub ifindex: u32,
    pub vip: Vip,
    /// For the log: whose VIP, where.
    pub vhid: u8,
    pub interface: String,
}

/// The requests for `changes` (oldest first), skipping the additions
/// `wanted` refuses: one per address and interface, the last decided, so
/// that the requests are independent of each other and may all be in
/// flight at once.
pub fn plan(changes: Vec<Change>, wanted: impl Fn(&Change) -> bool) -> Vec<AddressOp> {
    let mut ops: Vec<AddressOp> = Vec::new();
    for change in changes {
        if change.direction == Direction::Add && !wanted(&change) {
            continue;
        }
        for vip in &change.vips {
            ops.retain(|op| !(op.ifindex == change.ifindex && op.vip.addr == vip.addr));
            ops.push(AddressOp {
                direction: change.direction,
                ifindex: change.ifindex,
                vip: *vip,
                vhid: change.key.vhid,
                interface: change.interface.clone(),
            });
        }
    }
    ops
}

/// Requests in flight at once: enough to hide the round trips, few enough
/// that the replies fit the netlink socket's receive buffer.
const IN_FLIGHT: usize = 32;

impl Daemon {
    /// Holds back adding or removing the VIPs of `key`, as configured now.
    /// A vhid tagged on a trunk has no interface to hold them: its VIPs live
    /// in the dataplane only (`net::vlan`).
    pub(super) fn queue_vips(&mut self, key: VhidKey, direction: Direction) {
        let Some(rt) = self.vhids.get(&key) else {
            return;
        };
        let Some(ifindex) = rt.address_ifindex() else {
            return;
        };
        self.addresses.push(Change {
            key,
            direction,
            ifindex,
            interface: rt.interface.clone(),
            vips: rt.settings.vips.clone(),
        });
    }

    /// Hands the held-back address changes to the worker task (or, before
    /// it runs, carries them out here).
    pub(super) async fn apply_address_changes(&mut self) {
        let changes = self.addresses.take();
        if changes.is_empty() {
            return;
        }
        let vhids = &self.vhids;
        let ops = plan(changes, |change| {
            let rt = vhids.get(&change.key);
            add_still_wanted(
                rt.map(|rt| rt.state),
                rt.is_some_and(|rt| rt.pre_master.is_some()),
            )
        });
        let ops = match &self.addresses.worker {
            Some(worker) => match worker.send(Work::Ops(ops)) {
                Ok(()) => return,
                Err(mpsc::error::SendError(Work::Ops(ops))) => ops,
                Err(_) => return,
            },
            None => ops,
        };
        carry_out(&self.netlink, ops).await;
    }

    /// Waits until every address change handed over so far is carried out:
    /// before the daemon changes addresses itself (reload, shutdown) or
    /// leaves them to a successor.
    pub(super) async fn settle_addresses(&mut self) {
        self.apply_address_changes().await;
        let Some(worker) = &self.addresses.worker else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        if worker.send(Work::Barrier(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Carries out `ops`, [`IN_FLIGHT`] netlink requests at a time (the kernel
/// still applies them one by one, but no round trip waits for another);
/// errors are logged (the dataplane already answers as the state says).
async fn carry_out(netlink: &Netlink, ops: Vec<AddressOp>) {
    let requests = ops.into_iter().map(|op| async move {
        let result = match op.direction {
            Direction::Add => {
                netlink
                    .add_address(op.ifindex, op.vip.addr, op.vip.prefix)
                    .await
            }
            Direction::Remove => {
                netlink
                    .remove_address(op.ifindex, op.vip.addr, op.vip.prefix)
                    .await
            }
        };
        (op, result)
    });
    let mut done = futures::stream::iter(requests).buffer_unordered(IN_FLIGHT);
    while let Some((op, result)) = done.next().await {
        if let Err(err) = result {
            let verb = match op.direction {
                Direction::Add => "adding",
                Direction::Remove => "removing",
            };
            warn!(
                "vhid {} on {}: {verb} {}: {err}",
                op.vhid, op.interface, op.vip.addr
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Iface;

    fn change(vhid: u8, direction: Direction) -> Change {
        Change {
            key: VhidKey {
                iface: Iface { index: 2, vlan: 0 },
                vhid,
            },
            direction,
            ifindex: 2,
            interface: "eth0".into(),
            vips: Vec::new(),
        }
    }

    #[test]
    fn changes_come_out_in_the_order_they_were_decided_and_only_once() {
        let mut queue = AddressQueue::default();
        queue.push(change(1, Direction::Add));
        queue.push(change(1, Direction::Remove));
        queue.push(change(2, Direction::Add));
        let taken = queue.take();
        let order: Vec<(u8, Direction)> = taken.iter().map(|c| (c.key.vhid, c.direction)).collect();
        assert_eq!(
            order,
            [
                (1, Direction::Add),
                (1, Direction::Remove),
                (2, Direction::Add)
            ]
        );
        assert!(queue.take().is_empty());
    }

    fn with_vips(mut c: Change, vips: &[&str]) -> Change {
        c.vips = vips
            .iter()
            .map(|v| Vip {
                addr: v.parse().unwrap(),
                prefix: 24,
            })
            .collect();
        c
    }

    #[test]
    fn the_plan_has_one_request_per_address_the_last_decided() {
        let changes = vec![
            with_vips(change(1, Direction::Add), &["10.0.0.1", "10.0.0.2"]),
            with_vips(change(2, Direction::Add), &["10.0.0.3"]),
            with_vips(change(1, Direction::Remove), &["10.0.0.1", "10.0.0.2"]),
        ];
        let ops = plan(changes, |_| true);
        let got: Vec<(String, Direction)> = ops
            .iter()
            .map(|op| (op.vip.addr.to_string(), op.direction))
            .collect();
        assert_eq!(
            got,
            [
                ("10.0.0.3".to_string(), Direction::Add),
                ("10.0.0.1".to_string(), Direction::Remove),
                ("10.0.0.2".to_string(), Direction::Remove),
            ]
        );
    }

    #[test]
    fn the_plan_skips_additions_no_longer_wanted_and_keeps_interfaces_apart() {
        let mut other = with_vips(change(3, Direction::Add), &["10.0.0.1"]);
        other.ifindex = 3;
        let changes = vec![
            with_vips(change(1, Direction::Add), &["10.0.0.1"]),
            with_vips(change(2, Direction::Add), &["10.0.0.2"]),
            other,
        ];
        let ops = plan(changes, |c| c.key.vhid != 2);
        let got: Vec<(u32, u8)> = ops.iter().map(|op| (op.ifindex, op.vhid)).collect();
        assert_eq!(got, [(2, 1), (3, 3)]);
    }

    #[test]
    fn an_add_applies_only_to_a_master_that_no_hook_holds_back() {
        assert!(add_still_wanted(Some(State::Master), false));
        assert!(!add_still_wanted(Some(State::Master), true));
        assert!(!add_still_wanted(Some(State::Backup), false));
        assert!(!add_still_wanted(Some(State::Init), false));
        assert!(!add_still_wanted(None, false));
    }
}
