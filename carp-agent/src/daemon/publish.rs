//! What the daemon tells the outside besides the wire: `carp-agent events`
//! subscribers ([`crate::control::events`]) and the demotion hooks.
use std::net::IpAddr;

use tracing::info;

use super::Daemon;
use crate::{
    control::events::{self, Event},
    hooks::{DemotionChange, Transition},
};

impl Daemon {
    /// A vhid changed state.
    pub(super) fn publish_transition(&self, t: &Transition) {
        if !self.events.has_subscribers() {
            return;
        }
        self.events.publish(&Event::Transition {
            time: events::now(),
            vhid: t.vhid,
            interface: t.interface.clone(),
            from: t.from.into(),
            to: t.to.into(),
            reason: t.reason.clone(),
            reason_text: t.reason_text.clone(),
        });
    }

    /// An advert failed authentication and was warned about (so rate-limited
    /// as the warnings are).
    pub(super) fn publish_badauth(&self, vhid: u8, interface: &str, source: IpAddr) {
        self.events.publish(&Event::Badauth {
            time: events::now(),
            vhid,
            interface: interface.to_string(),
            source,
        });
    }

    /// The one place that notices a change of the host demotion, whatever
    /// made it (control socket, tracking, the engine): called after every
    /// input, it compares the engine's demotion with the last one seen and
    /// runs the demotion hooks and publishes the event on a change.
    /// `demotion_cause` names what changed it, if the caller said.
    pub(super) fn notice_demotion(&mut self) {
        let demotion = self.node.engine().demotion();
        let cause = self.demotion_cause.take();
        if demotion == self.demotion_seen {
            return;
        }
        let change = DemotionChange {
            previous: self.demotion_seen,
            demotion,
            reason: cause.unwrap_or("other").to_string(),
        };
        self.demotion_seen = demotion;
        info!(
            "host demotion {} -> {} ({})",
            change.previous, change.demotion, change.reason
        );
        self.hooks.demotion(&self.config.demotion_hooks, &change);
        self.events.publish(&Event::Demotion {
            time: events::now(),
            demotion,
            previous: change.previous,
            reason: change.reason,
        });
    }
}
