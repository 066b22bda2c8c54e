//! Reloading the configuration (SIGHUP, `carp-agent reload`) without a
//! failover.
//!
//! The new configuration is read and checked in full, then compared with the
//! running one vhid by vhid (a vhid is its interface, VLAN and number):
//! - unchanged vhids are not touched: no advert gap, no map write, no hook;
//! - changed ones take their new settings in place and keep their state
//!   (timing, skew, preemption, password, VIPs, source, hooks, MAC mode);
//! - added ones start as at start-up (on a new interface, XDP is attached
//!   there first);
//! - removed ones bow out if MASTER, withdraw their VIPs and leave the
//!   dataplane; an interface left without vhids is given back.
//!
//! Everything that can be refused (the file, interfaces, advert sources) is
//! checked before the first change, so a refused reload changes nothing and
//! the agent runs on with the configuration it had. Global settings other
//! than `demotion` (sockets, bpffs, state directory, XDP mode, real-time,
//! hook timeout, metrics listener, `persist_dir`, `[[track]]` sources)
//! apply at the next start; a reload that changes one says so. A changed
//! `demotion` sets the administrator's part of the demotion
//! (`crate::track::Ledger`).
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
};

use anyhow::Context as _;
use tracing::{info, warn};

use super::{Daemon, foreign_xdp, resolve_interface, vhid_runtime::VhidRuntime};
use crate::{
    config::{Config, VhidSettings},
    control::ReloadReport,
    engine::{State, VhidKey},
    net::{Interface, membership::Families},
};

/// What a reload changes, worked out before anything is touched.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// New vhids, in the new file's order.
    pub added: Vec<VhidSettings>,
    /// Vhids gone from the new configuration: (interface, VLAN, vhid).
    pub removed: Vec<(String, Option<u16>, u8)>,
    /// Vhids whose settings differ, with their new settings.
    pub changed: Vec<VhidSettings>,
    pub unchanged: usize,
    /// The new `demotion`, when the file's value changed.
    pub demotion: Option<u32>,
    /// Global settings that changed and apply at the next start.
    pub at_restart: Vec<String>,
}

impl Plan {
    /// Compares the running configuration with a new one.
    pub(crate) fn new(old: &Config, new: &Config) -> Plan {
        let id = |s: &VhidSettings| (s.interface.clone(), s.vlan, s.vhid);
        let running: BTreeMap<_, _> = old.vhids.iter().map(|s| (id(s), s)).collect();
        let wanted: BTreeSet<_> = new.vhids.iter().map(id).collect();
        let mut plan = Plan::default();
        for settings in &new.vhids {
            match running.get(&id(settings)) {
                None => plan.added.push(settings.clone()),
                Some(current) if *current == settings => plan.unchanged += 1,
                Some(_) => plan.changed.push(settings.clone()),
            }
        }
        plan.removed = old
            .vhids
            .iter()
            .map(id)
            .filter(|k| !wanted.contains(k))
            .collect();
        if new.demotion != old.demotion {
            plan.demotion = Some(new.demotion);
        }
        let mut global = |name: &str, changed: bool| {
            if changed {
                plan.at_restart.push(format!(
                    "{name} changed; it applies when the agent next starts"
                ));
            }
        };
        global("control_socket", new.control_socket != old.control_socket);
        global("bpffs", new.bpffs != old.bpffs);
        global("state_dir", new.state_dir != old.state_dir);
        global("xdp_mode", new.xdp_mode != old.xdp_mode);
        global("xdp_share", new.xdp_share != old.xdp_share);
        global("hook_timeout_ms", new.hook_timeout != old.hook_timeout);
        global("realtime", new.realtime != old.realtime);
        global("persist_dir", new.persist_dir != old.persist_dir);
        global("[[track]]", new.tracks != old.tracks);
        global("metrics_listen", new.metrics_listen != old.metrics_listen);
        plan
    }

