//! A host on the segment sends adverts with the wrong password from many
//! random source addresses, as fast as it can: the agent counts every one
//! it reads, but its log gets at most a few warning lines and one summary
//! a minute, and its memory does not grow with the number of sources.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

use carp_tests::{
    frames::{Advert, CARP_GROUP_V4, Ipv4, ethernet},
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

/// Adverts sent, each from its own source address.
const FLOOD: u32 = 200_000;
/// The agent's warning limit per minute (`warn_limit::LINES_PER_WINDOW`).
const LINES_PER_WINDOW: usize = 10;

/// An AF_PACKET socket bound to nothing, sending out of interface `index`.
struct RawSender {
    fd: OwnedFd,
    index: i32,
}

impl RawSender {
    fn open(interface: &str) -> RawSender {
        let name = std::ffi::CString::new(interface).unwrap();
        // SAFETY: if_nametoindex reads the NUL-terminated name only.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "no interface {interface}");
        // SAFETY: socket(2) with constant arguments; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "AF_PACKET: {}", std::io::Error::last_os_error());
        RawSender {
            // SAFETY: fd is a new, valid descriptor nobody else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            index: i32::try_from(index).unwrap(),
        }
    }

    fn send(&self, frame: &[u8]) -> bool {
        // SAFETY: an all-zero sockaddr_ll is valid; the fields are set next.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.index;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and addr outlive the call; the lengths are theirs.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        sent == frame.len() as isize
    }
}

/// Peak and current resident memory of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[test]
fn a_badauth_flood_from_random_sources_keeps_log_and_memory_bounded() {
    if !require_root("e2e badauth flood") {
        return;
    }
    let mut lab = Lab::new("bf", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false))
        .expect("start agent");
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let pid = lab.hosts[0].agent.as_ref().unwrap().process.0.id();
    let before = memory_kib(pid);
    let log_before = lab.log(0).len();

    // Wrong password (any digest is wrong), vhid 1, TTL 255: only the HMAC
    // check in the agent rejects them.
    let sent = lab.hosts[1].ns.enter(|| {
        let sender = RawSender::open("eth0");
        let advert = Advert::new(1).bytes();
        let mut sent = 0u32;
        for i in 0..FLOOD {
            let [_, b, c, d] = i.to_be_bytes();
            let ip = Ipv4 {
                src: [10, b.wrapping_add(100), c, d],
                dst: CARP_GROUP_V4,
                ..Ipv4::default()
            };
            let src_mac = [0x02, 0x00, 0x5e, b, c, d];
            let frame = ethernet(
                [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12],
                src_mac,
                &[],
                0x0800,
                &ip.packet(&advert),
            );
            sent += u32::from(sender.send(&frame));
        }
        sent
    });
    let flood_end = Instant::now();
    // Wait until the agent has read what reached it.
    let mut badauth = 0;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let now = lab.counter(0, "badauth").unwrap();
        if now == badauth && now > 0 {
            break;
        }
        badauth = now;
    }
    let after = memory_kib(pid);
    let log = lab.log(0)[log_before..].to_string();
    let warnings = log
        .lines()
        .filter(|l| l.contains("fails authentication"))
        .count();
    println!(
        "sent {sent} adverts from {FLOOD} sources; agent counted badauth {badauth}; \
         {warnings} warning lines, {} bytes of log; memory peak {} -> {} KiB, rss {} -> {} KiB",
        log.len(),
        before.0,
        after.0,
        before.1,
        after.1
    );
    assert!(sent > FLOOD / 2, "sent only {sent}");
    assert!(
        badauth > u64::from(FLOOD) / 10,
        "the agent read only {badauth} of {sent}"
    );
    assert!(
        (1..=LINES_PER_WINDOW).contains(&warnings),
        "{warnings} warning lines:\n{log}"
    );
    // 1024 remembered sources take some tens of KiB; the unbounded map
    // grew by tens of MiB under the same flood.
    let grown = after.0.saturating_sub(before.0);
    assert!(grown < 8 * 1024, "peak memory grew by {grown} KiB");

    // Within about a minute of the first warning, one summary line names
    // the held-back adverts (the 1 s watch tick flushes it).
    let deadline = flood_end + Duration::from_secs(75);
    let summary = loop {
        let log = lab.log(0)[log_before..].to_string();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("more badauth adverts from"))
        {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no summary line:\n{log}");
        std::thread::sleep(Duration::from_millis(500));
    };
    println!("{summary}");
    let held: u64 = summary
        .split(" more badauth adverts")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(held + warnings as u64, badauth, "{summary}");
}
