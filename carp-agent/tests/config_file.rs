//! The TOML configuration: the sample file, and one test per error.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{path::Path, time::Duration};

use carp_agent::{
    config::{Config, ConfigError, Reason, VipError},
    dataplane::AttachMode,
    engine::{Flavor, RangeError, State},
    hooks::HookProgram,
    proto::AuthKey,
};

const SAMPLE: &str = include_str!("../examples/carp.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new("/etc/carp.toml"))
}

fn error(text: &str) -> (ConfigError, String) {
    let err = parse(text).expect_err("the configuration should be refused");
    let message = err.to_string();
    (err, message)
}

/// The reason inside a file error, for matching.
fn reason(err: &ConfigError) -> &Reason {
    match err {
        ConfigError::File { error, .. } => reason(error),
        ConfigError::Vhid { reason, .. } | ConfigError::Global { reason, .. } => reason,
        other => panic!("not a field error: {other:?}"),
    }
}

/// One vhid table with `extra` lines in place of the defaults given here.
fn one_vhid(extra: &str) -> String {
    let mut lines = vec![
        ("interface", "\"eth0\""),
        ("vhid", "1"),
        ("password", "\"secret\""),
        ("vips", "[\"10.0.0.100/24\"]"),
    ];
    let extra: Vec<(&str, &str)> = extra
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    lines.retain(|(k, _)| {
        !extra
            .iter()
            .any(|(e, _)| e == k || e.starts_with('-') && &e[1..] == *k)
    });
    lines.extend(extra.iter().filter(|(k, _)| !k.starts_with('-')));
    let body: Vec<String> = lines.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("[[vhid]]\n{}\n", body.join("\n"))
}

#[test]
fn sample_file_parses() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("vhid2.pass");
    std::fs::write(&pass, "testpass\n").unwrap();
    let text = SAMPLE.replace("/etc/carp-agent/vhid2.pass", pass.to_str().unwrap());
    let config = parse(&text).unwrap();
    assert_eq!(config.control_socket, Path::new("/run/carp-agent.sock"));
    assert_eq!(config.bpffs, Path::new("/sys/fs/bpf"));
    assert_eq!(config.state_dir, Path::new("/run/carp-agent"));
    assert_eq!(config.xdp_mode, AttachMode::Auto);
    assert_eq!(config.hook_timeout, Duration::from_secs(30));
    assert_eq!(config.demotion, 0);
    assert_eq!(config.persist_dir, Path::new("/var/lib/carp-agent"));
    assert_eq!(config.vhids.len(), 2);
    let tracks: Vec<_> = config
        .tracks
        .iter()
        .map(|t| (t.name.as_str(), t.weight, t.kind.label()))
        .collect();
    assert_eq!(
        tracks,
        [("uplink", 240, "interface"), ("db", 240, "script")]
    );

    let first = &config.vhids[0];
    assert_eq!((first.interface.as_str(), first.vhid), ("em0", 1));
    assert_eq!(
        (first.advbase, first.advskew, first.preempt),
        (1, 100, false)
    );
    assert_eq!(first.flavor, Flavor::FreeBsd);
    assert_eq!(first.key, AuthKey::from_password(b"testpass").unwrap());
    assert_eq!(first.vip_strings(), ["192.168.1.50/32"]);
    assert_eq!(first.source, None);
    assert_eq!(first.hooks.len(), 2);
    assert_eq!(first.hooks[0].on, [State::Master]);
    assert!(!first.hooks[0].pre_master);
    assert_eq!(
        first.hooks[0].program,
        HookProgram::Argv(vec!["/usr/local/bin/promote-db".into(), "--now".into()])
    );
    // The pre-master hook: no state of its own, its own timeout.
    assert!(first.hooks[1].on.is_empty());
    assert!(first.hooks[1].pre_master);
    assert_eq!(first.hooks[1].timeout, Some(Duration::from_secs(3)));
    assert_eq!(config.demotion_hooks.len(), 1);
    assert!(matches!(
        config.demotion_hooks[0].program,
        HookProgram::Shell(_)
    ));

    let second = &config.vhids[1];
    // The password file's trailing newline is not part of the password.
    assert_eq!(second.key, AuthKey::from_password(b"testpass").unwrap());
    assert_eq!(second.vip_strings(), ["192.168.1.51/32", "fd00::51/64"]);
    assert_eq!(second.hooks[0].on, [State::Backup, State::Init]);
    assert!(matches!(second.hooks[0].program, HookProgram::Shell(_)));
}

