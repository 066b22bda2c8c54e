//! One test (or table) per election rule, through the engine's public API.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use carp_agent::engine::{
    Action, AdminState, Engine, EngineError, Flavor, Iface, PeerAdvert, Reason, State, TieBreak,
    Time, VhidConfig, VhidKey,
};

const IF1: Iface = Iface::new(1);
const RULES: [TieBreak; 3] = [
    TieBreak::LowerAddress,
    TieBreak::HigherAddress,
    TieBreak::AlwaysYield,
];
const IF2: Iface = Iface::new(2);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn key(vhid: u8) -> VhidKey {
    VhidKey { iface: IF1, vhid }
}

fn advert(source: u8, advbase: u8, advskew: u8) -> PeerAdvert {
    PeerAdvert {
        source: ip(source),
        advbase,
        advskew,
        demote: 0,
    }
}

fn secs(s: f64) -> Time {
    Time::from_duration(Duration::from_secs_f64(s))
}

fn drain(engine: &mut Engine) -> Vec<Action> {
    std::iter::from_fn(|| engine.poll_action()).collect()
}

/// Transitions among `actions`, as (vhid, from, to, reason).
fn changes(actions: &[Action]) -> Vec<(u8, State, State, Reason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChange {
                key,
                from,
                to,
                reason,
            } => Some((key.vhid, *from, *to, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Adverts among `actions`, as (vhid, advbase, advskew, demote).
fn adverts(actions: &[Action]) -> Vec<(u8, u8, u8, u8)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert {
                key,
                advbase,
                advskew,
                demote,
            } => Some((key.vhid, *advbase, *advskew, *demote)),
            _ => None,
        })
        .collect()
}

/// An engine with one vhid on IF1 (source 10.0.0.5), link up at 0, in BACKUP.
fn backup(config: VhidConfig) -> Engine {
    let mut engine = Engine::new();
    engine.set_link(Time::ZERO, IF1, true);
    engine.add_vhid(Time::ZERO, IF1, config).unwrap();
    drain(&mut engine);
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    engine
}

/// Same, then master-down expires: MASTER at its master-down time.
fn master(config: VhidConfig) -> (Engine, Time) {
    let mut engine = backup(config);
    let at = engine.next_timeout().unwrap();
    engine.handle_timeout(at);
    drain(&mut engine);
    assert_eq!(engine.state(key(1)), Some(State::Master));
    (engine, at)
}

fn config() -> VhidConfig {
    VhidConfig::new(1, ip(5))
}

#[test]
fn link_up_enters_backup_and_arms_master_down() {
    // (flavor, advbase, advskew) -> master-down in seconds
    let cases = [
        (Flavor::FreeBsd, 1, 0, 3.0),
        (Flavor::FreeBsd, 1, 100, 3.0 + 100.0 / 256.0),
        (Flavor::FreeBsd, 2, 0, 6.0),
        (Flavor::OpenBsd, 1, 128, 4.5),
        (Flavor::OpenBsd, 0, 64, 0.75),
    ];
    for (flavor, advbase, advskew, down) in cases {
        let mut engine = Engine::new();
        let cfg = config().flavor(flavor).advbase(advbase).advskew(advskew);
        engine.add_vhid(Time::ZERO, IF1, cfg).unwrap();
        assert_eq!(
            engine.state(key(1)),
            Some(State::Init),
            "INIT until link up"
        );
        assert_eq!(engine.next_timeout(), None);
        engine.set_link(secs(1.0), IF1, true);
        let actions = drain(&mut engine);
        assert_eq!(
            changes(&actions),
            vec![(1, State::Init, State::Backup, Reason::LinkUp)]
        );
        assert!(adverts(&actions).is_empty(), "a BACKUP never advertises");
        assert_eq!(
            engine.next_timeout(),
            Some(secs(1.0 + down)),
            "{flavor:?} {advbase}/{advskew}"
        );
    }
}

#[test]
fn master_down_makes_master_and_advertises_at_once_then_every_interval() {
    let mut engine = backup(config().advskew(64));
    let down = engine.next_timeout().unwrap();
    assert_eq!(down, secs(3.25));
    engine.handle_timeout(secs(3.0));
    assert!(drain(&mut engine).is_empty(), "nothing before the deadline");
    engine.handle_timeout(down);
    let actions = drain(&mut engine);
    assert_eq!(
        changes(&actions),
        vec![(
            1,
            State::Backup,
            State::Master,
            Reason::MasterDown {
                silent_for: Duration::from_secs_f64(3.25)
            }
        )]
    );
    assert_eq!(adverts(&actions), vec![(1, 1, 64, 0)]);
    assert!(
        matches!(actions[0], Action::StateChange { .. }),
        "state change first"
    );
    let mut at = down;
    for _ in 0..3 {
        at += Duration::from_secs_f64(1.25);
        assert_eq!(engine.next_timeout(), Some(at));
        engine.handle_timeout(at);
        assert_eq!(adverts(&drain(&mut engine)), vec![(1, 1, 64, 0)]);
    }
}

