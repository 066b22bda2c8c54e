//! `carp_agent::net::Netlink` against a real kernel, inside a namespace pair
//! joined by a veth: interface lookup, VIP addresses, link events, the
//! unicast MAC filter, promiscuous mode and XDP detach. Every check is made
//! with iproute2 from outside, not with the code under test.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{net::IpAddr, time::Duration};

use carp_agent::net::{Interface, LinkEvents, NetError, Netlink};
use carp_tests::{
    netns::{Netns, veth_pair},
    privileges::require_root,
};

const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0xc1, 0x00, 0x0a];
const VMAC: [u8; 6] = carp_common::virtual_mac(1);

/// Namespaces A and B, `veth-a` (MAC_A, 10.201.0.1/24) in A joined to
/// `veth-b` in B, both up.
fn lab(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}-a")).unwrap();
    let b = Netns::new(&format!("{tag}-b")).unwrap();
    veth_pair(&a, "veth-a", &b, "veth-b").unwrap();
    a.ip(&["link", "set", "veth-a", "address", "02:00:00:c1:00:0a"])
        .unwrap();
    a.ip(&["addr", "add", "10.201.0.1/24", "dev", "veth-a"])
        .unwrap();
    (a, b)
}

fn stdout(ns: &Netns, args: &[&str]) -> String {
    String::from_utf8(ns.ip(args).unwrap().stdout).unwrap()
}

/// The interface once `ready` holds (carrier and the link-local address
/// come a moment after `ip link set up`).
async fn settled(netlink: &Netlink, name: &str, ready: impl Fn(&Interface) -> bool) -> Interface {
    for _ in 0..100 {
        let interface = netlink.interface(name).await.unwrap();
        if ready(&interface) {
            return interface;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} did not settle: {:?}", netlink.interface(name).await);
}

/// The next event for `index` with the given carrier (the kernel also
/// announces unrelated link changes).
async fn carrier_event(events: &mut LinkEvents, index: u32, carrier: bool) {
    let wait = async {
        loop {
            let event = events.next().await.expect("link events ended");
            if event.index == index && event.carrier == carrier {
                return event;
            }
        }
    };
    let event = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no event with carrier {carrier} for index {index}"));
    assert_eq!(event.name, "veth-a");
}

#[test]
fn interface_lookup() {
    if !require_root("interface_lookup") {
        return;
    }
    let (a, _b) = lab("nl-if");
    a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        let veth = settled(&netlink, "veth-a", |i| {
            i.carrier && i.ipv6_link_local.is_some()
        })
        .await;
        let index = {
            let name = std::ffi::CString::new("veth-a").unwrap();
            // SAFETY: a valid NUL-terminated name.
            unsafe { libc::if_nametoindex(name.as_ptr()) }
        };
        assert_eq!(veth.index, index);
        assert_eq!(veth.name, "veth-a");
        assert_eq!(veth.mac, MAC_A);
        assert_eq!(
            veth.ipv4,
            vec!["10.201.0.1".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        let link_local = veth.ipv6_link_local.unwrap();
        assert_eq!(link_local.segments()[0], 0xfe80, "{link_local}");

        assert_eq!(netlink.interface_by_index(index).await.unwrap(), veth);

        let lo = netlink.interface("lo").await.unwrap();
        assert_eq!(lo.ipv4, vec![std::net::Ipv4Addr::LOCALHOST]);

        match netlink.interface("carp-nothing").await {
            Err(NetError::UnknownInterface { name }) => assert_eq!(name, "carp-nothing"),
            other => panic!("expected UnknownInterface, got {other:?}"),
        }
        match netlink.interface_by_index(999_999).await {
            Err(NetError::UnknownIndex { index }) => assert_eq!(index, 999_999),
            other => panic!("expected UnknownIndex, got {other:?}"),
        }
    });
}

#[test]
fn addresses_are_added_and_removed_idempotently() {
    if !require_root("addresses_are_added_and_removed_idempotently") {
        return;
    }
    let (a, _b) = lab("nl-addr");
    let vip4: IpAddr = "10.201.0.100".parse().unwrap();
    let vip6: IpAddr = "fd00:201::100".parse().unwrap();
    let index = a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        let index = netlink.interface("veth-a").await.unwrap().index;
        for _ in 0..2 {
            netlink.add_address(index, vip4, 24).await.unwrap();
            netlink.add_address(index, vip6, 64).await.unwrap();
        }
        let ipv4 = netlink.interface("veth-a").await.unwrap().ipv4;
        assert!(ipv4.contains(&"10.201.0.100".parse().unwrap()), "{ipv4:?}");
        index
    });
    let v4 = stdout(&a, &["-4", "addr", "show", "dev", "veth-a"]);
    assert!(v4.contains("inet 10.201.0.100/24"), "{v4}");
    // NODAD: usable at once, never "tentative".
    let v6 = stdout(&a, &["-6", "addr", "show", "dev", "veth-a"]);
    let line = v6
        .lines()
        .find(|l| l.contains("fd00:201::100/64"))
        .unwrap_or_else(|| panic!("{v6}"));
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "{line}"
    );

    a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        for _ in 0..2 {
            netlink.remove_address(index, vip4, 24).await.unwrap();
            netlink.remove_address(index, vip6, 64).await.unwrap();
        }
    });
    let all = stdout(&a, &["addr", "show", "dev", "veth-a"]);
    assert!(
        !all.contains("10.201.0.100") && !all.contains("fd00:201::100"),
        "{all}"
    );
    assert!(
        all.contains("inet 10.201.0.1/24"),
        "the host's own address stays: {all}"
    );
}

