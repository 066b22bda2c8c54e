//! Wireshark's CARP dissector accepts what the agent sends: real IPv4 and
//! IPv6 adverts captured on the lab's client, read by `tshark` with
//! `-d ip.proto==112,carp`.
//!
//! Without `-d`, tshark 4.0 hands IP protocol 112 to its VRRP dissector (the
//! two share the number and the first byte): IPv4 adverts show as "VRRP
//! Announcement (v2)" with advskew as "Priority", authlen as "Addr Count: 7"
//! and the counter and HMAC as IP addresses; IPv6 adverts as "VRRP ...
//! [Malformed Packet]". README's troubleshooting section says so.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{path::Path, time::Duration};

use carp_tests::{lab::Lab, privileges::require_root};

const CONFIG: &str = r#"
[[vhid]]
interface = "eth0"
vhid = 7
advbase = 1
advskew = 37
password = "labpass"
vips = ["10.77.0.107/24"]

[[vhid]]
interface = "eth0"
vhid = 9
advbase = 2
advskew = 99
password = "labpass"
vips = ["fd77::109/64"]
"#;

const FIELDS: [&str; 12] = [
    "ip.src",
    "ipv6.src",
    "carp.version",
    "carp.type",
    "carp.vhid",
    "carp.adver_int",
    "carp.advskew",
    "carp.demotion",
    "carp.authlen",
    "carp.checksum.status",
    "_ws.expert.severity",
    "_ws.malformed",
];

/// One advert as tshark dissected it: FIELDS in order, empty if absent.
type Row = Vec<String>;

fn tshark(pcap: &Path, extra: &[&str]) -> String {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", "ip.proto==112,carp"])
        .args(extra)
        .output()
        .expect("tshark (Debian package tshark) must be installed");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dissect(pcap: &Path) -> Vec<Row> {
    let mut args = vec!["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"];
    for field in FIELDS {
        args.extend(["-e", field]);
    }
    tshark(pcap, &args)
        .lines()
        .map(|line| line.split('\t').map(str::to_string).collect::<Row>())
        .inspect(|row| assert_eq!(row.len(), FIELDS.len(), "{row:?}"))
        .collect()
}

fn field<'a>(row: &'a Row, name: &str) -> &'a str {
    let at = FIELDS.iter().position(|f| *f == name).unwrap();
    &row[at]
}

/// A copy of `pcap` with the last byte of every frame flipped: the end of
/// the HMAC, which the CARP checksum covers.
fn corrupt_copy(pcap: &Path, to: &Path) {
    let mut bytes = std::fs::read(pcap).unwrap();
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d,
        "a little-endian pcap from tcpdump, magic {magic:#x}"
    );
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + 16 + caplen;
        assert!(caplen > 0 && end <= bytes.len(), "record at {at}");
        bytes[end - 1] ^= 0xff;
        at = end;
    }
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn tshark_dissects_ipv4_and_ipv6_adverts_as_valid_carp() {
    if !require_root("tshark_carp") {
        return;
    }
    let mut lab = Lab::new("tk", 1).unwrap();
    lab.start_agent_config(0, CONFIG).unwrap();
    lab.wait_state(0, 7, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(0, 9, "MASTER", Duration::from_secs(10))
        .unwrap();
    let pcap = lab.dir.join("adverts.pcap");
    // -U: every frame is in the file when timeout's SIGINT stops tcpdump.
    let _ = lab.client.run(
        "timeout",
        &[
            "-s",
            "INT",
            "4.5",
            "tcpdump",
            "-U",
            "-i",
            "eth0",
            "-w",
            pcap.to_str().unwrap(),
            "ip proto 112 or ip6 proto 112",
        ],
    );

    let rows = dissect(&pcap);
    let v4: Vec<&Row> = rows
        .iter()
        .filter(|r| !field(r, "ip.src").is_empty())
        .collect();
    let v6: Vec<&Row> = rows
        .iter()
        .filter(|r| !field(r, "ipv6.src").is_empty())
        .collect();
    assert!(
        v4.len() >= 3 && !v6.is_empty(),
        "adverts captured: {rows:?}"
    );
    for row in &rows {
        let (vhid, advbase, advskew) = if v4.contains(&row) {
            assert_eq!(field(row, "ip.src"), lab.hosts[0].addr, "{row:?}");
            ("7", "1", "37")
        } else {
            assert!(field(row, "ipv6.src").starts_with("fe80::"), "{row:?}");
            ("9", "2", "99")
        };
        let expect = [
            ("carp.version", "2"),
            ("carp.type", "1"), // advertisement
            ("carp.vhid", vhid),
            ("carp.adver_int", advbase),
            ("carp.advskew", advskew),
            ("carp.demotion", "0"),
            ("carp.authlen", "7"),
            // proto.h's PROTO_CHECKSUM_E_GOOD: the dissector recomputed the
            // checksum over the CARP header and HMAC and it matched.
            ("carp.checksum.status", "1"),
            ("_ws.expert.severity", ""),
            ("_ws.malformed", ""),
        ];
        for (name, value) in expect {
            assert_eq!(field(row, name), value, "{name} in {row:?}");
        }
    }
    let verbose = tshark(&pcap, &["-V"]);
    assert_eq!(
        verbose.matches("[Checksum Status: Good]").count(),
        rows.len(),
        "{verbose}"
    );
    assert_eq!(
        verbose
            .matches("Common Address Redundancy Protocol")
            .count(),
        rows.len()
    );

    // The same checks see a broken checksum: tshark is really verifying it.
    let bad = lab.dir.join("corrupt.pcap");
    corrupt_copy(&pcap, &bad);
    let bad_rows = dissect(&bad);
    assert_eq!(bad_rows.len(), rows.len());
    for row in &bad_rows {
        assert_eq!(field(row, "carp.checksum.status"), "0", "Bad: {row:?}");
        assert!(!field(row, "_ws.expert.severity").is_empty(), "{row:?}");
    }
}
