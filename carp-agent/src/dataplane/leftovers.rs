//! What an agent that did not exit cleanly (kill -9, a crash, an upgrade
//! that replaced the binary under a running service) left in the bpffs, read
//! by the next agent before it replaces the pins.
//!
//! The XDP attachment is a bpf_link pinned at `<bpffs>/carp/xdp_link_IFINDEX`,
//! so it outlives the process on purpose: after a crash the program goes on
//! answering for the VIPs of each MASTER vhid until that vhid's dead-man
//! deadline (`VhidEntry::master_until_ns`, the earliest moment a backup could
//! take over), then falls silent by itself. A new agent that starts before a
//! deadline adopts:
//! - the link: its program is replaced atomically (`bpf_link_update`) by the
//!   new agent's, whose maps are filled first, so no frame meets an empty
//!   dataplane and the interface never goes without a program;
//! - each vhid still MASTER within its deadline: it starts as MASTER and
//!   advertises at once, so its backups never see master-down.
//!
//! Only carp-agent's own pins are read: files under `<bpffs>/carp/`, which
//! the instance lock reserves for one agent. A map whose key or value size
//! is not this build's (another release's layout) adopts nothing.
use std::{collections::BTreeMap, path::Path};

use aya::{
    maps::{HashMap, Map, MapData},
    programs::links::PinnedLink,
};
use carp_common::{MAP_VHIDS, STATE_MASTER, VhidEntry, VhidKey};
use tracing::{info, warn};

/// The pin of the XDP link on interface `ifindex`, in the pin directory.
/// By index: bpffs refuses dots, which interface names may have.
pub fn link_pin_name(ifindex: u32) -> String {
    format!("xdp_link_{ifindex}")
}

/// What the previous agent left.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Its pinned XDP links by interface index, held open: the link lives on
    /// while the pins are replaced.
    pub links: BTreeMap<u32, PinnedLink>,
    /// Its MASTER vhids whose deadline had not passed when read:
    /// (ifindex, vhid) → deadline on CLOCK_MONOTONIC, in ns.
    pub masters: BTreeMap<VhidKey, u64>,
}

impl Leftovers {
    /// Reads `<bpffs_root>/carp/`; `now_ns` is CLOCK_MONOTONIC. Anything
    /// unreadable is logged and left out: the agent then starts afresh.
    pub fn read(bpffs_root: &Path, now_ns: u64) -> Leftovers {
        let dir = bpffs_root.join("carp");
        let mut leftovers = Leftovers::default();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return leftovers;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(ifindex) = name
                .to_str()
                .and_then(|n| n.strip_prefix("xdp_link_"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            match PinnedLink::from_pin(entry.path()) {
                Ok(link) => {
                    leftovers.links.insert(ifindex, link);
                }
                Err(err) => warn!("{}: {err}", entry.path().display()),
            }
        }
        leftovers.masters = read_masters(&dir.join(MAP_VHIDS), now_ns);
        if !leftovers.links.is_empty() {
            info!(
                "found the XDP links of an agent that did not exit cleanly on interface(s) {:?}; \
                 adopting them; still-MASTER vhid(s) within their deadline: {:?}",
                leftovers.links.keys().collect::<Vec<_>>(),
                leftovers.masters.keys().collect::<Vec<_>>()
            );
        }
        leftovers
    }
}

fn read_masters(path: &Path, now_ns: u64) -> BTreeMap<VhidKey, u64> {
    let mut masters = BTreeMap::new();
    let Ok(map) = MapData::from_pin(path).and_then(Map::from_map_data) else {
        return masters;
    };
    let map = match HashMap::<_, VhidKey, VhidEntry>::try_from(map) {
        Ok(map) => map,
        Err(err) => {
            warn!(
                "{}: {err}; written by another release? Nothing is adopted",
                path.display()
            );
            return masters;
        }
    };
    for (key, entry) in map.iter().filter_map(Result::ok) {
        if entry.state == STATE_MASTER && entry.master_until_ns > now_ns {
            masters.insert(key, entry.master_until_ns);
        }
    }
    masters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_pins_are_named_by_index_without_dots() {
        assert_eq!(link_pin_name(7), "xdp_link_7");
        assert!(!link_pin_name(u32::MAX).contains('.'));
    }

    #[test]
    fn nothing_is_left_in_a_missing_directory() {
        let leftovers = Leftovers::read(Path::new("/nonexistent/carp-agent-test"), 0);
        assert!(leftovers.links.is_empty() && leftovers.masters.is_empty());
    }
}
