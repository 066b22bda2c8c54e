//! `carp_flood`: hostile CARP/ARP traffic as fast as an interface takes it
//! (see `carp_tests::flood`). Run it in the attacker's namespace:
//!
//! ```text
//! carp_flood <interface> wrong-hmac <vhid> <fixed:A.B.C.D|random> <count> <seconds>
//! carp_flood <interface> replay     <vhid> <fixed|random>         <count> <seconds>
//! carp_flood <interface> arp        <A.B.C.D>                     <count> <seconds>
//! ```
//!
//! Prints one line: `sent=<frames> refused=<n> seconds=<s> rate=<frames/s>`.
use std::time::Duration;

use anyhow::{Context as _, bail};
use carp_tests::flood::{self, PacketSocket, Source};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [interface, kind, what, rest @ ..] = args.as_slice() else {
        bail!(
            "usage: carp_flood <interface> wrong-hmac|replay|arp <vhid|VIP> [source] <count> <seconds>"
        );
    };
    let (source_text, count, seconds) = match (kind.as_str(), rest) {
        ("arp", [count, seconds]) => (None, count, seconds),
        (_, [source, count, seconds]) => (Some(source.as_str()), count, seconds),
        _ => bail!("wrong number of arguments for {kind}"),
    };
    let count: u64 = count.parse().with_context(|| format!("count {count:?}"))?;
    let seconds: f64 = seconds
        .parse()
        .with_context(|| format!("seconds {seconds:?}"))?;
    if !(0.0..=3600.0).contains(&seconds) {
        bail!("seconds {seconds} not in 0..=3600");
    }
    let parse_source = |text: Option<&str>| -> anyhow::Result<Source> {
        match text {
            Some("random") => Ok(Source::Random),
            Some("fixed") => Ok(Source::Fixed([0; 4])),
            Some(t) => {
                let addr = t
                    .strip_prefix("fixed:")
                    .context("source: fixed:ADDR or random")?;
                let addr: std::net::Ipv4Addr =
                    addr.parse().with_context(|| format!("source {t:?}"))?;
                Ok(Source::Fixed(addr.octets()))
            }
            None => bail!("no source given"),
        }
    };
    let socket = PacketSocket::open(interface)?;
    let seed = u64::from(std::process::id());
    let variants = match kind.as_str() {
        "wrong-hmac" => flood::wrong_hmac(vhid(what)?, parse_source(source_text)?, seed),
        "replay" => {
            let captured = socket.capture_advert(vhid(what)?, Duration::from_secs(5))?;
            flood::replay(&captured, parse_source(source_text)?, seed)?
        }
        "arp" => {
            let target: std::net::Ipv4Addr =
                what.parse().with_context(|| format!("VIP {what:?}"))?;
            flood::arp(target.octets(), seed)
        }
        other => bail!("unknown kind {other:?}: wrong-hmac, replay or arp"),
    };
    let sent = flood::send(&socket, &variants, count, Duration::from_secs_f64(seconds))?;
    println!(
        "sent={} refused={} seconds={:.3} rate={:.0}",
        sent.frames,
        sent.refused,
        sent.elapsed.as_secs_f64(),
        sent.per_second()
    );
    Ok(())
}

fn vhid(text: &str) -> anyhow::Result<u8> {
    match text.parse::<u8>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => bail!("vhid {text:?}: expected 1..=255"),
    }
}
