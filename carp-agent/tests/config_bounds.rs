//! Every file the agent reads has a size limit, checked at the limit; and
//! no configuration error ever shows the password.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{path::Path, process::Command};

use carp_agent::{
    config::{Config, ConfigError, MAX_CONFIG_BYTES, MAX_PASSWORD_FILE_BYTES, Reason, RunArgs},
    proto::PasswordError,
};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

const VHID: &str = "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npassword = \"s3cr3t\"\n\
                    vips = [\"10.0.0.100/24\"]\n";

/// `VHID`, padded with a comment to exactly `size` bytes.
fn padded(size: u64) -> Vec<u8> {
    let mut text = VHID.as_bytes().to_vec();
    text.push(b'#');
    text.resize(usize::try_from(size).unwrap() - 1, b'x');
    text.push(b'\n');
    assert_eq!(text.len() as u64, size);
    text
}

#[test]
fn config_file_at_the_limit_is_read_one_byte_more_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carp.toml");
    std::fs::write(&path, padded(MAX_CONFIG_BYTES)).unwrap();
    assert_eq!(Config::from_file(&path).unwrap().vhids.len(), 1);

    std::fs::write(&path, padded(MAX_CONFIG_BYTES + 1)).unwrap();
    let err = Config::from_file(&path).unwrap_err();
    assert!(
        matches!(err, ConfigError::ConfigTooLarge { limit, .. } if limit == MAX_CONFIG_BYTES),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "config file {} is larger than 1048576 bytes; is it the right file?",
            path.display()
        )
    );
}

#[test]
fn endless_files_are_refused_quickly() {
    let err = Config::from_file(Path::new("/dev/zero")).unwrap_err();
    assert!(
        err.to_string()
            .contains("config file /dev/zero is larger than 1048576 bytes"),
        "{err}"
    );
    let err = password_file_error(Path::new("/dev/zero"));
    assert_eq!(
        err,
        "eth0 vhid 1: password_file: /dev/zero is larger than 1024 bytes (a CARP password is at \
         most 19); is it the right file?"
    );
    // (Without the limits, /dev/zero is read until memory runs out.)
}

fn password_file_error(path: &Path) -> String {
    let args = Cli::try_parse_from([
        "run",
        "--interface",
        "eth0",
        "--vhid",
        "1",
        "--vip",
        "10.0.0.1",
        "--password-file",
        path.to_str().unwrap(),
    ])
    .unwrap()
    .run;
    Config::from_args(&args).unwrap_err().to_string()
}

#[test]
fn password_file_at_the_limit_is_read_one_byte_more_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pass");
    let limit = usize::try_from(MAX_PASSWORD_FILE_BYTES).unwrap();
    // At the limit the file is read, and refused for what it holds.
    std::fs::write(&path, vec![b'p'; limit]).unwrap();
    let text = format!(
        "{}password_file = \"{}\"\n",
        VHID.replace("password = \"s3cr3t\"\n", ""),
        path.display()
    );
    let err = Config::from_toml_str(&text, Path::new("/etc/carp.toml")).unwrap_err();
    match &err {
        ConfigError::File { error, .. } => assert!(
            matches!(
                **error,
                ConfigError::Vhid {
                    reason: Reason::Password(PasswordError::TooLong { len: 1024 }),
                    ..
                }
            ),
            "{err:?}"
        ),
        other => panic!("{other:?}"),
    }
    // One byte more: refused unread.
    std::fs::write(&path, vec![b'p'; limit + 1]).unwrap();
    let err = Config::from_toml_str(&text, Path::new("/etc/carp.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "password_file: {} is larger than 1024 bytes",
            path.display()
        )),
        "{msg}"
    );
    // A real password file passes.
    std::fs::write(&path, "s3cr3t\n").unwrap();
    assert!(Config::from_toml_str(&text, Path::new("/etc/carp.toml")).is_ok());
}

/// Config texts whose password line is wrong, each holding the secret.
const SECRET: &str = "Zq7secretX";
const SECRET_NUMBER: &str = "7654321987";

fn broken_password_lines() -> Vec<String> {
    let s = SECRET;
    let n = SECRET_NUMBER;
    vec![
        // Syntax errors.
        format!("password = {s}"),
        format!("password = \"{s}"),
        format!("password = '{s}"),
        format!("password = \"{s}\" trailing"),
        format!("password = \"{s}\\q\""),
        format!("password = \"\"\"{s}"),
        format!("password = {s} # comment"),
        format!("password = [\"{s}\""),
        format!("password = \"{s}\"\npassword = \"{s}\""),
        // Type errors: serde quotes the value it did not expect.
        format!("password = {n}"),
        format!("password = {n}.5"),
        format!("password = [\"{s}\"]"),
        format!("password = {{ value = \"{s}\" }}"),
        format!("password = 1979-05-27T{n}"),
    ]
}

fn with_password_line(line: &str) -> String {
    VHID.replace("password = \"s3cr3t\"", line)
}

#[test]
fn toml_errors_on_the_password_line_never_show_it() {
    for line in broken_password_lines() {
        let text = with_password_line(&line);
        let err = Config::from_toml_str(&text, Path::new("/etc/carp.toml")).unwrap_err();
        let shown = format!("{err}\n{err:?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains(SECRET_NUMBER),
            "{line}: {shown}"
        );
        // Still says where (an unterminated string: where the file ends).
        assert!(
            shown.starts_with("/etc/carp.toml: TOML parse error at line "),
            "{line}: {shown}"
        );
    }
}

#[test]
fn a_type_error_still_says_what_was_expected() {
    let text = with_password_line(&format!("password = {SECRET_NUMBER}"));
    let err = Config::from_toml_str(&text, Path::new("/etc/carp.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/carp.toml: TOML parse error at line 4, column 12: invalid type: integer \
         `<hidden>`, expected a string"
    );
}

#[test]
fn errors_elsewhere_keep_their_details() {
    let text = VHID.replace("vhid = 1", "vhid = \"one\"");
    let err = Config::from_toml_str(&text, Path::new("/etc/carp.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/carp.toml: TOML parse error at line 3, column 8: invalid type: string \"one\", \
         expected i64"
    );
}

#[test]
fn config_check_never_prints_a_password_with_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    for line in broken_password_lines() {
        let path = dir.path().join("carp.toml");
        std::fs::write(&path, with_password_line(&line)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_carp-agent"))
            .args(["config", "check"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {stderr}");
        assert!(
            stderr.contains("TOML parse error at line "),
            "{line}: {stderr}"
        );
        assert!(
            !stderr.contains(SECRET) && !stderr.contains(SECRET_NUMBER),
            "{line}: {stderr}"
        );
    }
}
