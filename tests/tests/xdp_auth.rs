//! BPF_PROG_TEST_RUN fixtures for the flood defences in XDP (`CARP_AUTH`,
//! `CARP_REPLAY`): HMAC-SHA1 checked in the program, the per-source replay
//! filter, the budget for new sources. Each step gives the exact action,
//! the delta of every counter and whether an event reached the ring buffer.
//! Steps of one scenario share the loaded object, so the replay state
//! carries from one to the next as on a real interface.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_agent::{
    dataplane::auth::{XdpAuthMode, auth_entry},
    proto::auth::{Auth, AuthKey, LinkLocalVips, VipSet},
    testdata::ucarp,
};
use carp_common::{
    NEW_SOURCE_BURST, NEW_SOURCE_INTERVAL_NS, REPLAY_WINDOW, STATE_BACKUP, Stat, VhidKey,
    virtual_mac,
};
use carp_tests::{
    frames::{self, Advert, Ipv4},
    privileges::require_root,
    xdp::{self, XDP_DROP, action_name, counters, delta_of, describe_delta, lab::*},
};

const PASSWORD: &str = "flood-test";
/// A link-local VIP makes the FreeBSD and OpenBSD digests differ.
const VIP6_LL: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];

fn auth() -> Auth {
    let key: AuthKey = PASSWORD.parse().unwrap();
    Auth::new(
        &key,
        VipSet::new([
            IpAddr::V4(Ipv4Addr::from(VIP4)),
            IpAddr::V6(Ipv6Addr::from(VIP6)),
            IpAddr::V6(Ipv6Addr::from(VIP6_LL)),
        ]),
    )
}

/// An advert for VHID with `counter` and the digest in `form` (or a wrong one).
fn advert(counter: u64, md: Option<LinkLocalVips>) -> [u8; 36] {
    let mut a = Advert::new(VHID);
    a.counter = counter;
    a.md = match md {
        Some(form) => auth().digest_in(form, VHID, counter),
        // Right length, right checksum (set by `bytes`), wrong digest.
        None => *b"not-the-right-digest",
    };
    a.bytes()
}

fn frame_from(src: [u8; 4], advert: &[u8]) -> Vec<u8> {
    let ip = Ipv4 {
        src,
        ..Ipv4::default()
    };
    frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        virtual_mac(5),
        &[],
        frames::ETHERTYPE_IPV4,
        &ip.packet(advert),
    )
}

fn frame(advert: &[u8]) -> Vec<u8> {
    frame_from(PEER4, advert)
}

fn frame_v6(advert: &[u8]) -> Vec<u8> {
    frames::ethernet(
        frames::CARP_GROUP_V6_MAC,
        virtual_mac(5),
        &[],
        frames::ETHERTYPE_IPV6,
        &frames::ipv6(
            PEER6_LL,
            frames::CARP_GROUP_V6,
            frames::LINK_LOCAL_TTL,
            frames::IPPROTO_CARP,
            advert,
        ),
    )
}

/// A fresh scenario: the standard maps, vhid 1 BACKUP with `auth()` in `mode`.
fn setup(ebpf: &mut aya::Ebpf, mode: XdpAuthMode, openbsd: bool) {
    setup_with(ebpf, &auth(), VHID, mode, openbsd);
}

fn setup_with(ebpf: &mut aya::Ebpf, auth: &Auth, vhid: u8, mode: XdpAuthMode, openbsd: bool) {
    xdp::reset(ebpf).unwrap();
    xdp::install(ebpf, &config(STATE_BACKUP)).unwrap();
    let entry = auth_entry(&auth.xdp_key_state(vhid), mode, openbsd);
    xdp::set_auth(
        ebpf,
        VhidKey::new(carp_common::Port::untagged(IFINDEX), vhid),
        &entry,
    )
    .unwrap();
}

/// Runs `frame`; checks the action (always XDP_DROP: adverts are consumed
/// or refused), every counter and that an event was queued exactly when
/// `adverts` counts.
fn step(ebpf: &mut aya::Ebpf, name: &str, frame: &[u8], stats: &[Stat]) -> Result<(), String> {
    step_queued(ebpf, name, frame, stats, stats.contains(&Stat::Adverts))
}

