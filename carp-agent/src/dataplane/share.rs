//! Whether the agent takes an interface's XDP slot alone or shares it with
//! other programs through libxdp's dispatcher (`xdp_share`), and what it
//! does about the program it finds there. See docs/xdp-coexistence.md.
//!
//! The rule that never bends: a program that is not provably carp-agent's
//! (named `carp_xdp`) is never detached. Where the agent cannot share, it
//! refuses to start on the interface, names what is there and says what to
//! do; nothing is changed.
use super::libxdp::DISPATCHER_NAME;

/// How to coexist with other XDP programs on an interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpShare {
    /// Join libxdp's dispatcher when one is on the interface (an operator
    /// ran `xdp-filter` or `xdp-loader`); otherwise take the interface alone.
    #[default]
    Auto,
    /// Always attach through libxdp: join the dispatcher, or create one so
    /// that other programs can join later.
    Dispatcher,
    /// Take the interface alone; refuse if any other program is there.
    Exclusive,
}

impl XdpShare {
    /// The setting's name as the flag spells it.
    pub fn label(self) -> &'static str {
        match self {
            XdpShare::Auto => "auto",
            XdpShare::Dispatcher => "dispatcher",
            XdpShare::Exclusive => "exclusive",
        }
    }
}

/// What occupies an interface's XDP slot, as netlink reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Occupant {
    Free,
    /// carp-agent's own program, attached alone (a killed agent's).
    Ours {
        id: u32,
    },
    /// libxdp's dispatcher.
    Dispatcher {
        id: u32,
    },
    /// Anything else, by kernel id and name.
    Other {
        id: u32,
        name: String,
    },
}

impl Occupant {
    /// From the attached program's id and kernel name (None: unreadable).
    pub fn classify(id: Option<u32>, name: Option<&str>) -> Occupant {
        match (id, name) {
            (None, _) => Occupant::Free,
            (Some(id), Some(carp_common::PROGRAM_NAME)) => Occupant::Ours { id },
            (Some(id), Some(DISPATCHER_NAME)) => Occupant::Dispatcher { id },
            (Some(id), name) => Occupant::Other {
                id,
                name: name.unwrap_or("unknown").to_string(),
            },
        }
    }
}

/// What to do on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Attach alone (a stale program of ours may have to go first).
    Alone,
    /// Attach through libxdp.
    Join,
    /// Refuse with this reason; the caller adds the interface.
    Refuse(String),
}

/// Decides from the setting and the occupant of interface `iface`.
pub fn plan(share: XdpShare, occupant: &Occupant, iface: &str) -> Plan {
    match (share, occupant) {
        (XdpShare::Dispatcher, _) | (XdpShare::Auto, Occupant::Dispatcher { .. }) => Plan::Join,
        (_, Occupant::Free | Occupant::Ours { .. }) => Plan::Alone,
        (XdpShare::Exclusive, Occupant::Dispatcher { id }) => Plan::Refuse(format!(
            "libxdp's dispatcher ({DISPATCHER_NAME}, id {id}) holds the XDP slot and \
             xdp_share = \"exclusive\"; use xdp_share = \"auto\" (--xdp-share auto) to run \
             beside its programs"
        )),
        (_, Occupant::Other { id, name }) => Plan::Refuse(format!(
            "another XDP program is attached (id {id}, name {name}) and it is not carp-agent's, \
             nor libxdp's dispatcher; refusing to replace it. To run beside it, load it through \
             libxdp (`xdp-loader load`, `xdp-filter load`) on a kernel where libxdp can build its \
             dispatcher (`xdp-loader status` then shows xdp_dispatcher); or remove it if it is \
             not needed (`xdp-loader unload {iface} --all`, or `ip link set dev {iface} xdp off`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupants_are_told_apart_by_kernel_name() {
        assert_eq!(Occupant::classify(None, None), Occupant::Free);
        assert_eq!(
            Occupant::classify(Some(3), Some("carp_xdp")),
            Occupant::Ours { id: 3 }
        );
        assert_eq!(
            Occupant::classify(Some(4), Some("xdp_dispatcher")),
            Occupant::Dispatcher { id: 4 }
        );
        assert_eq!(
            Occupant::classify(Some(5), None),
            Occupant::Other {
                id: 5,
                name: "unknown".into()
            }
        );
    }

    #[test]
    fn auto_joins_a_dispatcher_and_takes_a_free_slot_alone() {
        let auto = XdpShare::Auto;
        assert_eq!(
            plan(auto, &Occupant::Dispatcher { id: 1 }, "eth0"),
            Plan::Join
        );
        assert_eq!(plan(auto, &Occupant::Free, "eth0"), Plan::Alone);
        assert_eq!(plan(auto, &Occupant::Ours { id: 1 }, "eth0"), Plan::Alone);
    }

    #[test]
    fn a_foreign_program_is_refused_in_every_setting_but_dispatcher() {
        let other = Occupant::Other {
            id: 9,
            name: "xdpfilt_alw_all".into(),
        };
        for share in [XdpShare::Auto, XdpShare::Exclusive] {
            let Plan::Refuse(reason) = plan(share, &other, "eth0") else {
                panic!("{share:?} must refuse")
            };
            assert!(reason.contains("id 9, name xdpfilt_alw_all"), "{reason}");
            assert!(
                reason.contains("xdp-loader unload eth0 --all"),
                "says what to do: {reason}"
            );
        }
        // Through libxdp, which refuses by itself to replace a program it
        // cannot put in a dispatcher; the agent reports that error.
        assert_eq!(plan(XdpShare::Dispatcher, &other, "eth0"), Plan::Join);
    }

    #[test]
    fn exclusive_refuses_a_dispatcher_and_dispatcher_always_joins() {
        let Plan::Refuse(reason) =
            plan(XdpShare::Exclusive, &Occupant::Dispatcher { id: 7 }, "eth0")
        else {
            panic!("exclusive must refuse a dispatcher")
        };
        assert!(reason.contains("xdp_dispatcher, id 7"), "{reason}");
        assert_eq!(
            plan(XdpShare::Dispatcher, &Occupant::Free, "eth0"),
            Plan::Join
        );
    }
}
