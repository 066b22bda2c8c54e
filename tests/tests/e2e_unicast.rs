//! End-to-end: unicast peers on a segment that drops CARP's multicast
//! (docs/unicast.md). The switch's bridge drops every frame to 224.0.0.18
//! and ff02::12 (nftables, family bridge), as clouds and hypervisors that
//! filter multicast do. Without peers both agents hear nothing and both
//! become MASTER: the control run, which shows the filter works and makes
//! this test able to fail. With `--peer` each sends its adverts to the
//! other by unicast: exactly one MASTER, and the backup takes over when the
//! master is killed. Once over IPv4, once over IPv6 with link-local peers.
//! The agents run with the defaults a user gets (XDP mode auto, which picks
//! skb mode on veth; native mode loads the same program, see
//! e2e_xdp_mode.rs).
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{net::Ipv4Addr, time::Duration};

use carp_tests::{
    lab::{Lab, eventually, vhid1_args},
    netns::Netns,
    packet::{Capture, Frame},
    privileges::require_root,
};

const TABLE: &str = "nomcast";

/// Drops CARP's multicast on the bridge, counting what it drops. The
/// table goes with the switch's namespace.
fn drop_carp_multicast(switch: &Netns) {
    let nft = |args: &[&str]| {
        let out = switch.run("nft", args).unwrap();
        assert!(out.status.success(), "nft {args:?}: {out:?}");
    };
    nft(&["add", "table", "bridge", TABLE]);
    // `fwd` is an nft keyword: the chain gets a longer name.
    nft(&[
        "add", "chain", "bridge", TABLE, "forward", "{", "type", "filter", "hook", "forward",
        "priority", "0", ";", "}",
    ]);
    nft(&[
        "add",
        "rule",
        "bridge",
        TABLE,
        "forward",
        "ip",
        "daddr",
        "224.0.0.18",
        "counter",
        "drop",
    ]);
    nft(&[
        "add", "rule", "bridge", TABLE, "forward", "ip6", "daddr", "ff02::12", "counter", "drop",
    ]);
}

/// Packets the bridge dropped to `group` (224.0.0.18 or ff02::12) so far.
fn dropped(switch: &Netns, group: &str) -> u64 {
    let out = switch
        .run("nft", &["list", "chain", "bridge", TABLE, "forward"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains(group))
        .and_then(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "packets")?;
            words.get(at + 1)?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no counter in {text}"))
}

fn masters(lab: &Lab) -> usize {
    (0..2)
        .filter(|&i| lab.state(i, 1).as_deref() == Some("MASTER"))
        .count()
}

/// An IPv4 protocol-112 frame: (Ethernet source, IPv4 flags byte, TTL,
/// destination).
fn carp_v4(frame: &Frame) -> Option<([u8; 6], u8, u8, Ipv4Addr)> {
    let b = &frame.bytes;
    if b.len() < 34 || b[12..14] != [0x08, 0x00] || b[14 + 9] != 112 {
        return None;
    }
    let src: [u8; 6] = b[6..12].try_into().ok()?;
    let dst = Ipv4Addr::new(b[30], b[31], b[32], b[33]);
    Some((src, b[14 + 6], b[14 + 8], dst))
}

fn mac_bytes(text: &str) -> [u8; 6] {
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).unwrap())
        .collect();
    parts.try_into().unwrap()
}

fn with_peer(advskew: &str, peer: &str) -> Vec<String> {
    let mut args = vhid1_args(advskew, true);
    args.extend(["--peer".to_string(), peer.to_string()]);
    args
}