    fn report(&self) -> ReloadReport {
        let name = |s: &VhidSettings| s.name();
        ReloadReport {
            added: self.added.iter().map(name).collect(),
            removed: self
                .removed
                .iter()
                .map(|(iface, vlan, vhid)| match vlan {
                    Some(vlan) => format!("{iface} vlan {vlan} vhid {vhid}"),
                    None => format!("{iface} vhid {vhid}"),
                })
                .collect(),
            changed: self.changed.iter().map(name).collect(),
            unchanged: self.unchanged,
            warnings: self.at_restart.clone(),
        }
    }
}

/// The new runtimes, built (interfaces looked up, advert sources
/// resolved) before anything changes.
struct Prepared {
    /// Interfaces the new configuration adds, with the address families
    /// their vhids use.
    interfaces: Vec<(Interface, Families)>,
    /// Interfaces XDP must now run on (new interfaces, or trunks under
    /// new VLAN devices).
    trunks: Vec<Interface>,
    added: Vec<VhidRuntime>,
    changed: Vec<VhidRuntime>,
}

impl Daemon {
    /// Re-reads the configuration with `read` and applies it (see the
    /// module documentation). An error means nothing was changed, unless it
    /// says the reload was applied in part.
    pub(super) async fn reload(
        &mut self,
        read: &dyn Fn() -> anyhow::Result<Config>,
    ) -> anyhow::Result<ReloadReport> {
        let new = read().context("the new configuration was refused")?;
        let plan = Plan::new(&self.config, &new);
        let prepared = self
            .prepare(&plan)
            .await
            .context("the new configuration was refused")?;
        let report = plan.report();
        // The reload adds and removes VIPs itself: after every queued change.
        self.settle_addresses().await;
        // The new demotion hooks see the reload's own demotion change.
        self.config.demotion_hooks.clone_from(&new.demotion_hooks);
        self.apply(plan, prepared)
            .await
            .context("the reload was applied in part (see the log)")?;
        self.config = new;
        Ok(report)
    }

    /// Looks up what the new configuration needs, changing nothing.
    async fn prepare(&mut self, plan: &Plan) -> anyhow::Result<Prepared> {
        let mut fresh: BTreeMap<String, Interface> = BTreeMap::new();
        let mut trunks: BTreeMap<u32, Interface> = BTreeMap::new();
        let running = self.trunk_indexes();
        for settings in plan.added.iter().chain(&plan.changed) {
            // Looked up again: its addresses (advert sources) may have changed.
            let (iface, trunk) = resolve_interface(&self.netlink, settings).await?;
            if !running.contains(&trunk.index) && !trunks.contains_key(&trunk.index) {
                foreign_xdp(&self.netlink, &trunk, self.config.xdp_share).await?;
                trunks.insert(trunk.index, trunk);
            }
            fresh.insert(settings.interface.clone(), iface);
        }
        let runtime = |settings: &VhidSettings| -> anyhow::Result<VhidRuntime> {
            let iface = &fresh[&settings.interface];
            let port = crate::net::vlan::resolve(iface, settings.vlan)?;
            let rt = VhidRuntime::new(settings.clone(), iface, port)?;
            rt.engine_config()
                .validate()
                .with_context(|| settings.name())?;
            Ok(rt)
        };
        let added = plan.added.iter().map(runtime).collect::<Result<_, _>>()?;
        let changed = plan.changed.iter().map(runtime).collect::<Result<_, _>>()?;
        let interfaces = fresh
            .into_values()
            .filter(|iface| !self.interfaces.contains_key(&iface.index))
            .map(|iface| {
                let addrs = plan
                    .added
                    .iter()
                    .filter(|s| {
                        s.interface == iface.name && (s.vlan.is_none() || iface.vlan.is_some())
                    })
                    .flat_map(|s| s.vips.iter().map(|v| v.addr));
                let families = Families::of(addrs);
                (iface, families)
            })
            .collect();
        Ok(Prepared {
            interfaces,
            trunks: trunks.into_values().collect(),
            added,
            changed,
        })
    }

