//! `route` sources: failing while the main routing table (254) has no
//! route to exactly the configured prefix (`default` is 0.0.0.0/0). The
//! table is dumped every `interval_ms` over a netlink connection of the
//! source's own; any route type that forwards counts (unicast, also
//! multipath), blackhole, unreachable and prohibit routes do not.

use std::{net::IpAddr, time::Duration};

use futures::TryStreamExt as _;
use rtnetlink::{
    RouteMessageBuilder,
    packet_route::{
        AddressFamily,
        route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType},
    },
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{TrackSpec, Update, spec::mask};

/// Whether `route` is a forwarding route of the main table to `prefix/len`.
pub fn matches(route: &RouteMessage, prefix: IpAddr, len: u8) -> bool {
    let header = &route.header;
    if header.destination_prefix_length != len || header.kind != RouteType::Unicast {
        return false;
    }
    let table = route
        .attributes
        .iter()
        .find_map(|attr| match attr {
            RouteAttribute::Table(table) => Some(*table),
            _ => None,
        })
        .unwrap_or(u32::from(header.table));
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return false;
    }
    let destination = route.attributes.iter().find_map(|attr| match attr {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    });
    let family = match prefix {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    if header.address_family != family {
        return false;
    }
    // A default route has no destination attribute.
    let destination = destination.unwrap_or(match prefix {
        IpAddr::V4(_) => IpAddr::from([0u8; 4]),
        IpAddr::V6(_) => IpAddr::from([0u16; 8]),
    });
    destination.is_ipv4() == prefix.is_ipv4() && mask(destination, len) == prefix
}

/// Polls the main table every `interval` and sends the share of `spec`
/// when the route appears or goes.
pub(super) async fn run(
    spec: TrackSpec,
    prefix: IpAddr,
    len: u8,
    interval: Duration,
    updates: mpsc::Sender<Update>,
) {
    let target = format!("{prefix}/{len}");
    let handle = match rtnetlink::new_connection() {
        Ok((connection, handle, _)) => {
            tokio::spawn(connection);
            handle
        }
        Err(err) => {
            warn!(
                "track {}: cannot open netlink: {err}; counted as failing",
                spec.name
            );
            let _ = updates
                .send(Update {
                    name: spec.name.clone(),
                    share: spec.weight,
                    detail: "not watched".to_string(),
                })
                .await;
            return;
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<bool> = None;
    loop {
        tick.tick().await;
        let request = match prefix {
            IpAddr::V4(_) => RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
            IpAddr::V6(_) => RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
        };
        let routes: Result<Vec<RouteMessage>, _> =
            handle.route().get(request).execute().try_collect().await;
        let present = match routes {
            Ok(routes) => routes.iter().any(|r| matches(r, prefix, len)),
            Err(err) => {
                warn!("track {}: reading the routing table: {err}", spec.name);
                false
            }
        };
        if last == Some(present) {
            continue;
        }
        match (last, present) {
            (_, false) => warn!(
                "track {}: no route to {target} in the main table; demotion +{}",
                spec.name, spec.weight
            ),
            (Some(false), true) => info!("track {}: route to {target} back", spec.name),
            _ => {}
        }
        last = Some(present);
        let update = Update {
            name: spec.name.clone(),
            share: if present { 0 } else { spec.weight },
            detail: format!(
                "route {target} {}",
                if present { "present" } else { "absent" }
            ),
        };
        if updates.send(update).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: Option<IpAddr>, len: u8, table: u8, kind: RouteType) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.destination_prefix_length = len;
        r.header.table = table;
        r.header.kind = kind;
        r.header.address_family = match dest {
            Some(IpAddr::V6(_)) => AddressFamily::Inet6,
            _ => AddressFamily::Inet,
        };
        if let Some(d) = dest {
            r.attributes.push(RouteAttribute::Destination(d.into()));
        }
        r
    }

    #[test]
    fn only_the_exact_prefix_in_main_matches() {
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let net: IpAddr = "10.1.0.0".parse().unwrap();
        let main = RouteHeader::RT_TABLE_MAIN;
        assert!(matches(&route(None, 0, main, RouteType::Unicast), any4, 0));
        assert!(!matches(&route(None, 0, 100, RouteType::Unicast), any4, 0));
        assert!(!matches(
            &route(None, 0, main, RouteType::BlackHole),
            any4,
            0
        ));
        assert!(matches(
            &route(Some(net), 16, main, RouteType::Unicast),
            net,
            16
        ));
        assert!(!matches(
            &route(Some(net), 24, main, RouteType::Unicast),
            net,
            16
        ));
        assert!(!matches(
            &route(Some(net), 16, main, RouteType::Unicast),
            any4,
            0
        ));
        let any6: IpAddr = "::".parse().unwrap();
        // The IPv4 default route is not the IPv6 one.
        assert!(!matches(&route(None, 0, main, RouteType::Unicast), any6, 0));
        let mut default6 = route(None, 0, main, RouteType::Unicast);
        default6.header.address_family = AddressFamily::Inet6;
        assert!(matches(&default6, any6, 0));
    }
}