#[test]
fn backup_hearing_its_master_rearms_master_down() {
    let mut engine = backup(config().advskew(100));
    engine
        .handle_advert(secs(2.0), key(1), advert(1, 1, 0))
        .unwrap();
    assert!(drain(&mut engine).is_empty());
    assert_eq!(engine.next_timeout(), Some(secs(5.0 + 100.0 / 256.0)));
    assert_eq!(engine.status(key(1)).unwrap().master, Some(ip(1)));
}

#[test]
fn master_yields_to_more_preferred_or_equal_by_rule() {
    use TieBreak::*;
    // ours: advskew 50, source 10.0.0.5. (tie-break, peer source, advbase, advskew) -> yields?
    let cases = [
        (HigherAddress, 1, 1, 0, true),
        (HigherAddress, 9, 1, 49, true),
        (HigherAddress, 1, 1, 51, false),
        (HigherAddress, 1, 2, 0, false),
        (HigherAddress, 9, 1, 50, true),
        (HigherAddress, 1, 1, 50, false),
        (HigherAddress, 5, 1, 50, false), // our own address: a looped-back advert
        (LowerAddress, 1, 1, 0, true),
        (LowerAddress, 1, 1, 50, true),
        (LowerAddress, 9, 1, 50, false),
        (LowerAddress, 9, 1, 51, false),
        (LowerAddress, 5, 1, 50, false),
        (AlwaysYield, 1, 1, 50, true),
        (AlwaysYield, 9, 1, 50, true),
        (AlwaysYield, 1, 1, 51, false),
    ];
    for (tie_break, source, advbase, advskew, yields) in cases {
        let (mut engine, _) = master(config().advskew(50).tie_break(tie_break));
        engine
            .handle_advert(secs(4.0), key(1), advert(source, advbase, advskew))
            .unwrap();
        let actions = drain(&mut engine);
        let expected = if yields { State::Backup } else { State::Master };
        assert_eq!(
            engine.state(key(1)),
            Some(expected),
            "{tie_break:?} from .{source} {advbase}/{advskew}"
        );
        let label = format!("{tie_break:?} from .{source} {advbase}/{advskew}");
        let reasserts = actions
            .iter()
            .filter(|a| matches!(a, Action::Reassert { .. }))
            .count();
        if yields || source == 5 {
            assert!(
                adverts(&actions).is_empty(),
                "{label}: a yield sends nothing"
            );
            assert_eq!(reasserts, 0, "{label}");
        } else {
            // The loser must hear us at once, and neighbours it drew away
            // must come back.
            assert_eq!(adverts(&actions), vec![(1, 1, 50, 0)], "{label}");
            assert_eq!(reasserts, 1, "{label}");
        }
        if yields {
            let reason = &changes(&actions)[0].3;
            let text = reason.to_string();
            match tie_break {
                AlwaysYield => assert!(matches!(reason, Reason::EqualMaster { .. }), "{text}"),
                HigherAddress | LowerAddress => {
                    assert!(text.starts_with("more preferred master"), "{text}")
                }
            }
            // master-down armed from the yield; after a yield on a tie by
            // address, 1.5 of the winner's intervals (it may have yielded too)
            let by_address = matches!(
                reason,
                Reason::MorePreferredMaster {
                    by_address: true,
                    ..
                }
            );
            let expected = if by_address {
                secs(4.0 + 1.5 * (f64::from(advbase) + f64::from(advskew) / 256.0))
            } else {
                secs(7.0 + 50.0 / 256.0)
            };
            assert_eq!(engine.next_timeout(), Some(expected), "{label}");
        }
    }
}

#[test]
fn equal_masters_leave_exactly_one_master_with_the_address_rules() {
    // (rule, which one stays): the default keeps the lower address, as ucarp.
    let cases = [
        (TieBreak::default(), State::Master, State::Backup),
        (TieBreak::LowerAddress, State::Master, State::Backup),
        (TieBreak::HigherAddress, State::Backup, State::Master),
    ];
    for (rule, low_ends, high_ends) in cases {
        let (mut low, _) = master(VhidConfig::new(1, ip(1)).advskew(10).tie_break(rule));
        let (mut high, _) = master(VhidConfig::new(1, ip(2)).advskew(10).tie_break(rule));
        // each hears the other's advert
        low.handle_advert(secs(4.0), key(1), advert(2, 1, 10))
            .unwrap();
        high.handle_advert(secs(4.0), key(1), advert(1, 1, 10))
            .unwrap();
        assert_eq!(low.state(key(1)), Some(low_ends), "{rule:?}");
        assert_eq!(high.state(key(1)), Some(high_ends), "{rule:?}");
    }
    // FreeBSD's rule makes both yield
    let tie = TieBreak::AlwaysYield;
    let (mut a, _) = master(VhidConfig::new(1, ip(1)).advskew(10).tie_break(tie));
    let (mut b, _) = master(VhidConfig::new(1, ip(2)).advskew(10).tie_break(tie));
    a.handle_advert(secs(4.0), key(1), advert(2, 1, 10))
        .unwrap();
    b.handle_advert(secs(4.0), key(1), advert(1, 1, 10))
        .unwrap();
    assert_eq!(a.state(key(1)), Some(State::Backup));
    assert_eq!(b.state(key(1)), Some(State::Backup));
}

