//! `carp-agent run`'s flags, parsed by clap as the daemon does.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::path::Path;

use carp_agent::{
    config::{Config, ConfigError, Reason, RunArgs},
    engine::{RangeError, State},
    hooks::HookProgram,
};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

fn args(line: &str) -> RunArgs {
    let argv = std::iter::once("run").chain(line.split_whitespace());
    Cli::try_parse_from(argv).expect("flags parse").run
}

fn config(line: &str) -> Result<Config, ConfigError> {
    Config::from_args(&args(line))
}

#[test]
fn rc_conf_line_as_flags() {
    // ifconfig_em0_alias0="inet vhid 1 advskew 100 pass testpass alias 192.168.1.50/32"
    let c =
        config("--interface em0 --vhid 1 --advskew 100 --password testpass --vip 192.168.1.50/32")
            .unwrap();
    let v = &c.vhids[0];
    assert_eq!(
        (v.interface.as_str(), v.vhid, v.advbase, v.advskew),
        ("em0", 1, 1, 100)
    );
    assert!(!v.preempt);
    assert_eq!(v.vip_strings(), ["192.168.1.50/32"]);
    assert_eq!(c.control_socket, Path::new("/run/carp-agent.sock"));
    assert!(v.hooks.is_empty());
}

#[test]
fn vhid_range_is_ours() {
    for bad in ["0", "256"] {
        let err = config(&format!(
            "--interface eth0 --vhid {bad} --password x --vip 10.0.0.1"
        ))
        .unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::Vhid {
                    reason: Reason::Range(RangeError::Vhid(_)),
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("eth0 vhid {bad}: vhid: {bad} is out of range; vhids are 1..=255")
        );
    }
}

#[test]
fn vip_error_names_the_index() {
    let err =
        config("--interface eth0 --vhid 1 --password x --vip 10.0.0.1/24 --vip 10.0.0.300/24")
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "eth0 vhid 1: vips[1] = \"10.0.0.300/24\": invalid IP address"
    );
}

#[test]
fn missing_interface_or_vips() {
    let err = config("--vhid 1 --password x --vip 10.0.0.1").unwrap_err();
    assert!(matches!(err, ConfigError::Usage(_)), "{err}");
    let err = config("--interface eth0 --vhid 1 --password x").unwrap_err();
    assert!(
        err.to_string().contains("at least one virtual address"),
        "{err}"
    );
    let err = config("--interface eth0 --vhid 1 --vip 10.0.0.1").unwrap_err();
    assert!(
        err.to_string().contains("give password or password_file"),
        "{err}"
    );
}

#[test]
fn pre_master_and_demotion_scripts() {
    let c = config(
        "--interface eth0 --vhid 7 --password p --vip 10.0.0.7/24 \
         --pre-master-script /usr/local/bin/pre --demotion-script /usr/local/bin/demoted",
    )
    .unwrap();
    let v = &c.vhids[0];
    assert_eq!(v.hooks.len(), 1);
    assert!(v.hooks[0].pre_master);
    assert!(v.hooks[0].on.is_empty());
    assert_eq!(
        v.hooks[0].program,
        HookProgram::Argv(vec!["/usr/local/bin/pre".into()])
    );
    assert_eq!(c.demotion_hooks.len(), 1);
    assert_eq!(
        c.demotion_hooks[0].program,
        HookProgram::Argv(vec!["/usr/local/bin/demoted".into()])
    );
}

