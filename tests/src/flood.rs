//! Hostile traffic for the flood tests and the `flood` benchmark: frames
//! built once (a few thousand variants, cycled), sent through an AF_PACKET
//! socket as fast as the interface takes them. Used by the `carp_flood`
//! binary, run inside an attacker namespace of the lab.
//!
//! Kinds:
//! - `wrong-hmac`: adverts for the vhid with a right checksum and a wrong
//!   digest, from a fixed (spoofed) source or a random one per frame;
//! - `replay`: the first genuine advert heard on the interface, captured
//!   and sent again unchanged (or with random sources);
//! - `arp`: ARP requests for a VIP from random senders.
use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::frames::{self, Advert, Ipv4, Ipv4Addr, Mac};

/// The attacker's Ethernet source: locally administered, never a real
/// host's or a virtual MAC (the bridge would learn it on the wrong port).
pub const ATTACKER_MAC: Mac = [0x02, 0xa7, 0x7a, 0xc0, 0x00, 0x01];
/// Frame variants built up front and cycled.
const VARIANTS: usize = 4096;
/// ETH_P_ALL, for the capturing socket.
const ETH_P_ALL: u16 = 0x0003;

/// Where adverts claim to come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// One address, e.g. the master's own (spoofed).
    Fixed(Ipv4Addr),
    /// A random address in 10.0.0.0/8 per frame.
    Random,
}

/// splitmix64, to vary sources and digests without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn source(&mut self, source: Source) -> Ipv4Addr {
        match source {
            Source::Fixed(a) => a,
            Source::Random => {
                let [_, b, c, d, ..] = self.next().to_be_bytes();
                [10, b, c, d.max(1)]
            }
        }
    }
}

fn advert_frame(src: Ipv4Addr, advert: &[u8]) -> Vec<u8> {
    let ip = Ipv4 {
        src,
        ..Ipv4::default()
    };
    frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        ATTACKER_MAC,
        &[],
        frames::ETHERTYPE_IPV4,
        &ip.packet(advert),
    )
}

/// Adverts for `vhid` with a right checksum and random (wrong) digests.
pub fn wrong_hmac(vhid: u8, source: Source, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..VARIANTS)
        .map(|_| {
            let mut a = Advert::new(vhid);
            a.counter = rng.next();
            for chunk in a.md.chunks_mut(8) {
                let r = rng.next().to_be_bytes();
                chunk.copy_from_slice(&r[..chunk.len()]);
            }
            advert_frame(rng.source(source), &a.bytes())
        })
        .collect()
}

/// A captured advert frame sent again: unchanged, or with `Source::Random`
/// one source per variant (same advert, so the same right digest).
pub fn replay(captured: &[u8], source: Source, seed: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    let advert = captured_advert(captured)?;
    match source {
        Source::Fixed(_) => Ok(vec![captured.to_vec()]),
        Source::Random => {
            let mut rng = Rng(seed);
            Ok((0..VARIANTS)
                .map(|_| advert_frame(rng.source(source), &advert))
                .collect())
        }
    }
}

/// ARP requests for `target` from random senders on the lab subnet.
pub fn arp(target: Ipv4Addr, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..VARIANTS)
        .map(|_| {
            let mut spa = target;
            spa[3] = (rng.next() % 250) as u8 + 1;
            frames::arp_request_frame(&[], ATTACKER_MAC, spa, target)
        })
        .collect()
}

/// The 36 CARP bytes of an untagged IPv4 advert frame.
fn captured_advert(frame: &[u8]) -> anyhow::Result<[u8; 36]> {
    let ip = frame
        .get(14..)
        .context("captured frame shorter than Ethernet")?;
    let hlen = usize::from(ip.first().context("no IP header")? & 0x0f) * 4;
    ip.get(hlen..hlen + 36)
        .and_then(|b| b.try_into().ok())
        .context("captured frame has no 36-byte CARP header")
}