#[test]
fn backup_preemption_table() {
    // ours: advskew 50, source .5. (preempt, peer source, advbase, advskew) -> takes over?
    let cases = [
        (true, 1, 1, 51, true),
        (true, 1, 2, 0, true),
        // Equal: never preempted, whichever address is higher.
        (true, 1, 1, 50, false),
        (true, 9, 1, 50, false),
        (true, 1, 1, 49, false),
        (false, 1, 1, 51, false),
        (false, 1, 2, 0, false),
        (false, 1, 1, 50, false),
    ];
    for ((preempt, source, advbase, advskew, takes_over), rule) in cases
        .into_iter()
        .flat_map(|case| RULES.map(|rule| (case, rule)))
    {
        let mut engine = backup(config().advskew(50).preempt(preempt).tie_break(rule));
        engine
            .handle_advert(secs(1.0), key(1), advert(source, advbase, advskew))
            .unwrap();
        let actions = drain(&mut engine);
        let label = format!("{rule:?} preempt {preempt} from .{source} {advbase}/{advskew}");
        if takes_over {
            assert_eq!(engine.state(key(1)), Some(State::Master), "{label}");
            let text = changes(&actions)[0].3.to_string();
            assert!(
                text.starts_with("preempting less preferred master 10.0.0.1"),
                "{text}"
            );
            assert_eq!(adverts(&actions), vec![(1, 1, 50, 0)], "advertises at once");
        } else {
            assert_eq!(engine.state(key(1)), Some(State::Backup), "{label}");
            assert!(actions.is_empty(), "{label}");
            assert_eq!(
                engine.next_timeout(),
                Some(secs(4.0 + 50.0 / 256.0)),
                "{label}"
            );
        }
    }
}

#[test]
fn backup_takes_over_from_a_master_slower_than_its_master_down() {
    // ours: advbase 1 advskew 0 -> master-down 3 s; no preemption.
    let cases = [(2, 255, false), (3, 0, false), (3, 1, true), (4, 0, true)];
    for (advbase, advskew, takes_over) in cases {
        let mut engine = backup(config());
        engine
            .handle_advert(secs(1.0), key(1), advert(1, advbase, advskew))
            .unwrap();
        let actions = drain(&mut engine);
        let expected = if takes_over {
            State::Master
        } else {
            State::Backup
        };
        assert_eq!(engine.state(key(1)), Some(expected), "{advbase}/{advskew}");
        if takes_over {
            assert!(matches!(
                changes(&actions)[0].3,
                Reason::MasterTooSlow { .. }
            ));
        }
    }
}

#[test]
fn openbsd_demote_byte_outranks_advskew_and_preempt() {
    let obsd = || config().flavor(Flavor::OpenBsd).advskew(100);
    let demoted = |source: u8, advskew: u8, demote: u8| PeerAdvert {
        demote,
        ..advert(source, 1, advskew)
    };
    // BACKUP without preemption takes over from a more demoted master.
    let mut engine = backup(obsd());
    engine
        .handle_advert(secs(1.0), key(1), demoted(1, 0, 1))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Master));
    let text = changes(&drain(&mut engine))[0].3.to_string();
    assert!(text.contains("more demoted"), "{text}");
    // A preempting BACKUP leaves a slower but less demoted master alone.
    engine.demote(secs(2.0), 5);
    let mut engine = backup(obsd().preempt(true));
    engine.demote(secs(0.5), 5);
    engine
        .handle_advert(secs(1.0), key(1), demoted(1, 200, 4))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    // MASTER yields to a slower but less demoted master, not to a faster more demoted one.
    let (mut engine, _) = master(obsd());
    engine.demote(secs(3.5), 2);
    drain(&mut engine);
    engine
        .handle_advert(secs(4.0), key(1), demoted(1, 0, 3))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Master));
    engine
        .handle_advert(secs(4.1), key(1), demoted(1, 250, 1))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Backup));
}

#[test]
fn freebsd_ignores_the_demote_byte() {
    let mut engine = backup(config().advskew(100));
    let peer = PeerAdvert {
        demote: 200,
        ..advert(1, 1, 0)
    };
    engine.handle_advert(secs(1.0), key(1), peer).unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Backup));
}

#[test]
fn demotion_adds_to_advskew_and_masters_advertise_at_once() {
    let (mut engine, became) = master(config().advskew(20));
    engine.demote(secs(4.0), 100);
    assert_eq!(engine.demotion(), 100);
    let actions = drain(&mut engine);
    assert_eq!(adverts(&actions), vec![(1, 1, 120, 0)]);
    assert!(
        changes(&actions).is_empty(),
        "demotion alone changes no state"
    );
    assert_eq!(engine.next_timeout(), Some(secs(4.0 + 1.0 + 120.0 / 256.0)));
    engine.demote(secs(4.5), 1_000);
    assert_eq!(
        adverts(&drain(&mut engine)),
        vec![(1, 1, 240, 0)],
        "clamped to 240"
    );
    engine.demote(secs(5.0), -5_000);
    assert_eq!(engine.demotion(), 0, "the counter does not go below 0");
    assert_eq!(adverts(&drain(&mut engine)), vec![(1, 1, 20, 0)]);
    engine.demote(secs(5.5), -1);
    assert!(drain(&mut engine).is_empty(), "no change, no advert");
    engine.set_demotion(secs(6.0), 240);
    assert_eq!(adverts(&drain(&mut engine)), vec![(1, 1, 240, 0)]);
    assert!(became < secs(4.0));
}