#[test]
fn password_file_and_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "testpass\n").unwrap();
    let c = config(&format!(
        "--interface eth0 --vhid 7 --password-file {} --vip fd00::7/64 --vip 10.0.0.7/24 --preempt \
         --flavor openbsd --advbase 0 --up-script /usr/local/bin/up --down-script /usr/local/bin/down \
         --xdp-mode skb --control-socket /tmp/c.sock --source 10.0.0.1",
        pass.display()
    ))
    .unwrap();
    let v = &c.vhids[0];
    assert_eq!(
        v.key,
        carp_agent::proto::AuthKey::from_password(b"testpass").unwrap()
    );
    assert_eq!(v.hooks.len(), 2);
    assert_eq!(v.hooks[0].on, [State::Master]);
    assert_eq!(
        v.hooks[0].program,
        HookProgram::Argv(vec!["/usr/local/bin/up".into()])
    );
    assert_eq!(v.hooks[1].on, [State::Backup, State::Init]);
    assert_eq!(c.control_socket, Path::new("/tmp/c.sock"));
    assert_eq!(c.xdp_mode, carp_agent::dataplane::AttachMode::Skb);

    let err = config("--interface eth0 --vhid 1 --password-file /nonexistent --vip 10.0.0.1")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("password_file: cannot read /nonexistent"),
        "{err}"
    );
}

