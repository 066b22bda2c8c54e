//! `carp-agent decode` run as a real process.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    borrow::Cow,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use pcap_file::{
    DataLink,
    pcap::{PcapHeader, PcapPacket, PcapWriter},
    pcapng::{
        PcapNgWriter,
        blocks::{
            enhanced_packet::EnhancedPacketBlock, interface_description::InterfaceDescriptionBlock,
        },
    },
};

/// The ucarp capture, as the words a user would paste.
const UCARP: &str = carp_agent::testdata::ucarp::FRAME_HEX;
const OK_LINE: &str = "10.99.0.1 vhid 1 advbase 1 advskew 0 demote 0 counter c5a7b31362fc34fc ok";
const FIELDS: &str = "10.99.0.1 vhid 1 advbase 1 advskew 0 demote 0 counter c5a7b31362fc34fc";
const BADAUTH: &str = "badauth: HMAC mismatch: password or virtual address set differs";

fn ucarp_bytes() -> Vec<u8> {
    carp_agent::testdata::ucarp::frame()
}

/// The ucarp frame with its CARP checksum broken.
fn corrupted() -> Vec<u8> {
    let mut frame = ucarp_bytes();
    frame[14 + 20 + 7] ^= 0x01;
    frame
}

/// An ARP request: traffic a capture filter may well let through.
fn arp() -> Vec<u8> {
    let mut frame = hex::decode("ffffffffffff 020000000001 0806".replace(' ', "")).unwrap();
    frame.extend_from_slice(&[0; 28]);
    frame
}

fn decode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carp-agent"))
        .arg("decode")
        .args(args)
        .output()
        .expect("run carp-agent")
}

fn decode_ucarp(password: &str, vip: &str) -> Output {
    let mut args = vec!["--password", password, "--vip", vip];
    args.extend(UCARP.split_whitespace());
    decode(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn pcap(link: DataLink, frames: &[Vec<u8>]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let packet = PcapPacket::new(Duration::from_secs(i as u64), frame.len() as u32, frame);
        writer.write_packet(&packet).unwrap();
    }
    writer.into_writer()
}

fn pcapng(links: &[DataLink], frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut writer = PcapNgWriter::new(Vec::new()).unwrap();
    for &linktype in links {
        let interface = InterfaceDescriptionBlock {
            linktype,
            snaplen: 0,
            options: vec![],
        };
        writer.write_pcapng_block(interface).unwrap();
    }
    for (i, (interface_id, frame)) in frames.iter().enumerate() {
        let packet = EnhancedPacketBlock {
            interface_id: *interface_id,
            timestamp: Duration::from_secs(i as u64),
            original_len: frame.len() as u32,
            data: Cow::Borrowed(frame),
            options: vec![],
        };
        writer.write_pcapng_block(packet).unwrap();
    }
    writer.into_inner()
}

/// Linux cooked capture v1 header: outgoing, Ethernet, 6-byte address, IPv4.
fn sll(ip: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 4, 0, 1, 0, 6, 0, 0, 0x5e, 0, 0, 1, 0, 0, 0x08, 0x00];
    out.extend_from_slice(ip);
    out
}

/// Linux cooked capture v2 header: IPv4, ifindex 2, Ethernet, outgoing.
fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
    out.extend_from_slice(&[0, 0, 0x5e, 0, 0, 1, 0, 0]);
    out.extend_from_slice(ip);
    out
}

