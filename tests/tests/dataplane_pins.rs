//! The agent pins its maps under `<bpffs>/carp/` so `bpftool` can read them,
//! replaces pins a killed agent left behind, and removes them on shutdown.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{path::PathBuf, process::Command};

use carp_agent::dataplane::{Dataplane, bpffs};
use carp_tests::privileges::require_root;

/// A private bpffs mount point, unmounted and removed on drop.
struct BpffsRoot(PathBuf);

impl BpffsRoot {
    fn new(tag: &str) -> Self {
        let path = PathBuf::from(format!("/run/carp-test-{}-{tag}", std::process::id()));
        Self(path)
    }
}

impl Drop for BpffsRoot {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bpftool_dump(path: &std::path::Path) -> String {
    let out = Command::new("bpftool")
        .args(["map", "dump", "pinned"])
        .arg(path)
        .output()
        .expect("bpftool is installed by `cargo xtask setup`");
    assert!(
        out.status.success(),
        "bpftool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn maps_are_pinned_with_field_names_and_unpinned_on_drop() {
    if !require_root("maps_are_pinned_with_field_names_and_unpinned_on_drop") {
        return;
    }
    let root = BpffsRoot::new("pins");
    let stats_pin = root.0.join("carp").join(carp_common::MAP_STATS);
    {
        let _dp = Dataplane::load_pinned(&root.0).expect("load and pin");
        assert!(
            bpffs::is_bpffs(&root.0),
            "a bpffs was mounted at {}",
            root.0.display()
        );
        let dump = bpftool_dump(&stats_pin);
        for field in ["ipackets", "badttl", "badsum"] {
            assert!(dump.contains(field), "bpftool shows field {field}: {dump}");
        }
    }
    assert!(
        !stats_pin.exists(),
        "pins are removed when the dataplane is dropped"
    );
    assert!(!root.0.join("carp").exists());
}

#[test]
fn stale_pins_of_a_killed_agent_are_replaced() {
    if !require_root("stale_pins_of_a_killed_agent_are_replaced") {
        return;
    }
    let root = BpffsRoot::new("stale");
    let first = Dataplane::load_pinned(&root.0).expect("first load");
    // A killed agent never runs its destructor: its pins stay behind.
    std::mem::forget(first);
    let second = Dataplane::load_pinned(&root.0).expect("second load replaces the stale pins");
    let stats_pin = root.0.join("carp").join(carp_common::MAP_STATS);
    assert!(stats_pin.exists());
    drop(second);
    assert!(!stats_pin.exists());
}
