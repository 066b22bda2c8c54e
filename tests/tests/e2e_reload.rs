//! Reloading a running agent (SIGHUP, `carp-agent reload`) without a
//! failover, two hosts on the lab bridge:
//! - `reload_applies_each_change_and_leaves_the_rest_alone`: host 0 is MASTER
//!   of vhids 1, 2 and 3, host 1 BACKUP of them. A reload of host 0 that
//!   keeps vhid 1, changes vhid 2 (advskew, one more VIP), removes vhid 3 and
//!   adds vhid 4: vhid 1 sees no transition on either host and no hook; vhid 2
//!   stays MASTER with the new advskew and answers for its new VIP; vhid 3
//!   bows out (host 1 takes it over on the bow-out, not after master-down)
//!   and its VIP leaves host 0; vhid 4 starts and becomes MASTER.
//! - `a_refused_reload_changes_nothing`: a file that does not validate, and
//!   one that names a missing interface, are refused with the reason (exit 1
//!   of `carp-agent reload`, a warning for SIGHUP); the agent runs on with
//!   its configuration. Then SIGHUP with a good file applies it.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{fs, path::Path, time::Duration};

use carp_tests::{
    lab::{Lab, eventually},
    privileges::require_root,
};

/// One `[[vhid]]` on eth0, with a hook appending "VHID STATE REASON" lines
/// to `hooks`.
fn vhid(vhid: u8, advskew: u8, vips: &[&str], hooks: &Path) -> String {
    let vips: Vec<String> = vips.iter().map(|v| format!("\"{v}/24\"")).collect();
    format!(
        r#"
[[vhid]]
interface = "eth0"
vhid = {vhid}
advskew = {advskew}
password = "reloadpw{vhid}"
vips = [{}]

[[vhid.hook]]
on = ["master", "backup", "init"]
shell = "echo \"$CARP_VHID $CARP_STATE\" >> {}"
"#,
        vips.join(", "),
        hooks.display()
    )
}

fn hook_lines(path: &Path, vhid: u8) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').next() == Some(&vhid.to_string()))
        .map(str::to_string)
        .collect()
}

fn advskew(lab: &Lab, i: usize, vhid: u8) -> Option<u64> {
    let out = lab.control(i, &["status", "--json"]).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json["vhids"]
        .as_array()?
        .iter()
        .find(|v| v["vhid"] == vhid)?["advskew"]
        .as_u64()
}