#[test]
fn ucarp_vector_is_ok() {
    let output = decode_ucarp("secret", "10.99.0.100");
    assert_eq!(stdout(&output), format!("{OK_LINE}\n"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn hex_may_have_0x_prefix_colons_and_be_a_bare_ip_packet() {
    let bytes = ucarp_bytes();
    let colons: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let spelled = [
        format!("0x{}", hex::encode(&bytes)),
        colons.join(":"),
        hex::encode(&bytes[14..]),
    ];
    for hex in spelled {
        let output = decode(&["--password", "secret", "--vip", "10.99.0.100/24", &hex]);
        assert_eq!(stdout(&output), format!("{OK_LINE}\n"), "{hex}");
        assert_eq!(output.status.code(), Some(0), "{hex}");
    }
}

#[test]
fn wrong_password_or_vip_is_badauth() {
    for (password, vip) in [("Secret", "10.99.0.100"), ("secret", "10.99.0.101")] {
        let output = decode_ucarp(password, vip);
        assert_eq!(stdout(&output), format!("{FIELDS} {BADAUTH}\n"));
        assert_eq!(output.status.code(), Some(1));
    }
}

#[test]
fn password_file_is_read_without_its_newline() {
    let path = temp_file("password", b"secret\n");
    let mut args = vec![
        "--password-file",
        path.to_str().unwrap(),
        "--vip",
        "10.99.0.100",
    ];
    args.extend(UCARP.split_whitespace());
    let output = decode(&args);
    assert_eq!(stdout(&output), format!("{OK_LINE}\n"));
    assert_eq!(output.status.code(), Some(0));
}

/// `decode --password-file` checks adverts with the key `run` derives from
/// the same file: the ucarp advert (password "secret") authenticates exactly
/// when the agent's key is "secret". A lone `\r` used to split them.
#[test]
fn password_file_is_read_as_the_agent_reads_it() {
    let cases: [&[u8]; 5] = [
        b"secret",
        b"secret\n",
        b"secret\r\n",
        b"secret\r",
        b"secret\n\n",
    ];
    for (i, contents) in cases.into_iter().enumerate() {
        let path = temp_file(&format!("password-agree-{i}"), contents);
        let toml = format!(
            "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npassword_file = {:?}\nvips = [\"10.99.0.100\"]\n",
            path.display().to_string()
        );
        let config = carp_agent::config::Config::from_toml_str(&toml, Path::new("agree.toml"))
            .expect("config with a password file");
        let agent_key_is_secret =
            config.vhids[0].key == carp_agent::proto::AuthKey::from_password(b"secret").unwrap();

        let mut args = vec![
            "--password-file",
            path.to_str().unwrap(),
            "--vip",
            "10.99.0.100",
        ];
        args.extend(UCARP.split_whitespace());
        let output = decode(&args);
        let decode_ok = stdout(&output) == format!("{OK_LINE}\n");
        assert_eq!(
            decode_ok,
            agent_key_is_secret,
            "{contents:?}: decode says {:?}",
            stdout(&output)
        );
    }
}

#[test]
fn broken_frames_show_what_is_known() {
    let mut bad_ttl = ucarp_bytes();
    bad_ttl[14 + 8] = 64;
    let cases = [
        (
            hex::encode(&bad_ttl),
            format!(
                "{FIELDS} badttl: TTL/hop limit 64, must be 255 (the packet left its link or was forged)"
            ),
        ),
        (
            hex::encode(&ucarp_bytes()[..40]),
            "10.99.0.1 hdrops: IPv4 packet truncated: needs 56 bytes, only 26 present".to_string(),
        ),
        (
            hex::encode(arp()),
            "notcarp: not CARP: ethertype 0x0806 is neither IPv4 nor IPv6".to_string(),
        ),
    ];
    for (hex, line) in cases {
        let output = decode(&["--password", "secret", "--vip", "10.99.0.100", &hex]);
        assert_eq!(stdout(&output), format!("{line}\n"));
        assert_eq!(output.status.code(), Some(1), "{line}");
    }
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let long = "a".repeat(20);
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--password",
                "secret",
                "--vip",
                "10.99.0.100",
                "01005e",
                "00zz12",
            ],
            "HEX word 2 (\"00zz12\"): 'z' is not a hex digit",
        ),
        (
            &["--password", "secret", "--vip", "10.99.0.100", "01005"],
            "odd number of hex digits (5)",
        ),
        (
            &["--password", "secret", "--vip", "10.0.0.300", "00"],
            "--vip 10.0.0.300: invalid IP address",
        ),
        (
            &["--password", &long, "--vip", "10.99.0.100", "00"],
            "password is 20 bytes; CARP peers (FreeBSD, OpenBSD, ucarp) use at most 19",
        ),
        (
            &["--password", "secret", "--vip", "10.99.0.100"],
            "required arguments were not provided",
        ),
    ];
    for (args, message) in cases {
        let output = decode(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "");
    }
}

