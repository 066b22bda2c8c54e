//! The daemon's side of the metrics: a [`Snapshot`] of its numbers, taken
//! in its own task when the HTTP task asks (`crate::metrics`).
use super::Daemon;
use crate::metrics::{Snapshot, VhidSnapshot};

impl Daemon {
    pub(super) fn metrics_snapshot(&self) -> Snapshot {
        let engine = self.node.engine();
        let vhids = self
            .vhids
            .iter()
            .filter_map(|(key, rt)| {
                let status = engine.status(*key)?;
                Some(VhidSnapshot {
                    interface: rt.interface.clone(),
                    vhid: key.vhid,
                    state: status.state.into(),
                    advbase: status.config.advbase,
                    advskew: status.config.advskew,
                    advskew_effective: status.advertised.advskew,
                    counters: self.counters.per_vhid.get(key).copied().unwrap_or_default(),
                })
            })
            .collect();
        Snapshot {
            demotion: engine.demotion(),
            // The host demotion by source goes here, one entry per source,
            // when the engine keeps it per source.
            demotion_sources: Vec::new(),
            vhids,
            agent_counters: self.counters.named().to_vec(),
            // A failed read is shown as such (carp_xdp_counters_readable 0).
            xdp: self.dataplane.stats().ok(),
        }
    }
}