    async fn apply(&mut self, plan: Plan, prepared: Prepared) -> anyhow::Result<()> {
        for (interface, vlan, vhid) in &plan.removed {
            let key = self
                .vhids
                .iter()
                .find(|(k, rt)| {
                    k.vhid == *vhid && rt.interface == *interface && rt.settings.vlan == *vlan
                })
                .map(|(k, _)| *k);
            if let Some(key) = key {
                self.remove_vhid(key).await?;
            }
        }
        let mut links = Vec::new();
        for (iface, families) in prepared.interfaces {
            links.push((iface.index, iface.carrier));
            self.open_interface(iface, families).await?;
        }
        let attach: Vec<u32> = prepared.trunks.iter().map(|t| t.index).collect();
        for trunk in prepared.trunks {
            self.open_trunk(trunk)?;
        }
        for rt in prepared.changed {
            self.reconfigure_vhid(rt).await?;
        }
        for rt in prepared.added {
            let name = rt.settings.name();
            self.add_vhid(rt, None).await.with_context(|| name)?;
        }
        // The maps are filled before XDP runs on them.
        for index in attach {
            self.attach_interface(index, None).await?;
        }
        let now = self.now();
        for (index, carrier) in links {
            self.set_link(now, index, carrier);
        }
        self.carry_out_actions().await;
        if let Some(value) = plan.demotion {
            // The administrator's part of the ledger; tracked and external
            // shares stay (see `crate::track`).
            self.demotion_cause = Some("reload");
            if let Err(err) = self.demotions.set(None, value) {
                warn!("reload: demotion: {err}");
            }
            self.apply_demotion();
            self.carry_out_actions().await;
        }
        self.close_unused_interfaces().await;
        for warning in &plan.at_restart {
            warn!("reload: {warning}");
        }
        Ok(())
    }

    /// A vhid leaves: bow-out if MASTER, VIPs withdrawn (the state change
    /// to INIT), then its dataplane entries.
    async fn remove_vhid(&mut self, key: VhidKey) -> anyhow::Result<()> {
        let now = self.now();
        self.node.remove_vhid(now, key)?;
        // The runtime is still there for the bow-out and the state change.
        self.carry_out_actions().await;
        let Some(rt) = self.vhids.remove(&key) else {
            return Ok(());
        };
        for vip in &rt.settings.vips {
            self.dataplane.remove_vip(rt.port, vip.addr)?;
        }
        self.dataplane.remove_vhid(rt.map_key())?;
        self.dataplane
            .replace_peers(rt.port, rt.settings.vhid, &rt.settings.peers, &[], false)?;
        if !rt.settings.real_mac {
            let _ = self.netlink.remove_unicast_mac(rt.ifindex, rt.mac).await;
        }
        // The last vhid of its segment gone: reported up, the segment
        // releases any link-down demotion it held.
        if !self
            .vhids
            .values()
            .any(|other| other.key.iface == key.iface)
        {
            let now = self.now();
            self.node.input(now, |e, t| e.set_link(t, key.iface, true));
        }
        info!("vhid {} on {}: removed by a reload", key.vhid, rt.interface);
        Ok(())
    }

