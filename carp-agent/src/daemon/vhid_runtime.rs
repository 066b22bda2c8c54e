//! What the daemon keeps per vhid beside the engine's state: the resolved
//! interface, addresses to advertise from, the HMAC context and the counter.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, bail};
use carp_common::{MODE_REAL_MAC, MODE_VIRTUAL_MAC, VhidEntry, VhidKey as MapKey, virtual_mac};

use crate::{
    config::VhidSettings,
    engine::{self, Flavor, State, VhidConfig},
    net::Interface,
    proto::{Auth, LinkLocalVips, VipSet},
};

pub struct VhidRuntime {
    pub settings: VhidSettings,
    pub key: engine::VhidKey,
    pub interface: String,
    pub ifindex: u32,
    /// Source MAC of adverts, gratuitous ARPs, NAs and XDP replies.
    pub mac: [u8; 6],
    pub auth: Auth,
    /// Advert source per family; `None` when the vhid has no VIP of that family.
    pub source_v4: Option<Ipv4Addr>,
    pub source_v6: Option<Ipv6Addr>,
    /// The address the engine compares for the tie-break (IPv4 source first).
    pub engine_source: IpAddr,
    /// FreeBSD/ucarp: random at start, +1 per advert.
    pub counter: u64,
    pub state: State,
    /// Adverts left before the gratuitous ARPs are repeated (OpenBSD sends
    /// them again after two more adverts, for switches that missed the first).
    pub announce_repeat: u8,
}

impl VhidRuntime {
    pub fn new(settings: VhidSettings, iface: &Interface, counter: u64) -> anyhow::Result<Self> {
        let has_v4 = settings.vips.iter().any(|v| v.addr.is_ipv4());
        let has_v6 = settings.vips.iter().any(|v| v.addr.is_ipv6());
        let source_v4 = match (has_v4, settings.source) {
            (false, _) => None,
            (true, Some(IpAddr::V4(src))) => Some(src),
            (true, _) => Some(*iface.ipv4.first().with_context(|| {
                format!(
                    "vhid {} on {}: {} has no IPv4 address to send adverts from; add one or set `source`",
                    settings.vhid, iface.name, iface.name
                )
            })?),
        };
        let source_v6 = match has_v6 {
            false => None,
            true => Some(iface.ipv6_link_local.with_context(|| {
                format!(
                    "vhid {} on {}: {} has no IPv6 link-local address to send adverts from",
                    settings.vhid, iface.name, iface.name
                )
            })?),
        };
        let Some(engine_source) = source_v4.map(IpAddr::V4).or(source_v6.map(IpAddr::V6)) else {
            bail!(
                "vhid {} on {}: no virtual addresses",
                settings.vhid,
                iface.name
            );
        };
        let mac = if settings.real_mac {
            iface.mac
        } else {
            virtual_mac(settings.vhid)
        };
        // OpenBSD sends its digest without link-local VIPs; FreeBSD and
        // ucarp hash them. Either form is accepted from peers.
        let form = match settings.flavor {
            Flavor::FreeBsd => LinkLocalVips::Included,
            Flavor::OpenBsd => LinkLocalVips::Omitted,
        };
        let auth = Auth::new(
            &settings.key,
            VipSet::new(settings.vips.iter().map(|v| v.addr)),
        )
        .sending(form);
        Ok(Self {
            key: engine::VhidKey {
                iface: engine::Iface(iface.index),
                vhid: settings.vhid,
            },
            interface: iface.name.clone(),
            ifindex: iface.index,
            mac,
            auth,
            source_v4,
            source_v6,
            engine_source,
            counter,
            state: State::Init,
            announce_repeat: 0,
            settings,
        })
    }

    /// The engine's view of this vhid.
    pub fn engine_config(&self) -> VhidConfig {
        self.settings.engine_config(self.engine_source)
    }

    pub fn map_key(&self) -> MapKey {
        MapKey::new(self.ifindex, self.settings.vhid)
    }

    /// The XDP map entry mirroring `state` and the advertised timing.
    pub fn map_entry(&self, state: State, advskew: u8) -> VhidEntry {
        VhidEntry {
            state: match state {
                State::Init => carp_common::STATE_INIT,
                State::Backup => carp_common::STATE_BACKUP,
                State::Master => carp_common::STATE_MASTER,
            },
            mode: if self.settings.real_mac {
                MODE_REAL_MAC
            } else {
                MODE_VIRTUAL_MAC
            },
            advbase: self.settings.advbase,
            advskew,
            mac: self.mac,
            _pad: [0; 2],
        }
    }
}
