//! The snapshot in the OpenMetrics text format (which Prometheus asks for
//! first and parses natively), encoded by the `prometheus-client` crate.
//! Every metric and label is listed in docs/metrics.md.
use std::fmt;

use carp_common::Stat;
use prometheus_client::{
    encoding::{EncodeLabelSet, text},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::snapshot::{Snapshot, VhidSnapshot, state_number};
use crate::control::VhidState;

/// The `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VhidLabels {
    interface: String,
    vhid: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    interface: String,
    vhid: u8,
    /// The state entered: `INIT`, `BACKUP` or `MASTER`.
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FamilyLabels {
    interface: String,
    vhid: u8,
    /// `ipv4` or `ipv6`.
    family: &'static str,
}

type GaugeFamily<L> = Family<L, Gauge>;
type CounterFamily<L> = Family<L, Counter>;

/// The snapshot as an OpenMetrics text exposition, `# EOF` included.
pub fn encode(snapshot: &Snapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    host_metrics(&mut registry, snapshot);
    vhid_metrics(&mut registry, &snapshot.vhids);
    for (name, value) in &snapshot.agent_counters {
        let metric = name.strip_prefix("agent_").unwrap_or(name);
        let help = agent_help(name).unwrap_or("carp-agent counter, see docs/metrics.md");
        registry.register(format!("carp_agent_{metric}"), help, counter(*value));
    }
    registry.register(
        "carp_xdp_counters_readable",
        "1 if the XDP statistics map could be read for this scrape, 0 if not (then no carp_xdp_* counter is shown)",
        gauge(i64::from(snapshot.xdp.is_some())),
    );
    if let Some(stats) = &snapshot.xdp {
        for stat in Stat::ALL {
            let name = format!("carp_xdp_{}", stat.name());
            registry.register(name, xdp_help(*stat), counter(stats.get(*stat)));
        }
    }
    let mut out = String::new();
    text::encode(&mut out, &registry)?;
    Ok(out)
}

fn host_metrics(registry: &mut Registry, snapshot: &Snapshot) {
    let info = GaugeFamily::<InfoLabels>::default();
    info.get_or_create(&InfoLabels {
        version: env!("CARGO_PKG_VERSION"),
    })
    .set(1);
    registry.register(
        "carp_agent_info",
        "Always 1; the label carries the carp-agent version",
        info,
    );
    registry.register(
        "carp_demotion",
        "Host demotion added to every vhid's advskew (net.inet.carp.demotion), all sources summed",
        gauge(i64::from(snapshot.demotion)),
    );
    let by_source = GaugeFamily::<SourceLabels>::default();
    for (source, value) in &snapshot.demotion_sources {
        let labels = SourceLabels {
            source: source.clone(),
        };
        by_source.get_or_create(&labels).set(i64::from(*value));
    }
    registry.register(
        "carp_demotion_source",
        "Host demotion by source; the sum over sources is carp_demotion",
        by_source,
    );
}

fn vhid_metrics(registry: &mut Registry, vhids: &[VhidSnapshot]) {
    let state = GaugeFamily::<VhidLabels>::default();
    let advbase = GaugeFamily::<VhidLabels>::default();
    let advskew = GaugeFamily::<VhidLabels>::default();
    let advskew_effective = GaugeFamily::<VhidLabels>::default();
    let transitions = CounterFamily::<StateLabels>::default();
    let sent = CounterFamily::<FamilyLabels>::default();
    let send_errors = CounterFamily::<VhidLabels>::default();
    let received = CounterFamily::<VhidLabels>::default();
    let badauth = CounterFamily::<VhidLabels>::default();
    let replayed = CounterFamily::<VhidLabels>::default();
    let badtag = CounterFamily::<VhidLabels>::default();
    for v in vhids {
        let labels = VhidLabels {
            interface: v.interface.clone(),
            vhid: v.vhid,
        };
        state.get_or_create(&labels).set(state_number(v.state));
        advbase.get_or_create(&labels).set(i64::from(v.advbase));
        advskew.get_or_create(&labels).set(i64::from(v.advskew));
        advskew_effective
            .get_or_create(&labels)
            .set(i64::from(v.advskew_effective));
        for to in [VhidState::Init, VhidState::Backup, VhidState::Master] {
            let labels = StateLabels {
                interface: v.interface.clone(),
                vhid: v.vhid,
                state: state_name(to),
            };
            transitions
                .get_or_create(&labels)
                .inc_by(v.counters.entered(to));
        }
        for (family, value) in [("ipv4", v.counters.sent_v4), ("ipv6", v.counters.sent_v6)] {
            let labels = FamilyLabels {
                interface: v.interface.clone(),
                vhid: v.vhid,
                family,
            };
            sent.get_or_create(&labels).inc_by(value);
        }
        let c = &v.counters;
        send_errors.get_or_create(&labels).inc_by(c.send_errors);
        received.get_or_create(&labels).inc_by(c.received);
        badauth.get_or_create(&labels).inc_by(c.badauth);
        replayed.get_or_create(&labels).inc_by(c.replayed);
        badtag.get_or_create(&labels).inc_by(c.badtag);
    }
    registry.register(
        "carp_vhid_state",
        "State of the vhid, numbered as keepalived numbers VRRP states: 0 INIT, 1 BACKUP, 2 MASTER (3, FAULT, does not exist in CARP)",
        state,
    );
    registry.register(
        "carp_vhid_advbase",
        "Advertisement interval in seconds",
        advbase,
    );
    registry.register("carp_vhid_advskew", "Configured advskew (1/256 s)", advskew);
    registry.register(
        "carp_vhid_advskew_effective",
        "Advskew this host advertises now, demotion included",
        advskew_effective,
    );
    registry.register(
        "carp_vhid_transitions",
        "State changes of the vhid, by the state entered",
        transitions,
    );
    registry.register(
        "carp_vhid_adverts_sent",
        "Adverts sent, by address family",
        sent,
    );
    registry.register(
        "carp_vhid_advert_send_errors",
        "Adverts the kernel refused to send",
        send_errors,
    );
    registry.register(
        "carp_vhid_adverts_received",
        "Adverts from peers accepted by the agent (authentication and replay checks passed)",
        received,
    );
    registry.register(
        "carp_vhid_badauth",
        "Adverts that reached the agent and failed its HMAC check (the XDP program drops most before: carp_xdp_badauth_total)",
        badauth,
    );
    registry.register(
        "carp_vhid_replayed",
        "Authenticated adverts the agent refused as replayed or late",
        replayed,
    );
    registry.register(
        "carp_vhid_badtag",
        "Authenticated adverts refused for lacking the carp-agent tag where one is required",
        badtag,
    );
}

fn state_name(state: VhidState) -> &'static str {
    match state {
        VhidState::Init => "INIT",
        VhidState::Backup => "BACKUP",
        VhidState::Master => "MASTER",
    }
}

