//! The demotion's parts, each source apart: the administrator's
//! (`carp-agent demote`), external sources' (`demote --source NAME`) and
//! the configured `[[track]]` sources'. The engine's administrative
//! demotion is their sum ([`Ledger::total`]); the engine adds its own
//! link-down and send-error parts. A source only ever replaces its own
//! share, so nothing piles up: a check that fails every minute demotes by
//! its weight once, and the demotion goes when the check passes again.

use std::{collections::BTreeMap, path::PathBuf};

use tracing::{info, warn};

use super::{
    TrackSpec, Update,
    persist::{self, Persisted},
    spec::check_name,
};
use crate::{control::DemotionSource, engine::demotion::MAX_DEMOTION};

/// External sources kept at most: each `demote --source` with a new name
/// adds one, and a share set to 0 removes it.
pub const MAX_EXTERNAL_SOURCES: usize = 64;

/// A configured source's last report.
#[derive(Clone, Debug)]
struct Tracked {
    kind: &'static str,
    share: u32,
    detail: String,
}

/// Every part of the administrative demotion; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    admin: u32,
    external: BTreeMap<String, u32>,
    tracked: BTreeMap<String, Tracked>,
    /// Where the admin and external parts are kept; `None`: not kept.
    state_file: Option<PathBuf>,
}

/// A `demote` request the ledger refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("source {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error(
        "source {0:?} is a configured [[track]] source; its share follows what it watches \
         and cannot be set by hand"
    )]
    Tracked(String),
    #[error("at most {MAX_EXTERNAL_SOURCES} external sources are kept; set one to 0 to remove it")]
    TooMany,
}

impl Ledger {
    /// The ledger at start: the configured sources at 0 (each reports
    /// soon), and the administrator's and external parts from the state
    /// file in `persist_dir`, or `configured` (the `demotion` setting) when
    /// there is none. A bad state file is a warning naming it.
    pub fn load(specs: &[TrackSpec], configured: u32, state_file: Option<PathBuf>) -> Ledger {
        let mut ledger = Ledger {
            admin: configured.min(MAX_DEMOTION),
            external: BTreeMap::new(),
            tracked: specs
                .iter()
                .map(|spec| {
                    let tracked = Tracked {
                        kind: spec.kind.label(),
                        share: 0,
                        detail: "no result yet".to_string(),
                    };
                    (spec.name.clone(), tracked)
                })
                .collect(),
            state_file,
        };
        let Some(path) = ledger.state_file.clone() else {
            return ledger;
        };
        match persist::load(&path) {
            Ok(None) => {}
            Ok(Some(state)) => {
                if state.admin != ledger.admin {
                    info!(
                        "demotion {} restored from {} (the configured demotion {} applies \
                         only when that file is absent)",
                        state.admin,
                        path.display(),
                        ledger.admin
                    );
                } else if state.admin > 0 {
                    info!("demotion {} restored from {}", state.admin, path.display());
                }
                ledger.admin = state.admin;
                for (name, share) in state.sources {
                    if ledger.tracked.contains_key(&name) {
                        warn!(
                            "{}: source {name:?} is now a configured [[track]] source; \
                             its kept share {share} is dropped",
                            path.display()
                        );
                        continue;
                    }
                    info!(
                        "source {name}: demotion {share} restored from {}",
                        path.display()
                    );
                    ledger.external.insert(name, share);
                }
            }
            Err(err) => warn!(
                "{err}; starting with the configured demotion {} (the file is replaced \
                 at the next `carp-agent demote`)",
                ledger.admin
            ),
        }
        ledger
    }

    /// The sum of every part, within the demotion's range.
    pub fn total(&self) -> u32 {
        let shares = self
            .external
            .values()
            .chain(self.tracked.values().map(|t| &t.share));
        let sum = shares.fold(u64::from(self.admin), |sum, &s| sum + u64::from(s));
        u32::try_from(sum.min(u64::from(MAX_DEMOTION))).unwrap_or(MAX_DEMOTION)
    }

    /// A configured source's report; returns whether its share changed.
    /// Reports from unknown sources (none are sent) are ignored.
    pub fn apply(&mut self, update: Update) -> bool {
        let Some(tracked) = self.tracked.get_mut(&update.name) else {
            return false;
        };
        tracked.detail = update.detail;
        let changed = tracked.share != update.share;
        tracked.share = update.share;
        changed
    }

    /// Adds `delta` to the administrator's part, or to `source`'s (a new
    /// external source starts at 0), clamped to `0..=MAX_DEMOTION`.
    pub fn demote(&mut self, source: Option<&str>, delta: i32) -> Result<(), LedgerError> {
        let current = match source {
            None => self.admin,
            Some(name) => {
                self.check_external(name)?;
                self.external.get(name).copied().unwrap_or(0)
            }
        };
        let value = (i64::from(current) + i64::from(delta)).clamp(0, i64::from(MAX_DEMOTION));
        self.set(source, u32::try_from(value).unwrap_or(MAX_DEMOTION))
    }

