//! Raw Ethernet frames on one interface of a lab namespace, with AF_PACKET:
//! capturing what a host puts on the wire (on its switch port, so frames
//! from the shared virtual MAC can still be told apart by sender) and
//! injecting forged or replayed frames from an attacker's namespace.
//! Plus the few parsers the hostile-segment tests need (CARP adverts and
//! gratuitous ARPs in untagged IPv4 frames).
use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, SystemTime},
};

use anyhow::Context as _;

use crate::{
    frames::{ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_CARP, Mac, internet_checksum},
    netns::Netns,
};

/// An AF_PACKET socket bound to one interface of one namespace, receiving
/// every protocol. Reads time out after 50 ms so capture loops can stop.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

/// One frame seen on an interface.
#[derive(Clone, Debug)]
pub struct Frame {
    pub at: SystemTime,
    pub bytes: Vec<u8>,
}

const RECV_TIMEOUT: Duration = Duration::from_millis(50);

impl PacketSocket {
    /// Opens the socket inside `ns` (it stays there, whichever thread uses it).
    pub fn open(ns: &Netns, ifname: &str) -> anyhow::Result<Self> {
        Self::open_with_timeout(ns, ifname, RECV_TIMEOUT)
    }

    /// [`PacketSocket::open`] with another read timeout (a relay wants a
    /// short one, to release delayed frames on time).
    pub fn open_with_timeout(ns: &Netns, ifname: &str, timeout: Duration) -> anyhow::Result<Self> {
        let name = std::ffi::CString::new(ifname).context("interface name")?;
        ns.enter(|| open_in_current_namespace(&name, timeout))
            .with_context(|| format!("AF_PACKET socket on {ifname} in {}", ns.name))
    }

    /// Sends one whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let address = link_address(self.ifindex);
        // SAFETY: `frame` is a valid buffer of its length and `address` a
        // fully initialised sockaddr_ll of the size passed.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const address).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The next frame that came *in* on the interface (frames the socket's
    /// interface sent out are skipped), or `None` after the read timeout.
    pub fn recv_incoming(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: sockaddr_ll is plain data; all zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length; `from`/`from_len`
        // describe a sockaddr_ll the kernel fills in.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &raw mut from_len,
            )
        };
        if n < 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
            return None;
        }
        Some(n as usize)
    }
}

fn open_in_current_namespace(
    name: &std::ffi::CStr,
    recv_timeout: Duration,
) -> anyhow::Result<PacketSocket> {
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    anyhow::ensure!(ifindex != 0, "no interface {name:?}");
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(protocol),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error()).context("socket(AF_PACKET)");
    }
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let ifindex = ifindex as i32;
    let mut address = link_address(ifindex);
    address.sll_protocol = protocol;
    // SAFETY: `address` is a fully initialised sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const address).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error()).context("bind(AF_PACKET)");
    }
    let timeout = libc::timeval {
        tv_sec: recv_timeout.as_secs() as libc::time_t,
        tv_usec: recv_timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: SO_RCVTIMEO takes a timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error()).context("SO_RCVTIMEO");
    }
    Ok(PacketSocket { fd, ifindex })
}

fn link_address(ifindex: i32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all zero is a valid value.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_ifindex = ifindex;
    address.sll_halen = 6;
    address
}

/// A background capture of the frames coming in on one interface, e.g. on
/// a host's switch port: everything that host sent. Stops on
/// [`Capture::finish`] or drop.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Frame>>>,
}

