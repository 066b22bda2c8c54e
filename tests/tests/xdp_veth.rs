//! The XDP program attached for real to a veth in a network namespace,
//! with a real neighbour in a second namespace.
//!
//! Native mode (`native_attach_on_a_veth`):
//! - `arping` from the peer gets replies from the virtual MAC while the vhid
//!   is MASTER, and none at all as BACKUP although the kernel has the VIP;
//! - the peer's Neighbor Solicitation is answered with the vMAC;
//! - CARP adverts sent from the peer arrive through the ring buffer;
//! - BPF_PROG_TEST_RUN with an `xdp_md` context resolves `ingress_ifindex`
//!   in the calling thread's namespace.
//!
//! Generic (skb) mode (`generic_attach_delivers_frames_to_the_vmac`): pings to
//! the VIPs go through the vMAC rewrite to the stack as MASTER and die as
//! BACKUP. Not native: veth runs native XDP on an skb whose pkt_type was
//! already set to PACKET_OTHERHOST (destination = vMAC) before the program,
//! and does not reclassify after XDP_PASS, so the rewritten frame is still
//! dropped as "otherhost" (visible in `ip -s -s link`). Generic XDP does
//! reclassify when the program changes the destination, and drivers of real
//! NICs build the skb after the program.
//!
//! Namespaces are removed on drop, also when a test fails.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
#[path = "xdp_veth/netns.rs"]
mod netns;

use std::{os::fd::AsRawFd as _, process::Command, time::Duration};

use aya::{Ebpf, maps::RingBuf, programs::XdpMode};
use carp_common::{
    AdvertEvent, FAMILY_IPV4, FAMILY_IPV6, IfaceEntry, MAP_EVENTS, MODE_VIRTUAL_MAC, STATE_BACKUP,
    STATE_MASTER, VhidEntry, VhidKey, VipEntry, VipKey, virtual_mac,
};
use carp_tests::{
    frames::{self, Advert, Ipv4},
    privileges::require_root,
    xdp::{self, MapConfig, XDP_DROP},
};
use netns::{VETH_A, VETH_B, VethPair, ip};

const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0xc0, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0xc0, 0x00, 0x0b];
const ADDR_A: [u8; 4] = [10, 200, 0, 1];
const ADDR_B: [u8; 4] = [10, 200, 0, 2];
const VIP4: [u8; 4] = [10, 200, 0, 100];
const ADDR6_A: [u8; 16] = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ADDR6_B: [u8; 16] = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const VIP6: [u8; 16] = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
const VHID: u8 = 1;

