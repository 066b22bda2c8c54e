//! The scenario catalogue. Host 0 is advskew 0 with --preempt (MASTER when
//! the fault starts), host 1 advskew 100 (or 50 in the three-host lab,
//! where host 2 is advskew 100). Each fault function injects its fault,
//! lifts it and restarts what it killed; the runner then checks the
//! invariants.
use std::time::{Duration, Instant};

use super::{
    OUTAGE_BOUND, Run, SLACK, Scenario, Setup,
    delay::DelayedPort,
    faults::{BridgeFilter, CpuQuota, busy_loops, forged_advert, link_flap},
};
use crate::{
    lab::Lab,
    packet::{AdvertSeen, Capture, PacketSocket, Replayer, rewrite_advert, with_source_mac},
};

/// The attacker's own MAC, so forged frames never move the switch's entry
/// for the virtual MAC (that would be a different attack).
const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x77];

const fn s(
    name: &'static str,
    hosts: usize,
    short: bool,
    calm: bool,
    what: &'static str,
    fault: fn(&mut Run) -> anyhow::Result<()>,
) -> Scenario {
    Scenario {
        name,
        hosts,
        short,
        calm,
        setup: Setup::Normal,
        what,
        fault,
    }
}

pub fn all() -> Vec<Scenario> {
    vec![
        s(
            "kill9-master",
            2,
            true,
            false,
            "kill -9 of the MASTER, restarted once the backup took over",
            kill9_master,
        ),
        s(
            "kill9-backup",
            2,
            false,
            true,
            "kill -9 of the BACKUP, restarted 2 s later",
            kill9_backup,
        ),
        s(
            "sigstop-master",
            2,
            true,
            false,
            "MASTER stopped (SIGSTOP) 5 s, then continued",
            stop_master,
        ),
        s(
            "sigstop-backup",
            2,
            true,
            true,
            "BACKUP stopped 5 s (longer than master-down), then continued",
            stop_backup,
        ),
        s(
            "link-flap-master",
            2,
            true,
            false,
            "the MASTER's eth0 down 4 s, then up",
            link_flap_master,
        ),
        s(
            "link-flap-backup",
            2,
            false,
            true,
            "the BACKUP's eth0 down 4 s, then up",
            link_flap_backup,
        ),
        s(
            "cut-master-to-backup",
            2,
            true,
            false,
            "one-way partition: the backup stops hearing the master for 6 s",
            cut_master_to_backup,
        ),
        s(
            "cut-backup-to-master",
            2,
            false,
            true,
            "one-way partition: the master stops hearing the backup for 6 s",
            cut_backup_to_master,
        ),
        s(
            "partition",
            2,
            false,
            false,
            "two-way partition between the hosts for 6 s",
            partition,
        ),
        s(
            "loss-1",
            2,
            false,
            true,
            "1 % random loss on every forwarded frame",
            loss_1,
        ),
        s(
            "loss-10",
            2,
            false,
            false,
            "10 % random loss on every forwarded frame",
            loss_10,
        ),
        s(
            "loss-30",
            2,
            true,
            false,
            "30 % random loss on every forwarded frame",
            loss_30,
        ),
        s(
            "delay-master",
            2,
            false,
            true,
            "the MASTER's frames delayed 300 ms + up to 300 ms jitter for 10 s (relay)",
            delay_master,
        ),
        s(
            "delay-backup",
            2,
            true,
            true,
            "the BACKUP's frames delayed 800 ms + up to 400 ms jitter for 10 s (relay)",
            delay_backup,
        ),
        s(
            "delay-backup-steady",
            2,
            false,
            true,
            "the BACKUP's frames delayed 800 ms, no jitter, for 10 s (relay)",
            delay_backup_steady,
        ),
        s(
            "cpu-starve-master",
            2,
            false,
            false,
            "the MASTER's agent held to 2 ms of CPU per second for 10 s (cgroup)",
            starve_master,
        ),
        s(
            "cpu-starve-backup",
            2,
            false,
            false,
            "the BACKUP's agent held to 2 ms of CPU per second for 10 s (cgroup)",
            starve_backup,
        ),
        s(
            "busy-machine",
            2,
            false,
            false,
            "busy loops on every CPU for 10 s (stress-ng)",
            busy_machine,
        ),
        s(
            "restart-loop-master",
            2,
            true,
            false,
            "the MASTER's agent restarted (SIGTERM, start) 4 times",
            restart_loop_master,
        ),
        s(
            "kill9-loop-backup",
            2,
            false,
            true,
            "the BACKUP's agent killed -9 and restarted 5 times, 0.5 s apart",
            kill9_loop_backup,
        ),
        s(
            "forged-flood",
            2,
            true,
            true,
            "5 s of adverts with advskew 0 and a wrong digest, as fast as one core sends",
            forged_flood,
        ),
        s(
            "forged-1k",
            2,
            false,
            true,
            "5 s of adverts with advskew 0 and a wrong digest, 1000 a second",
            forged_1k,
        ),
        Scenario {
            setup: Setup::BackupFirst,
            ..s(
                "replay-raised-rank",
                2,
                true,
                true,
                "the backup's captured adverts replayed with advskew 0, 10/s for 5 s",
                replay_raised_rank,
            )
        },
        s(
            "replay-dead-master",
            2,
            true,
            false,
            "kill -9 of the MASTER while its captured adverts are replayed",
            replay_dead_master,
        ),
        s(
            "kill9-master-3",
            3,
            true,
            false,
            "three hosts: kill -9 of the MASTER",
            kill9_master,
        ),
        s(
            "bow-out-3",
            3,
            true,
            false,
            "three hosts: SIGTERM of the MASTER, twice; only the advskew-50 host may take over",
            bow_out_3,
        ),
        s(
            "partition-3",
            3,
            false,
            false,
            "three hosts: the MASTER cut off both ways for 6 s",
            partition_3,
        ),
    ]
}

