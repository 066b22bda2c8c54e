//! What the daemon keeps per vhid beside the node's state: the resolved
//! interface and MAC, and the addresses to advertise from.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, bail};
use carp_common::{
    MODE_REAL_MAC, MODE_VIRTUAL_MAC, Port, VhidEntry, VhidKey as MapKey, virtual_mac,
};

use crate::{
    config::VhidSettings,
    engine::{self, Flavor, State, VhidConfig},
    net::Interface,
    node::NodeVhidConfig,
    proto::{Auth, LinkLocalVips, VipSet},
};

pub struct VhidRuntime {
    pub settings: VhidSettings,
    pub key: engine::VhidKey,
    pub interface: String,
    /// The interface the VIPs, the MAC filter and the CARP groups are on
    /// (a VLAN device, for one).
    pub ifindex: u32,
    /// Where the frames are: the interface XDP runs on (the trunk under a
    /// VLAN device) and the VLAN id. Adverts and announcements leave there,
    /// tagged (`net::vlan`).
    pub port: Port,
    /// The vhid runs over tagged frames on a trunk that has no interface
    /// for its VLAN (`vlan = N` on the trunk): no VIP is added anywhere.
    pub tagged_on_trunk: bool,
    /// Source MAC of adverts, gratuitous ARPs, NAs and XDP replies.
    pub mac: [u8; 6],
    /// Advert source per family; `None` when the vhid has no VIP of that family.
    pub source_v4: Option<Ipv4Addr>,
    pub source_v6: Option<Ipv6Addr>,
    /// The address the engine compares for the tie-break (IPv4 source first).
    pub engine_source: IpAddr,
    /// The state last mirrored into the dataplane.
    pub state: State,
    /// The advskew of the last map entry written, for the refresh after
    /// each advert.
    pub advskew: u8,
    /// When a refused (replayed, re-tagged) advert was last warned about:
    /// at most one warning a minute per vhid, whatever the attacker sends.
    pub last_refused_warning: Option<std::time::Instant>,
    /// MASTER in the engine, waiting for its pre-MASTER hooks: the VIPs
    /// are not added and the dataplane does not answer yet
    /// (`daemon::pre_master`).
    pub pre_master: Option<super::pre_master::Waiting>,
}

impl VhidRuntime {
    pub fn new(settings: VhidSettings, iface: &Interface, port: Port) -> anyhow::Result<Self> {
        let tagged_on_trunk = port.ifindex == iface.index && port.vlan != 0;
        let has_v4 = settings.vips.iter().any(|v| v.addr.is_ipv4());
        let has_v6 = settings.vips.iter().any(|v| v.addr.is_ipv6());
        let source_v4 = match (has_v4, settings.source) {
            (false, _) => None,
            (true, Some(IpAddr::V4(src))) => Some(src),
            (true, _) if tagged_on_trunk => bail!(
                "vhid {} on {} VLAN {}: set `source`, the IPv4 address to send adverts from on \
                 VLAN {} ({}'s own addresses belong to its untagged network)",
                settings.vhid,
                iface.name,
                port.vlan,
                port.vlan,
                iface.name
            ),
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
        Ok(Self {
            key: engine::VhidKey {
                iface: engine::Iface::tagged(port.ifindex, port.vlan),
                vhid: settings.vhid,
            },
            interface: iface.name.clone(),
            ifindex: iface.index,
            port,
            tagged_on_trunk,
            mac,
            source_v4,
            source_v6,
            engine_source,
            state: State::Init,
            advskew: settings.advskew,
            last_refused_warning: None,
            pre_master: None,
            settings,
        })
    }

    /// The engine's view of this vhid.
    pub fn engine_config(&self) -> VhidConfig {
        self.settings.engine_config(self.engine_source)
    }

    /// The node's view of this vhid: election, keys, sources.
    pub fn node_config(&self) -> NodeVhidConfig {
        // OpenBSD sends its digest without link-local VIPs; FreeBSD and
        // ucarp hash them. Either form is accepted from peers.
        let form = match self.settings.flavor {
            Flavor::FreeBsd => LinkLocalVips::Included,
            Flavor::OpenBsd => LinkLocalVips::Omitted,
        };
        let auth = Auth::new(
            &self.settings.key,
            VipSet::new(self.settings.vips.iter().map(|v| v.addr)),
        )
        .sending(form);
        NodeVhidConfig::new(
            self.engine_config(),
            &self.settings.key,
            auth,
            (self.source_v4, self.source_v6),
            self.settings.replay_protection,
        )
    }

    /// How long after an advert the XDP program keeps answering as MASTER
    /// without the next one: the earliest a backup with our advbase can take
    /// over, `3*advbase` (every flavor's master-down is at least that; 3/256 s
    /// at advbase 0). A MASTER frozen longer goes silent rather than answer
    /// beside the backup that took over.
    pub fn master_hold(&self) -> std::time::Duration {
        let ticks = (3 * 256 * u64::from(self.settings.advbase)).max(3);
        std::time::Duration::from_nanos(ticks * 3_906_250)
    }

    pub fn map_key(&self) -> MapKey {
        MapKey::new(self.port, self.settings.vhid)
    }

    /// The interface to add VIP addresses to; `None` when no interface
    /// carries the vhid's VLAN (`tagged_on_trunk`).
    pub fn address_ifindex(&self) -> Option<u32> {
        (!self.tagged_on_trunk).then_some(self.ifindex)
    }

    /// How the vhid is named in logs: its interface, and the VLAN when it
    /// runs tagged on a trunk.
    pub fn place(&self) -> String {
        match self.tagged_on_trunk {
            true => format!("{} vlan {}", self.interface, self.port.vlan),
            false => self.interface.clone(),
        }
    }

    /// The XDP map entry mirroring `state` and the advertised timing; a
    /// MASTER answers until `master_until_ns` (CLOCK_MONOTONIC; 0: no limit).
    pub fn map_entry(&self, state: State, advskew: u8, master_until_ns: u64) -> VhidEntry {
        let state = match state {
            State::Init => carp_common::STATE_INIT,
            State::Backup => carp_common::STATE_BACKUP,
            State::Master => carp_common::STATE_MASTER,
        };
        let mode = if self.settings.real_mac {
            MODE_REAL_MAC
        } else {
            MODE_VIRTUAL_MAC
        };
        VhidEntry::new(
            state,
            mode,
            self.settings.advbase,
            advskew,
            self.mac,
            master_until_ns,
        )
    }
}