#[test]
fn defaults_and_overrides() {
    let text = format!(
        "control_socket = \"/tmp/c.sock\"\nstate_dir = \"/tmp/st\"\nxdp_mode = \"skb\"\nhook_timeout_ms = 1500\n\
         demotion = 10\n{}",
        one_vhid(
            "advbase = 0\nflavor = \"openbsd\"\npreempt = true\nreal_mac = true\n\
             source = \"10.0.0.2\"\nvips = [\"10.0.0.100\", \"fd00::1\"]"
        )
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.xdp_mode, AttachMode::Skb);
    assert_eq!(config.hook_timeout, Duration::from_millis(1500));
    assert_eq!(config.demotion, 10);
    assert_eq!(config.state_dir, Path::new("/tmp/st"));
    let v = &config.vhids[0];
    assert_eq!(
        (v.advbase, v.flavor, v.preempt, v.real_mac),
        (0, Flavor::OpenBsd, true, true)
    );
    assert_eq!(v.source, Some("10.0.0.2".parse().unwrap()));
    assert_eq!(v.vip_strings(), ["10.0.0.100/32", "fd00::1/128"]);
    let engine = v.engine_config("10.0.0.2".parse().unwrap());
    assert_eq!(engine.validate(), Ok(()));
}

#[test]
fn vhid_out_of_range() {
    for bad in ["0", "256", "-1"] {
        let (err, msg) = error(&one_vhid(&format!("vhid = {bad}")));
        assert!(
            matches!(reason(&err), Reason::Range(RangeError::Vhid(_))),
            "{msg}"
        );
        assert_eq!(
            msg,
            format!(
                "/etc/carp.toml: [[vhid]] #1: eth0 vhid {bad}: vhid: {bad} is out of range; \
                 vhids are 1..=255"
            )
        );
    }
}

#[test]
fn password_too_long_uses_the_auth_key_message() {
    let (err, msg) = error(&one_vhid("password = \"01234567890123456789\""));
    assert!(matches!(reason(&err), Reason::Password(_)), "{msg}");
    assert!(
        msg.contains("eth0 vhid 1: password: password is 20 bytes"),
        "{msg}"
    );
    assert!(msg.contains("at most 19"), "{msg}");
    assert!(
        !msg.contains("01234567890123456789"),
        "the password leaks: {msg}"
    );
}

#[test]
fn password_both_or_neither() {
    let (err, msg) = error(&one_vhid("password_file = \"/nonexistent\""));
    assert!(matches!(reason(&err), Reason::PasswordBoth), "{msg}");
    assert!(msg.contains("eth0 vhid 1: password: give password or password_file, not both"));
    let (err, msg) = error(&one_vhid("-password = x"));
    assert!(matches!(reason(&err), Reason::PasswordMissing), "{msg}");
}

#[test]
fn unreadable_password_file() {
    let (err, msg) = error(&one_vhid(
        "-password = x\npassword_file = \"/nonexistent/pass\"",
    ));
    assert!(matches!(reason(&err), Reason::PasswordFile { .. }), "{msg}");
    assert!(
        msg.contains("password_file: cannot read /nonexistent/pass: No such file"),
        "{msg}"
    );
}

#[test]
fn relative_password_file_is_read_from_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\r\n").unwrap();
    let text = one_vhid("-password = x\npassword_file = \"pw\"");
    let config = Config::from_toml_str(&text, &dir.path().join("carp.toml")).unwrap();
    assert_eq!(
        config.vhids[0].key,
        AuthKey::from_password(b"s3cret").unwrap()
    );
}

#[test]
fn duplicate_vhid_on_one_interface() {
    let text = format!("{}{}", one_vhid(""), one_vhid("vips = [\"10.0.0.101\"]"));
    let (err, msg) = error(&text);
    assert!(
        matches!(reason(&err), Reason::Duplicate { first: 1, .. }),
        "{msg}"
    );
    assert!(
        msg.contains(
            "[[vhid]] #2: eth0 vhid 1: vhid: vhid 1 on eth0 is already configured by [[vhid]] #1"
        ),
        "{msg}"
    );
    // The same vhid on another interface is a different election.
    let text = format!(
        "{}{}",
        one_vhid(""),
        one_vhid("interface = \"eth1\"\nvips = [\"10.1.0.100/24\"]")
    );
    assert_eq!(parse(&text).unwrap().vhids.len(), 2);
}