/// A wrong digest that is the vhid's sample: counted as `badauth` and
/// still queued, so the agent can warn about its sender.
fn sampled(ebpf: &mut aya::Ebpf, name: &str, frame: &[u8], ipv6: bool) -> Result<(), String> {
    let seen = if ipv6 {
        Stat::Ipackets6
    } else {
        Stat::Ipackets
    };
    step_queued(ebpf, name, frame, &[seen, Stat::Badauth], true)
}

fn step_queued(
    ebpf: &mut aya::Ebpf,
    name: &str,
    frame: &[u8],
    stats: &[Stat],
    queued: bool,
) -> Result<(), String> {
    let before = counters(&xdp::stats(ebpf).unwrap());
    let out = xdp::run(ebpf, frame).unwrap();
    let after = counters(&xdp::stats(ebpf).unwrap());
    let events = xdp::drain_events(ebpf).unwrap();
    let mut problems = Vec::new();
    if out.action != XDP_DROP {
        problems.push(format!("action {}", action_name(out.action)));
    }
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let expected = delta_of(stats);
    if delta[..] != expected[..] {
        problems.push(format!(
            "counters: {} (expected {})",
            describe_delta(&delta.clone().try_into().unwrap()),
            describe_delta(&expected)
        ));
    }
    match events.as_slice() {
        [] if !queued => {}
        [event] if queued && event.advert[..] == frame[frame.len() - 36..] => {}
        got => problems.push(format!("events {got:?}, expected {}", u8::from(queued))),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("step `{name}`: {}", problems.join("; ")))
    }
}