#[test]
fn demoted_master_yields_with_the_demotion_in_the_log() {
    let (mut engine, _) = master(config().advskew(20));
    engine.demote(secs(4.0), 240);
    drain(&mut engine);
    engine
        .handle_advert(secs(4.01), key(1), advert(1, 1, 100))
        .unwrap();
    let text = changes(&drain(&mut engine))[0].3.to_string();
    assert!(text.ends_with("we are demoted to advskew 240"), "{text}");
}

#[test]
fn demotion_on_a_backup_sends_nothing_and_leaves_master_down() {
    // FreeBSD arms master-down with the configured advskew; the demotion only
    // changes what a MASTER puts on the wire.
    let mut engine = backup(config());
    engine.demote(secs(1.0), 60);
    assert!(drain(&mut engine).is_empty());
    engine
        .handle_advert(secs(2.0), key(1), advert(1, 1, 0))
        .unwrap();
    assert_eq!(engine.next_timeout(), Some(secs(5.0)));
}

#[test]
fn openbsd_demotion_goes_in_the_demote_byte() {
    let (mut engine, _) = master(config().flavor(Flavor::OpenBsd).advskew(20));
    engine.demote(secs(4.0), 300);
    assert_eq!(adverts(&drain(&mut engine)), vec![(1, 1, 20, 255)]);
}

#[test]
fn link_down_goes_init_and_demotes_the_host_once_per_interface() {
    let mut engine = Engine::new();
    engine.set_link(Time::ZERO, IF1, true);
    engine.set_link(Time::ZERO, IF2, true);
    engine.add_vhid(Time::ZERO, IF1, config()).unwrap();
    engine
        .add_vhid(Time::ZERO, IF1, VhidConfig::new(2, ip(5)))
        .unwrap();
    let other = engine
        .add_vhid(Time::ZERO, IF2, VhidConfig::new(3, ip(5)).advskew(10))
        .unwrap();
    engine.handle_timeout(secs(3.1));
    drain(&mut engine);
    assert_eq!(engine.state(other), Some(State::Master));

    engine.set_link(secs(5.0), IF1, false);
    let actions = drain(&mut engine);
    assert_eq!(
        changes(&actions),
        vec![
            (1, State::Master, State::Init, Reason::LinkDown),
            (2, State::Master, State::Init, Reason::LinkDown),
        ]
    );
    assert_eq!(engine.demotion(), 240, "once per interface, not per vhid");
    assert_eq!(
        adverts(&actions),
        vec![(3, 1, 240, 0)],
        "the other master re-advertises"
    );
    engine.set_link(secs(5.5), IF1, false);
    assert_eq!(engine.demotion(), 240, "repeated reports count once");
    assert!(drain(&mut engine).is_empty());

    engine.set_link(secs(6.0), IF1, true);
    let actions = drain(&mut engine);
    assert_eq!(engine.demotion(), 0);
    assert_eq!(adverts(&actions), vec![(3, 1, 10, 0)]);
    assert_eq!(
        changes(&actions),
        vec![
            (1, State::Init, State::Backup, Reason::LinkUp),
            (2, State::Init, State::Backup, Reason::LinkUp),
        ]
    );
    // adverts on a vhid in INIT are ignored
    engine.set_link(secs(7.0), IF1, false);
    drain(&mut engine);
    engine
        .handle_advert(secs(7.5), key(1), advert(1, 1, 0))
        .unwrap();
    assert!(drain(&mut engine).is_empty());
}

#[test]
fn admin_state_commands() {
    // state backup on a MASTER: BACKUP now, master-down armed.
    let (mut engine, _) = master(config());
    engine
        .admin_set_state(secs(5.0), key(1), AdminState::Backup)
        .unwrap();
    let actions = drain(&mut engine);
    assert_eq!(
        changes(&actions),
        vec![(
            1,
            State::Master,
            State::Backup,
            Reason::Admin(AdminState::Backup)
        )]
    );
    assert_eq!(engine.next_timeout(), Some(secs(8.0)));
    // state master on a BACKUP: MASTER now, advert at once.
    engine
        .admin_set_state(secs(6.0), key(1), AdminState::Master)
        .unwrap();
    let actions = drain(&mut engine);
    assert_eq!(changes(&actions)[0].3.to_string(), "admin: state master");
    assert_eq!(adverts(&actions), vec![(1, 1, 0, 0)]);
    // same state: nothing happens
    engine
        .admin_set_state(secs(6.5), key(1), AdminState::Master)
        .unwrap();
    assert!(drain(&mut engine).is_empty());
    // INIT and unknown vhids are errors
    engine.set_link(secs(7.0), IF1, false);
    assert_eq!(
        engine.admin_set_state(secs(7.0), key(1), AdminState::Master),
        Err(EngineError::NotRunning {
            key: key(1),
            target: AdminState::Master
        })
    );
    assert!(matches!(
        engine.admin_set_state(secs(7.0), key(9), AdminState::Backup),
        Err(EngineError::UnknownVhid { .. })
    ));
}

