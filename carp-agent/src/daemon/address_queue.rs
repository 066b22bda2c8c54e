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
//! the addresses are added (or, leaving MASTER, removed) in one pass after
//! the last output, in the order the changes were decided.
//!
//! Within that short window the kernel does not yet own a VIP it is
//! announced for; this was already so between the map update and the
//! netlink reply, for every vhid, before the change.
use tracing::warn;

use super::Daemon;
use crate::{
    config::Vip,
    engine::{State, VhidKey},
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

/// Changes in the order they were decided.
#[derive(Debug, Default)]
pub struct AddressQueue {
    changes: Vec<Change>,
}

impl AddressQueue {
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

impl Daemon {
    /// Holds back adding or removing the VIPs of `key`, as configured now.
    pub(super) fn queue_vips(&mut self, key: VhidKey, direction: Direction) {
        let Some(rt) = self.vhids.get(&key) else {
            return;
        };
        self.addresses.push(Change {
            key,
            direction,
            ifindex: rt.ifindex,
            interface: rt.interface.clone(),
            vips: rt.settings.vips.clone(),
        });
    }

    /// Carries out the held-back address changes, oldest first; errors are
    /// logged (the dataplane already answers as the state says).
    pub(super) async fn apply_address_changes(&mut self) {
        for change in self.addresses.take() {
            if change.direction == Direction::Add {
                let rt = self.vhids.get(&change.key);
                let state = rt.map(|rt| rt.state);
                let waiting = rt.is_some_and(|rt| rt.pre_master.is_some());
                if !add_still_wanted(state, waiting) {
                    continue;
                }
            }
            for vip in &change.vips {
                let result = match change.direction {
                    Direction::Add => {
                        self.netlink
                            .add_address(change.ifindex, vip.addr, vip.prefix)
                            .await
                    }
                    Direction::Remove => {
                        self.netlink
                            .remove_address(change.ifindex, vip.addr, vip.prefix)
                            .await
                    }
                };
                if let Err(err) = result {
                    let verb = match change.direction {
                        Direction::Add => "adding",
                        Direction::Remove => "removing",
                    };
                    warn!(
                        "vhid {} on {}: {verb} {}: {err}",
                        change.key.vhid, change.interface, vip.addr
                    );
                }
            }
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
                iface: Iface(2),
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
        let order: Vec<(u8, Direction)> = taken
            .iter()
            .map(|c| (c.key.vhid, c.direction))
            .collect();
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

    #[test]
    fn an_add_applies_only_to_a_master_that_no_hook_holds_back() {
        assert!(add_still_wanted(Some(State::Master), false));
        assert!(!add_still_wanted(Some(State::Master), true));
        assert!(!add_still_wanted(Some(State::Backup), false));
        assert!(!add_still_wanted(Some(State::Init), false));
        assert!(!add_still_wanted(None, false));
    }
}
