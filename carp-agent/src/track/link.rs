//! `interface` sources: any interface, not only those carrying vhids
//! (typically an uplink). Failing while the interface is missing,
//! administratively down, without carrier (no IFF_LOWER_UP), or with an
//! operstate other than UP. UNKNOWN counts as up: drivers that do not
//! report an operstate (loopback, tun, some virtual devices) say UNKNOWN
//! whatever their state, and their carrier flag tells instead.
//!
//! Each source opens its own netlink connection subscribed to link
//! notifications, looks the interface up once by name, then follows the
//! notifications for that name, so an interface that is deleted and
//! created again (a new index) is followed too. It also looks the
//! interface up every 5 s, in case a notification was lost.

use futures::StreamExt as _;
use rtnetlink::{
    MulticastGroup,
    packet_core::NetlinkPayload,
    packet_route::{
        RouteNetlinkMessage,
        link::{LinkAttribute, LinkFlags, LinkMessage, State},
    },
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{TrackSpec, Update};

/// How often the interface is looked up besides the notifications.
const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a link can carry traffic, and if not, why.
pub fn link_health(link: &LinkMessage) -> Result<(), String> {
    let flags = link.header.flags;
    if !flags.contains(LinkFlags::Up) {
        return Err("administratively down".to_string());
    }
    if !flags.contains(LinkFlags::LowerUp) {
        return Err("no carrier".to_string());
    }
    let operstate = link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::OperState(state) => Some(*state),
        _ => None,
    });
    match operstate {
        None | Some(State::Up) | Some(State::Unknown) => Ok(()),
        Some(state) => Err(format!("operstate {state:?}")),
    }
}

fn name_of(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// Follows `iface` and sends the share of `spec` on every change.
pub(super) async fn run(spec: TrackSpec, iface: String, updates: mpsc::Sender<Update>) {
    let (connection, handle, mut messages) =
        match rtnetlink::new_multicast_connection(&[MulticastGroup::Link]) {
            Ok(parts) => parts,
            Err(err) => {
                // Without netlink the interface cannot be watched: count it
                // as failing rather than pretend it is up.
                warn!(
                    "track {}: cannot open netlink: {err}; counted as failing",
                    spec.name
                );
                let _ = updates
                    .send(update(&spec, &iface, Err("not watched".into())))
                    .await;
                return;
            }
        };
    tokio::spawn(connection);
    let lookup = || async {
        match handle
            .link()
            .get()
            .match_name(iface.clone())
            .execute()
            .next()
            .await
        {
            Some(Ok(link)) => link_health(&link),
            _ => Err("no such interface".to_string()),
        }
    };
    let mut health = lookup().await;
    log_state(&spec, &iface, &health, true);
    if updates
        .send(update(&spec, &iface, health.clone()))
        .await
        .is_err()
    {
        return;
    }
    // Notifications can be lost (a full socket buffer): look again now
    // and then, so a missed one is not missed for good.
    let mut resync = tokio::time::interval(RESYNC_EVERY);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    resync.tick().await;
    loop {
        let now = tokio::select! {
            message = messages.next() => {
                let Some((message, _)) = message else { break };
                let (link, removed) = match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        (link, false)
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => {
                        (link, true)
                    }
                    _ => continue,
                };
                if name_of(&link) != Some(iface.as_str()) {
                    continue;
                }
                if removed {
                    Err("removed".to_string())
                } else {
                    link_health(&link)
                }
            }
            _ = resync.tick() => lookup().await,
        };
        if now.is_ok() == health.is_ok() {
            continue;
        }
        health = now;
        log_state(&spec, &iface, &health, false);
        if updates
            .send(update(&spec, &iface, health.clone()))
            .await
            .is_err()
        {
            return;
        }
    }
    warn!(
        "track {}: netlink notifications ended; {iface} is no longer followed",
        spec.name
    );
}

fn log_state(spec: &TrackSpec, iface: &str, health: &Result<(), String>, first: bool) {
    match health {
        Ok(()) if !first => info!("track {}: {iface} up", spec.name),
        Ok(()) => {}
        Err(why) => warn!(
            "track {}: {iface} {why}; demotion +{}",
            spec.name, spec.weight
        ),
    }
}

fn update(spec: &TrackSpec, iface: &str, health: Result<(), String>) -> Update {
    match health {
        Ok(()) => Update {
            name: spec.name.clone(),
            share: 0,
            detail: format!("{iface} up"),
        },
        Err(why) => Update {
            name: spec.name.clone(),
            share: spec.weight,
            detail: format!("{iface} {why}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(flags: LinkFlags, operstate: Option<State>) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.flags = flags;
        link.attributes
            .extend(operstate.map(LinkAttribute::OperState));
        link
    }

    #[test]
    fn health_needs_up_carrier_and_operstate() {
        let all = LinkFlags::Up | LinkFlags::Running | LinkFlags::LowerUp;
        assert_eq!(link_health(&link(all, Some(State::Up))), Ok(()));
        assert_eq!(link_health(&link(all, Some(State::Unknown))), Ok(()));
        assert_eq!(
            link_health(&link(all, Some(State::LowerLayerDown))),
            Err("operstate LowerLayerDown".to_string())
        );
        assert_eq!(
            link_health(&link(LinkFlags::Up, Some(State::Down))),
            Err("no carrier".to_string())
        );
        assert_eq!(
            link_health(&link(LinkFlags::LowerUp, None)),
            Err("administratively down".to_string())
        );
    }
}
