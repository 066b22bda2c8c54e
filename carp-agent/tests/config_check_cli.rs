//! `carp-agent config check FILE` as a real process.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::process::{Command, Output};

fn check(text: &[u8]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carp.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_carp-agent"))
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    (out, dir)
}

const VALID: &str = r#"
[[vhid]]
interface = "eth0"
vhid = 1
password = "s3cr3t-value"
vips = ["10.0.0.100/24"]

[[vhid]]
interface = "eth1"
vhid = 2
advskew = 100
password = "s3cr3t-value"
vips = ["fd00::100/64"]
"#;

#[test]
fn a_valid_file_is_ok_and_says_what_it_holds() {
    let (out, _dir) = check(VALID.as_bytes());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.ends_with(": ok: 2 vhid(s) on eth0, eth1\n"),
        "{stdout}"
    );
}

#[test]
fn an_invalid_file_names_the_field_and_never_the_password() {
    let bad = VALID.replace("advskew = 100", "advskew = 255");
    let (out, _dir) = check(bad.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("eth1 vhid 2") && stderr.contains("advskew"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "no secret echoed: {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_oversized_file_is_refused_unread() {
    let mut huge = VALID.as_bytes().to_vec();
    huge.extend(std::iter::repeat_n(b'#', 1 << 20));
    let (out, _dir) = check(&huge);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("larger than 1048576 bytes"), "{stderr}");
}

#[test]
fn a_missing_file_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_carp-agent"))
        .args(["config", "check", "/nonexistent/carp.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read config file /nonexistent/carp.toml"),
        "{stderr}"
    );
}
