//! The host-wide demotion counter (FreeBSD `net.inet.carp.demotion`).
//!
//! FreeBSD keeps one integer that the sysctl, link-down and send errors all add
//! to. Here its three sources are kept apart, so an administrator's negative
//! adjustment can never cancel the penalty of an interface that is still down;
//! the value used on the wire is their sum.
//!
//! The two BSDs weigh the automatic sources differently: FreeBSD adds 240 per
//! event (enough to push advskew to its wire maximum), OpenBSD adds 1 per
//! event to its demote counter, which travels in header byte 4 and outranks
//! advskew anyway. So the total depends on the flavor of the vhid reading it.

use super::config::Flavor;

/// Added while an interface is down (FreeBSD `ifdown_demotion_factor`).
pub const IFDOWN_DEMOTION_FACTOR: u32 = 240;
/// Added while a vhid fails to send (FreeBSD `senderr_demotion_factor`).
pub const SENDERR_DEMOTION_FACTOR: u32 = 240;
/// OpenBSD's step per link-down or send-error event (`carp_group_demote_adj`
/// by 1 per interface group).
pub const OPENBSD_DEMOTION_STEP: u32 = 1;
/// Ceiling of the counter (FreeBSD keeps it in an `int`).
pub const MAX_DEMOTION: u32 = i32::MAX as u32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Demotion {
    /// Set by the administrator (`demote`, `set_demotion`).
    admin: u32,
    /// Interfaces currently reported down.
    ifaces_down: u32,
    /// Vhids currently demoted for send errors.
    send_failing: u32,
}

impl Demotion {
    /// The demotion a vhid of `flavor` applies.
    pub(crate) fn total(&self, flavor: Flavor) -> u32 {
        let (ifdown_step, senderr_step) = match flavor {
            Flavor::FreeBsd => (IFDOWN_DEMOTION_FACTOR, SENDERR_DEMOTION_FACTOR),
            Flavor::OpenBsd => (OPENBSD_DEMOTION_STEP, OPENBSD_DEMOTION_STEP),
        };
        let ifdown = self.ifaces_down.saturating_mul(ifdown_step);
        let senderr = self.send_failing.saturating_mul(senderr_step);
        self.admin
            .saturating_add(ifdown)
            .saturating_add(senderr)
            .min(MAX_DEMOTION)
    }

    /// Adds `delta` to the administrator's part, clamped to `0..=MAX_DEMOTION`.
    pub(crate) fn adjust_admin(&mut self, delta: i32) {
        let value = i64::from(self.admin) + i64::from(delta);
        self.admin = value.clamp(0, i64::from(MAX_DEMOTION)) as u32;
    }

    pub(crate) fn set_admin(&mut self, value: u32) {
        self.admin = value.min(MAX_DEMOTION);
    }

    pub(crate) fn iface_down(&mut self) {
        self.ifaces_down += 1;
    }

    pub(crate) fn iface_up(&mut self) {
        self.ifaces_down = self.ifaces_down.saturating_sub(1);
    }

    pub(crate) fn send_failing(&mut self, failing: bool) {
        if failing {
            self.send_failing += 1;
        } else {
            self.send_failing = self.send_failing.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_part_adds_and_clamps() {
        let mut d = Demotion::default();
        d.adjust_admin(100);
        d.adjust_admin(50);
        assert_eq!(d.total(Flavor::FreeBsd), 150);
        d.adjust_admin(-1_000);
        assert_eq!(d.total(Flavor::FreeBsd), 0);
        d.adjust_admin(i32::MAX);
        d.adjust_admin(i32::MAX);
        assert_eq!(d.total(Flavor::FreeBsd), MAX_DEMOTION);
    }

    #[test]
    fn sources_sum_and_admin_cannot_cancel_link_down() {
        let mut d = Demotion::default();
        d.iface_down();
        d.iface_down();
        d.send_failing(true);
        d.adjust_admin(-500);
        assert_eq!(d.total(Flavor::FreeBsd), 3 * 240);
        assert_eq!(d.total(Flavor::OpenBsd), 3, "OpenBSD: +1 per event");
        d.iface_up();
        d.send_failing(false);
        d.set_admin(10);
        assert_eq!(d.total(Flavor::FreeBsd), 250);
    }
}