#[test]
fn shutdown_sends_bow_out_from_masters_only_then_goes_quiet() {
    let mut engine = Engine::new();
    engine.set_link(Time::ZERO, IF1, true);
    engine
        .add_vhid(Time::ZERO, IF1, config().advskew(10))
        .unwrap();
    engine
        .add_vhid(Time::ZERO, IF1, VhidConfig::new(2, ip(5)))
        .unwrap();
    let mut silent = VhidConfig::new(3, ip(5));
    silent.send_bow_out = false;
    engine.add_vhid(Time::ZERO, IF1, silent).unwrap();
    engine.handle_timeout(secs(3.1));
    engine
        .handle_advert(secs(3.2), key(2), advert(1, 1, 0))
        .unwrap(); // vhid 2 yields to the lower address
    drain(&mut engine);

    engine.shutdown(secs(4.0));
    let actions = drain(&mut engine);
    assert_eq!(adverts(&actions), vec![(1, 255, 255, 0)]);
    assert_eq!(
        changes(&actions),
        vec![
            (1, State::Master, State::Init, Reason::Shutdown),
            (2, State::Backup, State::Init, Reason::Shutdown),
            (3, State::Master, State::Init, Reason::Shutdown),
        ]
    );
    assert_eq!(engine.next_timeout(), None);
    engine.set_link(secs(5.0), IF1, true);
    engine
        .handle_advert(secs(5.0), key(1), advert(1, 1, 0))
        .unwrap();
    engine.demote(secs(5.0), 10);
    engine.handle_timeout(secs(100.0));
    assert!(
        drain(&mut engine).is_empty(),
        "a shut-down engine stays quiet"
    );
}

#[test]
fn bow_out_reception() {
    let bow = |source: u8| advert(source, 255, 255);
    // From our master (or before hearing any): take over after the bow-out
    // delay, 1/1024 s per 1/256 s of rank between us and the departed
    // master: 100 steps from an advskew-0 master, 356 (advbase 1 + advskew
    // 100) when none was heard.
    for (heard_master_first, steps) in [(true, 100.0), (false, 356.0)] {
        let mut engine = backup(config().advskew(100));
        if heard_master_first {
            engine
                .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
                .unwrap();
        }
        engine.handle_advert(secs(1.5), key(1), bow(1)).unwrap();
        assert_eq!(engine.state(key(1)), Some(State::Backup));
        let due = secs(1.5 + steps / 1024.0);
        assert_eq!(engine.next_timeout(), Some(due));
        drain(&mut engine);
        engine.handle_timeout(due);
        let actions = drain(&mut engine);
        assert_eq!(
            changes(&actions)[0].3.to_string(),
            "bow-out received from 10.0.0.1"
        );
        assert_eq!(adverts(&actions), vec![(1, 1, 100, 0)]);
    }
    // With several backups, a more preferred one takes over first; its advert
    // arrives within our delay and we follow it.
    let mut engine = backup(config().advskew(100));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
        .unwrap();
    engine.handle_advert(secs(1.5), key(1), bow(1)).unwrap();
    engine
        .handle_advert(secs(1.55), key(1), advert(2, 1, 50))
        .unwrap();
    engine.handle_timeout(secs(1.6));
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    assert_eq!(engine.status(key(1)).unwrap().master, Some(ip(2)));
    // A backup ranked as the departed master has nobody to wait for.
    let mut engine = backup(config());
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
        .unwrap();
    engine.handle_advert(secs(1.5), key(1), bow(1)).unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Master));
    // From a master we no longer listen to: stale, ignored, timer untouched.
    let mut engine = backup(config().advskew(100));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
        .unwrap();
    engine
        .handle_advert(secs(1.2), key(1), advert(2, 1, 0))
        .unwrap();
    let before = engine.next_timeout();
    engine.handle_advert(secs(1.5), key(1), bow(1)).unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    assert_eq!(engine.next_timeout(), before);
    // A MASTER ignores bow-outs, even in OpenBSD mode from a less demoted host.
    let (mut engine, _) = master(config().flavor(Flavor::OpenBsd));
    engine.demote(secs(3.5), 10);
    engine.handle_advert(secs(4.0), key(1), bow(1)).unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Master));
    // Not accepting bow-outs: the ordinary rules decide (advbase 1: too slow, take
    // over; advbase 100: master-down 300 s is longer, keep listening).
    for (advbase, expected) in [(1, State::Master), (100, State::Backup)] {
        let mut cfg = config().advbase(advbase);
        cfg.accept_bow_out = false;
        let mut engine = backup(cfg);
        engine.handle_advert(secs(1.0), key(1), bow(1)).unwrap();
        assert_eq!(engine.state(key(1)), Some(expected), "advbase {advbase}");
        if expected == State::Master {
            assert!(matches!(
                changes(&drain(&mut engine))[0].3,
                Reason::MasterTooSlow { .. }
            ));
        }
    }
}

#[test]
fn send_errors_demote_the_host() {
    let (mut engine, _) = master(config().advskew(10));
    for _ in 0..2 {
        engine.report_send(secs(4.0), key(1), false).unwrap();
    }
    assert_eq!(engine.demotion(), 0);
    engine.report_send(secs(4.0), key(1), false).unwrap();
    assert_eq!(engine.demotion(), 240);
    assert_eq!(adverts(&drain(&mut engine)), vec![(1, 1, 240, 0)]);
    for _ in 0..3 {
        engine.report_send(secs(5.0), key(1), true).unwrap();
    }
    assert_eq!(engine.demotion(), 0);
}

