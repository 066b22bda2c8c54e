//! What the Debian package ships beside the binary, checked without
//! building it:
//!
//! - `generated_files_are_up_to_date`: the checked-in man pages and shell
//!   completions under packaging/ are what `cargo xtask gen` writes from
//!   today's command line (a new flag without `cargo xtask gen` fails here).
//! - `unit_file_verifies`: `systemd-analyze verify` accepts
//!   packaging/carp-agent.service without a single warning.
//! - `unit_file_runs_the_agent_as_documented`: Type=notify, the watchdog,
//!   the config path and the reload signal the docs describe.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{fs, process::Command};

use carp_tests::{
    packaging::{self, COMPLETIONS_DIR, MAN_DIR, files_in, workspace_root},
    privileges::require_tool,
};

const UNIT: &str = "packaging/carp-agent.service";

#[test]
fn generated_files_are_up_to_date() {
    let root = workspace_root();
    let fresh = tempfile::tempdir().unwrap();
    let (man, completions) = (fresh.path().join("man"), fresh.path().join("completions"));
    packaging::generate(&man, &completions).unwrap();
    for (generated, checked_in) in [(man, MAN_DIR), (completions, COMPLETIONS_DIR)] {
        let checked_in = root.join(checked_in);
        let names = |dir: &std::path::Path| -> Vec<String> {
            files_in(dir)
                .unwrap_or_default()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(&generated),
            names(&checked_in),
            "{} is stale: run `cargo xtask gen` and commit the result",
            checked_in.display()
        );
        for file in files_in(&generated).unwrap() {
            let name = file.file_name().unwrap();
            assert!(
                fs::read(&file).unwrap() == fs::read(checked_in.join(name)).unwrap(),
                "{} is stale: run `cargo xtask gen` and commit the result",
                checked_in.join(name).display()
            );
        }
    }
    // One page per subcommand, e.g. the one the unit file points at.
    assert!(root.join(MAN_DIR).join("carp-agent-run.1").exists());
    assert!(
        root.join(MAN_DIR)
            .join("carp-agent-config-check.1")
            .exists()
    );
}

#[test]
fn unit_file_verifies() {
    if !require_tool("unit_file_verifies", "systemd-analyze", "systemd") {
        return;
    }
    // The unit names /usr/bin/carp-agent, where the package installs it;
    // verify checks that the command exists, so point it at this build's
    // binary. Only that path changes.
    let text = fs::read_to_string(workspace_root().join(UNIT)).unwrap();
    let binary = carp_tests::agent::binary();
    let local = text.replace(
        "ExecStart=/usr/bin/carp-agent ",
        &format!("ExecStart={} ", binary.display()),
    );
    assert_ne!(local, text, "the unit's ExecStart runs /usr/bin/carp-agent");
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("carp-agent.service");
    fs::write(&unit, local).unwrap();
    let out = verify(&unit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify {UNIT}: {:?}\n{stderr}",
        out.status
    );

    // The check can fail: a misspelt setting is reported.
    let broken = fs::read_to_string(&unit)
        .unwrap()
        .replace("NoNewPrivileges=yes", "NoNewPrivilege=yes");
    fs::write(&unit, broken).unwrap();
    let out = verify(&unit);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NoNewPrivilege"),
        "a misspelt key is reported: {out:?}"
    );
}

fn verify(unit: &std::path::Path) -> std::process::Output {
    // --man=no: the pages are installed by the package, not on this host
    // (packaging/man holds them; the test above checks they are current).
    Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
        .unwrap()
}

#[test]
fn unit_file_runs_the_agent_as_documented() {
    let text = fs::read_to_string(workspace_root().join(UNIT)).unwrap();
    let settings: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for expected in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/bin/carp-agent run --config /etc/carp-agent/carp.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=always",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET AF_INET AF_INET6",
    ] {
        assert!(settings.contains(&expected), "{UNIT} lacks {expected:?}");
    }
    assert!(
        settings.iter().any(|s| s.starts_with("WatchdogSec=")),
        "{UNIT} sets a watchdog"
    );
    let bounding = settings
        .iter()
        .find_map(|s| s.strip_prefix("CapabilityBoundingSet="))
        .unwrap();
    for cap in ["CAP_BPF", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"] {
        assert!(bounding.split(' ').any(|c| c == cap), "{UNIT} lacks {cap}");
    }
}