impl Capture {
    pub fn start(ns: &Netns, ifname: &str) -> anyhow::Result<Self> {
        let socket = PacketSocket::open(ns, ifname)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut frames = Vec::new();
            let mut buf = vec![0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Some(n) = socket.recv_incoming(&mut buf) {
                    frames.push(Frame {
                        at: SystemTime::now(),
                        bytes: buf[..n].to_vec(),
                    });
                }
            }
            frames
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the capture and returns what it saw, oldest first.
    pub fn finish(mut self) -> Vec<Frame> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `frames` round-robin, one every `every`, from a background thread
/// until stopped (or dropped). Counts what it sent.
pub struct Replayer {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Replayer {
    pub fn start(socket: PacketSocket, frames: Vec<Vec<u8>>, every: Duration) -> Self {
        assert!(!frames.is_empty(), "nothing to replay");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            for frame in frames.iter().cycle() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if socket.send(frame).is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(every);
            }
        });
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Stops sending; returns how many frames went out.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.sent.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Where the CARP header starts in an untagged IPv4 frame carrying one,
/// and the IPv4 source address; `None` for anything else.
fn carp_v4(frame: &[u8]) -> Option<(usize, [u8; 4])> {
    if frame.len() < 14 + 20 || u16::from_be_bytes([frame[12], frame[13]]) != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = &frame[14..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ip[9] != IPPROTO_CARP || ip.len() < header_len + 36 {
        return None;
    }
    Some((14 + header_len, [ip[12], ip[13], ip[14], ip[15]]))
}

/// A CARP advert in an untagged IPv4 frame, as the fields tests look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertSeen {
    pub src: [u8; 4],
    pub vhid: u8,
    pub advskew: u8,
    pub advbase: u8,
    pub demote: u8,
    pub counter: u64,
}

impl AdvertSeen {
    pub fn parse(frame: &[u8]) -> Option<Self> {
        let (at, src) = carp_v4(frame)?;
        let carp = &frame[at..at + 36];
        Some(Self {
            src,
            vhid: carp[1],
            advskew: carp[2],
            demote: carp[4],
            advbase: carp[5],
            counter: u64::from_be_bytes(carp[8..16].try_into().ok()?),
        })
    }
}

/// A captured advert frame with advskew and demote rewritten, the CARP
/// checksum fixed and the Ethernet source replaced by `src_mac` (an
/// attacker sending from the virtual MAC would also steal the VIP's
/// traffic at the switch, which is not what these tests look at).
/// The digest is left as captured: it does not cover those fields.
pub fn rewrite_advert(frame: &[u8], advskew: u8, demote: u8, src_mac: Mac) -> Option<Vec<u8>> {
    let (at, _) = carp_v4(frame)?;
    let mut out = frame.to_vec();
    out[6..12].copy_from_slice(&src_mac);
    out[at + 2] = advskew;
    out[at + 4] = demote;
    out[at + 6..at + 8].copy_from_slice(&[0, 0]);
    let sum = internet_checksum(&out[at..at + 36]);
    out[at + 6..at + 8].copy_from_slice(&sum.to_be_bytes());
    Some(out)
}

/// `frame` with its Ethernet source replaced, nothing else changed.
pub fn with_source_mac(frame: &[u8], src_mac: Mac) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[6..12].copy_from_slice(&src_mac);
    out
}

/// True if `frame` is a gratuitous ARP for `ip` (an ARP whose sender and
/// target protocol addresses are both `ip`, request or reply).
pub fn is_gratuitous_arp(frame: &[u8], ip: [u8; 4]) -> bool {
    frame.len() >= 14 + 28
        && u16::from_be_bytes([frame[12], frame[13]]) == ETHERTYPE_ARP
        && frame[14 + 14..14 + 18] == ip
        && frame[14 + 24..14 + 28] == ip
}

/// The Ethernet source of a frame.
pub fn source_mac(frame: &[u8]) -> Option<Mac> {
    frame.get(6..12)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{Advert, CARP_GROUP_V4_MAC, Ipv4, arp, ethernet};

    fn advert_frame(advskew: u8) -> Vec<u8> {
        let ip = Ipv4 {
            src: [10, 77, 0, 12],
            ..Ipv4::default()
        };
        let advert = Advert {
            advskew,
            ..Advert::new(1)
        };
        ethernet(
            CARP_GROUP_V4_MAC,
            [0, 0, 0x5e, 0, 1, 1],
            &[],
            ETHERTYPE_IPV4,
            &ip.packet(&advert.bytes()),
        )
    }

    #[test]
    fn rewriting_an_advert_gives_what_a_builder_would() {
        let captured = advert_frame(100);
        let seen = AdvertSeen::parse(&captured).unwrap();
        assert_eq!(
            (seen.src, seen.vhid, seen.advskew),
            ([10, 77, 0, 12], 1, 100)
        );
        let forged = rewrite_advert(&captured, 0, 0, [0, 0, 0x5e, 0, 1, 1]).unwrap();
        assert_eq!(forged, advert_frame(0));
        let moved = rewrite_advert(&captured, 0, 0, [2, 0, 0, 0, 0, 9]).unwrap();
        assert_eq!(source_mac(&moved), Some([2, 0, 0, 0, 0, 9]));
        assert!(AdvertSeen::parse(&arp_frame()).is_none());
    }

    fn arp_frame() -> Vec<u8> {
        let vip = [10, 77, 0, 100];
        let body = arp(1, [0, 0, 0x5e, 0, 1, 1], vip, [0; 6], vip);
        ethernet([0xff; 6], [0, 0, 0x5e, 0, 1, 1], &[], ETHERTYPE_ARP, &body)
    }

    #[test]
    fn gratuitous_arp_is_recognised_for_its_address_only() {
        assert!(is_gratuitous_arp(&arp_frame(), [10, 77, 0, 100]));
        assert!(!is_gratuitous_arp(&arp_frame(), [10, 77, 0, 101]));
        assert!(!is_gratuitous_arp(&advert_frame(0), [10, 77, 0, 100]));
    }
}
