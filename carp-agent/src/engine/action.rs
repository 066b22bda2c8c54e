//! What the engine asks its caller to do, and the vocabulary for it.

use std::{fmt, net::IpAddr, time::Duration};

use super::timing::PeerAdvert;

/// A segment adverts are heard on: an interface, named by the caller's
/// index (e.g. the Linux ifindex), and an 802.1Q VLAN id on it (0 for
/// untagged frames). The same vhid on two VLANs of one trunk is two
/// elections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iface {
    pub index: u32,
    pub vlan: u16,
}

impl Iface {
    /// Untagged frames on interface `index`.
    pub const fn new(index: u32) -> Self {
        Self { index, vlan: 0 }
    }

    /// Frames tagged with `vlan` on interface `index`.
    pub const fn tagged(index: u32, vlan: u16) -> Self {
        Self { index, vlan }
    }
}

impl fmt::Display for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vlan {
            0 => write!(f, "if{}", self.index),
            vlan => write!(f, "if{} vlan {vlan}", self.index),
        }
    }
}

/// One vhid on one interface: the unit of election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VhidKey {
    /// Parent interface.
    pub iface: Iface,
    pub vhid: u8,
}

impl fmt::Display for VhidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} vhid {}", self.iface, self.vhid)
    }
}

/// carp(4) states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Not participating (link down, not started, or shut down).
    Init,
    /// Listening to a master, ready to take over.
    Backup,
    /// Owns the virtual addresses and advertises.
    Master,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
        })
    }
}

/// Target of an administrative state change (`ifconfig em0 vhid 1 state backup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminState {
    /// Give up mastership now; the backups take over after master-down.
    Backup,
    /// Become master now; the ordinary rules then apply.
    Master,
}

impl fmt::Display for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdminState::Backup => "backup",
            AdminState::Master => "master",
        })
    }
}

/// Why a vhid changed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The parent interface came up (INIT -> BACKUP).
    LinkUp,
    /// The parent interface went down (-> INIT).
    LinkDown,
    /// A BACKUP heard no acceptable advert for its master-down interval.
    MasterDown {
        /// Time since the last acceptable advert (or since entering BACKUP).
        silent_for: Duration,
    },
    /// A preempting BACKUP heard a less preferred master.
    Preempting {
        /// The master being replaced.
        peer: PeerAdvert,
    },
    /// A MASTER heard a more preferred master.
    MorePreferredMaster {
        /// The winner.
        peer: PeerAdvert,
        /// Only the tie-break on source addresses made it more preferred.
        by_address: bool,
        /// Our advskew on the wire when host demotion raised it, for the log.
        demoted_advskew: Option<u8>,
    },
    /// A MASTER heard an equal master and yields, as FreeBSD does.
    EqualMaster {
        /// The other master.
        peer: PeerAdvert,
    },
    /// A BACKUP's master advertises slower than `3*advbase + advskew/256` of
    /// the BACKUP, so it would time out anyway ("master will time out").
    MasterTooSlow {
        /// The slow master.
        peer: PeerAdvert,
        /// The BACKUP's threshold.
        threshold: Duration,
    },
    /// OpenBSD: the master's demote byte is higher than ours; taken over
    /// regardless of advskew and preempt.
    MoreDemotedMaster {
        /// The demoted master.
        peer: PeerAdvert,
        /// Our demote byte.
        ours: u8,
    },
    /// Our master sent the bow-out advert (advbase 255, advskew 255).
    BowOut {
        /// The master bowing out.
        source: IpAddr,
    },
    /// An administrative command.
    Admin(AdminState),
    /// The engine shut down.
    Shutdown,
    /// The vhid was removed from the configuration.
    Removed,
    /// This agent started while the previous one's dataplane still answered
    /// as MASTER (within its dead-man deadline: no backup can have taken
    /// over) and carries on as MASTER.
    Adopted,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::LinkUp => f.write_str("link up"),
            Reason::LinkDown => f.write_str("link down"),
            Reason::MasterDown { silent_for } => write!(
                f,
                "master down: no advert for {:.2} s",
                silent_for.as_secs_f64()
            ),
            Reason::Preempting { peer } => {
                write!(f, "preempting less preferred master {peer}")
            }
            Reason::MorePreferredMaster {
                peer,
                by_address,
                demoted_advskew,
            } => {
                write!(f, "more preferred master {peer}")?;
                if *by_address {
                    f.write_str(" (equal; the tie rule on addresses prefers it)")?;
                }
                if let Some(advskew) = demoted_advskew {
                    write!(f, "; we are demoted to advskew {advskew}")?;
                }
                Ok(())
            }
            Reason::EqualMaster { peer } => {
                write!(f, "equal master {peer}; yielding on ties (FreeBSD)")
            }
            Reason::MasterTooSlow { peer, threshold } => write!(
                f,
                "master {peer} advertises slower than our time-out threshold {:.2} s",
                threshold.as_secs_f64()
            ),
            Reason::MoreDemotedMaster { peer, ours } => write!(
                f,
                "master {peer} is more demoted than us (demote {} > {ours})",
                peer.demote
            ),
            Reason::BowOut { source } => write!(f, "bow-out received from {source}"),
            Reason::Admin(target) => write!(f, "admin: state {target}"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::Removed => f.write_str("vhid removed"),
            Reason::Adopted => f.write_str(
                "adopted: MASTER under the previous agent, whose deadline had not passed",
            ),
        }
    }
}

