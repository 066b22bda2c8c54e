//! `cargo xtask chaos [--short] [--list] [FILTER]`: the chaos suite
//! (docs/chaos.md). Runs each scenario whose name contains FILTER, prints a
//! table and exits 1 if any scenario broke an invariant.
use std::time::Instant;

use carp_tests::chaos;

fn main() {
    let mut short = false;
    let mut list = false;
    let mut filter = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--short" => short = true,
            "--list" => list = true,
            "-h" | "--help" => {
                println!("usage: carp_chaos [--short] [--list] [FILTER]");
                return;
            }
            other if other.starts_with('-') => {
                eprintln!("carp_chaos: unknown option {other}");
                std::process::exit(2);
            }
            other => filter = Some(other.to_string()),
        }
    }
    let scenarios: Vec<_> = chaos::scenarios()
        .into_iter()
        .filter(|s| !short || s.short)
        .filter(|s| filter.as_deref().is_none_or(|f| s.name.contains(f)))
        .collect();
    if list {
        for s in &scenarios {
            println!(
                "{:<22} {} hosts{}{}  {}",
                s.name,
                s.hosts,
                if s.short { ", short" } else { "" },
                if s.calm { ", calm" } else { "" },
                s.what
            );
        }
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("carp_chaos: needs root (namespaces, XDP, nftables, cgroups)");
        std::process::exit(2);
    }
    if scenarios.is_empty() {
        eprintln!("carp_chaos: no scenario matches");
        std::process::exit(2);
    }
    let start = Instant::now();
    let mut rows = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        println!("chaos: {} ({})", scenario.name, scenario.what);
        let row = chaos::run(scenario, index, !short);
        println!(
            "{}",
            chaos::table(std::slice::from_ref(&row))
                .lines()
                .nth(1)
                .unwrap_or_default()
        );
        rows.push(row);
    }
    println!("\n{}", chaos::table(&rows));
    let failed = rows.iter().filter(|r| !r.passed()).count();
    println!(
        "{} scenarios, {failed} failed, {:.0} s",
        rows.len(),
        start.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
