//! libxdp's `xdp-loader` (Debian `xdp-tools`) loads the agent's object as an
//! operator would, reads its run configuration (priority 20, chain on
//! XDP_PASS; carp-ebpf/src/run_config.rs) and unloads it again. Where the
//! kernel lets libxdp build a dispatcher the program runs in one; elsewhere
//! libxdp loads it alone, which `xdp-loader status` shows either way.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use carp_tests::{
    lab::Lab,
    libxdp::{LibxdpFs, attached, require_xdp_tools},
    privileges::require_root,
};

#[test]
fn xdp_loader_loads_and_unloads_the_object() {
    let test = "xdp_loader_loads_and_unloads_the_object";
    if !require_root(test) || !require_xdp_tools(test) {
        return;
    }
    let lab = Lab::new("xl", 1).unwrap();
    let fs = LibxdpFs::mount(&lab).unwrap();
    let object = lab.dir.join("carp-xdp.o");
    std::fs::write(&object, carp_agent::dataplane::XDP_OBJECT).unwrap();
    let object = object.to_str().unwrap();
    let program = carp_agent::dataplane::XDP_PROGRAM;
    let out = fs
        .tool(
            &lab,
            0,
            "xdp-loader",
            &["load", "-v", "-m", "skb", "eth0", object, "-n", program],
        )
        .unwrap();
    assert!(
        out.contains("Run prio: 20. Chain call actions: XDP_PASS"),
        "libxdp reads the run configuration from the object's BTF:\n{out}"
    );
    let status = fs.tool(&lab, 0, "xdp-loader", &["status", "eth0"]).unwrap();
    assert!(status.contains(program), "{status}");
    assert!(attached(&lab, 0).is_some(), "{status}");
    fs.tool(&lab, 0, "xdp-loader", &["unload", "eth0", "--all"])
        .unwrap();
    assert_eq!(attached(&lab, 0), None, "unloaded");
}
