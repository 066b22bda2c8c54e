//! Answers to control requests: status like FreeBSD's `ifconfig`, demotion
//! like `sysctl net.inet.carp.demotion`, state like `ifconfig em0 vhid 1 state backup`.
use std::collections::BTreeMap;

use carp_common::Stat;

use super::{Daemon, tracking};
use crate::{
    control::{ErrorKind, Request, Response, StatusReport, VhidReport},
    engine::AdminState,
};

pub(super) fn handle(daemon: &mut Daemon, request: Request) -> Response {
    let now = daemon.now();
    match request {
        Request::Status => Response::with_status(report(daemon)),
        Request::Demote { delta, source } => {
            daemon.demotion_cause = Some("admin");
            let changed = daemon.demotions.demote(source.as_deref(), delta);
            tracking::answer(daemon, changed)
        }
        Request::SetDemotion { value, source } => {
            daemon.demotion_cause = Some("admin");
            let changed = daemon.demotions.set(source.as_deref(), value);
            tracking::answer(daemon, changed)
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
                return Response::error(
                    ErrorKind::Refused,
                    format!(
                        "no vhid {vhid}{} configured",
                        interface.map(|i| format!(" on {i}")).unwrap_or_default()
                    ),
                );
            }
            let admin: AdminState = state.into();
            for key in keys {
                if let Err(err) = daemon
                    .node
                    .input(now, |e, t| e.admin_set_state(t, key, admin))
                {
                    return Response::error(ErrorKind::Refused, err.to_string());
                }
            }
            ok(daemon)
        }
        // The event loop carries reloads out itself (they wait on netlink).
        Request::Reload => Response::error(
            ErrorKind::Unavailable,
            "reload is handled by the event loop",
        ),
        // The control server answers it with a subscription itself.
        Request::Events => Response::error(
            ErrorKind::BadRequest,
            "events are served by the control socket, not the event loop",
        ),
    }
}

pub(super) fn ok(daemon: &Daemon) -> Response {
    Response::with_status(report(daemon))
}

fn report(daemon: &Daemon) -> StatusReport {
    let demotion = daemon.node.engine().demotion();
    let vhids = daemon
        .vhids
        .iter()
        .filter_map(|(key, rt)| {
            let status = daemon.node.engine().status(*key)?;
            Some(VhidReport::new(&rt.settings, &status, demotion))
        })
        .collect();
    let mut counters = BTreeMap::new();
    // A failed read is reported, not hidden: an empty counter list would
    // read as "nothing counted".
    let xdp_counters_error = match daemon.dataplane.stats() {
        Ok(stats) => {
            for stat in Stat::ALL {
                counters.insert(stat.name().to_string(), stats.get(*stat));
            }
            None
        }
        Err(err) => Some(err.to_string()),
    };
    for (name, value) in daemon.counters.named() {
        counters.insert(name.to_string(), value);
    }
    StatusReport {
        demotion,
        vhids,
        counters,
        xdp_counters_error,
        demotion_sources: tracking::rows(daemon),
    }
}
