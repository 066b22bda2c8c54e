//! Link notifications (RTNLGRP_LINK): carrier changes of the CARP interfaces.

use futures::{StreamExt as _, channel::mpsc::UnboundedReceiver};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::RouteNetlinkMessage,
    sys::SocketAddr,
};

use super::netlink::{has_carrier, link_name};

/// One link notification. The kernel sends one on any change of the link
/// (flags, addresses, statistics...), so the carrier may be unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    pub index: u32,
    pub name: String,
    /// As in [`super::Interface::carrier`]; false for a removed link.
    pub carrier: bool,
}

/// The stream of [`LinkEvent`]s from [`super::Netlink::open`].
pub struct LinkEvents {
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

impl LinkEvents {
    pub(crate) fn new(
        messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    ) -> Self {
        LinkEvents { messages }
    }

    /// The next link notification; `None` once the netlink connection is gone.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        while let Some((message, _)) = self.messages.next().await {
            let (link, removed) = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => (link, false),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => (link, true),
                _ => continue,
            };
            return Some(LinkEvent {
                index: link.header.index,
                name: link_name(&link).unwrap_or_default().to_owned(),
                carrier: !removed && has_carrier(&link),
            });
        }
        None
    }
}