fn gauge(value: i64) -> Gauge {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    gauge
}

fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

/// Help for the agent's own counters, by their `carp-agent status` name.
fn agent_help(name: &str) -> Option<&'static str> {
    Some(match name {
        "accepted" => "Adverts from peers accepted, all vhids",
        "agent_badauth" => "Adverts that reached the agent and failed its HMAC check, all vhids",
        "agent_badvhid" => {
            "Adverts that reached the agent for a vhid not configured on their interface"
        }
        "malformed" => {
            "Adverts the agent could not decode although the XDP program passed them (a bug, not input)"
        }
        "opackets" => "Adverts sent over IPv4, all vhids",
        "opackets6" => "Adverts sent over IPv6, all vhids",
        "oerrors" => "Adverts the kernel refused to send, all vhids",
        "transitions" => "State changes, all vhids",
        "reasserts" => "Times a MASTER re-announced its VIPs against a less preferred master",
        "agent_replayed" => {
            "Authenticated adverts the agent refused as replayed or late, all vhids"
        }
        "badtag" => "Authenticated adverts refused for lacking the carp-agent tag, all vhids",
        _ => return None,
    })
}

/// Help for the XDP program's counters (docs/maps.md has the full story).
fn xdp_help(stat: Stat) -> &'static str {
    match stat {
        Stat::Ipackets => "IPv4 protocol-112 packets seen by the XDP program",
        Stat::Ipackets6 => "IPv6 protocol-112 packets seen by the XDP program",
        Stat::Hdrops => "Protocol-112 frames too short for the headers they announce (dropped)",
        Stat::Badttl => "Protocol-112 packets with TTL or hop limit not 255 (dropped)",
        Stat::Badlen => "Protocol-112 packets with inconsistent IP length fields (dropped)",
        Stat::Badver => "CARP packets with a version other than 2 or type other than 1 (dropped)",
        Stat::Badsum => "CARP packets with a wrong checksum (dropped)",
        Stat::Badvhid => "CARP adverts for a vhid not configured on the interface (dropped)",
        Stat::Badauth => "CARP adverts with a wrong HMAC, checked in XDP (dropped)",
        Stat::Replayed => "CARP adverts replaying a counter already seen, checked in XDP (dropped)",
        Stat::Ratelimited => "CARP adverts from new sources beyond the vhid's budget (dropped)",
        Stat::Adverts => "Valid CARP adverts queued to the agent",
        Stat::RingbufFull => "Valid CARP adverts lost because the ring buffer was full",
        Stat::VrrpPassed => "Protocol-112 packets that are not CARP (VRRP), passed untouched",
        Stat::VrrpClash => {
            "VRRP adverts whose id is a local virtual-MAC vhid (same virtual MAC), passed"
        }
        Stat::ArpReplies => "ARP requests for a MASTER VIP answered by XDP",
        Stat::ArpSuppressed => {
            "ARP requests for a VIP not owned, and gratuitous ARPs for a VIP (dropped)"
        }
        Stat::NdReplies => "Neighbor Solicitations for a MASTER VIP answered by XDP",
        Stat::NdSuppressed => "Neighbor Solicitations for a VIP not owned (dropped)",
        Stat::VmacAccepted => {
            "Frames to a MASTER vhid's virtual MAC, rewritten to the NIC MAC and passed"
        }
        Stat::VmacDropped => "Frames to the virtual MAC of a vhid not MASTER (dropped)",
        Stat::NdEgressRewritten => {
            "Neighbor Discovery sent from a MASTER VIP, rewritten to the virtual MAC on egress"
        }
        Stat::Badpeer => {
            "Unicast adverts from a source that is no configured peer of the vhid (dropped)"
        }
    }
}

