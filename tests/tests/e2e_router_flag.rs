//! The Router flag of the Neighbor Advertisements for an IPv6 VIP follows
//! `net.ipv6.conf.eth0.forwarding` of the MASTER's namespace. A host that
//! uses the VIP as its default router drops that router when an NA for it
//! arrives without R (RFC 4861 7.2.5), so on a router the solicited NAs (built
//! by the XDP program) and the unsolicited ones (sent by the agent on
//! becoming MASTER) carry R, and on a host neither does.
//!
//! What a user sees is the client's neighbour entry: `ip -6 neigh` says
//! "router" when the last NA had R. The unsolicited NAs are also captured
//! with tcpdump in the client's namespace (their flags as tcpdump prints them).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::Stdio,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{FAILOVER_BOUND, Lab},
    netns::Background,
    privileges::require_root,
};

const VIP6: &str = "fd77::100";
const VMAC: &str = "00:00:5e:00:01:01";

fn args(advskew: &str) -> Vec<String> {
    [
        "--vhid",
        "1",
        "--password",
        "labpass",
        "--advbase",
        "1",
        "--advskew",
        advskew,
        "--vip",
        "fd77::100/64",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn set_forwarding(lab: &Lab, i: usize, on: bool) {
    let value = format!("net.ipv6.conf.eth0.forwarding={}", u8::from(on));
    lab.hosts[i]
        .ns
        .run("sysctl", &["-q", "-w", &value])
        .unwrap();
}

/// The client's entry for the VIP, e.g. "fd77::100 dev eth0 lladdr ... router REACHABLE".
fn client_entry(lab: &Lab) -> String {
    let out = lab.client.ip(&["-6", "neigh", "show", VIP6]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn is_router(entry: &str) -> bool {
    entry.split_whitespace().any(|w| w == "router")
}

/// The client forgets the VIP, then resolves it again (its NS, the XDP NA).
fn resolve_afresh(lab: &Lab) -> String {
    let _ = lab.client.ip(&["-6", "neigh", "flush", "dev", "eth0"]);
    lab.client_pings(VIP6).expect("the client reaches the VIP");
    let entry = client_entry(lab);
    assert!(entry.contains(VMAC), "client's entry: {entry}");
    entry
}

/// A plain (non-router) STALE entry for the VIP on the client, so only an
/// NA with R can make it a router entry again.
fn plain_entry(lab: &Lab) {
    lab.client
        .ip(&[
            "-6", "neigh", "replace", VIP6, "lladdr", VMAC, "dev", "eth0", "nud", "stale",
        ])
        .unwrap();
    let entry = client_entry(lab);
    assert!(!is_router(&entry), "replace left a router entry: {entry}");
}

/// Waits until the client's entry is (or is not) a router entry.
fn wait_router(lab: &Lab, want: bool, within: Duration) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let entry = client_entry(lab);
        if is_router(&entry) == want {
            return Ok(entry);
        }
        if start.elapsed() > within {
            return Err(entry);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// tcpdump in the client's namespace for the first unsolicited NA (to
/// ff02::1) for the VIP.
struct NaCapture(Background);

impl NaCapture {
    fn start(lab: &Lab) -> Self {
        let mut cmd = lab.client.command("tcpdump");
        cmd.args(["-i", "eth0", "-n", "-l", "-v", "-c", "1"])
            .args(["icmp6 and ip6[40] == 136 and ip6 dst ff02::1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Background(cmd.spawn().expect("starting tcpdump"));
        // tcpdump says "listening on eth0" once its filter is in place.
        let stderr = child.0.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("listening on") => break,
                Some(Ok(_)) => {}
                other => panic!("tcpdump did not start: {other:?}"),
            }
        }
        Self(child)
    }

    /// tcpdump's text for the NA, waiting up to `within`.
    fn finish(mut self, within: Duration) -> String {
        let start = Instant::now();
        while self.0.0.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < within,
                "no unsolicited NA within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut text = String::new();
        self.0
            .0
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut text)
            .unwrap();
        text
    }
}

/// tcpdump -v prints an NA's flags as "Flags [router, override]".
fn na_flags(text: &str) -> &str {
    let flags = text
        .split("Flags [")
        .nth(1)
        .and_then(|rest| rest.split(']').next());
    assert!(
        text.contains("neighbor advertisement") && text.contains(&format!("tgt is {VIP6}")),
        "not an NA for the VIP: {text}"
    );
    flags.unwrap_or_else(|| panic!("no flags in {text}"))
}

#[test]
fn forwarding_master_sends_router_flag_in_solicited_and_takeover_nas() {
    if !require_root("forwarding_master_sends_router_flag_in_solicited_and_takeover_nas") {
        return;
    }
    let mut lab = Lab::new("rf1", 2).unwrap();
    set_forwarding(&lab, 0, true);
    set_forwarding(&lab, 1, true);
    lab.start_agent(0, &args("0")).unwrap();
    lab.start_agent(1, &args("100")).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(2))
        .unwrap();

    // Solicited: the XDP program's NA to the client's NS.
    let entry = resolve_afresh(&lab);
    assert!(is_router(&entry), "solicited NA without R: {entry}");

    // Unsolicited: router2's NAs on taking over. router1's own announcement
    // and its repeat (two adverts later) are over by now.
    std::thread::sleep(Duration::from_secs(3));
    plain_entry(&lab);
    let capture = NaCapture::start(&lab);
    lab.kill9(0);
    lab.hosts[0]
        .ns
        .ip(&["link", "set", "eth0", "down"])
        .unwrap();
    lab.wait_state(1, 1, "MASTER", FAILOVER_BOUND).unwrap();
    let text = capture.finish(Duration::from_secs(2));
    println!("takeover NA: {text}");
    assert_eq!(na_flags(&text), "router, override", "{text}");
    // No client traffic in between: only that NA can have made it a router.
    let entry = wait_router(&lab, true, Duration::from_secs(1))
        .unwrap_or_else(|e| panic!("unsolicited NA without R: {e}"));
    println!("client after takeover: {entry}");
    assert!(
        lab.log(1).contains("eth0: IPv6 forwarding on"),
        "log: {}",
        lab.log(1)
    );
}

#[test]
fn router_flag_follows_the_forwarding_sysctl() {
    if !require_root("router_flag_follows_the_forwarding_sysctl") {
        return;
    }
    let mut lab = Lab::new("rf2", 1).unwrap();
    set_forwarding(&lab, 0, false);
    lab.start_agent(0, &args("0")).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let entry = resolve_afresh(&lab);
    assert!(!is_router(&entry), "a host's NA with R: {entry}");
    std::thread::sleep(Duration::from_secs(3));

    // Turned on while MASTER: the map follows within the poll (about a
    // second) and the MASTER announces again, so the client learns without
    // sending anything.
    let capture = NaCapture::start(&lab);
    set_forwarding(&lab, 0, true);
    let text = capture.finish(Duration::from_secs(3));
    assert_eq!(na_flags(&text), "router, override", "{text}");
    let entry = wait_router(&lab, true, Duration::from_secs(1))
        .unwrap_or_else(|e| panic!("client not told: {e}"));
    println!("forwarding on: {entry}");
    assert!(
        lab.log(0).contains("eth0: IPv6 forwarding turned on"),
        "log: {}",
        lab.log(0)
    );
    let entry = resolve_afresh(&lab);
    assert!(is_router(&entry), "solicited NA after the change: {entry}");

    // And off again.
    let capture = NaCapture::start(&lab);
    set_forwarding(&lab, 0, false);
    let text = capture.finish(Duration::from_secs(3));
    assert_eq!(na_flags(&text), "override", "{text}");
    wait_router(&lab, false, Duration::from_secs(1))
        .unwrap_or_else(|e| panic!("still a router entry: {e}"));
    let entry = resolve_afresh(&lab);
    assert!(
        !is_router(&entry),
        "solicited NA after turning off: {entry}"
    );
    let log = lab.log(0);
    assert_eq!(
        log.matches("IPv6 forwarding turned").count(),
        2,
        "one info line per change: {log}"
    );
}