#[test]
fn unicast_peers_elect_one_master_where_multicast_is_dropped() {
    if !require_root("unicast peers with multicast dropped") {
        return;
    }
    let mut lab = Lab::new("uc", 2).unwrap();
    drop_carp_multicast(&lab.switch);
    let (a, b) = (lab.hosts[0].addr.clone(), lab.hosts[1].addr.clone());

    // Control: no peers. Each hears nothing and takes over.
    lab.start_agent(0, &vhid1_args("0", true)).unwrap();
    lab.start_agent(1, &vhid1_args("100", true)).unwrap();
    let both = eventually(Duration::from_secs(15), || masters(&lab) == 2);
    assert!(
        both,
        "control run: expected two MASTERs with multicast dropped, got {:?} / {:?}\n{}\n{}",
        lab.state(0, 1),
        lab.state(1, 1),
        lab.log(0),
        lab.log(1)
    );
    assert!(
        dropped(&lab.switch, "224.0.0.18") > 0,
        "the bridge dropped no advert"
    );
    lab.terminate(0).unwrap();
    lab.terminate(1).unwrap();

    // With peers: adverts go by unicast and the election works.
    let sent_by_a = Capture::start(&lab.switch, &Lab::port(0)).unwrap();
    lab.start_agent(0, &with_peer("0", &b)).unwrap();
    lab.start_agent(1, &with_peer("100", &a)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(5))
        .unwrap();
    // It stays so: three master-down intervals of the backup without a
    // second MASTER (a lost advert stream would make it take over).
    let split = eventually(Duration::from_secs(4), || masters(&lab) != 1);
    assert!(
        !split,
        "not exactly one MASTER: {:?} / {:?}\n{}\n{}",
        lab.state(0, 1),
        lab.state(1, 1),
        lab.log(0),
        lab.log(1)
    );
    // On the wire, as FreeBSD sends to a peer: to the peer's address, from
    // the NIC's own MAC, TTL 255, DF; nothing to the group.
    let frames = sent_by_a.finish();
    let adverts: Vec<_> = frames.iter().filter_map(carp_v4).collect();
    let nic = mac_bytes(&lab.real_mac(0).unwrap());
    let peer: Ipv4Addr = b.parse().unwrap();
    assert!(
        adverts.len() >= 3,
        "{} adverts from the master on its port: {adverts:?}",
        adverts.len()
    );
    for (src, flags, ttl, dst) in &adverts {
        assert_eq!(
            (*src, *ttl, *dst, flags & 0x40),
            (nic, 255, peer, 0x40),
            "advert from the master: {adverts:?}"
        );
    }
    let heard = lab.counter(1, "adverts").unwrap();
    assert!(heard >= 3, "the backup queued {heard} adverts");
    assert_eq!(lab.counter(1, "badpeer").unwrap(), 0);
    let status = lab.control(0, &["status"]).unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(&format!("peer {b}")), "{status}");
    assert!(lab.host_has_addr(0, carp_tests::lab::VIP));
    assert!(!lab.host_has_addr(1, carp_tests::lab::VIP));

    // Failover: the master dies, the backup takes over.
    lab.kill9(0);
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
    assert!(lab.host_has_addr(1, carp_tests::lab::VIP));
}