/// An AF_PACKET socket bound to one interface.
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    pub fn open(interface: &str) -> anyhow::Result<Self> {
        let name = std::ffi::CString::new(interface).context("interface name has a NUL")?;
        // SAFETY: a NUL-terminated string we own.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            bail!("no interface {interface}: {}", io::Error::last_os_error());
        }
        let proto = ETH_P_ALL.to_be();
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        if raw < 0 {
            bail!("AF_PACKET socket: {}", io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            bail!("binding to {interface}: {}", io::Error::last_os_error());
        }
        Ok(Self { fd })
    }

    /// Sends one frame; `Ok(false)` if the interface had no room (ENOBUFS).
    pub fn send(&self, frame: &[u8]) -> anyhow::Result<bool> {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOBUFS) {
                return Ok(false);
            }
            bail!("send: {err}");
        }
        Ok(true)
    }

    /// The first IPv4 CARP advert (protocol 112, 36 bytes) for `vhid` seen
    /// within `within`.
    pub fn capture_advert(&self, vhid: u8, within: Duration) -> anyhow::Result<Vec<u8>> {
        let start = Instant::now();
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: a timeval of the size given.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        let mut buf = [0u8; 2048];
        while start.elapsed() < within {
            // SAFETY: the buffer is valid for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let Ok(n) = usize::try_from(n) else {
                continue;
            };
            let frame = &buf[..n];
            let is_advert = frame.len() >= 14 + 20 + 36
                && frame[12..14] == frames::ETHERTYPE_IPV4.to_be_bytes()
                && frame[14 + 9] == frames::IPPROTO_CARP
                && captured_advert(frame).is_ok_and(|a| a[0] == 0x21 && a[1] == vhid);
            if is_advert {
                return Ok(frame.to_vec());
            }
        }
        bail!("no advert for vhid {vhid} heard within {within:?}")
    }
}

/// What a flood did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    pub frames: u64,
    /// Sends refused for lack of room (not counted in `frames`).
    pub refused: u64,
    pub elapsed: Duration,
}

impl Sent {
    pub fn per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `variants` round-robin until `count` frames went out or `duration`
/// passed, whichever comes first.
pub fn send(
    socket: &PacketSocket,
    variants: &[Vec<u8>],
    count: u64,
    duration: Duration,
) -> anyhow::Result<Sent> {
    if variants.is_empty() {
        bail!("nothing to send");
    }
    let start = Instant::now();
    let mut sent = Sent::default();
    let mut i = 0;
    while sent.frames < count {
        // The clock only every 256 frames: it costs as much as a send.
        if sent.frames.is_multiple_of(256) && start.elapsed() >= duration {
            break;
        }
        if socket.send(&variants[i % variants.len()])? {
            sent.frames += 1;
        } else {
            sent.refused += 1;
            std::thread::yield_now();
        }
        i += 1;
    }
    sent.elapsed = start.elapsed();
    Ok(sent)
}

/// Runs the `carp_flood` binary at `binary` in `ns` with `args`; returns
/// what it reports.
pub fn run_in(ns: &crate::netns::Netns, binary: &str, args: &[&str]) -> anyhow::Result<Sent> {
    let out = ns
        .command(binary)
        .args(args)
        .output()
        .context("starting carp_flood")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "carp_flood {args:?} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_report(&text).with_context(|| format!("carp_flood's report {text:?}"))
}

/// Parses `sent=N refused=N seconds=S rate=R`.
pub fn parse_report(text: &str) -> Option<Sent> {
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    Some(Sent {
        frames: field("sent")?.parse().ok()?,
        refused: field("refused")?.parse().ok()?,
        elapsed: Duration::from_secs_f64(field("seconds")?.parse().ok()?),
    })
}

/// CPU time (user + system) of process `pid` so far, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("{path}: no command field"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("{path}: field {}", i + 3))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    Ok(Duration::from_nanos(
        (ticks(11)? + ticks(12)?) * 1_000_000_000 / hz,
    ))
}