#[test]
fn link_events_follow_the_carrier() {
    if !require_root("link_events_follow_the_carrier") {
        return;
    }
    let (a, b) = lab("nl-ev");
    a.block_on(|| async {
        let (netlink, mut events) = Netlink::open().unwrap();
        let index = settled(&netlink, "veth-a", |i| i.carrier).await.index;

        // The peer going down takes the carrier of veth-a with it.
        b.ip(&["link", "set", "veth-b", "down"]).unwrap();
        carrier_event(&mut events, index, false).await;
        assert!(!netlink.interface("veth-a").await.unwrap().carrier);
        b.ip(&["link", "set", "veth-b", "up"]).unwrap();
        carrier_event(&mut events, index, true).await;

        a.ip(&["link", "set", "veth-a", "down"]).unwrap();
        carrier_event(&mut events, index, false).await;
        a.ip(&["link", "set", "veth-a", "up"]).unwrap();
        carrier_event(&mut events, index, true).await;
    });
}

#[test]
fn unicast_mac_filter_and_promiscuous_mode() {
    if !require_root("unicast_mac_filter_and_promiscuous_mode") {
        return;
    }
    let (a, _b) = lab("nl-mac");
    let fdb = || {
        let out = a.run("bridge", &["fdb", "show", "dev", "veth-a"]).unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let index = a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        let index = netlink.interface("veth-a").await.unwrap().index;
        assert!(netlink.add_unicast_mac(index, VMAC).await.unwrap());
        assert!(
            netlink.add_unicast_mac(index, VMAC).await.unwrap(),
            "twice is Ok"
        );
        index
    });
    let entries = fdb();
    assert!(
        entries
            .lines()
            .any(|l| l.starts_with("00:00:5e:00:01:01") && l.contains("self permanent")),
        "{entries}"
    );

    a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        netlink.remove_unicast_mac(index, VMAC).await.unwrap();
        netlink.remove_unicast_mac(index, VMAC).await.unwrap();
        netlink.set_promiscuous(index, true).await.unwrap();
    });
    assert!(!fdb().contains("00:00:5e:00:01:01"), "{}", fdb());
    let link = stdout(&a, &["link", "show", "veth-a"]);
    assert!(link.contains("PROMISC"), "{link}");

    a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        netlink.set_promiscuous(index, false).await.unwrap();
    });
    let link = stdout(&a, &["link", "show", "veth-a"]);
    assert!(!link.contains("PROMISC"), "{link}");
}

#[test]
fn detach_xdp_removes_a_netlink_attached_program() {
    if !require_root("detach_xdp_removes_a_netlink_attached_program") {
        return;
    }
    use std::os::fd::{AsFd as _, AsRawFd as _};

    use rtnetlink::{
        LinkUnspec,
        packet_route::link::{LinkAttribute, LinkXdp},
    };
    const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;

    let (a, _b) = lab("nl-xdp");
    let mut ebpf = carp_agent::dataplane::load().unwrap();
    a.block_on(|| async {
        let (netlink, _events) = Netlink::open().unwrap();
        let index = netlink.interface("veth-a").await.unwrap().index;
        netlink.detach_xdp(index).await.expect("no XDP: Ok");

        // Attach the way xdp-loader or an old agent did: IFLA_XDP, no BPF link.
        let program = carp_agent::dataplane::xdp_program(&mut ebpf).unwrap();
        let fd = program.fd().unwrap().as_fd().as_raw_fd();
        let (connection, handle, _) = rtnetlink::new_connection().unwrap();
        tokio::spawn(connection);
        let attach = LinkUnspec::new_with_index(index)
            .append_extra_attribute(LinkAttribute::Xdp(vec![
                LinkXdp::Fd(fd),
                LinkXdp::Flags(XDP_FLAGS_SKB_MODE),
            ]))
            .build();
        handle.link().set(attach).execute().await.unwrap();
        let link = stdout(&a, &["link", "show", "veth-a"]);
        assert!(
            link.contains("xdpgeneric") && link.contains("prog/xdp"),
            "attached: {link}"
        );

        netlink.detach_xdp(index).await.unwrap();
        let link = stdout(&a, &["link", "show", "veth-a"]);
        assert!(!link.contains("prog/xdp"), "detached: {link}");

        // A BPF link (aya's way) is not netlink's to remove.
        let program = carp_agent::dataplane::xdp_program(&mut ebpf).unwrap();
        program
            .attach("veth-a", aya::programs::XdpMode::Skb)
            .unwrap();
        match netlink.detach_xdp(index).await {
            Err(NetError::XdpLinkBusy { index: busy }) => assert_eq!(busy, index),
            other => panic!("expected XdpLinkBusy, got {other:?}"),
        }
    });
}
