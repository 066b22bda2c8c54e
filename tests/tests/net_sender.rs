//! `carp_agent::net::FrameSender` for real: adverts, a gratuitous ARP and an
//! unsolicited NA sent from namespace A, captured on a raw socket in
//! namespace B and checked there; B's neighbour table then moves both VIPs
//! to the virtual MAC.
//!
//! B starts with STALE entries for the VIPs pointing at another MAC (the
//! previous master), the case the announcements exist for: Linux updates an
//! existing entry from a gratuitous ARP, and from an NA only when its
//! Override flag is set. (It would not *create* entries without
//! `arp_accept`, or, for NAs, without `accept_untracked_na` on a router.)
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

use carp_agent::{
    net::{FrameSender, Netlink},
    proto::{Advertisement, Auth, AuthKey, VipSet, decode_frame},
};
use carp_tests::{
    frames,
    netns::{Netns, veth_pair},
    privileges::require_root,
};

const VHID: u8 = 7;
const VMAC: [u8; 6] = carp_common::virtual_mac(VHID);
/// Where B believes the VIPs are before the announcements.
const OLD_MASTER: &str = "02:00:00:00:00:99";
const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 1);
const VIP4: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x202, 0, 0, 0, 0, 0, 0x100);

/// A raw socket receiving every frame that arrives on one interface.
struct Capture(OwnedFd);

impl Capture {
    /// Opens in the calling thread's namespace (and stays in it).
    fn open(ifindex: u32) -> Self {
        let all = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket calls; results checked; the address struct is
        // fully initialised.
        unsafe {
            let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(all));
            assert!(
                raw >= 0,
                "capture socket: {}",
                std::io::Error::last_os_error()
            );
            let fd = OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = all;
            addr.sll_ifindex = ifindex as i32;
            let rc = libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            Capture(fd)
        }
    }

    /// The first frame `wanted` accepts within 3 s (B's own stack also
    /// sends and receives: router solicitations, MLD reports...).
    fn find(&self, what: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut buf = vec![0u8; 2048];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if ready <= 0 {
                break;
            }
            // SAFETY: `buf` is valid for its length.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n >= 0, "recv: {}", std::io::Error::last_os_error());
            let frame = &buf[..n as usize];
            if wanted(frame) {
                return frame.to_vec();
            }
        }
        panic!("no {what} arrived");
    }
}

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    ns.enter(|| {
        let name = std::ffi::CString::new(dev).unwrap();
        // SAFETY: a valid NUL-terminated name.
        unsafe { libc::if_nametoindex(name.as_ptr()) }
    })
}

fn stdout(ns: &Netns, args: &[&str]) -> String {
    String::from_utf8(ns.ip(args).unwrap().stdout).unwrap()
}

