//! The daemon's side of `crate::track`: the ledger of demotion sources,
//! its updates from the tracking tasks and from `demote`, and the total
//! handed to the engine as its administrative demotion.

use super::{Daemon, status};
use crate::{
    config::Config,
    control::{DemotionSource, ErrorKind, Response},
    track::{Ledger, LedgerError, Update, persist::STATE_FILE},
};

/// The ledger at start, with what `persist_dir` kept.
pub(super) fn ledger(config: &Config) -> Ledger {
    let file = config.persist_dir.join(STATE_FILE);
    Ledger::load(&config.tracks, config.demotion, Some(file))
}

impl Daemon {
    /// A tracking source reported; the engine hears of a changed total.
    pub(super) fn on_track(&mut self, update: Update) {
        if self.demotions.apply(update) {
            self.apply_demotion();
        }
    }

    /// Gives the engine the ledger's total (every MASTER advertises at
    /// once if it changed).
    pub(super) fn apply_demotion(&mut self) {
        let total = self.demotions.total();
        let now = self.now();
        self.node.input(now, |e, t| e.set_demotion(t, total));
    }
}

/// The answer to `demote` / `set_demotion`.
pub(super) fn answer(daemon: &mut Daemon, changed: Result<(), LedgerError>) -> Response {
    match changed {
        Ok(()) => {
            daemon.apply_demotion();
            status::ok(daemon)
        }
        Err(err) => Response::error(ErrorKind::Refused, err.to_string()),
    }
}

/// The status report's demotion rows: the ledger's, then the engine's own
/// part (link down, send errors) as `carp` when there is one.
pub(super) fn rows(daemon: &Daemon) -> Vec<DemotionSource> {
    let mut rows = daemon.demotions.rows();
    let carp = daemon
        .node
        .engine()
        .demotion()
        .saturating_sub(daemon.demotions.total());
    if carp > 0 {
        rows.push(DemotionSource {
            name: "carp".to_string(),
            kind: "carp".to_string(),
            share: carp,
            detail: Some("interfaces down, send errors".to_string()),
        });
    }
    rows
}
