//! `bpftool` shows the maps with their field names (BTF maps), by id and
//! pinned under `<bpffs>/carp/<MAP_NAME>` the way the agent pins them.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::process::Command;

use aya::{Ebpf, maps::Map};
use carp_common::{MAP_STATS, MAP_VHIDS, STATE_MASTER};
use carp_tests::{
    frames::{self, Advert, Ipv4},
    privileges::require_root,
    xdp::{self, lab},
};

fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("running bpftool");
    assert!(
        out.status.success(),
        "`bpftool {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn map_id(ebpf: &Ebpf, name: &str) -> u32 {
    let data = match ebpf.map(name).unwrap() {
        Map::HashMap(d) | Map::PerCpuArray(d) | Map::RingBuf(d) => d,
        other => panic!("unexpected map type for {name}: {other:?}"),
    };
    data.info().unwrap().id()
}

/// Loads the object, configures it and makes one badttl advert count.
fn loaded() -> Ebpf {
    let mut ebpf = xdp::load().unwrap();
    xdp::install(&mut ebpf, &lab::config(STATE_MASTER)).unwrap();
    let ip = Ipv4 {
        ttl: 1,
        ..Ipv4::default()
    };
    let frame = frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        lab::PEER_MAC,
        &[],
        frames::ETHERTYPE_IPV4,
        &ip.packet(&Advert::new(lab::VHID).bytes()),
    );
    xdp::run(&mut ebpf, &frame).unwrap();
    ebpf
}

#[test]
fn bpftool_map_dump_shows_field_names() {
    if !require_root("bpftool_map_dump_shows_field_names") {
        return;
    }
    let ebpf = loaded();
    let stats = bpftool(&["map", "dump", "id", &map_id(&ebpf, MAP_STATS).to_string()]);
    for field in ["\"ipackets\": ", "\"badttl\": 1", "\"vmac_dropped\": "] {
        assert!(stats.contains(field), "no {field} in:\n{stats}");
    }
    let vhids = bpftool(&["map", "dump", "id", &map_id(&ebpf, MAP_VHIDS).to_string()]);
    for field in [
        "\"ifindex\": ",
        "\"vhid\": 1",
        "\"state\": 2",
        "\"mode\": ",
        "\"mac\": ",
    ] {
        assert!(vhids.contains(field), "no {field} in:\n{vhids}");
    }
    let json = bpftool(&[
        "-j",
        "map",
        "dump",
        "id",
        &map_id(&ebpf, MAP_STATS).to_string(),
    ]);
    assert!(
        json.contains("\"formatted\"") && json.contains("\"badttl\":1"),
        "{json}"
    );
}

/// A bpffs of our own, unmounted (pins and all) on drop.
struct Bpffs(std::path::PathBuf);

impl Bpffs {
    /// `tag`: one per test, which run in parallel.
    fn mount(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("carpt-{}-{tag}-bpffs", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fs = Self(dir);
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(&fs.0)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a bpffs at {}", fs.0.display());
        fs
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn pinned_maps_dump_by_path() {
    if !require_root("pinned_maps_dump_by_path") {
        return;
    }
    let bpffs = Bpffs::mount("pins");
    let ebpf = loaded();
    let dir = bpffs.0.join("carp");
    std::fs::create_dir(&dir).unwrap();
    for name in [MAP_STATS, MAP_VHIDS] {
        ebpf.map(name).unwrap().pin(dir.join(name)).unwrap();
    }
    let path = dir.join(MAP_STATS);
    let dump = bpftool(&["map", "dump", "pinned", path.to_str().unwrap()]);
    assert!(dump.contains("\"badttl\": 1"), "{dump}");
    let path = dir.join(MAP_VHIDS);
    let dump = bpftool(&["map", "dump", "pinned", path.to_str().unwrap()]);
    assert!(dump.contains("\"state\": "), "{dump}");
}

/// libbpf (through bpftool) opens and loads the agent's object, as libxdp
/// and `xdp-loader` would: a ring buffer declared with a sized value made
/// it fail with "conflicting value size".
#[test]
fn libbpf_loads_the_object() {
    if !require_root("libbpf_loads_the_object") {
        return;
    }
    let bpffs = Bpffs::mount("libbpf");
    let object = bpffs.0.with_extension("o");
    std::fs::write(&object, carp_agent::dataplane::XDP_OBJECT).unwrap();
    let pins = bpffs.0.join("progs");
    let out = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&object)
        .arg(&pins)
        .output()
        .expect("running bpftool");
    let _ = std::fs::remove_file(&object);
    assert!(
        out.status.success(),
        "bpftool prog loadall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for program in [
        carp_agent::dataplane::XDP_PROGRAM,
        carp_agent::dataplane::EGRESS_PROGRAM,
    ] {
        assert!(pins.join(program).exists(), "{program} not loaded");
    }
    let _ = std::fs::remove_dir_all(&pins);
}