/// Host `i`'s IPv6 link-local address on eth0, once DAD is done.
fn link_local(lab: &Lab, i: usize) -> String {
    let mut found = None;
    let ready = eventually(Duration::from_secs(10), || {
        let out = lab.hosts[i]
            .ns
            .ip(&["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("tentative") {
            return false;
        }
        found = text
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .map(str::to_string);
        found.is_some()
    });
    assert!(ready, "no usable link-local address on host {i}");
    found.unwrap()
}

#[test]
fn ipv6_link_local_peers_where_ff02_12_is_dropped() {
    if !require_root("IPv6 unicast peers with multicast dropped") {
        return;
    }
    let mut lab = Lab::new("uc6", 2).unwrap();
    drop_carp_multicast(&lab.switch);
    let (a, b) = (link_local(&lab, 0), link_local(&lab, 1));
    let args = |advskew: &str, peer: Option<&str>| {
        let mut args =
            carp_tests::lab::vhid_args(1, carp_tests::lab::PASSWORD, &["fd77::100/64"], advskew);
        // The zone form, as `ip` and BSD ifconfig print link-locals.
        if let Some(peer) = peer {
            args.extend(["--peer".to_string(), format!("{peer}%eth0")]);
        }
        args
    };

    // Control: without peers the IPv6 adverts are dropped, two MASTERs.
    lab.start_agent(0, &args("0", None)).unwrap();
    lab.start_agent(1, &args("100", None)).unwrap();
    let both = eventually(Duration::from_secs(15), || masters(&lab) == 2);
    assert!(
        both,
        "control run: expected two MASTERs, got {:?} / {:?}\n{}\n{}",
        lab.state(0, 1),
        lab.state(1, 1),
        lab.log(0),
        lab.log(1)
    );
    assert!(
        dropped(&lab.switch, "ff02::12") > 0,
        "the bridge dropped no advert"
    );
    lab.terminate(0).unwrap();
    lab.terminate(1).unwrap();

    lab.start_agent(0, &args("0", Some(&b))).unwrap();
    lab.start_agent(1, &args("100", Some(&a))).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(5))
        .unwrap();
    let split = eventually(Duration::from_secs(4), || masters(&lab) != 1);
    assert!(
        !split,
        "not exactly one MASTER: {:?} / {:?}\n{}\n{}",
        lab.state(0, 1),
        lab.state(1, 1),
        lab.log(0),
        lab.log(1)
    );
    let heard = lab.counter(1, "adverts").unwrap();
    assert!(heard >= 3, "the backup queued {heard} adverts");
    assert!(lab.counter(1, "ipackets6").unwrap() >= heard);
    assert_eq!(lab.counter(1, "badpeer").unwrap(), 0);
    lab.kill9(0);
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
}

/// vhid 1 on eth0 with `peers`, as a TOML file.
fn peers_config(advskew: u8, peers: &[&str]) -> String {
    let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\nadvskew = {advskew}\npreempt = true\n\
         password = \"{}\"\nvips = [\"{}/24\"]\npeers = [{}]\n",
        carp_tests::lab::PASSWORD,
        carp_tests::lab::VIP,
        peers.join(", ")
    )
}

fn reload(lab: &Lab, i: usize, text: &str) {
    std::fs::write(lab.dir.join(format!("{}.toml", lab.hosts[i].name)), text).unwrap();
    let out = lab.control(i, &["reload"]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("changed: eth0 vhid 1"),
        "reload: {stdout} {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        lab.log(i)
    );
}

#[test]
fn a_reload_replaces_the_peers_in_the_dataplane() {
    if !require_root("reloading unicast peers") {
        return;
    }
    let mut lab = Lab::new("ucr", 2).unwrap();
    drop_carp_multicast(&lab.switch);
    let (a, b) = (lab.hosts[0].addr.clone(), lab.hosts[1].addr.clone());
    let other = "10.77.0.99";
    lab.start_agent_config(0, &peers_config(0, &[&b])).unwrap();
    lab.start_agent_config(1, &peers_config(100, &[&a]))
        .unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(5))
        .unwrap();

    // A peer added beside the master: the master's adverts are never
    // refused in between, the backup stays BACKUP.
    reload(&lab, 1, &peers_config(100, &[other, &a]));
    let split = eventually(Duration::from_secs(4), || masters(&lab) != 1);
    assert!(!split, "a kept peer went missing\n{}", lab.log(1));
    assert_eq!(lab.counter(1, "badpeer").unwrap(), 0);

    // The master's address removed: its unicast adverts are refused now,
    // and the backup takes over (two MASTERs: the reload reached XDP).
    reload(&lab, 1, &peers_config(100, &[other]));
    lab.wait_state(1, 1, "MASTER", Duration::from_secs(15))
        .unwrap();
    assert!(lab.counter(1, "badpeer").unwrap() > 0, "{}", lab.log(1));
    assert_eq!(masters(&lab), 2);
}