#[cfg(test)]
mod tests {
    use carp_common::Stats;

    use super::*;
    use crate::{daemon::AgentCounters, metrics::snapshot::VhidCounters};

    fn vhid(interface: &str, vhid: u8, state: VhidState) -> VhidSnapshot {
        VhidSnapshot {
            interface: interface.to_string(),
            vhid,
            state,
            advbase: 1,
            advskew: 100,
            advskew_effective: 120,
            counters: VhidCounters::default(),
        }
    }

    /// The exposition's sample lines as (series, value).
    fn samples(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                (series.to_string(), value.to_string())
            })
            .collect()
    }

    fn value(text: &str, series: &str) -> Option<String> {
        samples(text)
            .into_iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| v)
    }

    #[test]
    fn vhid_states_counters_and_labels() {
        let mut master = vhid("eth0", 7, VhidState::Master);
        master.counters.sent_v4 = 42;
        master
            .counters
            .count_transition(crate::engine::State::Backup);
        master
            .counters
            .count_transition(crate::engine::State::Master);
        let snapshot = Snapshot {
            demotion: 240,
            vhids: vec![master, vhid("eth1", 9, VhidState::Backup)],
            ..Snapshot::default()
        };
        let text = encode(&snapshot).unwrap();
        let v = |s: &str| value(&text, s);
        assert_eq!(
            v(r#"carp_vhid_state{interface="eth0",vhid="7"}"#).as_deref(),
            Some("2")
        );
        assert_eq!(
            v(r#"carp_vhid_state{interface="eth1",vhid="9"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(
            v(r#"carp_vhid_adverts_sent_total{interface="eth0",vhid="7",family="ipv4"}"#)
                .as_deref(),
            Some("42")
        );
        assert_eq!(
            v(r#"carp_vhid_transitions_total{interface="eth0",vhid="7",state="MASTER"}"#)
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            v(r#"carp_vhid_transitions_total{interface="eth1",vhid="9",state="INIT"}"#).as_deref(),
            Some("0")
        );
        assert_eq!(v("carp_demotion").as_deref(), Some("240"));
        assert_eq!(
            v(r#"carp_vhid_advskew_effective{interface="eth0",vhid="7"}"#).as_deref(),
            Some("120")
        );
        let version = format!(
            r#"carp_agent_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(v(&version).as_deref(), Some("1"));
        assert!(text.contains("# TYPE carp_vhid_state gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE carp_vhid_adverts_sent counter\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn every_xdp_and_agent_counter_is_shown_with_its_own_help() {
        let stats = Stats {
            badauth: 5,
            arp_replies: 3,
            ..Stats::default()
        };
        let mut agent = AgentCounters::default();
        agent.badauth = 4;
        agent.opackets = 11;
        let snapshot = Snapshot {
            agent_counters: agent.named().to_vec(),
            xdp: Some(stats),
            ..Snapshot::default()
        };
        let text = encode(&snapshot).unwrap();
        for stat in Stat::ALL {
            let name = format!("carp_xdp_{}_total", stat.name());
            assert_eq!(
                value(&text, &name),
                Some(stats.get(*stat).to_string()),
                "{name}"
            );
        }
        assert_eq!(value(&text, "carp_xdp_badauth_total").as_deref(), Some("5"));
        assert_eq!(
            value(&text, "carp_agent_badauth_total").as_deref(),
            Some("4")
        );
        assert_eq!(
            value(&text, "carp_agent_opackets_total").as_deref(),
            Some("11")
        );
        assert_eq!(
            value(&text, "carp_xdp_counters_readable").as_deref(),
            Some("1")
        );
        for (name, _) in agent.named() {
            assert!(
                agent_help(name).is_some(),
                "{name} needs a help text (and docs/metrics.md)"
            );
        }
        // Each metric once: a name registered twice would be a broken exposition.
        let mut types: Vec<_> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let all = types.len();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), all);
    }

    #[test]
    fn unreadable_xdp_counters_are_said_not_zeroed() {
        let text = encode(&Snapshot::default()).unwrap();
        assert_eq!(
            value(&text, "carp_xdp_counters_readable").as_deref(),
            Some("0")
        );
        assert!(!text.contains("carp_xdp_badauth"), "{text}");
    }

    #[test]
    fn demotion_by_source_sums_beside_the_total() {
        let snapshot = Snapshot {
            demotion: 300,
            demotion_sources: vec![("admin".to_string(), 240), ("link".to_string(), 60)],
            ..Snapshot::default()
        };
        let text = encode(&snapshot).unwrap();
        assert_eq!(value(&text, "carp_demotion").as_deref(), Some("300"));
        assert_eq!(
            value(&text, r#"carp_demotion_source{source="admin"}"#).as_deref(),
            Some("240")
        );
        assert_eq!(
            value(&text, r#"carp_demotion_source{source="link"}"#).as_deref(),
            Some("60")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let snapshot = Snapshot {
            vhids: vec![vhid("we\"ird\\if\n", 1, VhidState::Init)],
            ..Snapshot::default()
        };
        let text = encode(&snapshot).unwrap();
        assert!(
            text.contains(r#"carp_vhid_state{interface="we\"ird\\if\n",vhid="1"} 0"#),
            "{text}"
        );
    }
}