#[test]
fn config_file_conflicts_with_vhid_flags_but_globals_override() {
    assert!(Cli::try_parse_from(["run", "--config", "/x.toml", "--vhid", "1"]).is_err());
    // Built by hand, the conflict is still caught.
    let mut bad = args("--vhid 1");
    bad.config = Some("/x.toml".into());
    let err = Config::from_args(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("--config cannot be combined with --vhid"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("carp.toml");
    std::fs::write(
        &file,
        "[[vhid]]\ninterface = \"eth0\"\nvhid = 3\npassword = \"\"\nvips = [\"10.0.0.3\"]\n",
    )
    .unwrap();
    let c = config(&format!(
        "--config {} --control-socket /tmp/o.sock",
        file.display()
    ))
    .unwrap();
    assert_eq!(c.vhids[0].vhid, 3);
    assert_eq!(c.control_socket, Path::new("/tmp/o.sock"));

    let err = config("--config /nonexistent/carp.toml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read config file /nonexistent/carp.toml: "),
        "{err}"
    );
}

#[test]
fn tie_break_flag_reaches_the_engine_and_conflicts_with_config() {
    use carp_agent::engine::TieBreak;
    let base = "--interface eth0 --vhid 1 --password p --vip 10.0.0.100";
    let source = "10.0.0.1".parse().unwrap();
    for (flag, expected) in [
        ("", TieBreak::LowerAddress),
        ("--tie-break lower-address", TieBreak::LowerAddress),
        ("--tie-break higher-address", TieBreak::HigherAddress),
        ("--tie-break yield", TieBreak::AlwaysYield),
    ] {
        let c = config(&format!("{base} {flag}")).unwrap();
        assert_eq!(
            c.vhids[0].engine_config(source).tie_break,
            expected,
            "{flag}"
        );
    }
    let argv = ["run", "--config", "/etc/carp.toml", "--tie-break", "yield"];
    assert!(Cli::try_parse_from(argv).is_err(), "--config replaces it");
    let argv = ["run", "--interface", "eth0", "--tie-break", "higher"];
    let err = Cli::try_parse_from(argv).err().unwrap().to_string();
    assert!(err.contains("lower-address"), "lists the choices: {err}");
}

/// `--password` still works (ucarp users) but warns, once, at start; the
/// warning never shows the password. A VIP the agent refuses stops it right
/// after, before anything on the system is touched.
#[test]
fn password_flag_warns_once_and_password_file_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "Zq7secretX\n").unwrap();
    let run = |secret: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_carp-agent"))
            .args(["run", "--interface", "eth0", "--vhid", "1"])
            .args(secret)
            .args(["--vip", "224.0.0.18"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = run(&["--password", "Zq7secretX"]);
    assert_eq!(
        stderr
            .matches("--password puts the password on the command line")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("use --password-file FILE"), "{stderr}");
    assert!(stderr.contains("vips[0] = \"224.0.0.18\""), "{stderr}");
    assert!(!stderr.contains("Zq7secretX"), "{stderr}");
    let stderr = run(&["--password-file", pass.to_str().unwrap()]);
    assert!(!stderr.contains("--password puts"), "{stderr}");
    assert!(stderr.contains("vips[0] = \"224.0.0.18\""), "{stderr}");
}

#[test]
fn realtime_from_the_flag_or_the_file_off_by_default() {
    let base = "--interface eth0 --vhid 1 --password p --vip 10.0.0.1";
    assert!(!config(base).unwrap().realtime);
    assert!(config(&format!("{base} --realtime")).unwrap().realtime);

    let dir = tempfile::tempdir().unwrap();
    let vhid = "[[vhid]]\ninterface = \"eth0\"\nvhid = 3\npassword = \"\"\nvips = [\"10.0.0.3\"]\n";
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let on = write("on.toml", &format!("realtime = true\n{vhid}"));
    let off = write("off.toml", vhid);
    assert!(
        config(&format!("--config {}", on.display()))
            .unwrap()
            .realtime
    );
    assert!(
        !config(&format!("--config {}", off.display()))
            .unwrap()
            .realtime
    );
    // The flag turns it on over a file that leaves it off.
    let c = config(&format!("--config {} --realtime", off.display())).unwrap();
    assert!(c.realtime);
    // A value that is no boolean is refused with its place and the type wanted.
    let bad = write("bad.toml", &format!("realtime = \"yes\"\n{vhid}"));
    let err = config(&format!("--config {}", bad.display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1, column 12"), "{err}");
    assert!(err.contains("expected a boolean"), "{err}");
}

#[test]
fn metrics_listen_from_the_flag_or_the_file_off_by_default() {
    let base = "--interface eth0 --vhid 1 --password p --vip 10.0.0.1";
    assert_eq!(config(base).unwrap().metrics_listen, None);
    let c = config(&format!("{base} --metrics-listen [::1]:9709")).unwrap();
    assert_eq!(c.metrics_listen, Some("[::1]:9709".parse().unwrap()));
    // Not IP:PORT: clap refuses it, naming the flag.
    let argv = ["run", "--metrics-listen", "localhost:9709"];
    let err = Cli::try_parse_from(argv).err().unwrap().to_string();
    assert!(err.contains("--metrics-listen"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let vhid = "[[vhid]]\ninterface = \"eth0\"\nvhid = 3\npassword = \"\"\nvips = [\"10.0.0.3\"]\n";
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let on = write(
        "on.toml",
        &format!("metrics_listen = \"127.0.0.1:9709\"\n{vhid}"),
    );
    let c = config(&format!("--config {}", on.display())).unwrap();
    assert_eq!(c.metrics_listen, Some("127.0.0.1:9709".parse().unwrap()));
    // The flag wins over the file.
    let c = config(&format!(
        "--config {} --metrics-listen 10.0.0.3:9100",
        on.display()
    ))
    .unwrap();
    assert_eq!(c.metrics_listen, Some("10.0.0.3:9100".parse().unwrap()));
    // A port alone, or a name, is refused with its place.
    let bad = write("bad.toml", &format!("metrics_listen = \"9709\"\n{vhid}"));
    let err = config(&format!("--config {}", bad.display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1, column 18"), "{err}");
    assert!(err.contains("socket address"), "{err}");
}

#[test]
fn peer_flags_repeat_and_are_checked() {
    let c = config(
        "--interface eth0 --vhid 1 --password s --vip 10.0.0.100/24 --peer 10.0.0.2 --peer 10.0.0.3",
    )
    .unwrap();
    let want: Vec<std::net::IpAddr> =
        vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()];
    assert_eq!(c.vhids[0].peers, want);
    let err = config("--interface eth0 --vhid 1 --password s --vip 10.0.0.100/24 --peer ff02::12")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ConfigError::Vhid {
                reason: Reason::Peer(_),
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("eth0 vhid 1") && msg.contains("ff02::12"),
        "{msg}"
    );
    // A single-vhid flag: clap refuses it beside --config.
    let err = Cli::try_parse_from(["run", "--config", "/etc/carp.toml", "--peer", "10.0.0.2"])
        .err()
        .expect("--peer conflicts with --config");
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
}