fn report(test: &str, results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{test}: {} steps failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const ACCEPTED: &[Stat] = &[Stat::Ipackets, Stat::Adverts];
const C: u64 = 0x0000_1234_5600_0000;

#[test]
fn hmac_is_checked_in_xdp() {
    if !require_root("hmac_is_checked_in_xdp") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    setup(&mut ebpf, XdpAuthMode::Full, false);
    let ipv6 = {
        let mut a = Advert::new(VHID);
        a.counter = C + 10;
        a.md = auth().digest_in(LinkLocalVips::Included, VHID, C + 10);
        a.bytes()
    };
    let results = vec![
        step(
            &mut ebpf,
            "right HMAC (FreeBSD form)",
            &frame(&advert(C, Some(LinkLocalVips::Included))),
            ACCEPTED,
        ),
        // The first wrong digest of the vhid is its sample (queued)...
        sampled(&mut ebpf, "wrong HMAC", &frame(&advert(C + 1, None)), false),
        // ...the next ones within BADAUTH_SAMPLE_INTERVAL_NS are dropped.
        step(
            &mut ebpf,
            "wrong HMAC again",
            &frame(&advert(C + 1, None)),
            &[Stat::Ipackets, Stat::Badauth],
        ),
        step(
            &mut ebpf,
            "right HMAC for another counter",
            &frame(&{
                let mut a = advert(C + 2, Some(LinkLocalVips::Included));
                // The digest of C+2 on an advert claiming C+3 (checksum fixed).
                let mut b = Advert::new(VHID);
                b.counter = C + 3;
                b.md.copy_from_slice(&a[16..36]);
                a = b.bytes();
                a
            }),
            &[Stat::Ipackets, Stat::Badauth],
        ),
        step(
            &mut ebpf,
            "right HMAC (OpenBSD form, link-local VIP left out)",
            &frame(&advert(C + 4, Some(LinkLocalVips::Omitted))),
            ACCEPTED,
        ),
        step(
            &mut ebpf,
            "IPv6 source",
            &frame_v6(&ipv6),
            &[Stat::Ipackets6, Stat::Adverts],
        ),
        step(
            &mut ebpf,
            "wrong HMAC over IPv6",
            &frame_v6(&advert(C + 11, None)),
            &[Stat::Ipackets6, Stat::Badauth],
        ),
    ];
    report("hmac_is_checked_in_xdp", results);
}

#[test]
fn stale_counters_are_dropped_except_for_openbsd() {
    if !require_root("stale_counters_are_dropped_except_for_openbsd") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    setup(&mut ebpf, XdpAuthMode::Full, false);
    let genuine = frame(&advert(C, Some(LinkLocalVips::Included)));
    let replayed = &[Stat::Ipackets, Stat::Replayed];
    let mut results = vec![
        step(&mut ebpf, "first", &genuine, ACCEPTED),
        step(&mut ebpf, "the same advert again", &genuine, replayed),
        step(
            &mut ebpf,
            "a newer counter",
            &frame(&advert(C + 1, Some(LinkLocalVips::Included))),
            ACCEPTED,
        ),
        step(&mut ebpf, "the older one replayed", &genuine, replayed),
        step(
            &mut ebpf,
            "just inside the window",
            &frame(&advert(
                C + 1 - (REPLAY_WINDOW - 1),
                Some(LinkLocalVips::Included),
            )),
            replayed,
        ),
        // A peer that restarted picks a counter far from the last one.
        step(
            &mut ebpf,
            "far below (a restarted peer)",
            &frame(&advert(
                C + 1 - REPLAY_WINDOW,
                Some(LinkLocalVips::Included),
            )),
            ACCEPTED,
        ),
        // The digest does not cover the source: a counter accepted once
        // is a replay from any source.
        step(
            &mut ebpf,
            "another source with the first counter",
            &frame_from([10, 0, 0, 3], &advert(C, Some(LinkLocalVips::Included))),
            replayed,
        ),
        step(
            &mut ebpf,
            "another source with a new counter",
            &frame_from([10, 0, 0, 3], &advert(C + 7, Some(LinkLocalVips::Included))),
            ACCEPTED,
        ),
        // A wrong digest never moves the last counter (this one is the
        // vhid's first: its sample).
        sampled(
            &mut ebpf,
            "forged, far ahead",
            &frame(&advert(u64::MAX / 2, None)),
            false,
        ),
        step(
            &mut ebpf,
            "newer after the forgery",
            &frame(&advert(
                C + 2 - REPLAY_WINDOW,
                Some(LinkLocalVips::Included),
            )),
            ACCEPTED,
        ),
    ];
    // OpenBSD's counter is a constant cookie: no replay check.
    setup(&mut ebpf, XdpAuthMode::Full, true);
    for name in ["OpenBSD first", "OpenBSD same counter", "OpenBSD again"] {
        results.push(step(&mut ebpf, name, &genuine, ACCEPTED));
    }
    report("stale_counters_are_dropped_except_for_openbsd", results);
}

/// The master's own adverts, seen leaving by the TC egress program, are
/// replays when they come back from any source.
#[test]
fn counters_this_host_sent_are_replays() {
    if !require_root("counters_this_host_sent_are_replays") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    setup(&mut ebpf, XdpAuthMode::Full, false);
    let own = advert(C, Some(LinkLocalVips::Included));
    // TC test runs have no ingress interface: the skb's ifindex is that of
    // loopback, as the XDP test run's.
    let out = xdp::run_egress(&mut ebpf, &frame_from(PEER4, &own)).unwrap();
    assert_eq!(
        out.output,
        frame_from(PEER4, &own),
        "egress leaves the frame as it is"
    );
    let results = vec![
        step(
            &mut ebpf,
            "our own advert from a spoofed source",
            &frame_from([10, 9, 9, 9], &own),
            &[Stat::Ipackets, Stat::Replayed],
        ),
        step(
            &mut ebpf,
            "a counter we did not send",
            &frame_from([10, 9, 9, 9], &advert(C + 1, Some(LinkLocalVips::Included))),
            ACCEPTED,
        ),
    ];
    report("counters_this_host_sent_are_replays", results);
}

#[test]
fn the_ucarp_vector_passes() {
    if !require_root("the_ucarp_vector_passes") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let key: AuthKey = ucarp::PASSWORD.parse().unwrap();
    let auth = Auth::new(&key, VipSet::new([IpAddr::V4(ucarp::VIP)]));
    assert_eq!(ucarp::VHID, VHID, "the lab maps configure vhid 1");
    setup_with(&mut ebpf, &auth, ucarp::VHID, XdpAuthMode::Full, false);
    let captured = ucarp::frame();
    let mut forged = captured.clone();
    // Flip one digest bit; the checksum covers it, so fix the checksum too.
    let carp = ucarp::CARP_OFFSET;
    forged[carp + 35] ^= 1;
    forged[carp + 6..carp + 8].copy_from_slice(&[0, 0]);
    let sum = frames::internet_checksum(&forged[carp..carp + 36]);
    forged[carp + 6..carp + 8].copy_from_slice(&sum.to_be_bytes());
    let results = vec![
        step(&mut ebpf, "captured ucarp advert", &captured, ACCEPTED),
        step(
            &mut ebpf,
            "replayed",
            &captured,
            &[Stat::Ipackets, Stat::Replayed],
        ),
        sampled(&mut ebpf, "one digest bit flipped", &forged, false),
        step(
            &mut ebpf,
            "one digest bit flipped, again",
            &forged,
            &[Stat::Ipackets, Stat::Badauth],
        ),
    ];
    report("the_ucarp_vector_passes", results);
}

#[test]
fn modes_off_and_ratelimit_skip_the_hmac() {
    if !require_root("modes_off_and_ratelimit_skip_the_hmac") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    let forged = frame(&advert(C, None));
    setup(&mut ebpf, XdpAuthMode::Off, false);
    let mut results = vec![
        step(&mut ebpf, "off: forged", &forged, ACCEPTED),
        step(&mut ebpf, "off: forged again", &forged, ACCEPTED),
    ];
    setup(&mut ebpf, XdpAuthMode::RateLimit, false);
    results.push(step(&mut ebpf, "ratelimit: forged", &forged, ACCEPTED));
    results.push(step(&mut ebpf, "ratelimit: same again", &forged, ACCEPTED));
    report("modes_off_and_ratelimit_skip_the_hmac", results);
}

/// A flood of right digests with fresh counters from ever new sources (as
/// from a host that knows the password): at most the budget reaches the
/// ring buffer, and the known source, heard before the flood, is never
/// limited.
#[test]
fn new_sources_spend_a_budget_and_known_ones_never_do() {
    if !require_root("new_sources_spend_a_budget_and_known_ones_never_do") {
        return;
    }
    let mut ebpf = xdp::load().unwrap();
    setup(&mut ebpf, XdpAuthMode::Full, false);
    let mut results = vec![step(
        &mut ebpf,
        "the master, before the flood",
        &frame(&advert(C, Some(LinkLocalVips::Included))),
        ACCEPTED,
    )];
    let flood = 2000u32;
    let frames: Vec<Vec<u8>> = (0..flood)
        .map(|i| {
            let [_, _, c, d] = (0x0a01_0000u32 + i).to_be_bytes();
            let counter = C + 1000 + u64::from(i);
            frame_from(
                [10, 1, c, d],
                &advert(counter, Some(LinkLocalVips::Included)),
            )
        })
        .collect();
    let before = xdp::stats(&ebpf).unwrap();
    let t0 = xdp::monotonic_ns();
    for (i, f) in frames.iter().enumerate() {
        let out = xdp::run(&mut ebpf, f).unwrap();
        assert_eq!(out.action, XDP_DROP, "flood frame {i}");
    }
    let elapsed = xdp::monotonic_ns() - t0;
    let after = xdp::stats(&ebpf).unwrap();
    let passed = after.adverts - before.adverts;
    let limited = after.ratelimited - before.ratelimited;
    let events = xdp::drain_events(&mut ebpf).unwrap().len() as u64;
    // GCRA: the burst, plus one per interval elapsed (and one for rounding).
    let allowed = NEW_SOURCE_BURST + elapsed / NEW_SOURCE_INTERVAL_NS + 1;
    assert_eq!(passed + limited, u64::from(flood));
    assert_eq!(events, passed);
    assert!(
        (NEW_SOURCE_BURST..=allowed).contains(&passed),
        "{passed} new sources passed in {elapsed} ns, expected {NEW_SOURCE_BURST}..={allowed}"
    );
    // The sources remembered are the master and those that passed.
    let remembered = xdp::replay_entries(&mut ebpf).unwrap().len() as u64;
    assert_eq!(remembered, passed + 1);
    for n in 1..=3 {
        results.push(step(
            &mut ebpf,
            &format!("the master after the flood, advert {n}"),
            &frame(&advert(C + n, Some(LinkLocalVips::Included))),
            ACCEPTED,
        ));
    }
    report(
        "new_sources_spend_a_budget_and_known_ones_never_do",
        results,
    );
}
