//! `carp-agent decode` on advertisements sent by a real ucarp (Debian
//! package) and captured with tcpdump, between two network namespaces.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{path::PathBuf, process::Command, time::Duration};

use carp_tests::{
    netns::{Background, Netns, veth_pair},
    privileges::require_root,
};

fn capture_ucarp_adverts(pcap: &PathBuf) -> anyhow::Result<()> {
    let a = Netns::new("ua")?;
    let b = Netns::new("ub")?;
    veth_pair(&a, "ua0", &b, "ub0")?;
    a.ip(&["addr", "add", "10.213.0.1/24", "dev", "ua0"])?;
    b.ip(&["addr", "add", "10.213.0.2/24", "dev", "ub0"])?;

    let mut dump = b.command("tcpdump");
    dump.args(["-i", "ub0", "-c", "3", "-U", "-w"])
        .arg(pcap)
        .arg("ip proto 112");
    let mut dump = Background::spawn(dump)?;
    let mut ucarp = a.command("ucarp");
    ucarp.args([
        "-i",
        "ua0",
        "-s",
        "10.213.0.1",
        "-v",
        "7",
        "-p",
        "labpass",
        "-a",
        "10.213.0.100",
        "-b",
        "1",
        "-k",
        "20",
        "-u",
        "/bin/true",
        "-d",
        "/bin/true",
    ]);
    let _ucarp = Background::spawn(ucarp)?;
    // ucarp becomes MASTER after ~3 s of silence, then advertises every second.
    for _ in 0..150 {
        if let Some(status) = dump.0.try_wait()? {
            anyhow::ensure!(status.success(), "tcpdump failed: {status}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("no 3 adverts from ucarp within 15 s")
}

fn decode(pcap: &PathBuf, password: &str, vip: &str) -> (i32, String) {
    let out = Command::new(carp_tests::agent::binary())
        .args(["decode", "--password", password, "--vip", vip, "--pcap"])
        .arg(pcap)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn decode_authenticates_real_ucarp_adverts_and_names_a_wrong_password() {
    if !require_root("decode_authenticates_real_ucarp_adverts_and_names_a_wrong_password") {
        return;
    }
    let pcap = std::env::temp_dir().join(format!("carpt-{}-ucarp.pcap", std::process::id()));
    let result = capture_ucarp_adverts(&pcap);
    let outcome = std::panic::catch_unwind(|| {
        result.expect("capture");
        let (code, out) = decode(&pcap, "labpass", "10.213.0.100");
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.lines().count(), 3, "{out}");
        for line in out.lines() {
            assert!(
                line.contains("10.213.0.1") && line.contains("vhid 7"),
                "{line}"
            );
            assert!(
                line.contains("advskew 20") && line.ends_with("ok"),
                "{line}"
            );
        }
        let (code, out) = decode(&pcap, "wrongpass", "10.213.0.100");
        assert_eq!(code, 1, "{out}");
        assert!(out.lines().all(|l| l.contains("badauth")), "{out}");
        let (code, out) = decode(&pcap, "labpass", "10.213.0.101");
        assert_eq!(code, 1, "a different VIP set fails too: {out}");
    });
    let _ = std::fs::remove_file(&pcap);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