impl Reason {
    /// A stable, machine-readable name for the reason (`CARP_REASON` in a
    /// hook's environment, `reason` in `carp-agent events`); the
    /// [`Display`](fmt::Display) form is for people and may change.
    pub fn token(&self) -> &'static str {
        match self {
            Reason::LinkUp => "link_up",
            Reason::LinkDown => "link_down",
            Reason::MasterDown { .. } => "master_down",
            Reason::Preempting { .. } => "preempting",
            Reason::MorePreferredMaster { .. } => "more_preferred_master",
            Reason::EqualMaster { .. } => "equal_master",
            Reason::MasterTooSlow { .. } => "master_too_slow",
            Reason::MoreDemotedMaster { .. } => "more_demoted_master",
            Reason::BowOut { .. } => "bow_out",
            Reason::Admin(_) => "admin",
            Reason::Shutdown => "shutdown",
            Reason::Removed => "removed",
            Reason::Adopted => "adopted",
        }
    }
}

/// An output of the engine, for the caller to carry out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send one advertisement for `key` with these timing fields (the caller fills
    /// in counter, HMAC and addresses).
    SendAdvert {
        /// The vhid advertising.
        key: VhidKey,
        advbase: u8,
        /// advskew field, as it goes on the wire (demotion applied and clamped).
        advskew: u8,
        /// Header byte 4 (OpenBSD demote; 0 in FreeBSD mode).
        demote: u8,
    },
    /// `key` changed state. On a change to MASTER the caller installs the virtual
    /// addresses and sends gratuitous ARP / unsolicited NA; on a change away from
    /// MASTER it withdraws them. The advert a new master sends at once follows as
    /// a separate [`Action::SendAdvert`].
    StateChange {
        key: VhidKey,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        reason: Reason,
    },
    /// A MASTER heard a less preferred master (the advert it sent at once
    /// precedes this as a [`Action::SendAdvert`]): the caller re-sends the
    /// gratuitous ARPs / unsolicited NAs of `key`'s addresses, so neighbours
    /// that followed the other master come back. At most once a second.
    Reassert {
        /// The vhid that stays MASTER.
        key: VhidKey,
        /// The master that should yield.
        peer: PeerAdvert,
    },
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn peer(last: u8, advskew: u8, demote: u8) -> PeerAdvert {
        PeerAdvert {
            source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            advbase: 1,
            advskew,
            demote,
        }
    }

    #[test]
    fn reasons_read_well() {
        let cases = [
            (
                Reason::MasterDown {
                    silent_for: Duration::from_millis(3_016),
                },
                "master down: no advert for 3.02 s",
            ),
            (
                Reason::Preempting {
                    peer: peer(2, 100, 0),
                },
                "preempting less preferred master 10.0.0.2 (advbase 1 advskew 100)",
            ),
            (
                Reason::MorePreferredMaster {
                    peer: peer(1, 0, 0),
                    by_address: false,
                    demoted_advskew: None,
                },
                "more preferred master 10.0.0.1 (advbase 1 advskew 0)",
            ),
            (
                Reason::MorePreferredMaster {
                    peer: peer(2, 100, 0),
                    by_address: false,
                    demoted_advskew: Some(240),
                },
                "more preferred master 10.0.0.2 (advbase 1 advskew 100); we are demoted to advskew 240",
            ),
            (
                Reason::MorePreferredMaster {
                    peer: peer(3, 0, 0),
                    by_address: true,
                    demoted_advskew: None,
                },
                "more preferred master 10.0.0.3 (advbase 1 advskew 0) (equal; the tie rule on addresses prefers it)",
            ),
            (
                Reason::MoreDemotedMaster {
                    peer: peer(1, 0, 240),
                    ours: 0,
                },
                "master 10.0.0.1 (advbase 1 advskew 0 demote 240) is more demoted than us (demote 240 > 0)",
            ),
            (
                Reason::BowOut {
                    source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                },
                "bow-out received from 10.0.0.1",
            ),
            (Reason::Admin(AdminState::Backup), "admin: state backup"),
            (Reason::LinkDown, "link down"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn reason_tokens_are_stable() {
        let p = peer(1, 0, 0);
        let cases = [
            (Reason::LinkUp, "link_up"),
            (Reason::LinkDown, "link_down"),
            (
                Reason::MasterDown {
                    silent_for: Duration::from_secs(3),
                },
                "master_down",
            ),
            (Reason::Preempting { peer: p }, "preempting"),
            (
                Reason::MorePreferredMaster {
                    peer: p,
                    by_address: false,
                    demoted_advskew: None,
                },
                "more_preferred_master",
            ),
            (Reason::EqualMaster { peer: p }, "equal_master"),
            (
                Reason::MasterTooSlow {
                    peer: p,
                    threshold: Duration::from_secs(3),
                },
                "master_too_slow",
            ),
            (
                Reason::MoreDemotedMaster { peer: p, ours: 0 },
                "more_demoted_master",
            ),
            (
                Reason::BowOut {
                    source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                },
                "bow_out",
            ),
            (Reason::Admin(AdminState::Master), "admin"),
            (Reason::Admin(AdminState::Backup), "admin"),
            (Reason::Shutdown, "shutdown"),
            (Reason::Removed, "removed"),
            (Reason::Adopted, "adopted"),
        ];
        for (reason, token) in cases {
            assert_eq!(reason.token(), token, "{reason}");
            // Safe in a shell variable and a JSON string as they are.
            assert!(token.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn states_pad() {
        assert_eq!(format!("{:<7}|", State::Master), "MASTER |");
    }
}