fn sleep(d: Duration) {
    std::thread::sleep(d);
}

fn kill9_master(run: &mut Run) -> anyhow::Result<()> {
    run.lab.kill9(0);
    run.expect_master(1, OUTAGE_BOUND, "after kill -9");
    run.start(0)
}

fn kill9_backup(run: &mut Run) -> anyhow::Result<()> {
    run.lab.kill9(1);
    sleep(Duration::from_secs(2));
    run.start(1)
}

fn stop_master(run: &mut Run) -> anyhow::Result<()> {
    run.lab.signal(0, libc::SIGSTOP);
    run.expect_master(1, OUTAGE_BOUND, "while the master was stopped");
    sleep(Duration::from_secs(1));
    run.lab.signal(0, libc::SIGCONT);
    Ok(())
}

fn stop_backup(run: &mut Run) -> anyhow::Result<()> {
    run.lab.signal(1, libc::SIGSTOP);
    sleep(Duration::from_secs(5));
    run.lab.signal(1, libc::SIGCONT);
    sleep(Duration::from_secs(2));
    Ok(())
}

fn link_flap_master(run: &mut Run) -> anyhow::Result<()> {
    link_flap(&run.lab, 0, Duration::from_secs(4))
}

fn link_flap_backup(run: &mut Run) -> anyhow::Result<()> {
    link_flap(&run.lab, 1, Duration::from_secs(4))
}

fn cut(run: &mut Run, pairs: &[(usize, usize)], duration: Duration) -> anyhow::Result<()> {
    let filter = BridgeFilter::new(&run.lab.switch)?;
    for &(from, to) in pairs {
        filter.cut(&Lab::port(from), &Lab::port(to))?;
    }
    sleep(duration);
    drop(filter);
    Ok(())
}

fn cut_master_to_backup(run: &mut Run) -> anyhow::Result<()> {
    cut(run, &[(0, 1)], Duration::from_secs(6))
}

fn cut_backup_to_master(run: &mut Run) -> anyhow::Result<()> {
    cut(run, &[(1, 0)], Duration::from_secs(6))
}

fn partition(run: &mut Run) -> anyhow::Result<()> {
    cut(run, &[(0, 1), (1, 0)], Duration::from_secs(6))
}

fn partition_3(run: &mut Run) -> anyhow::Result<()> {
    cut(
        run,
        &[(0, 1), (1, 0), (0, 2), (2, 0)],
        Duration::from_secs(6),
    )
}

fn loss(run: &mut Run, percent: u8) -> anyhow::Result<()> {
    let filter = BridgeFilter::new(&run.lab.switch)?;
    filter.loss(percent)?;
    sleep(run.pick(Duration::from_secs(10), Duration::from_secs(30)));
    drop(filter);
    Ok(())
}

fn loss_1(run: &mut Run) -> anyhow::Result<()> {
    loss(run, 1)
}

fn loss_10(run: &mut Run) -> anyhow::Result<()> {
    loss(run, 10)
}

fn loss_30(run: &mut Run) -> anyhow::Result<()> {
    loss(run, 30)
}

fn delay(run: &mut Run, i: usize, delay: Duration, jitter: Duration) -> anyhow::Result<()> {
    let relay = DelayedPort::insert(&run.lab, i, delay, jitter)?;
    sleep(Duration::from_secs(10));
    drop(relay);
    Ok(())
}

fn delay_master(run: &mut Run) -> anyhow::Result<()> {
    delay(
        run,
        0,
        Duration::from_millis(300),
        Duration::from_millis(300),
    )
}

fn delay_backup_steady(run: &mut Run) -> anyhow::Result<()> {
    delay(run, 1, Duration::from_millis(800), Duration::ZERO)
}

/// Jitter stays under half an interval (500 ms at advbase 1): a sealed
/// advert later than that behind its sender's quickest of the last 10 s is
/// refused as held back and replayed (docs/protocol.md, replay checks), so
/// more jitter makes the backup lose adverts by design.
fn delay_backup(run: &mut Run) -> anyhow::Result<()> {
    delay(
        run,
        1,
        Duration::from_millis(800),
        Duration::from_millis(400),
    )
}

fn starve(run: &mut Run, i: usize) -> anyhow::Result<()> {
    // 2 ms of CPU per second: the agent may not run for most of a second.
    let quota = CpuQuota::apply(
        run.pid(i)?,
        Duration::from_millis(2),
        Duration::from_secs(1),
    )?;
    run.cgroups.push(quota.dir());
    sleep(Duration::from_secs(10));
    drop(quota);
    Ok(())
}