#[test]
fn the_same_vhid_on_two_vlans_of_one_trunk_is_two_elections() {
    let text = format!(
        "{}{}",
        one_vhid("vlan = 100\nsource = \"10.0.0.5\""),
        one_vhid("vlan = 200\nvips = [\"10.2.0.100/24\"]")
    );
    let config = parse(&text).unwrap();
    let vlans: Vec<Option<u16>> = config.vhids.iter().map(|v| v.vlan).collect();
    assert_eq!(vlans, [Some(100), Some(200)]);
    assert_eq!(config.vhids[0].name(), "eth0 vlan 100 vhid 1");
    // Twice on one VLAN is refused, naming the VLAN.
    let text = format!(
        "{}{}",
        one_vhid("vlan = 100"),
        one_vhid("vlan = 100\nvips = [\"10.2.0.100/24\"]")
    );
    let (err, msg) = error(&text);
    assert!(matches!(reason(&err), Reason::Duplicate { .. }), "{msg}");
    assert!(
        msg.contains("vhid 1 on eth0 vlan 100 is already configured"),
        "{msg}"
    );
    // Untagged is not a VLAN: eth0 vhid 1 beside eth0 vlan 100 vhid 1 is fine.
    let text = format!(
        "{}{}",
        one_vhid(""),
        one_vhid("vlan = 100\nvips = [\"10.2.0.100/24\"]")
    );
    assert_eq!(parse(&text).unwrap().vhids.len(), 2);
}

#[test]
fn vlan_ids_outside_802_1q_are_refused() {
    for bad in ["0", "4095", "-1", "70000"] {
        let (err, msg) = error(&one_vhid(&format!("vlan = {bad}")));
        assert!(matches!(reason(&err), Reason::Vlan(_)), "{bad}: {msg}");
        assert!(msg.contains("vlan") && msg.contains("1..=4094"), "{msg}");
    }
}

#[test]
fn vip_parse_error_names_the_entry() {
    let (err, msg) = error(&one_vhid("vips = [\"10.0.0.1/24\", \"10.0.0.300/24\"]"));
    assert!(
        matches!(reason(&err), Reason::Vip(VipError::Address)),
        "{msg}"
    );
    assert_eq!(
        msg,
        "/etc/carp.toml: [[vhid]] #1: eth0 vhid 1: vips[1] = \"10.0.0.300/24\": invalid IP address"
    );
}

#[test]
fn vip_zone_must_be_the_vhid_interface() {
    let config = parse(&one_vhid("vips = [\"fe80::1%eth0/64\"]")).unwrap();
    assert_eq!(config.vhids[0].vip_strings(), ["fe80::1/64"]);

    let (err, msg) = error(&one_vhid("vips = [\"fe80::1%eth1/64\"]"));
    assert!(matches!(reason(&err), Reason::VipZone { .. }), "{msg}");
    assert!(
        msg.ends_with("vips[0] = \"fe80::1%eth1/64\": zone %eth1 is not the vhid's interface eth0"),
        "{msg}"
    );
    let (err, msg) = error(&one_vhid("vips = [\"10.0.0.1%eth0\"]"));
    assert!(matches!(reason(&err), Reason::Vip(VipError::Zone)), "{msg}");
}

#[test]
fn vip_prefix_out_of_range() {
    let (err, msg) = error(&one_vhid("vips = [\"fd00::1/129\"]"));
    assert!(
        matches!(reason(&err), Reason::Vip(VipError::PrefixRange { .. })),
        "{msg}"
    );
    assert!(
        msg.ends_with("vips[0] = \"fd00::1/129\": prefix length 129 is out of range 1..=128"),
        "{msg}"
    );
}

#[test]
fn no_vips() {
    let (err, msg) = error(&one_vhid("vips = []"));
    assert!(matches!(reason(&err), Reason::NoVips), "{msg}");
    assert!(msg.contains("eth0 vhid 1: vips: at least one virtual address is required"));
}

#[test]
fn advskew_255_is_reserved() {
    let (err, msg) = error(&one_vhid("advskew = 255"));
    assert!(
        matches!(reason(&err), Reason::Range(RangeError::AdvskewReserved)),
        "{msg}"
    );
    assert!(
        msg.contains("advskew: 255 is reserved for the bow-out"),
        "{msg}"
    );
    let (err, _) = error(&one_vhid("advskew = 300"));
    assert!(matches!(reason(&err), Reason::ByteRange(300)));
}