#[test]
fn configuration_errors() {
    let mut engine = Engine::new();
    let err = engine
        .add_vhid(Time::ZERO, IF1, config().advbase(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "if1: vhid 1: advbase: 0 is only allowed with flavor \"openbsd\" (sub-second \
         intervals of advskew/256 s); FreeBSD advbase is 1..=255"
    );
    engine.add_vhid(Time::ZERO, IF1, config()).unwrap();
    assert_eq!(
        engine.add_vhid(Time::ZERO, IF1, config()),
        Err(EngineError::DuplicateVhid { key: key(1) })
    );
    assert!(matches!(
        engine.handle_advert(Time::ZERO, key(2), advert(1, 1, 0)),
        Err(EngineError::UnknownVhid { .. })
    ));
}

#[test]
fn next_timeout_is_the_earliest_vhid_deadline() {
    let mut engine = Engine::new();
    engine.set_link(Time::ZERO, IF1, true);
    engine
        .add_vhid(Time::ZERO, IF1, config().advskew(200))
        .unwrap();
    engine
        .add_vhid(secs(0.5), IF1, VhidConfig::new(2, ip(5)))
        .unwrap();
    assert_eq!(
        engine.next_timeout(),
        Some(secs(3.5)),
        "vhid 2's master-down"
    );
    drain(&mut engine);
    engine.handle_timeout(secs(3.5));
    let actions = drain(&mut engine);
    assert_eq!(changes(&actions).len(), 1, "only vhid 2 was due");
    assert_eq!(changes(&actions)[0].0, 2);
    assert_eq!(
        engine.next_timeout(),
        Some(secs(3.0 + 200.0 / 256.0)),
        "vhid 1's"
    );
}

#[test]
fn removing_a_master_bows_out_and_reports_init() {
    let (mut engine, _) = master(config());
    engine.remove_vhid(secs(4.0), key(1)).unwrap();
    let actions = drain(&mut engine);
    assert_eq!(adverts(&actions), vec![(1, 255, 255, 0)], "the bow-out");
    assert_eq!(
        changes(&actions),
        vec![(1, State::Master, State::Init, Reason::Removed)]
    );
    assert_eq!(engine.state(key(1)), None);
    assert_eq!(engine.next_timeout(), None);
}

#[test]
fn removing_a_backup_sends_nothing() {
    let mut engine = backup(config());
    engine.remove_vhid(secs(1.0), key(1)).unwrap();
    let actions = drain(&mut engine);
    assert!(adverts(&actions).is_empty());
    assert_eq!(
        changes(&actions),
        vec![(1, State::Backup, State::Init, Reason::Removed)]
    );
}

#[test]
fn reconfiguring_a_master_keeps_it_and_advertises_new_timing_at_once() {
    let (mut engine, at) = master(config().advskew(10));
    let now = at + Duration::from_millis(100);
    engine
        .reconfigure_vhid(now, key(1), config().advskew(50).preempt(true))
        .unwrap();
    let actions = drain(&mut engine);
    assert!(changes(&actions).is_empty(), "no transition: {actions:?}");
    assert_eq!(adverts(&actions), vec![(1, 1, 50, 0)]);
    assert_eq!(engine.state(key(1)), Some(State::Master));
    assert_eq!(
        engine.next_timeout(),
        Some(now + Duration::from_secs(1) + Duration::from_secs(50) / 256)
    );
    // Only the preemption changed: nothing to tell the peers.
    engine
        .reconfigure_vhid(now, key(1), config().advskew(50))
        .unwrap();
    assert!(drain(&mut engine).is_empty());
}

#[test]
fn reconfiguring_a_backup_rearms_master_down_from_the_last_advert() {
    let mut engine = backup(config().advskew(100));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
        .unwrap();
    drain(&mut engine);
    engine
        .reconfigure_vhid(secs(1.5), key(1), config().advbase(2).advskew(100))
        .unwrap();
    assert!(drain(&mut engine).is_empty());
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    assert_eq!(
        engine.next_timeout(),
        Some(secs(1.0) + Duration::from_secs(6) + Duration::from_secs(100) / 256)
    );
}

#[test]
fn reconfiguring_checks_the_new_configuration() {
    let mut engine = backup(config());
    assert!(matches!(
        engine.reconfigure_vhid(secs(1.0), key(1), config().advbase(0)),
        Err(EngineError::Config { .. })
    ));
    assert!(matches!(
        engine.reconfigure_vhid(secs(1.0), key(2), config()),
        Err(EngineError::UnknownVhid { .. })
    ));
    assert_eq!(engine.status(key(1)).unwrap().config, config());
}

#[test]
fn backup_following_a_better_master_ignores_a_rival_it_would_preempt() {
    // ours: advskew 100, preempt. Master .1 (advskew 50) outranks us.
    let mut engine = backup(config().advskew(100).preempt(true));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 50))
        .unwrap();
    let armed = engine.next_timeout();
    // A rival we outrank (e.g. a demoted master's last advert): no takeover, timer untouched.
    engine
        .handle_advert(secs(1.1), key(1), advert(2, 1, 240))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Backup));
    assert!(drain(&mut engine).is_empty());
    assert_eq!(engine.next_timeout(), armed);
    assert_eq!(engine.status(key(1)).unwrap().master, Some(ip(1)));
    // Our own master demoted below us: preempt it.
    engine
        .handle_advert(secs(1.2), key(1), advert(1, 1, 240))
        .unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Master));
    // If the better master vanished, master-down still fires.
    let mut engine = backup(config().advskew(100).preempt(true));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 50))
        .unwrap();
    engine
        .handle_advert(secs(2.0), key(1), advert(2, 1, 240))
        .unwrap();
    engine.handle_timeout(secs(4.0 + 100.0 / 256.0));
    assert_eq!(engine.state(key(1)), Some(State::Master));
}