#[test]
fn reload_applies_each_change_and_leaves_the_rest_alone() {
    if !require_root("reload_applies_each_change_and_leaves_the_rest_alone") {
        return;
    }
    let mut lab = Lab::new("rld", 2).unwrap();
    let hooks0 = lab.dir.join("hooks0");
    let hooks1 = lab.dir.join("hooks1");
    let host0 = |vhids: &[String]| vhids.concat();
    let first = host0(&[
        vhid(1, 0, &["10.77.0.101"], &hooks0),
        vhid(2, 0, &["10.77.0.102"], &hooks0),
        vhid(3, 0, &["10.77.0.103"], &hooks0),
    ]);
    lab.start_agent_config(0, &first).unwrap();
    for v in 1..=3 {
        lab.wait_state(0, v, "MASTER", Duration::from_secs(10))
            .unwrap();
    }
    let backup = [
        vhid(1, 100, &["10.77.0.101"], &hooks1),
        vhid(2, 100, &["10.77.0.102"], &hooks1),
        vhid(3, 100, &["10.77.0.103"], &hooks1),
    ]
    .concat();
    lab.start_agent_config(1, &backup).unwrap();
    for v in 1..=3 {
        lab.wait_state(1, v, "BACKUP", Duration::from_secs(10))
            .unwrap();
    }
    // Hooks run in the background: wait for vhid 1's to be written.
    let master_hook = |path: &Path, v: u8| hook_lines(path, v).contains(&format!("{v} MASTER"));
    assert!(eventually(Duration::from_secs(5), || master_hook(
        &hooks0, 1
    )));
    let hooks_before = hook_lines(&hooks0, 1);

    let second = host0(&[
        vhid(1, 0, &["10.77.0.101"], &hooks0),
        vhid(2, 50, &["10.77.0.102", "10.77.0.112"], &hooks0),
        vhid(4, 0, &["10.77.0.104"], &hooks0),
    ]);
    fs::write(lab.dir.join(format!("{}.toml", lab.hosts[0].name)), second).unwrap();
    let out = lab.control(0, &["reload"]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reload failed: {stdout} {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        lab.log(0)
    );
    assert_eq!(
        stdout.trim(),
        "reloaded: added: eth0 vhid 4; removed: eth0 vhid 3; changed: eth0 vhid 2; unchanged: 1"
    );

    // vhid 3: bowed out, so host 1 took it over at once, and the VIP left host 0.
    lab.wait_state(1, 3, "MASTER", Duration::from_secs(10))
        .unwrap();
    let log1 = lab.log(1);
    assert!(
        log1.contains("vhid 3 on eth0: BACKUP -> MASTER (bow-out received from 10.77.0.11"),
        "{log1}"
    );
    assert!(!lab.host_has_addr(0, "10.77.0.103"));
    lab.assert_client_reaches("10.77.0.103", "vhid 3 on host 1");

    // vhid 2: still MASTER, new advskew, new VIP answered.
    assert_eq!(lab.state(0, 2).as_deref(), Some("MASTER"));
    assert_eq!(advskew(&lab, 0, 2), Some(50));
    assert!(lab.host_has_addr(0, "10.77.0.112"));
    lab.assert_client_reaches("10.77.0.112", "the VIP vhid 2 gained");
    assert_eq!(
        lab.client_neighbour_mac("10.77.0.112"),
        carp_tests::lab::vmac(2)
    );

    // vhid 4: started, MASTER (host 1 does not have it).
    lab.wait_state(0, 4, "MASTER", Duration::from_secs(10))
        .unwrap();
    lab.assert_client_reaches("10.77.0.104", "the added vhid 4");

    // vhid 1: untouched on both hosts, no hook run.
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    assert_eq!(lab.state(1, 1).as_deref(), Some("BACKUP"));
    assert_eq!(hook_lines(&hooks0, 1), hooks_before);
    let log0 = lab.log(0);
    assert!(!log0.contains("vhid 1 on eth0: MASTER ->"), "{log0}");
    assert!(!log1.contains("vhid 1 on eth0: BACKUP -> MASTER"), "{log1}");
    assert!(!log1.contains("vhid 2 on eth0: BACKUP -> MASTER"), "{log1}");
    // Hooks ran for what changed state: vhid 3 left, vhid 4 arrived.
    assert!(
        eventually(Duration::from_secs(5), || hook_lines(&hooks0, 3)
            .last()
            .is_some_and(|l| l == "3 INIT")),
        "{:?}",
        hook_lines(&hooks0, 3)
    );
    assert!(hook_lines(&hooks0, 4).contains(&"4 MASTER".to_string()));
    assert!(hook_lines(&hooks1, 1).iter().all(|l| l == "1 BACKUP"));
}

#[test]
fn a_refused_reload_changes_nothing() {
    if !require_root("a_refused_reload_changes_nothing") {
        return;
    }
    let mut lab = Lab::new("rlx", 1).unwrap();
    let hooks = lab.dir.join("hooks");
    let good = vhid(1, 0, &["10.77.0.101"], &hooks);
    lab.start_agent_config(0, &good).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    let path = lab.dir.join(format!("{}.toml", lab.hosts[0].name));
    let mastered = || hook_lines(&hooks, 1).contains(&"1 MASTER".to_string());
    assert!(eventually(Duration::from_secs(5), mastered));
    let hooks_before = hook_lines(&hooks, 1);

    // Not valid: a multicast VIP.
    fs::write(&path, good.replace("10.77.0.101/24", "224.0.0.18/24")).unwrap();
    let out = lab.control(0, &["reload"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the new configuration was refused") && stderr.contains("224.0.0.18"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("reloadpw1"),
        "never the password: {stderr}"
    );

    // Valid, but the interface does not exist here.
    let missing = format!("{good}{}", vhid(2, 0, &["10.77.0.102"], &hooks)).replacen(
        "interface = \"eth0\"\nvhid = 2",
        "interface = \"nosuch0\"\nvhid = 2",
        1,
    );
    fs::write(&path, &missing).unwrap();
    let out = lab.control(0, &["reload"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nosuch0"), "{stderr}");

    // SIGHUP with the same file: a warning, the agent runs on.
    lab.signal(0, libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(5), || lab
            .log(0)
            .contains("the agent runs on with the configuration it had")),
        "{}",
        lab.log(0)
    );
    let agent = lab.hosts[0].agent.as_mut().unwrap();
    assert!(
        agent.process.0.try_wait().unwrap().is_none(),
        "still running"
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    assert_eq!(lab.state(0, 2), None, "vhid 2 was never added");
    assert_eq!(advskew(&lab, 0, 1), Some(0));
    assert!(lab.host_has_addr(0, "10.77.0.101"));

    // SIGHUP with a good file applies it.
    fs::write(&path, vhid(1, 20, &["10.77.0.101"], &hooks)).unwrap();
    lab.signal(0, libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(5), || advskew(&lab, 0, 1) == Some(20)),
        "{}",
        lab.log(0)
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    assert_eq!(
        hook_lines(&hooks, 1),
        hooks_before,
        "no transition, no hook"
    );
}