    /// New settings for a running vhid, keeping its state.
    async fn reconfigure_vhid(&mut self, mut rt: VhidRuntime) -> anyhow::Result<()> {
        let key = rt.key;
        // A wait for the pre-master hooks goes on under the new settings.
        rt.pre_master = self
            .vhids
            .get_mut(&key)
            .and_then(|old| old.pre_master.take());
        let Some(old) = self.vhids.get(&key) else {
            return Ok(());
        };
        let state = old.state;
        rt.state = state;
        rt.last_refused_warning = old.last_refused_warning;
        let old_vips: BTreeSet<IpAddr> = old.settings.vips.iter().map(|v| v.addr).collect();
        let dropped: Vec<_> = old
            .settings
            .vips
            .iter()
            .filter(|v| !rt.settings.vips.contains(v))
            .copied()
            .collect();
        let added: Vec<_> = rt
            .settings
            .vips
            .iter()
            .filter(|v| !old.settings.vips.contains(v))
            .copied()
            .collect();
        let (old_mac, old_real_mac) = (old.mac, old.settings.real_mac);
        let old_peers = old.settings.peers.clone();

        if old_mac != rt.mac || old_real_mac != rt.settings.real_mac {
            if !old_real_mac {
                let _ = self.netlink.remove_unicast_mac(rt.ifindex, old_mac).await;
            }
            if !rt.settings.real_mac {
                self.filter_virtual_mac(rt.ifindex, rt.mac).await?;
            }
        }
        for vip in &dropped {
            if let (State::Master, Some(ifindex)) = (state, rt.address_ifindex()) {
                self.netlink
                    .remove_address(ifindex, vip.addr, vip.prefix)
                    .await?;
            }
            let still = rt.settings.vips.iter().any(|v| v.addr == vip.addr);
            if !still {
                self.dataplane.remove_vip(rt.port, vip.addr)?;
            }
        }
        for vip in &added {
            self.dataplane
                .set_vip(rt.port, vip.addr, rt.settings.vhid)?;
        }

        let now = self.now();
        self.node.reconfigure_vhid(now, key, rt.node_config())?;
        rt.advskew = self
            .node
            .engine()
            .status(key)
            .map_or(rt.settings.advskew, |s| s.advertised.advskew);
        let until = match state {
            State::Master => (now.mono.since_epoch() + rt.master_hold()).as_nanos() as u64,
            _ => 0,
        };
        self.dataplane
            .set_vhid(rt.map_key(), rt.map_entry(state, rt.advskew, until))?;
        let openbsd_counters = rt.settings.flavor == crate::engine::Flavor::OpenBsd
            || rt.settings.replay_protection == crate::node::ReplayProtection::Off;
        self.dataplane
            .set_auth(rt.map_key(), &rt.node_config().auth, openbsd_counters)?;
        rt.write_peers(&mut self.dataplane, &old_peers)?;
        let (ifindex, interface) = (rt.address_ifindex(), rt.place());
        self.vhids.insert(key, rt);

        if state == State::Master {
            for vip in added.iter().filter(|_| ifindex.is_some()) {
                self.netlink
                    .add_address(ifindex.unwrap_or_default(), vip.addr, vip.prefix)
                    .await?;
            }
            let fresh: BTreeSet<IpAddr> = added
                .iter()
                .map(|v| v.addr)
                .filter(|a| !old_vips.contains(a))
                .collect();
            self.announce_only(key, |addr| fresh.contains(addr));
        }
        info!("vhid {} on {interface}: reconfigured by a reload", key.vhid);
        self.carry_out_actions().await;
        Ok(())
    }

