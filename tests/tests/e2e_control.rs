//! End-to-end: the control subcommands against a real agent, where the
//! refusals come from the daemon itself.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::time::Duration;

use carp_tests::{
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn refusals_of_the_agent_reach_the_user_and_status_has_the_xdp_counters() {
    if !require_root("e2e control") {
        return;
    }
    let mut lab = Lab::new("ec", 1).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();

    for (args, refusal) in [
        (
            &["state", "master", "--vhid", "9"][..],
            "no vhid 9 configured",
        ),
        (
            &["state", "backup", "--vhid", "1", "--interface", "eth9"],
            "no vhid 1 on eth9 configured",
        ),
    ] {
        let out = lab.control(0, args).unwrap();
        assert_eq!(
            text(&out.stderr),
            format!("carp-agent: error: {refusal}\n"),
            "{args:?}"
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }

    let out = lab.control(0, &["status", "--json"]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("xdp_counters_error").is_none(), "{json}");
    // An XDP counter next to the agent's own.
    assert!(json["counters"]["ipackets"].is_u64(), "{json}");
    assert!(json["counters"]["transitions"].is_u64(), "{json}");

    let out = lab.control(0, &["check"]).unwrap();
    assert_eq!(text(&out.stdout), "CARP OK: eth0 vhid 1 MASTER\n");
    assert_eq!(out.status.code(), Some(0));
}
