//! The daemon's side of the systemd notifications
//! ([`crate::service::notify`]): what its `STATUS=` line says.
use super::Daemon;
use crate::service::notify;

impl Daemon {
    /// Every vhid with its interface and state, for `STATUS=`
    /// (`vhid 1 eth0 MASTER, vhid 2 eth0 BACKUP`).
    pub(crate) fn service_status(&self) -> String {
        notify::status_line(
            self.vhids
                .values()
                .map(|rt| (rt.settings.vhid, rt.interface.as_str(), rt.state)),
        )
    }

    /// A count that moves on every state change: the status line is only
    /// rebuilt when it moved.
    pub(crate) fn service_status_generation(&self) -> u64 {
        self.counters.transitions
    }
}