#[test]
fn advbase_zero_needs_openbsd() {
    let (err, msg) = error(&one_vhid("advbase = 0"));
    assert!(
        matches!(reason(&err), Reason::Range(RangeError::AdvbaseZero)),
        "{msg}"
    );
    assert!(
        msg.contains("advbase: 0 is only allowed with flavor \"openbsd\""),
        "{msg}"
    );
}

#[test]
fn empty_interface_name() {
    let (err, msg) = error(&one_vhid("interface = \"\""));
    assert!(matches!(reason(&err), Reason::Empty), "{msg}");
    assert!(
        msg.contains("[[vhid]] #1: vhid 1: interface: must not be empty"),
        "{msg}"
    );
    let (err, _) = error(&one_vhid("interface = \"a-very-long-interface\""));
    assert!(matches!(reason(&err), Reason::InterfaceName(_)));
}

#[test]
fn unknown_keys_have_a_line_and_column() {
    let (err, msg) = error(&one_vhid("advskw = 100"));
    assert!(matches!(err, ConfigError::File { .. }), "{msg}");
    assert!(
        msg.starts_with("/etc/carp.toml: TOML parse error at line 6, column 1"),
        "{msg}"
    );
    assert!(msg.contains("unknown field `advskw`"), "{msg}");
    let (_, msg) = error(&format!("contro_socket = \"/x\"\n{}", one_vhid("")));
    assert!(msg.contains("unknown field `contro_socket`"), "{msg}");
}

#[test]
fn missing_required_keys_and_bad_types() {
    let (_, msg) = error("[[vhid]]\nvhid = 1\npassword = \"x\"\nvips = [\"10.0.0.1\"]\n");
    assert!(msg.contains("missing field `interface`"), "{msg}");
    let (_, msg) = error(&one_vhid("vips = \"10.0.0.1\""));
    assert!(msg.contains("line 5"), "{msg}");
}

#[test]
fn no_vhid_tables() {
    let (err, msg) = error("demotion = 0\n");
    assert!(matches!(reason(&err), Reason::Empty), "{msg}");
    assert_eq!(msg, "/etc/carp.toml: [[vhid]]: must not be empty");
}

#[test]
fn bad_xdp_mode_and_source() {
    let (err, msg) = error(&format!("xdp_mode = \"driver\"\n{}", one_vhid("")));
    assert!(matches!(reason(&err), Reason::XdpMode(_)), "{msg}");
    assert!(msg.contains("xdp_mode: \"driver\" is not an XDP mode (auto, native, skb)"));
    let (err, msg) = error(&one_vhid("source = \"224.0.0.18\""));
    assert!(matches!(reason(&err), Reason::Source(_)), "{msg}");
}

#[test]
fn xdp_share_is_parsed_and_checked() {
    use carp_agent::dataplane::share::XdpShare;
    assert_eq!(parse(&one_vhid("")).unwrap().xdp_share, XdpShare::Auto);
    let config = parse(&format!("xdp_share = \"dispatcher\"\n{}", one_vhid(""))).unwrap();
    assert_eq!(config.xdp_share, XdpShare::Dispatcher);
    let (err, msg) = error(&format!("xdp_share = \"shared\"\n{}", one_vhid("")));
    assert!(matches!(reason(&err), Reason::XdpShare(_)), "{msg}");
    assert!(
        msg.contains(
            "xdp_share: \"shared\" is not an XDP sharing setting (auto, dispatcher, exclusive)"
        ),
        "{msg}"
    );
}

#[test]
fn demotion_hooks_are_host_wide_and_state_hooks_per_vhid() {
    let vhid =
        "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npassword = \"p\"\nvips = [\"10.0.0.1\"]\n";
    let in_vhid = format!("{vhid}[[vhid.hook]]\non = [\"demotion\"]\nshell = \"true\"\n");
    let err = parse(&in_vhid).unwrap_err();
    assert!(matches!(reason(&err), Reason::DemotionHookInVhid), "{err}");
    let state_at_top = format!("{vhid}[[hook]]\non = [\"master\"]\nshell = \"true\"\n");
    let err = parse(&state_at_top).unwrap_err();
    assert!(matches!(reason(&err), Reason::HostHookOn), "{err}");
    assert!(err.to_string().contains("hook[0]"), "{err}");
    let zero =
        format!("{vhid}[[vhid.hook]]\non = [\"pre-master\"]\nshell = \"true\"\ntimeout_ms = 0\n");
    let err = parse(&zero).unwrap_err();
    assert!(matches!(reason(&err), Reason::HookTimeout), "{err}");
    let ok = format!(
        "{vhid}[[vhid.hook]]\non = [\"pre-master\", \"backup\"]\nshell = \"true\"\n\
         [[hook]]\non = [\"demotion\"]\ncommand = [\"/bin/true\"]\ntimeout_ms = 50\n"
    );
    let config = parse(&ok).unwrap();
    let hook = &config.vhids[0].hooks[0];
    assert!(hook.pre_master);
    assert_eq!(hook.on, [State::Backup]);
    assert_eq!(
        config.demotion_hooks[0].timeout,
        Some(Duration::from_millis(50))
    );
}

