//! Virtual addresses and advert sources that no host can use are refused,
//! with the vhid and the field named.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::path::Path;

use carp_agent::config::{Config, ConfigError, Reason, Unusable, VipError};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new("/etc/carp.toml"))
}

fn vhid(interface: &str, vhid: u8, vips: &[&str], extra: &str) -> String {
    let vips: Vec<String> = vips.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "[[vhid]]\ninterface = \"{interface}\"\nvhid = {vhid}\npassword = \"s3cr3t\"\n\
         vips = [{}]\n{extra}\n",
        vips.join(", ")
    )
}

/// The reason and the message of a refused configuration.
fn refused(text: &str) -> (Reason, String) {
    let err = parse(text).expect_err("the configuration should be refused");
    let msg = err.to_string();
    match err {
        ConfigError::File { error, .. } => match *error {
            ConfigError::Vhid { reason, .. } => (reason, msg),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn addresses_no_host_can_own_are_refused_as_vips() {
    for (vip, why) in [
        ("224.0.0.18", Unusable::Multicast),
        ("239.255.0.1/24", Unusable::Multicast),
        ("ff02::12", Unusable::Multicast),
        ("0.0.0.0", Unusable::Unspecified),
        ("::", Unusable::Unspecified),
        ("255.255.255.255", Unusable::Broadcast),
        ("127.0.0.1", Unusable::Loopback),
        ("127.0.0.2/8", Unusable::Loopback),
        ("::1", Unusable::Loopback),
        ("::ffff:10.0.0.1", Unusable::Ipv4Mapped),
        ("::ffff:10.0.0.1/120", Unusable::Ipv4Mapped),
        ("::10.0.0.1", Unusable::Ipv4Compatible),
    ] {
        let (reason, msg) = refused(&vhid("eth0", 3, &["10.0.0.100/24", vip], ""));
        assert!(
            matches!(reason, Reason::Vip(VipError::Unusable { why: w, .. }) if w == why),
            "{vip}: {msg}"
        );
        assert!(
            msg.starts_with(&format!(
                "/etc/carp.toml: [[vhid]] #1: eth0 vhid 3: vips[1] = \"{vip}\": "
            )),
            "{vip}: {msg}"
        );
    }
}

#[test]
fn the_messages_say_why() {
    let (_, msg) = refused(&vhid("eth0", 3, &["224.0.0.18"], ""));
    assert!(
        msg.ends_with(
            "vips[0] = \"224.0.0.18\": 224.0.0.18 is a multicast address; a virtual address is \
             unicast"
        ),
        "{msg}"
    );
    let (_, msg) = refused(&vhid("eth0", 3, &["::ffff:10.0.0.1"], ""));
    assert!(
        msg.ends_with("is an IPv4-mapped IPv6 address; write the IPv4 address"),
        "{msg}"
    );
    let (reason, msg) = refused(&vhid("eth0", 3, &["10.0.0.255/24"], ""));
    assert!(
        matches!(reason, Reason::Vip(VipError::SubnetBroadcast { .. })),
        "{msg}"
    );
    assert!(
        msg.ends_with("10.0.0.255/24 is the broadcast address of 10.0.0.0/24; give a host address"),
        "{msg}"
    );
}

#[test]
fn link_local_and_ordinary_addresses_are_accepted() {
    let text = vhid(
        "eth0",
        3,
        &[
            "169.254.10.1/16",
            "fe80::3%eth0/64",
            "10.0.0.254/24",
            "10.0.0.1/31",
            "2001:db8::3",
        ],
        "",
    );
    assert_eq!(parse(&text).unwrap().vhids[0].vips.len(), 5);
}

#[test]
fn the_same_vip_twice_in_one_vhid_is_refused_whatever_the_prefix() {
    for vips in [
        ["10.0.0.100/24", "10.0.0.100/32"],
        ["10.0.0.100/24", "10.0.0.100/24"],
        ["fd00::1/64", "fd00::1"],
    ] {
        let (reason, msg) = refused(&vhid("eth0", 3, &vips, ""));
        assert!(matches!(reason, Reason::VipDuplicate { .. }), "{msg}");
        assert!(
            msg.contains(&format!(
                "eth0 vhid 3: vips[1] = \"{}\": {} is already vips[0] = \"{}\"",
                vips[1].parse::<carp_agent::config::Vip>().unwrap(),
                vips[0].split('/').next().unwrap(),
                vips[0].parse::<carp_agent::config::Vip>().unwrap(),
            )),
            "{msg}"
        );
    }
}

#[test]
fn the_same_vip_in_two_vhids_is_refused() {
    // On one interface, with another prefix.
    let text = format!(
        "{}{}",
        vhid("eth0", 1, &["10.0.0.100/24"], ""),
        vhid("eth0", 2, &["10.0.0.101/24", "10.0.0.100/32"], "")
    );
    let (reason, msg) = refused(&text);
    assert!(matches!(reason, Reason::VipDuplicate { .. }), "{msg}");
    assert_eq!(
        msg,
        "/etc/carp.toml: [[vhid]] #2: eth0 vhid 2: vips[1] = \"10.0.0.100/32\": 10.0.0.100 is \
         already vips[0] = \"10.0.0.100/24\" of eth0 vhid 1 ([[vhid]] #1); each virtual address \
         belongs to one vhid, with one prefix"
    );
    // On two interfaces.
    let text = format!(
        "{}{}",
        vhid("eth0", 1, &["10.0.0.100/24"], ""),
        vhid("eth1", 1, &["10.0.0.100/24"], "")
    );
    let (reason, msg) = refused(&text);
    assert!(matches!(reason, Reason::VipDuplicate { .. }), "{msg}");
    // An IPv6 link-local address is scoped to its interface: allowed on
    // two, not twice on one.
    let text = format!(
        "{}{}",
        vhid("eth0", 1, &["fe80::1/64"], ""),
        vhid("eth1", 1, &["fe80::1/64"], "")
    );
    assert_eq!(parse(&text).unwrap().vhids.len(), 2);
    let text = format!(
        "{}{}",
        vhid("eth0", 1, &["fe80::1/64"], ""),
        vhid("eth0", 2, &["fe80::1/64"], "")
    );
    assert!(matches!(refused(&text).0, Reason::VipDuplicate { .. }));
}

#[test]
fn the_advert_source_must_fit_the_vips() {
    // An IPv6 source: IPv6 adverts always leave from the link-local address.
    let (reason, msg) = refused(&vhid("eth0", 4, &["10.0.0.100/24"], "source = \"fd00::5\""));
    assert!(matches!(reason, Reason::SourceV6(_)), "{msg}");
    assert!(
        msg.contains(
            "eth0 vhid 4: source: fd00::5 is IPv6, but `source` sets the IPv4 advert source only"
        ),
        "{msg}"
    );
    // An IPv4 source with IPv6 VIPs only: no IPv4 adverts to send.
    let (reason, msg) = refused(&vhid("eth0", 4, &["fd00::100/64"], "source = \"10.0.0.5\""));
    assert!(matches!(reason, Reason::SourceUnused(_)), "{msg}");
    assert!(
        msg.contains("eth0 vhid 4: source: 10.0.0.5 would never be used"),
        "{msg}"
    );
    // One of the vhid's own VIPs.
    let (reason, msg) = refused(&vhid(
        "eth0",
        4,
        &["10.0.0.100/24"],
        "source = \"10.0.0.100\"",
    ));
    assert!(matches!(reason, Reason::SourceIsVip(_)), "{msg}");
    // Addresses no host can own.
    for source in [
        "0.0.0.0",
        "224.0.0.18",
        "127.0.0.1",
        "255.255.255.255",
        "::ffff:10.0.0.5",
    ] {
        let (reason, msg) = refused(&vhid(
            "eth0",
            4,
            &["10.0.0.100/24"],
            &format!("source = \"{source}\""),
        ));
        assert!(matches!(reason, Reason::Source(_)), "{source}: {msg}");
        assert!(msg.contains("eth0 vhid 4: source: "), "{msg}");
    }
    // A fitting source, with IPv6 VIPs beside.
    let text = vhid(
        "eth0",
        4,
        &["10.0.0.100/24", "fd00::100/64"],
        "source = \"10.0.0.5\"",
    );
    assert!(parse(&text).is_ok());
}