    /// Sets the administrator's part, or `source`'s (0 removes it).
    pub fn set(&mut self, source: Option<&str>, value: u32) -> Result<(), LedgerError> {
        let value = value.min(MAX_DEMOTION);
        match source {
            None => self.admin = value,
            Some(name) => {
                self.check_external(name)?;
                if value == 0 {
                    self.external.remove(name);
                } else {
                    if !self.external.contains_key(name)
                        && self.external.len() >= MAX_EXTERNAL_SOURCES
                    {
                        return Err(LedgerError::TooMany);
                    }
                    self.external.insert(name.to_string(), value);
                }
            }
        }
        self.save();
        Ok(())
    }

    fn check_external(&self, name: &str) -> Result<(), LedgerError> {
        check_name(name).map_err(|why| LedgerError::BadName {
            name: name.to_string(),
            why,
        })?;
        if self.tracked.contains_key(name) {
            return Err(LedgerError::Tracked(name.to_string()));
        }
        Ok(())
    }

    /// Writes the administrator's and external parts to the state file; a
    /// failure is a warning (the change applies all the same).
    fn save(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let state = Persisted {
            admin: self.admin,
            sources: self.external.clone(),
        };
        if let Err(err) = persist::save(path, &state) {
            warn!("{err}; the demotion will not survive a restart");
        }
    }

    /// The status report's rows: the administrator's part, then external
    /// and configured sources by name.
    pub fn rows(&self) -> Vec<DemotionSource> {
        let admin = DemotionSource {
            name: "admin".to_string(),
            kind: "admin".to_string(),
            share: self.admin,
            detail: None,
        };
        let external = self.external.iter().map(|(name, &share)| DemotionSource {
            name: name.clone(),
            kind: "external".to_string(),
            share,
            detail: None,
        });
        let tracked = self.tracked.iter().map(|(name, t)| DemotionSource {
            name: name.clone(),
            kind: t.kind.to_string(),
            share: t.share,
            detail: Some(t.detail.clone()),
        });
        std::iter::once(admin)
            .chain(external)
            .chain(tracked)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::TrackKind;

    fn spec(name: &str) -> TrackSpec {
        TrackSpec {
            name: name.to_string(),
            weight: 240,
            kind: TrackKind::Interface {
                name: "eth1".into(),
            },
        }
    }

    fn update(name: &str, share: u32) -> Update {
        Update {
            name: name.to_string(),
            share,
            detail: String::new(),
        }
    }

    #[test]
    fn shares_replace_and_never_pile_up() {
        let mut l = Ledger::load(&[spec("uplink")], 10, None);
        assert_eq!(l.total(), 10);
        assert!(l.apply(update("uplink", 240)));
        // The same report again (a check failing every minute) adds nothing.
        assert!(!l.apply(update("uplink", 240)));
        assert_eq!(l.total(), 250);
        l.demote(Some("db"), 50).unwrap();
        l.demote(Some("db"), 50).unwrap();
        assert_eq!(l.total(), 350);
        l.demote(None, -100).unwrap();
        assert_eq!(l.total(), 340, "admin part clamps at 0");
        assert!(l.apply(update("uplink", 0)));
        l.set(Some("db"), 0).unwrap();
        assert_eq!(l.total(), 0);
        assert_eq!(l.rows().len(), 2, "admin and uplink; db removed at 0");
        assert!(!l.apply(update("unknown", 5)));
    }

    #[test]
    fn total_clamps_to_the_demotion_range() {
        let mut l = Ledger::load(&[spec("a")], MAX_DEMOTION, None);
        l.apply(update("a", MAX_DEMOTION));
        l.set(Some("x"), u32::MAX).unwrap();
        assert_eq!(l.total(), MAX_DEMOTION);
    }

    #[test]
    fn external_names_are_checked() {
        let mut l = Ledger::load(&[spec("uplink")], 0, None);
        assert_eq!(
            l.demote(Some("uplink"), 5),
            Err(LedgerError::Tracked("uplink".into()))
        );
        assert!(matches!(
            l.set(Some("admin"), 5),
            Err(LedgerError::BadName { .. })
        ));
        assert!(matches!(
            l.set(Some("a b"), 5),
            Err(LedgerError::BadName { .. })
        ));
        for i in 0..MAX_EXTERNAL_SOURCES {
            l.set(Some(&format!("s{i}")), 1).unwrap();
        }
        assert_eq!(l.set(Some("one-more"), 1), Err(LedgerError::TooMany));
        l.set(Some("s0"), 2).unwrap();
    }

    #[test]
    fn admin_and_external_parts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("demotion");
        let mut l = Ledger::load(&[spec("uplink")], 0, Some(file.clone()));
        l.demote(None, 240).unwrap();
        l.demote(Some("db"), 50).unwrap();
        l.apply(update("uplink", 240));
        let again = Ledger::load(&[spec("uplink")], 0, Some(file.clone()));
        assert_eq!(
            again.total(),
            290,
            "tracked shares are measured again, not kept"
        );
        // A bad file: the configured demotion, no panic.
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(Ledger::load(&[], 7, Some(file)).total(), 7);
    }
}
