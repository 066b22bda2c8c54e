//! What happened during a run, in order: state changes and injected faults.

use std::fmt::Write as _;

use super::network::NodeId;
use crate::engine::{AdminState, Reason, State, Time};

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub at: Time,
    /// Which node, or `None` for the segment itself.
    pub node: Option<NodeId>,
    pub what: Happening,
}

/// An event worth a line in the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Happening {
    /// A vhid changed state.
    StateChange {
        vhid: u8,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why, as the engine reported it.
        reason: Reason,
    },
    /// The node started (fresh engine, no demotion).
    Booted,
    /// The node died without a word.
    Crashed,
    /// The node shut down gracefully (bow-out from its masters).
    ShutDown,
    /// The segment was split into groups that cannot hear each other (every
    /// node is in exactly one group).
    Partitioned(Vec<Vec<NodeId>>),
    /// Partitions removed.
    Healed,
    /// Per-advert loss probability changed.
    LossSet(f64),
    /// The node's administrative demotion changed.
    Demoted {
        /// Requested change.
        delta: i32,
        /// Host demotion afterwards.
        total: u32,
    },
    /// The node's interface went up or down.
    Link {
        /// New link state.
        up: bool,
    },
    /// An administrator ran `state backup|master` on a vhid.
    Admin {
        vhid: u8,
        /// Requested state.
        target: AdminState,
        /// The engine's refusal, if any.
        refused: Option<String>,
    },
    /// A MASTER heard a less preferred master and re-asserted itself (an
    /// advert at once and the VIPs announced again).
    Reassert {
        vhid: u8,
        /// The master that should yield.
        peer: std::net::IpAddr,
    },
}

impl Entry {
    /// A state change of `vhid`, if this entry is one.
    pub fn state_change(&self) -> Option<(u8, State, State)> {
        match &self.what {
            Happening::StateChange { vhid, from, to, .. } => Some((*vhid, *from, *to)),
            _ => None,
        }
    }

    /// One readable line, e.g. `   3.000s  node1 vhid 1  BACKUP -> MASTER (master down: ...)`.
    pub fn render(&self, name_of: impl Fn(NodeId) -> String) -> String {
        let mut line = format!("{:>9}  ", self.at);
        let who = self.node.map(&name_of).unwrap_or_default();
        let names = |group: &Vec<NodeId>| {
            group
                .iter()
                .map(|&n| name_of(n))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = match &self.what {
            Happening::StateChange {
                vhid,
                from,
                to,
                reason,
            } => write!(line, "{who} vhid {vhid}  {from} -> {to} ({reason})"),
            Happening::Booted => write!(line, "{who} booted"),
            Happening::Crashed => write!(line, "{who} crashed"),
            Happening::ShutDown => write!(line, "{who} shut down gracefully"),
            Happening::Partitioned(groups) => {
                let parts: Vec<String> =
                    groups.iter().map(|g| format!("{{{}}}", names(g))).collect();
                write!(line, "network partitioned: {}", parts.join(" | "))
            }
            Happening::Healed => write!(line, "network healed"),
            Happening::Reassert { vhid, peer } => {
                write!(line, "{who} vhid {vhid}  re-asserts against {peer}")
            }
            Happening::LossSet(loss) => write!(line, "network loss set to {:.0}%", loss * 100.0),
            Happening::Demoted { delta, total } => {
                write!(line, "{who} demotion {delta:+} (now {total})")
            }
            Happening::Link { up } => {
                write!(line, "{who} link {}", if *up { "up" } else { "down" })
            }
            Happening::Admin {
                vhid,
                target,
                refused,
            } => match refused {
                Some(why) => write!(
                    line,
                    "{who} vhid {vhid}  admin: state {target} (refused: {why})"
                ),
                None => write!(line, "{who} vhid {vhid}  admin: state {target}"),
            },
        };
        line
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn name(n: NodeId) -> String {
        format!("node{}", n + 1)
    }

    #[test]
    fn lines_read_well() {
        let cases = [
            (
                Entry {
                    at: Time::from_secs(3),
                    node: Some(0),
                    what: Happening::StateChange {
                        vhid: 1,
                        from: State::Backup,
                        to: State::Master,
                        reason: Reason::MasterDown {
                            silent_for: Duration::from_secs(3),
                        },
                    },
                },
                "   3.000s  node1 vhid 1  BACKUP -> MASTER (master down: no advert for 3.00 s)",
            ),
            (
                Entry {
                    at: Time::from_secs(10),
                    node: Some(0),
                    what: Happening::Crashed,
                },
                "  10.000s  node1 crashed",
            ),
            (
                Entry {
                    at: Time::from_millis(12_500),
                    node: None,
                    what: Happening::Partitioned(vec![vec![0], vec![1, 2]]),
                },
                "  12.500s  network partitioned: {node1} | {node2, node3}",
            ),
            (
                Entry {
                    at: Time::from_secs(1),
                    node: Some(1),
                    what: Happening::Demoted {
                        delta: 240,
                        total: 240,
                    },
                },
                "   1.000s  node2 demotion +240 (now 240)",
            ),
        ];
        for (entry, text) in cases {
            assert_eq!(entry.render(name), text);
        }
    }
}
