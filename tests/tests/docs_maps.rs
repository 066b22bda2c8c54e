//! docs/maps.md against the ABI in carp-common: every counter (in slot
//! order), every pinned map, the size of every key and value, and the
//! interface flag bits are documented as they are, so the page cannot
//! silently fall behind.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use carp_agent::dataplane::PINNED_MAPS;
use carp_common::{
    AUTH_FLAG_NO_REPLAY, AdvertEvent, AuthEntry, AuthForm, IFACE_FLAG_ROUTER, IfaceEntry,
    PeerEntry, PeerKey, ReplayEntry, ReplayKey, SeenEntry, SeenKey, Stat, VhidEntry, VhidKey,
    VipEntry, VipKey, VrrpSeen,
};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/maps.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The names of the counter table's rows, in the order of the page.
fn counter_rows(doc: &str) -> Vec<String> {
    let heading = "## Counters (`CARP_STATS`)";
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("docs/maps.md lacks the heading {heading:?}"));
    let section = &doc[start + heading.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// `Stats` is read slot by slot (`bpftool` prints the fields in struct
/// order, and the page says "in that order"), so the table must list every
/// slot once, in the order of `carp-common/src/stats.rs`.
#[test]
fn counter_table_lists_the_abi_slots_in_order() {
    let abi: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
    let doc = counter_rows(&doc());
    assert_eq!(
        doc, abi,
        "docs/maps.md's counter table (left) must list Stat::ALL (right) in order"
    );
}

#[test]
fn every_pinned_map_is_listed_with_its_pin() {
    let doc = doc();
    for name in PINNED_MAPS {
        assert!(doc.contains(&format!("| `{name}` |")), "no row for {name}");
        assert!(
            doc.contains(&format!("/sys/fs/bpf/carp/{name}\n")),
            "no pin path for {name}"
        );
    }
}

#[test]
fn struct_sizes_are_as_documented() {
    let doc = doc();
    let sizes = [
        ("VhidKey", size_of::<VhidKey>()),
        ("VhidEntry", size_of::<VhidEntry>()),
        ("VipKey", size_of::<VipKey>()),
        ("VipEntry", size_of::<VipEntry>()),
        ("IfaceEntry", size_of::<IfaceEntry>()),
        ("AdvertEvent", size_of::<AdvertEvent>()),
        ("VrrpSeen", size_of::<VrrpSeen>()),
        ("AuthEntry", size_of::<AuthEntry>()),
        ("AuthForm", size_of::<AuthForm>()),
        ("ReplayKey", size_of::<ReplayKey>()),
        ("ReplayEntry", size_of::<ReplayEntry>()),
        ("SeenKey", size_of::<SeenKey>()),
        ("SeenEntry", size_of::<SeenEntry>()),
        ("PeerKey", size_of::<PeerKey>()),
        ("PeerEntry", size_of::<PeerEntry>()),
    ];
    for (name, size) in sizes {
        let text = format!("**`{name}`** ({size} bytes)");
        assert!(doc.contains(&text), "docs/maps.md lacks {text:?}");
    }
}

#[test]
fn interface_flags_are_as_documented() {
    for text in [
        format!("`{IFACE_FLAG_ROUTER:#04x}` `IFACE_FLAG_ROUTER`"),
        format!("`{AUTH_FLAG_NO_REPLAY:#04x}` `AUTH_FLAG_NO_REPLAY`"),
    ] {
        assert!(doc().contains(&text), "docs/maps.md lacks {text:?}");
    }
}
