//! `cargo xtask demo`: two routers and a client in network namespaces, a
//! real election, the MASTER killed with -9 while the client pings the VIP,
//! the measured outage, and the old MASTER coming back (it preempts).
use std::time::{Duration, Instant};

use anyhow::Context as _;
use carp_tests::lab::{Lab, vhid1_args};

const VIP: &str = "10.77.0.100";

fn step(start: Instant, text: &str) {
    println!("[{:6.2}s] {text}", start.elapsed().as_secs_f64());
}

fn show_status(lab: &Lab, i: usize) {
    if let Ok(out) = lab.control(i, &["status"]) {
        for line in String::from_utf8_lossy(&out.stdout).lines().take(3) {
            println!("           {}: {line}", lab.hosts[i].name);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let start = Instant::now();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    anyhow::ensure!(euid == 0, "the demo needs root (namespaces, XDP)");
    let mut lab = Lab::new("demo", 2).context("building the lab")?;
    step(
        start,
        "lab: router1 (10.77.0.11, advskew 0), router2 (10.77.0.12, advskew 100), client (10.77.0.200) on one bridge",
    );
    step(
        start,
        "both routers run: carp-agent run --interface eth0 --vhid 1 --vip 10.77.0.100/24 --preempt ...",
    );
    lab.start_agent(0, &vhid1_args("0", true))?;
    lab.start_agent(1, &vhid1_args("100", true))?;
    let took = lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))?;
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))?;
    step(
        start,
        &format!(
            "election done in {:.2} s: router1 MASTER, router2 BACKUP",
            took.as_secs_f64()
        ),
    );
    show_status(&lab, 0);
    show_status(&lab, 1);

    let probe = lab.probe(VIP)?;
    std::thread::sleep(Duration::from_secs(2));
    step(
        start,
        "client pings the VIP every 10 ms; now: kill -9 router1's agent (no goodbye)",
    );
    lab.kill9(0);
    let took = lab.wait_state(1, 1, "MASTER", Duration::from_secs(6))?;
    step(
        start,
        &format!(
            "router2 is MASTER {:.2} s later (master-down = 3 x advbase + advskew/256 = 3.39 s after the last advert)",
            took.as_secs_f64()
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    let result = probe.finish();
    step(
        start,
        &format!(
            "client outage: {:.2} s ({} replies in {:.1} s)",
            result.longest_gap.as_secs_f64(),
            result.replies,
            result.sent_for.as_secs_f64()
        ),
    );

    step(
        start,
        "router1's agent starts again: it is more preferred and has --preempt",
    );
    let probe = lab.probe(VIP)?;
    lab.start_agent(0, &vhid1_args("0", true))?;
    let took = lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))?;
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(3))?;
    std::thread::sleep(Duration::from_secs(1));
    let result = probe.finish();
    step(
        start,
        &format!(
            "router1 MASTER again after {:.2} s, router2 BACKUP; outage during the handback: {:.2} s",
            took.as_secs_f64(),
            result.longest_gap.as_secs_f64()
        ),
    );
    show_status(&lab, 0);
    println!("\nrouter2's log:");
    for line in lab.log(1).lines().filter(|l| l.contains("->")) {
        println!("  {line}");
    }
    lab.terminate(0)?;
    lab.terminate(1)?;
    drop(lab);
    step(start, "cleaned up: agents stopped, namespaces removed");
    Ok(())
}