#[test]
fn hooks_need_exactly_one_program() {
    let base = one_vhid("");
    let (err, msg) = error(&format!("{base}[[vhid.hook]]\non = [\"master\"]\n"));
    assert!(matches!(reason(&err), Reason::HookMissing), "{msg}");
    let (err, msg) = error(&format!(
        "{base}[[vhid.hook]]\non = [\"master\"]\ncommand = [\"/bin/true\"]\nshell = \"true\"\n"
    ));
    assert!(matches!(reason(&err), Reason::HookBoth), "{msg}");
    let (err, msg) = error(&format!(
        "{base}[[vhid.hook]]\non = [\"master\"]\ncommand = []\n"
    ));
    assert!(matches!(reason(&err), Reason::Empty), "{msg}");
    assert!(msg.contains("hook[0].command: must not be empty"), "{msg}");
    let (_, msg) = error(&format!(
        "{base}[[vhid.hook]]\non = [\"primary\"]\nshell = \"true\"\n"
    ));
    assert!(msg.contains("unknown variant `primary`"), "{msg}");
}

#[test]
fn tie_break_key_reaches_the_engine() {
    use carp_agent::engine::TieBreak;
    let source = "10.0.0.1".parse().unwrap();
    let cases = [
        ("", TieBreak::LowerAddress),
        ("tie_break = \"lower-address\"", TieBreak::LowerAddress),
        ("tie_break = \"higher-address\"", TieBreak::HigherAddress),
        ("tie_break = \"yield\"", TieBreak::AlwaysYield),
    ];
    for (line, expected) in cases {
        let config = parse(&one_vhid(line)).unwrap();
        let engine = config.vhids[0].engine_config(source);
        assert_eq!(engine.tie_break, expected, "{line:?}");
    }
    let (_, msg) = error(&one_vhid("tie_break = \"higher\""));
    assert!(msg.contains("tie_break") || msg.contains("higher"), "{msg}");
}

#[test]
fn tracking_persist_dir_and_preempt_delay() {
    let text = format!(
        "persist_dir = \"/srv/carp\"\n{}preempt_delay = 60\n",
        one_vhid("")
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.persist_dir, Path::new("/srv/carp"));
    assert_eq!(config.vhids[0].preempt_delay, Duration::from_secs(60));
    assert_eq!(
        config.vhids[0]
            .engine_config("10.0.0.1".parse().unwrap())
            .preempt_delay,
        Duration::from_secs(60)
    );
    for (delay, ok) in [("0", true), ("1000", true), ("1001", false), ("-1", false)] {
        let text = format!("{}preempt_delay = {delay}\n", one_vhid(""));
        match parse(&text) {
            Ok(_) => assert!(ok, "{delay}"),
            Err(err) => {
                assert!(!ok, "{delay}: {err}");
                assert!(
                    err.to_string().ends_with(&format!(
                        "eth0 vhid 1: preempt_delay: {delay} is out of range 0..=1000 seconds"
                    )),
                    "{err}"
                );
            }
        }
    }
    // A [[track]] error names the file, the table and the field.
    let text = format!(
        "{}[[track]]\nname = \"up\"\nweight = 1\ninterface = \"eth1\"\n\
         [[track]]\nname = \"up\"\nweight = 2\nroute = \"default\"\n",
        one_vhid("")
    );
    let (_, message) = error(&text);
    assert_eq!(
        message,
        "/etc/carp.toml: [[track]] #2 \"up\": name: already used by [[track]] #1; \
         names must be unique"
    );
    let text = format!(
        "{}[[track]]\nname = \"db\"\nweight = 10\nshell = \"true\"\ninterval_ms = 0\n",
        one_vhid("")
    );
    let (_, message) = error(&text);
    assert_eq!(
        message,
        "/etc/carp.toml: [[track]] #1 \"db\": interval_ms: 0 is out of range 10..=3600000 ms"
    );
}