#[test]
fn backup_without_preemption_follows_whichever_master_it_hears() {
    let mut engine = backup(config().advskew(100));
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 50))
        .unwrap();
    engine
        .handle_advert(secs(2.0), key(1), advert(2, 1, 240))
        .unwrap();
    assert_eq!(engine.status(key(1)).unwrap().master, Some(ip(2)));
    assert_eq!(engine.next_timeout(), Some(secs(5.0 + 100.0 / 256.0)));
}

#[test]
fn bow_out_with_another_live_master() {
    let bow = advert(1, 255, 255);
    // ours: advskew 100, preempt on. (other master's advskew, heard how long before
    // the bow-out) -> takes over? A live master we would follow: follow it. One we
    // would preempt, or one silent for over 1.5 of its intervals (1.79 s for
    // advskew 50): take over.
    let cases = [
        (50, 0.5, false),
        (50, 1.75, false),
        (50, 1.85, true),
        (200, 0.5, true),
    ];
    for (advskew, silent, takes_over) in cases {
        let mut engine = backup(config().advskew(100).preempt(true));
        engine
            .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
            .unwrap();
        engine
            .handle_advert(secs(1.1), key(1), advert(2, 1, advskew))
            .unwrap();
        let at = 1.1 + silent;
        engine.handle_advert(secs(at), key(1), bow).unwrap();
        if takes_over {
            // After the bow-out delay (at most 356/1024 s here).
            engine.handle_timeout(secs(at + 0.35));
        }
        let expected = if takes_over {
            State::Master
        } else {
            State::Backup
        };
        assert_eq!(
            engine.state(key(1)),
            Some(expected),
            "{advskew} silent {silent}"
        );
        if !takes_over {
            let status = engine.status(key(1)).unwrap();
            assert_eq!(status.master, Some(ip(2)));
            assert_eq!(status.deadline, Some(secs(1.1 + 3.0 + 100.0 / 256.0)));
        }
    }
}

#[test]
fn will_time_out_threshold_follows_each_bsd() {
    // (flavor, our advbase, our advskew, master advbase, advskew) -> takes over?
    // FreeBSD and OpenBSD both compare the master's interval with
    // 3*advbase + advskew/256 (not 3*(advbase + advskew/256)); OpenBSD skips
    // the rule when its advbase is 0.
    let cases = [
        (Flavor::FreeBsd, 1, 200, 4, 0, true),
        (Flavor::OpenBsd, 1, 200, 4, 0, true), // 3.78 s < 4 s
        (Flavor::OpenBsd, 1, 200, 3, 201, true),
        (Flavor::OpenBsd, 1, 200, 3, 200, false),
        (Flavor::OpenBsd, 0, 100, 1, 0, false), // advbase 0: rule skipped
        (Flavor::OpenBsd, 0, 100, 2, 0, false),
    ];
    for (flavor, advbase, advskew, m_base, m_skew, takes_over) in cases {
        let cfg = config().flavor(flavor).advbase(advbase).advskew(advskew);
        let mut engine = backup(cfg);
        engine
            .handle_advert(secs(0.1), key(1), advert(1, m_base, m_skew))
            .unwrap();
        let label = format!("{flavor:?} {advbase}/{advskew} hears {m_base}/{m_skew}");
        let expected = if takes_over {
            State::Master
        } else {
            State::Backup
        };
        assert_eq!(engine.state(key(1)), Some(expected), "{label}");
        if takes_over {
            let text = changes(&drain(&mut engine))[0].3.to_string();
            assert!(text.contains("time-out threshold"), "{label}: {text}");
        }
    }
}