fn starve_master(run: &mut Run) -> anyhow::Result<()> {
    starve(run, 0)
}

fn starve_backup(run: &mut Run) -> anyhow::Result<()> {
    starve(run, 1)
}

fn busy_machine(_run: &mut Run) -> anyhow::Result<()> {
    busy_loops(Duration::from_secs(10))
}

fn restart_loop_master(run: &mut Run) -> anyhow::Result<()> {
    for _ in 0..4 {
        run.lab.terminate(0)?;
        run.expect_master(1, Duration::from_secs(1) + SLACK, "after the bow-out");
        run.start(0)?;
        run.expect_master(0, Duration::from_secs(5), "after its restart (preempt)");
    }
    Ok(())
}

fn kill9_loop_backup(run: &mut Run) -> anyhow::Result<()> {
    for _ in 0..5 {
        run.lab.kill9(1);
        run.start(1)?;
        sleep(Duration::from_millis(500));
    }
    Ok(())
}

fn forged_flood(run: &mut Run) -> anyhow::Result<()> {
    forged(run, None)
}

fn forged_1k(run: &mut Run) -> anyhow::Result<()> {
    forged(run, Some(1000))
}

/// 5 s of forged adverts, `per_second` or as fast as the socket takes them.
fn forged(run: &mut Run, per_second: Option<u32>) -> anyhow::Result<()> {
    let socket = PacketSocket::open(&run.attacker, "eth0")?;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut counter = 0x1000u64;
    while start.elapsed() < Duration::from_secs(5) {
        counter += 1;
        let frame = forged_advert([10, 77, 0, 66], counter, ATTACKER_MAC);
        if socket.send(&frame).is_ok() {
            sent += 1;
        }
        if let Some(rate) = per_second {
            // Paced against the start, so slow sends do not lower the rate.
            let due = Duration::from_secs_f64(sent as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                sleep(wait);
            }
        }
    }
    let counted = |i: usize| {
        let badauth = run.lab.counter(i, "badauth").unwrap_or_default();
        let accepted = run.lab.counter(i, "accepted").unwrap_or_default();
        format!(
            "{} badauth {badauth} accepted {accepted}",
            run.lab.hosts[i].name
        )
    };
    run.notes.push(format!(
        "{sent} forged adverts sent in 5 s; {}, {}",
        counted(0),
        counted(1)
    ));
    Ok(())
}

fn replay_raised_rank(run: &mut Run) -> anyhow::Result<()> {
    let forged: Vec<Vec<u8>> = run
        .captured_backup
        .iter()
        .filter_map(|f| rewrite_advert(f, 0, 0, ATTACKER_MAC))
        .collect();
    let replay = Replayer::start(
        PacketSocket::open(&run.attacker, "eth0")?,
        forged,
        Duration::from_millis(100),
    );
    sleep(Duration::from_secs(5));
    let sent = replay.stop();
    run.notes.push(format!("{sent} forged replays"));
    Ok(())
}

fn replay_dead_master(run: &mut Run) -> anyhow::Result<()> {
    let capture = Capture::start(&run.attacker, "eth0")?;
    sleep(Duration::from_millis(2500));
    let captured: Vec<Vec<u8>> = capture
        .finish()
        .iter()
        .filter(|f| AdvertSeen::parse(&f.bytes).is_some_and(|a| a.src == [10, 77, 0, 11]))
        .map(|f| with_source_mac(&f.bytes, ATTACKER_MAC))
        .collect();
    anyhow::ensure!(
        !captured.is_empty(),
        "captured none of the master's adverts"
    );
    run.lab.kill9(0);
    let replay = Replayer::start(
        PacketSocket::open(&run.attacker, "eth0")?,
        captured,
        Duration::from_millis(100),
    );
    run.expect_master(1, OUTAGE_BOUND, "after kill -9 under replay");
    sleep(Duration::from_secs(2));
    let sent = replay.stop();
    run.notes.push(format!("{sent} replayed"));
    run.start(0)
}

fn bow_out_3(run: &mut Run) -> anyhow::Result<()> {
    let to_master = |run: &Run| {
        run.lab
            .log(2)
            .lines()
            .filter(|l| l.contains("-> MASTER"))
            .count()
    };
    for round in 1..=2 {
        if round > 1 {
            run.start(0)?;
            run.expect_master(0, Duration::from_secs(5), "after its restart (preempt)");
            // The backups forget the advskew-50 host's adverts (they
            // ignore a bow-out while another master they would follow
            // was heard within 1.5 of their intervals).
            sleep(Duration::from_millis(2500));
        }
        let before = to_master(run);
        run.lab.terminate(0)?;
        run.expect_master(1, Duration::from_secs(1) + SLACK, "after the bow-out");
        sleep(Duration::from_millis(1500));
        if to_master(run) > before {
            run.problems.push(format!(
                "the advskew-100 host became MASTER after bow-out {round}"
            ));
        }
    }
    run.start(0)
}
