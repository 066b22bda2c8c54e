//! Answers to control requests: status like FreeBSD's `ifconfig`, demotion
//! like `sysctl net.inet.carp.demotion`, state like `ifconfig em0 vhid 1 state backup`.
use std::collections::BTreeMap;

use carp_common::Stat;

use super::Daemon;
use crate::{
    control::{Request, Response, StatusReport, VhidReport},
    engine::AdminState,
};

pub(super) fn handle(daemon: &mut Daemon, request: Request) -> Response {
    let now = daemon.now();
    match request {
        Request::Status => Response {
            ok: true,
            error: None,
            status: Some(report(daemon)),
        },
        Request::Demote { delta } => {
            daemon.engine.demote(now, delta);
            ok(daemon)
        }
        Request::SetDemotion { value } => {
            daemon.engine.set_demotion(now, value);
            ok(daemon)
        }
        Request::SetState {
            vhid,
            interface,
            state,
        } => {
            let keys: Vec<_> = daemon
                .vhids
                .iter()
                .filter(|(k, rt)| {
                    k.vhid == vhid && interface.as_ref().is_none_or(|i| *i == rt.interface)
                })
                .map(|(k, _)| *k)
                .collect();
            if keys.is_empty() {
                return error(format!(
                    "no vhid {vhid}{} configured",
                    interface.map(|i| format!(" on {i}")).unwrap_or_default()
                ));
            }
            let admin: AdminState = state.into();
            for key in keys {
                if let Err(err) = daemon.engine.admin_set_state(now, key, admin) {
                    return error(err.to_string());
                }
            }
            ok(daemon)
        }
    }
}

fn ok(daemon: &Daemon) -> Response {
    Response {
        ok: true,
        error: None,
        status: Some(report(daemon)),
    }
}

fn error(message: String) -> Response {
    Response {
        ok: false,
        error: Some(message),
        status: None,
    }
}

fn report(daemon: &Daemon) -> StatusReport {
    let demotion = daemon.engine.demotion();
    let vhids = daemon
        .vhids
        .iter()
        .map(|(key, rt)| {
            let status = daemon.engine.status(*key);
            VhidReport {
                interface: rt.interface.clone(),
                vhid: key.vhid,
                state: rt.state.to_string(),
                advbase: rt.settings.advbase,
                advskew: rt.settings.advskew,
                advskew_effective: status
                    .as_ref()
                    .map(|s| s.advertised.advskew)
                    .unwrap_or(rt.settings.advskew),
                demotion,
                preempt: rt.settings.preempt,
                vips: rt.vip_strings(),
                master: status.and_then(|s| s.master).map(|m| m.to_string()),
            }
        })
        .collect();
    let mut counters = BTreeMap::new();
    if let Ok(stats) = daemon.dataplane.stats() {
        for stat in Stat::ALL {
            counters.insert(stat.name().to_string(), stats.get(*stat));
        }
    }
    for (name, value) in daemon.counters.named() {
        counters.insert(name.to_string(), value);
    }
    StatusReport {
        demotion,
        vhids,
        counters,
    }
}