#[test]
fn openbsd_demotes_by_one_per_event_freebsd_by_240() {
    let mut engine = Engine::new();
    engine.set_link(Time::ZERO, IF1, true);
    engine.set_link(Time::ZERO, IF2, true);
    let obsd = VhidKey {
        iface: IF1,
        vhid: 1,
    };
    let fbsd = VhidKey {
        iface: IF1,
        vhid: 2,
    };
    engine
        .add_vhid(Time::ZERO, IF1, config().flavor(Flavor::OpenBsd))
        .unwrap();
    engine
        .add_vhid(Time::ZERO, IF1, VhidConfig::new(2, ip(5)).advskew(10))
        .unwrap();
    engine.handle_timeout(secs(3.5));
    drain(&mut engine);
    assert_eq!(engine.state(fbsd), Some(State::Master));
    // IF2 (an uplink carrying no vhid of these) goes down, then a send error
    // run on the OpenBSD vhid.
    engine.set_link(secs(4.0), IF2, false);
    let sent = adverts(&drain(&mut engine));
    assert!(
        sent.contains(&(1, 1, 0, 1)),
        "OpenBSD: demote byte 1: {sent:?}"
    );
    assert!(!sent.contains(&(2, 1, 250, 0)), "clamped to 240: {sent:?}");
    assert!(sent.contains(&(2, 1, 240, 0)), "FreeBSD: +240: {sent:?}");
    for _ in 0..3 {
        engine.report_send(secs(4.5), obsd, false).unwrap();
    }
    let sent = adverts(&drain(&mut engine));
    assert!(sent.contains(&(1, 1, 0, 2)), "one more event: {sent:?}");
    assert_eq!(engine.demotion_for(Flavor::OpenBsd), 2);
    assert_eq!(engine.demotion_for(Flavor::FreeBsd), 480);
    assert_eq!(engine.status(fbsd).unwrap().advertised.advskew, 240);
}

#[test]
fn freebsd_master_down_uses_the_configured_advskew() {
    let mut engine = backup(config().advskew(100));
    engine.demote(secs(1.0), 100);
    engine
        .handle_advert(secs(1.0), key(1), advert(1, 1, 0))
        .unwrap();
    // 3 + 100/256 s after the advert, not 3 + 200/256 s.
    assert_eq!(engine.next_timeout(), Some(secs(4.0 + 100.0 / 256.0)));
}

#[test]
fn reassertion_is_rate_limited_to_once_a_second() {
    let (mut engine, at) = master(config());
    let less_preferred = advert(1, 1, 100);
    let mut reasserts = Vec::new();
    for step in 0..30 {
        let now = at + Duration::from_millis(100 * step);
        engine.handle_advert(now, key(1), less_preferred).unwrap();
        let actions = drain(&mut engine);
        if actions
            .iter()
            .any(|a| matches!(a, Action::Reassert { peer, .. } if peer.source == ip(1)))
        {
            reasserts.push(step);
        }
    }
    assert_eq!(reasserts, vec![0, 10, 20]);
    assert_eq!(engine.state(key(1)), Some(State::Master));
}

/// A MASTER's schedule does not drift with late wake-ups: the next advert is
/// due one interval after the last was *due*. On a busy host a 3.9 ms
/// interval went out every 5.0 ms when it was counted from the wake-up. A
/// wake-up later than a whole interval starts afresh rather than bursting.
#[test]
fn advert_schedule_keeps_to_its_deadlines() {
    let interval = Duration::from_nanos(3_906_250);
    let (mut engine, at) = master(config().flavor(Flavor::OpenBsd).advbase(0).advskew(1));
    let mut due = at + interval;
    assert_eq!(engine.next_timeout(), Some(due));
    for late_us in [1000, 300, 2500, 0, 3800] {
        engine.handle_timeout(due + Duration::from_micros(late_us));
        assert_eq!(adverts(&drain(&mut engine)).len(), 1, "late {late_us} us");
        due += interval;
        assert_eq!(engine.next_timeout(), Some(due), "late {late_us} us");
    }
    let woke = due + interval * 3;
    engine.handle_timeout(woke);
    assert_eq!(
        adverts(&drain(&mut engine)).len(),
        1,
        "one advert, no burst"
    );
    assert_eq!(engine.next_timeout(), Some(woke + interval));
}

#[test]
fn an_adopted_vhid_comes_up_master_and_advertises_at_once() {
    let mut engine = Engine::new();
    engine.add_vhid(Time::ZERO, IF1, config()).unwrap();
    engine.adopt_master(Time::ZERO, key(1)).unwrap();
    assert_eq!(engine.state(key(1)), Some(State::Init));
    engine.set_link(secs(0.1), IF1, true);
    let actions = drain(&mut engine);
    assert_eq!(
        changes(&actions),
        vec![(1, State::Init, State::Master, Reason::Adopted)]
    );
    assert_eq!(adverts(&actions), vec![(1, 1, 0, 0)]);
    assert_eq!(engine.next_timeout(), Some(secs(1.1)));
}

#[test]
fn adoption_lapses_when_the_link_goes_down_first() {
    let mut engine = Engine::new();
    engine.add_vhid(Time::ZERO, IF1, config()).unwrap();
    engine.adopt_master(Time::ZERO, key(1)).unwrap();
    engine.set_link(secs(0.1), IF1, false);
    engine.set_link(secs(0.2), IF1, true);
    assert_eq!(
        changes(&drain(&mut engine)),
        vec![(1, State::Init, State::Backup, Reason::LinkUp)]
    );
}

#[test]
fn adopting_a_running_backup_takes_over_at_once() {
    let mut engine = backup(config().advskew(100));
    engine.adopt_master(secs(0.5), key(1)).unwrap();
    assert_eq!(
        changes(&drain(&mut engine)),
        vec![(1, State::Backup, State::Master, Reason::Adopted)]
    );
    assert!(matches!(
        engine.adopt_master(secs(0.5), key(2)),
        Err(EngineError::UnknownVhid { .. })
    ));
}