/// `ip -n B neigh show ADDR dev veth-b` once it no longer points at the
/// old master (3 s at most).
fn learned(b: &Netns, addr: &str) -> String {
    for _ in 0..60 {
        let line = stdout(b, &["neigh", "show", addr, "dev", "veth-b"]);
        if line.contains("lladdr") && !line.contains(OLD_MASTER) {
            return line;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("B never moved {addr}: {}", stdout(b, &["neigh", "show"]));
}

#[test]
fn adverts_and_announcements_arrive_from_the_virtual_mac() {
    if !require_root("adverts_and_announcements_arrive_from_the_virtual_mac") {
        return;
    }
    let a = Netns::new("snd-a").unwrap();
    let b = Netns::new("snd-b").unwrap();
    veth_pair(&a, "veth-a", &b, "veth-b").unwrap();
    a.ip(&["addr", "add", "10.202.0.1/24", "dev", "veth-a"])
        .unwrap();
    b.ip(&["addr", "add", "10.202.0.2/24", "dev", "veth-b"])
        .unwrap();
    b.ip(&["addr", "add", "fd00:202::2/64", "dev", "veth-b", "nodad"])
        .unwrap();
    for vip in ["10.202.0.100", "fd00:202::100"] {
        b.ip(&[
            "neigh", "replace", vip, "lladdr", OLD_MASTER, "dev", "veth-b", "nud", "stale",
        ])
        .unwrap();
    }
    let capture = b.enter(|| Capture::open(ifindex(&b, "veth-b")));

    let auth = Auth::new(
        &AuthKey::from_password(b"secret").unwrap(),
        VipSet::new([IpAddr::V4(VIP4), IpAddr::V6(VIP6)]),
    );
    let mut advert = Advertisement {
        vhid: VHID,
        advskew: 100,
        advbase: 1,
        demote: 0,
        counter: 0x0102_0304_0506_0708,
        md: [0; 20],
    };
    advert.sign(&auth);
    let wire = advert.encode();

    let link_local = a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        let mut veth = netlink.interface("veth-a").await.unwrap();
        for _ in 0..100 {
            if veth.ipv6_link_local.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            veth = netlink.interface("veth-a").await.unwrap();
        }
        let link_local = veth
            .ipv6_link_local
            .expect("veth-a has a link-local address");
        let sender = FrameSender::open(veth.index).unwrap();
        sender
            .send_advert(VMAC, IpAddr::V4(ADDR_A), &wire, 0)
            .unwrap();
        sender
            .send_advert(VMAC, IpAddr::V6(link_local), &wire, 0)
            .unwrap();
        sender.send_gratuitous_arp(VMAC, VIP4, 0).unwrap();
        sender.send_unsolicited_na(VMAC, VIP6, false, 0).unwrap();
        link_local
    });

    // Adverts: from the vMAC, decoding and authenticating with the codec.
    for (family, src) in [
        ("IPv4", IpAddr::V4(ADDR_A)),
        ("IPv6", IpAddr::V6(link_local)),
    ] {
        let frame = capture.find(&format!("{family} advert"), |f| {
            decode_frame(f).is_ok_and(|p| p.src == src)
        });
        let packet = decode_frame(&frame).unwrap();
        assert_eq!(packet.ttl, 255);
        assert_eq!(packet.advert, advert);
        packet.advert.authenticate(&auth).unwrap();
        let ethernet = packet.ethernet.unwrap();
        assert_eq!(ethernet.src.0, VMAC);
        let (dst_mac, dst_ip) = match family {
            "IPv4" => (
                frames::CARP_GROUP_V4_MAC,
                IpAddr::from(frames::CARP_GROUP_V4),
            ),
            _ => (
                frames::CARP_GROUP_V6_MAC,
                IpAddr::from(frames::CARP_GROUP_V6),
            ),
        };
        assert_eq!((ethernet.dst.0, packet.dst), (dst_mac, dst_ip));
    }

    // Gratuitous ARP: byte for byte what the lab's own builder makes.
    let arp = capture.find("gratuitous ARP", |f| {
        f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[6..12] == VMAC
    });
    let expected = frames::arp_request_frame(&[], VMAC, VIP4.octets(), VIP4.octets());
    assert_eq!(arp, expected);

    // Unsolicited NA: O flag only, target, TLLA option, checksum.
    let na = capture.find("unsolicited NA", |f| {
        f.len() >= 86 && f[12..14] == [0x86, 0xdd] && f[20] == 58 && f[54] == 136
    });
    assert_eq!(&na[0..6], &frames::ALL_NODES_MAC);
    assert_eq!(&na[6..12], &VMAC);
    assert_eq!(na[21], 255, "hop limit");
    assert_eq!(&na[22..38], &VIP6.octets(), "source = VIP");
    assert_eq!(&na[38..54], &frames::ALL_NODES);
    let icmp = &na[54..];
    assert_eq!(icmp[4], frames::NA_FLAG_OVERRIDE);
    assert_eq!(&icmp[8..24], &VIP6.octets());
    assert_eq!(&icmp[24..32], &[&[2u8, 1][..], &VMAC].concat()[..]);
    assert!(frames::icmpv6_checksum_ok(
        &VIP6.octets(),
        &frames::ALL_NODES,
        icmp
    ));

    // B's kernel moved both VIPs to the virtual MAC.
    let v4 = learned(&b, "10.202.0.100");
    assert!(v4.contains("lladdr 00:00:5e:00:01:07"), "{v4}");
    let v6 = learned(&b, "fd00:202::100");
    assert!(v6.contains("lladdr 00:00:5e:00:01:07"), "{v6}");
}

/// The unsolicited NA of a MASTER whose interface forwards IPv6 carries the
/// Router flag, and a host's neighbour entry for the VIP becomes a router
/// entry (`ip neigh` says "router"); without the flag it stays a plain one
/// (RFC 4861 7.2.5: IsRouter follows the flag of the latest NA).
#[test]
fn unsolicited_na_router_flag_reaches_the_neighbour_table() {
    if !require_root("unsolicited_na_router_flag_reaches_the_neighbour_table") {
        return;
    }
    let a = Netns::new("sndr-a").unwrap();
    let b = Netns::new("sndr-b").unwrap();
    veth_pair(&a, "veth-a", &b, "veth-b").unwrap();
    b.ip(&["addr", "add", "fd00:202::2/64", "dev", "veth-b", "nodad"])
        .unwrap();
    let capture = b.enter(|| Capture::open(ifindex(&b, "veth-b")));
    let sender = a.enter(|| FrameSender::open(ifindex(&a, "veth-a")).unwrap());
    let vip = "fd00:202::100";
    // Router first, then a host: the entry follows the flag both ways.
    for (router, flags) in [(true, 0xa0u8), (false, 0x20)] {
        b.ip(&[
            "neigh", "replace", vip, "lladdr", OLD_MASTER, "dev", "veth-b", "nud", "stale",
        ])
        .unwrap();
        sender.send_unsolicited_na(VMAC, VIP6, router, 0).unwrap();
        let na = capture.find("unsolicited NA", |f| {
            f.len() >= 86 && f[12..14] == [0x86, 0xdd] && f[20] == 58 && f[54] == 136
        });
        let icmp = &na[54..];
        assert_eq!(icmp[4], flags, "flags byte, router {router}");
        assert!(frames::icmpv6_checksum_ok(
            &VIP6.octets(),
            &frames::ALL_NODES,
            icmp
        ));
        let entry = learned(&b, vip);
        assert!(entry.contains("lladdr 00:00:5e:00:01:07"), "{entry}");
        assert_eq!(
            entry.split_whitespace().any(|w| w == "router"),
            router,
            "router {router}: {entry}"
        );
    }
}