    /// Interfaces whose last vhid a reload removed are given back: XDP and
    /// the TC program detached, groups left, the sender closed.
    async fn close_unused_interfaces(&mut self) {
        let used: BTreeSet<u32> = self
            .vhids
            .values()
            .flat_map(|rt| [rt.ifindex, rt.port.ifindex])
            .collect();
        let unused: Vec<u32> = self
            .interfaces
            .keys()
            .filter(|i| !used.contains(i))
            .copied()
            .collect();
        for index in unused {
            let Some(iface) = self.interfaces.remove(&index) else {
                continue;
            };
            self.dataplane.detach(&iface.name);
            self.memberships.leave_one(&iface.name);
            self.senders.remove(&index);
            info!(
                "{}: no vhid left after the reload; XDP detached",
                iface.name
            );
        }
        self.carry_out_actions().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(toml: &str) -> Config {
        Config::from_toml_str(toml, std::path::Path::new(".")).unwrap()
    }

    const BASE: &str = r#"
[[vhid]]
interface = "eth0"
vhid = 1
password = "secret1"
vips = ["192.0.2.10/24"]

[[vhid]]
interface = "eth0"
vhid = 2
password = "secret2"
vips = ["192.0.2.20/24"]
"#;

    #[test]
    fn the_same_configuration_changes_nothing() {
        let plan = Plan::new(&config(BASE), &config(BASE));
        assert_eq!(
            plan,
            Plan {
                unchanged: 2,
                ..Plan::default()
            }
        );
    }

    #[test]
    fn vhids_are_added_removed_and_changed_by_interface_and_number() {
        let new = r#"
[[vhid]]
interface = "eth0"
vhid = 1
password = "secret1"
vips = ["192.0.2.10/24"]
advskew = 100

[[vhid]]
interface = "eth1"
vhid = 2
password = "secret2"
vips = ["198.51.100.20/24"]
"#;
        let plan = Plan::new(&config(BASE), &config(new));
        assert_eq!(plan.unchanged, 0);
        assert_eq!(plan.changed.len(), 1);
        assert_eq!(plan.changed[0].advskew, 100);
        assert_eq!(plan.added.len(), 1);
        assert_eq!(plan.added[0].interface, "eth1");
        assert_eq!(plan.removed, vec![("eth0".to_string(), None, 2)]);
        let report = plan.report();
        assert_eq!(report.changed, vec!["eth0 vhid 1"]);
        assert_eq!(report.added, vec!["eth1 vhid 2"]);
        assert_eq!(report.removed, vec!["eth0 vhid 2"]);
    }

    #[test]
    fn a_new_password_or_hook_is_a_change() {
        let password = BASE.replace("secret2", "other22");
        let hook = format!("{BASE}\n[[vhid.hook]]\non = [\"master\"]\nshell = \"true\"\n");
        for new in [password, hook] {
            let plan = Plan::new(&config(BASE), &config(&new));
            assert_eq!(plan.changed.len(), 1, "{new}");
            assert_eq!(plan.changed[0].vhid, 2);
            assert_eq!(plan.unchanged, 1);
        }
    }

    #[test]
    fn a_changed_peer_list_is_a_change() {
        let with_peers = |peers: &str| {
            BASE.replace(
                "vips = [\"192.0.2.20/24\"]",
                &format!("vips = [\"192.0.2.20/24\"]\npeers = [{peers}]"),
            )
        };
        let one = with_peers("\"192.0.2.3\"");
        let two = with_peers("\"192.0.2.3\", \"192.0.2.4\"");
        for (old, new) in [
            (BASE.to_string(), one.clone()),
            (one.clone(), two),
            (one, BASE.to_string()),
        ] {
            let plan = Plan::new(&config(&old), &config(&new));
            assert_eq!(plan.changed.len(), 1, "{old} -> {new}");
            assert_eq!(plan.changed[0].vhid, 2);
            assert_eq!(plan.unchanged, 1);
        }
        let same = with_peers("\"192.0.2.3\"");
        assert_eq!(Plan::new(&config(&same), &config(&same)).unchanged, 2);
    }

    #[test]
    fn demotion_applies_and_other_globals_wait_for_a_restart() {
        let new = format!("demotion = 50\nxdp_mode = \"skb\"\nhook_timeout_ms = 5000\n{BASE}");
        let plan = Plan::new(&config(BASE), &config(&new));
        assert_eq!(plan.demotion, Some(50));
        assert_eq!(plan.unchanged, 2);
        assert_eq!(plan.at_restart.len(), 2, "{:?}", plan.at_restart);
        assert!(plan.at_restart[0].starts_with("xdp_mode changed"));
        assert!(plan.at_restart[1].starts_with("hook_timeout_ms changed"));
    }
}