fn mac_str(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

fn v4_str(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn v6_str(a: [u8; 16]) -> String {
    std::net::Ipv6Addr::from(a).to_string()
}

/// Runs a command inside namespace `ns` with `ip netns exec`; returns
/// (success, stdout).
fn exec_in(ns: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `arping -c 3` from the peer; returns the MAC of every reply.
fn arping(pair: &VethPair) -> Vec<String> {
    let (_, out) = exec_in(
        &pair.b.name,
        &["arping", "-c", "3", "-w", "3", "-i", VETH_B, &v4_str(VIP4)],
    );
    out.lines()
        .filter_map(|l| l.split(" bytes from ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_lowercase)
        .collect()
}

fn ping(pair: &VethPair, addr: &str) -> bool {
    exec_in(&pair.b.name, &["ping", "-c", "1", "-W", "2", addr]).0
}

/// What a failed connectivity check needs to be understood.
fn diagnose(pair: &VethPair, ebpf: &Ebpf) -> String {
    format!(
        "B's neighbours:\n{}A's neighbours:\n{}counters: {:?}",
        ip(&["-n", &pair.b.name, "neigh", "show"]),
        ip(&["-n", &pair.a.name, "neigh", "show"]),
        xdp::stats(ebpf).unwrap()
    )
}

fn setup_addresses(pair: &VethPair) {
    let a = |args: &[&str]| {
        let mut all = vec!["-n", pair.a.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    };
    let b = |args: &[&str]| {
        let mut all = vec!["-n", pair.b.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    };
    a(&[
        "addr",
        "add",
        &format!("{}/24", v4_str(ADDR_A)),
        "dev",
        VETH_A,
    ]);
    // The VIP is on the interface in every state, as the agent configures it.
    a(&[
        "addr",
        "add",
        &format!("{}/24", v4_str(VIP4)),
        "dev",
        VETH_A,
    ]);
    a(&[
        "addr",
        "add",
        &format!("{}/64", v6_str(ADDR6_A)),
        "dev",
        VETH_A,
        "nodad",
    ]);
    a(&[
        "addr",
        "add",
        &format!("{}/64", v6_str(VIP6)),
        "dev",
        VETH_A,
        "nodad",
    ]);
    b(&[
        "addr",
        "add",
        &format!("{}/24", v4_str(ADDR_B)),
        "dev",
        VETH_B,
    ]);
    b(&[
        "addr",
        "add",
        &format!("{}/64", v6_str(ADDR6_B)),
        "dev",
        VETH_B,
        "nodad",
    ]);
    // A knows B statically: A's own ARP/NS (which would carry A's real MAC
    // for the VIP) cannot disturb what B learns about the VIP.
    for addr in [v4_str(ADDR_B), v6_str(ADDR6_B)] {
        a(&[
            "neigh",
            "replace",
            &addr,
            "lladdr",
            &mac_str(MAC_B),
            "dev",
            VETH_A,
            "nud",
            "permanent",
        ]);
    }
}

fn maps(ifindex: u32) -> MapConfig {
    MapConfig {
        vhids: vec![(
            VhidKey::new(carp_common::Port::untagged(ifindex), VHID),
            VhidEntry {
                state: STATE_MASTER,
                mode: MODE_VIRTUAL_MAC,
                advbase: 1,
                advskew: 0,
                mac: virtual_mac(VHID),
                _pad: [0; 6],
                master_until_ns: 0,
            },
        )],
        vips: vec![
            (
                VipKey::v4(carp_common::Port::untagged(ifindex), VIP4),
                VipEntry {
                    vhid: VHID,
                    _pad: [0; 3],
                },
            ),
            (
                VipKey::v6(carp_common::Port::untagged(ifindex), VIP6),
                VipEntry {
                    vhid: VHID,
                    _pad: [0; 3],
                },
            ),
        ],
        ifaces: vec![(ifindex, IfaceEntry::new(MAC_A, 0))],
    }
}

/// Waits up to `timeout` for one ring-buffer event.
fn next_event(ebpf: &mut Ebpf, timeout: Duration) -> Option<AdvertEvent> {
    let mut ring = RingBuf::try_from(ebpf.map_mut(MAP_EVENTS).unwrap()).unwrap();
    let fd = ring.as_raw_fd();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(item) = ring.next() {
            return Some(xdp::parse_event(&item).unwrap());
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
    }
}

fn advert_v4_from_b(ttl: u8) -> (Vec<u8>, [u8; 36]) {
    let advert = Advert {
        advskew: 100,
        ..Advert::new(VHID)
    }
    .bytes();
    let ip = Ipv4 {
        src: ADDR_B,
        ttl,
        ..Ipv4::default()
    };
    let frame = frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        MAC_B,
        &[],
        frames::ETHERTYPE_IPV4,
        &ip.packet(&advert),
    );
    (frame, advert)
}

/// Namespaces with addresses, a pass-everything XDP program on veth-b (the
/// peer needs one to receive XDP_TX frames from veth-a natively), and
/// carp_xdp on veth-a in `mode` with the test's maps. Field order is drop
/// order: programs first, namespaces last.
struct Lab {
    ebpf: Ebpf,
    _peer: Ebpf,
    ifindex: u32,
    pair: VethPair,
}

impl Lab {
    fn new(tag: &str, mode: XdpMode) -> Self {
        let pair = VethPair::create(tag, &mac_str(MAC_A), &mac_str(MAC_B));
        setup_addresses(&pair);
        let peer = pair.b.enter(|| {
            let mut ebpf = Ebpf::load(carp_agent::dataplane::XDP_OBJECT).unwrap();
            xdp::load_baseline(&mut ebpf)
                .unwrap()
                .attach(VETH_B, mode)
                .expect("attaching xdp_pass_baseline to veth-b");
            ebpf
        });
        let (mut ebpf, ifindex) = pair.a.enter(|| {
            let mut ebpf = xdp::load().unwrap();
            xdp::program(&mut ebpf)
                .attach(VETH_A, mode)
                .expect("attaching carp_xdp to veth-a");
            (ebpf, netns::ifindex(VETH_A))
        });
        xdp::install(&mut ebpf, &maps(ifindex)).unwrap();
        Self {
            ebpf,
            _peer: peer,
            ifindex,
            pair,
        }
    }

    fn set_state(&mut self, state: u8) {
        xdp::set_state(
            &mut self.ebpf,
            VhidKey::new(carp_common::Port::untagged(self.ifindex), VHID),
            state,
        )
        .unwrap();
    }

    fn stats(&self) -> carp_common::Stats {
        xdp::stats(&self.ebpf).unwrap()
    }
}

#[test]
fn native_attach_on_a_veth() {
    if !require_root("native_attach_on_a_veth") {
        return;
    }
    let mut lab = Lab::new("native", XdpMode::Driver);
    let vmac = mac_str(virtual_mac(VHID));

    // MASTER: ARP replies come from the virtual MAC, and only from it.
    let replies = arping(&lab.pair);
    assert_eq!(replies.len(), 3, "arping as MASTER: replies {replies:?}");
    assert!(replies.iter().all(|m| *m == vmac), "replies {replies:?}");
    assert!(lab.stats().arp_replies >= 3, "{:?}", lab.stats());

    // The peer's NS for the IPv6 VIP is answered with the vMAC. (The echo
    // itself then dies as "otherhost" in veth, see the module doc.)
    ping(&lab.pair, &v6_str(VIP6));
    let neigh6 = ip(&[
        "-n",
        &lab.pair.b.name,
        "-6",
        "neigh",
        "show",
        &v6_str(VIP6),
        "dev",
        VETH_B,
    ]);
    assert!(neigh6.contains(&vmac), "B's ND entry for the VIP: {neigh6}");
    assert!(lab.stats().nd_replies >= 1, "{:?}", lab.stats());

    // BACKUP: silence, although the kernel still has the address.
    lab.set_state(STATE_BACKUP);
    let addrs = ip(&["-n", &lab.pair.a.name, "addr", "show", "dev", VETH_A]);
    assert!(addrs.contains(&v4_str(VIP4)), "{addrs}");
    let before = lab.stats();
    let replies = arping(&lab.pair);
    assert!(
        replies.is_empty(),
        "arping as BACKUP got replies {replies:?}"
    );
    let after = lab.stats();
    assert!(
        after.arp_suppressed >= before.arp_suppressed + 3,
        "{after:?}"
    );
    assert_eq!(after.arp_replies, before.arp_replies, "{after:?}");

    // Back to MASTER: answered again.
    lab.set_state(STATE_MASTER);
    assert_eq!(arping(&lab.pair).len(), 3, "arping as MASTER again");

    adverts_from_the_peer_reach_the_ring_buffer(&mut lab);
}

fn adverts_from_the_peer_reach_the_ring_buffer(lab: &mut Lab) {
    let (pair, ifindex) = (&lab.pair, lab.ifindex);
    let ebpf = &mut lab.ebpf;
    // A real advert from the peer arrives through the ring buffer.
    while next_event(ebpf, Duration::ZERO).is_some() {}
    let (frame, advert) = advert_v4_from_b(255);
    let sent_at = xdp::monotonic_ns();
    pair.b.enter(|| netns::send_frame(VETH_B, &frame));
    let event = next_event(ebpf, Duration::from_secs(2)).expect("advert event within 2 s");
    assert_eq!(event.ifindex, ifindex);
    assert_eq!(event.family, FAMILY_IPV4);
    assert_eq!(event.ttl, 255);
    assert_eq!(event.source[..4], ADDR_B);
    assert_eq!(event.advert, advert);
    assert!(event.timestamp_ns >= sent_at, "{event:?}");

    let advert6 = Advert::new(VHID).bytes();
    let frame6 = frames::ethernet(
        frames::CARP_GROUP_V6_MAC,
        MAC_B,
        &[],
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(
            ADDR6_B,
            frames::CARP_GROUP_V6,
            255,
            frames::IPPROTO_CARP,
            &advert6,
        ),
    );
    pair.b.enter(|| netns::send_frame(VETH_B, &frame6));
    let event = next_event(ebpf, Duration::from_secs(2)).expect("IPv6 advert event");
    assert_eq!(
        (event.family, event.source, event.advert),
        (FAMILY_IPV6, ADDR6_B, advert6)
    );

    // A bad one is counted, not queued.
    let badttl_before = xdp::stats(ebpf).unwrap().badttl;
    let (bad, _) = advert_v4_from_b(64);
    pair.b.enter(|| netns::send_frame(VETH_B, &bad));
    assert!(next_event(ebpf, Duration::from_millis(300)).is_none());
    assert_eq!(xdp::stats(ebpf).unwrap().badttl, badttl_before + 1);

    // BPF_PROG_TEST_RUN with an xdp_md context: ingress_ifindex is looked
    // up in the calling thread's namespace, so veth-a's index works from
    // inside ns A and the event carries it.
    let result = pair.a.enter(|| xdp::run_on(ebpf, &frame, ifindex));
    assert_eq!(result.unwrap().action, XDP_DROP);
    let event = next_event(ebpf, Duration::from_secs(1)).expect("test-run event");
    assert_eq!(event.ifindex, ifindex);
}

#[test]
fn generic_attach_delivers_frames_to_the_vmac() {
    if !require_root("generic_attach_delivers_frames_to_the_vmac") {
        return;
    }
    let mut lab = Lab::new("generic", XdpMode::Skb);
    let vmac = mac_str(virtual_mac(VHID));

    // MASTER: the peer learns the vMAC from XDP's ARP reply / NA, and its
    // echo requests to the vMAC are rewritten to veth-a's MAC and answered.
    assert!(
        ping(&lab.pair, &v4_str(VIP4)),
        "ping VIP4 as MASTER; {}",
        diagnose(&lab.pair, &lab.ebpf)
    );
    assert!(
        ping(&lab.pair, &v6_str(VIP6)),
        "ping VIP6 as MASTER; {}",
        diagnose(&lab.pair, &lab.ebpf)
    );
    let neigh4 = ip(&[
        "-n",
        &lab.pair.b.name,
        "neigh",
        "show",
        &v4_str(VIP4),
        "dev",
        VETH_B,
    ]);
    let neigh6 = ip(&[
        "-n",
        &lab.pair.b.name,
        "-6",
        "neigh",
        "show",
        &v6_str(VIP6),
        "dev",
        VETH_B,
    ]);
    assert!(
        neigh4.contains(&vmac),
        "B's ARP entry for the VIP: {neigh4}"
    );
    assert!(neigh6.contains(&vmac), "B's ND entry for the VIP: {neigh6}");
    let stats = lab.stats();
    assert!(stats.arp_replies >= 1 && stats.nd_replies >= 1, "{stats:?}");
    assert!(stats.vmac_accepted >= 2, "{stats:?}");

    // BACKUP: B still has the vMAC cached; its echo requests now die in XDP.
    lab.set_state(STATE_BACKUP);
    let before = lab.stats();
    assert!(
        !ping(&lab.pair, &v4_str(VIP4)),
        "ping VIP4 as BACKUP succeeded"
    );
    assert!(
        !ping(&lab.pair, &v6_str(VIP6)),
        "ping VIP6 as BACKUP succeeded"
    );
    let after = lab.stats();
    assert!(after.vmac_dropped >= before.vmac_dropped + 2, "{after:?}");
    assert!(arping(&lab.pair).is_empty(), "arping as BACKUP got replies");

    lab.set_state(STATE_MASTER);
    assert!(ping(&lab.pair, &v4_str(VIP4)), "ping VIP4 as MASTER again");
}