#[test]
fn pcap_reports_every_carp_frame_and_skips_the_rest() {
    let path = temp_file(
        "mixed.pcap",
        &pcap(DataLink::ETHERNET, &[ucarp_bytes(), arp(), corrupted()]),
    );
    let output = decode(&[
        "--password",
        "secret",
        "--vip",
        "10.99.0.100",
        "--pcap",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&output),
        format!(
            "frame 1: {OK_LINE}\n\
             frame 3: {FIELDS} badsum: checksum 0xa0cd does not verify (the header would need 0xa0cc)\n"
        )
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn pcap_in_linux_cooked_format_is_ok() {
    let ip = ucarp_bytes()[14..].to_vec();
    for (name, link, frame) in [
        ("sll.pcap", DataLink::LINUX_SLL, sll(&ip)),
        ("sll2.pcap", DataLink::LINUX_SLL2, sll2(&ip)),
        ("raw.pcap", DataLink::RAW, ip.clone()),
    ] {
        let path = temp_file(name, &pcap(link, &[frame]));
        let output = decode(&[
            "--password=secret",
            "--vip=10.99.0.100",
            "--pcap",
            path.to_str().unwrap(),
        ]);
        assert_eq!(stdout(&output), format!("frame 1: {OK_LINE}\n"), "{name}");
        assert_eq!(output.status.code(), Some(0), "{name}");
    }
}

#[test]
fn pcapng_with_several_link_types() {
    let ip = ucarp_bytes()[14..].to_vec();
    let links = [DataLink::ETHERNET, DataLink::RAW, DataLink::LINUX_SLL2];
    let frames = [
        (0, ucarp_bytes()),
        (0, arp()),
        (1, ip.clone()),
        (2, sll2(&ip)),
        (0, corrupted()),
    ];
    let path = temp_file("mixed.pcapng", &pcapng(&links, &frames));
    let output = decode(&[
        "--password",
        "secret",
        "--vip",
        "10.99.0.100",
        "--pcap",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&output),
        format!(
            "frame 1: {OK_LINE}\n\
             frame 3: {OK_LINE}\n\
             frame 4: {OK_LINE}\n\
             frame 5: {FIELDS} badsum: checksum 0xa0cd does not verify (the header would need 0xa0cc)\n"
        )
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn capture_without_carp_says_so() {
    let path = temp_file("arp.pcapng", &pcapng(&[DataLink::ETHERNET], &[(0, arp())]));
    let output = decode(&[
        "--password",
        "secret",
        "--vip",
        "10.99.0.100",
        "--pcap",
        path.to_str().unwrap(),
    ]);
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("no CARP (IP protocol 112) frame in"),
        "{}",
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn unreadable_captures_are_usage_errors() {
    let garbage = temp_file("garbage.pcap", b"this is not a capture");
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("does-not-exist.pcap");
    let bluetooth = temp_file("bt.pcap", &pcap(DataLink::from(187), &[vec![0; 8]]));
    for (path, message) in [
        (garbage, "not a pcap or pcapng file"),
        (missing, "cannot read"),
        (bluetooth, "link type 187 is not supported"),
    ] {
        let output = decode(&[
            "--password",
            "secret",
            "--vip",
            "10.99.0.100",
            "--pcap",
            path.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        assert!(
            stderr(&output).contains(message),
            "{}: {}",
            path.display(),
            stderr(&output)
        );
    }
}

/// OpenBSD signs without link-local VIPs (its NOV6LL context); `decode`
/// accepts that form and says so, and the FreeBSD form as plain "ok".
#[test]
fn openbsd_digest_without_link_local_vips_is_ok() {
    use carp_agent::proto::{Advertisement, Auth, AuthKey, FrameBuilder, LinkLocalVips, VipSet};
    let key: AuthKey = "obsd".parse().unwrap();
    let vips: VipSet = ["fe80::1", "2001:db8::1"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let source = "fe80::5".parse().unwrap();
    let packet = |form| {
        let mut advert = Advertisement {
            vhid: 3,
            advskew: 0,
            advbase: 1,
            demote: 0,
            counter: 0x1122_3344_5566_7788,
            md: [0; 20],
        };
        advert.sign(&Auth::new(&key, vips.clone()).sending(form));
        hex::encode(FrameBuilder::new(3).frame(source, &advert.encode()))
    };
    let args = [
        "--password",
        "obsd",
        "--vip",
        "fe80::1",
        "--vip",
        "2001:db8::1/64",
    ];
    let run = |hex: &str| {
        let mut all = args.to_vec();
        all.push(hex);
        decode(&all)
    };
    let openbsd = run(&packet(LinkLocalVips::Omitted));
    assert!(openbsd.status.success(), "{}", stdout(&openbsd));
    assert!(
        stdout(&openbsd).ends_with("ok (OpenBSD digest: link-local VIPs left out)\n"),
        "{}",
        stdout(&openbsd)
    );
    let freebsd = run(&packet(LinkLocalVips::Included));
    assert!(stdout(&freebsd).ends_with(" ok\n"), "{}", stdout(&freebsd));
    // Without fe80::1 configured, the FreeBSD digest (which covers it) fails.
    let out = decode(&[
        "--password",
        "obsd",
        "--vip",
        "2001:db8::1",
        &packet(LinkLocalVips::Included),
    ]);
    assert!(stdout(&out).contains("badauth"), "{}", stdout(&out));
}

/// `decode capture.pcap | head`: the reader leaving early is normal use. The
/// exit status still covers every frame and nothing is said about the pipe.
#[test]
fn a_closed_stdout_is_not_an_error() {
    // Far more output than a pipe buffers, so writes do hit the closed pipe.
    let mut frames = vec![ucarp_bytes(); 3000];
    let all_ok = temp_file("many.pcap", &pcap(DataLink::ETHERNET, &frames));
    frames.push(corrupted());
    let last_bad = temp_file("many-last-bad.pcap", &pcap(DataLink::ETHERNET, &frames));
    for (path, code) in [(all_ok, 0), (last_bad, 1)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_carp-agent"))
            .args(["decode", "--password", "secret", "--vip", "10.99.0.100"])
            .arg("--pcap")
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run carp-agent");
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert_eq!(stderr(&output), "", "{}", path.display());
        assert_eq!(output.status.code(), Some(code), "{}", path.display());
    }
}

/// A carp-agent sender's sealed counter is shown with its sequence; the
/// same advert with advskew changed (checksum fixed, as an attacker would)
/// still authenticates, since the HMAC does not cover advskew, but its
/// counter no longer opens: the tag covers the field.
#[test]
fn sealed_counters_show_their_sequence_and_not_after_tampering() {
    use carp_agent::{
        node::{SealKey, Unsigned},
        proto::{Advertisement, Auth, AuthKey, FrameBuilder, VipSet},
    };
    let key: AuthKey = "secret".parse().unwrap();
    let vips: VipSet = ["10.99.0.100"].iter().map(|s| s.parse().unwrap()).collect();
    let source = "10.99.0.2".parse().unwrap();
    let fields = Unsigned {
        vhid: 1,
        advbase: 1,
        advskew: 100,
        demote: 0,
    };
    let mut advert = Advertisement {
        vhid: 1,
        advskew: 100,
        advbase: 1,
        demote: 0,
        counter: SealKey::derive(&key).seal(fields, 987_654, source),
        md: [0; 20],
    };
    advert.sign(&Auth::new(&key, vips));
    let genuine = hex::encode(FrameBuilder::new(1).frame(source, &advert.encode()));
    advert.advskew = 0;
    let tampered = hex::encode(FrameBuilder::new(1).frame(source, &advert.encode()));
    let args = ["--password", "secret", "--vip", "10.99.0.100/24"];
    let run = |hex: &str| {
        let mut all = args.to_vec();
        all.push(hex);
        stdout(&decode(&all))
    };
    let out = run(&genuine);
    assert!(out.ends_with(" ok, sealed sequence 987654\n"), "{out}");
    let out = run(&tampered);
    assert!(out.ends_with(" ok\n"), "{out}");
}
