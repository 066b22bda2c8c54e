//! The host: every vhid of this machine, the host-wide demotion counter and the
//! interfaces' link state.

use std::collections::{BTreeMap, VecDeque};

use super::{
    action::{Action, AdminState, Iface, Reason, State, VhidKey},
    config::{ConfigError, Flavor, VhidConfig},
    demotion::Demotion,
    time::Time,
    timing::PeerAdvert,
    vhid::{Host, Vhid, VhidStatus},
};

/// A request the engine cannot carry out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No vhid with this key is configured.
    #[error("{key}: no such vhid is configured")]
    UnknownVhid { key: VhidKey },
    /// The vhid is configured already.
    #[error("{key}: already configured")]
    DuplicateVhid { key: VhidKey },
    /// The configuration is invalid.
    #[error("{iface}: {source}")]
    Config {
        /// The interface the vhid was to be added to.
        iface: Iface,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
    /// An administrative state change on a vhid in INIT.
    #[error("{key}: cannot go to state {target} while in INIT (link down or shut down)")]
    NotRunning {
        key: VhidKey,
        /// The requested state.
        target: AdminState,
    },
}

/// The CARP election of one host, sans-IO.
///
/// Feed it inputs with the current time (`handle_*`, `set_link`, `demote`, ...),
/// then drain [`Engine::poll_action`] and call [`Engine::handle_timeout`] at
/// [`Engine::next_timeout`]. It never reads a clock or touches a socket, so the
/// same code runs in the daemon and in the simulation.
///
/// Link state: an interface is unknown until [`Engine::set_link`] reports it;
/// vhids on it stay in INIT until it is reported up. Every interface reported
/// down adds the ifdown demotion (240) to the host once.
///
/// After [`Engine::shutdown`] the engine ignores every input.
#[derive(Debug, Default)]
pub struct Engine {
    vhids: BTreeMap<VhidKey, Vhid>,
    links: BTreeMap<Iface, bool>,
    demotion: Demotion,
    actions: VecDeque<Action>,
    shut_down: bool,
}

impl Engine {
    /// An engine with no vhids and no demotion.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Adds a vhid on `iface`. It starts in INIT, and goes to BACKUP at once if
    /// the interface is already reported up.
    pub fn add_vhid(
        &mut self,
        now: Time,
        iface: Iface,
        config: VhidConfig,
    ) -> Result<VhidKey, EngineError> {
        config
            .validate()
            .map_err(|source| EngineError::Config { iface, source })?;
        let key = VhidKey {
            iface,
            vhid: config.vhid,
        };
        if self.vhids.contains_key(&key) {
            return Err(EngineError::DuplicateVhid { key });
        }
        let mut vhid = Vhid::new(key, config);
        if !self.shut_down && self.links.get(&iface) == Some(&true) {
            vhid.link_up(now, &mut self.host());
        }
        self.vhids.insert(key, vhid);
        Ok(key)
    }

    /// Removes a vhid; a running one reports a change to INIT, and a MASTER
    /// sends the bow-out first (as at shutdown), so its backups take over at
    /// once instead of after master-down.
    pub fn remove_vhid(&mut self, now: Time, key: VhidKey) -> Result<(), EngineError> {
        let mut vhid = self
            .vhids
            .remove(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        let mut host = Host {
            demotion: self.demotion,
            actions: &mut self.actions,
        };
        let leave = |vhid: &mut Vhid, host: &mut Host<'_>| match self.shut_down {
            true => vhid.stop(Reason::Removed, host),
            false => vhid.leave(Reason::Removed, host),
        };
        if leave(&mut vhid, &mut host) {
            self.change_demotion(now, |d| d.send_failing(false));
        }
        Ok(())
    }

    /// Gives a configured vhid a new configuration (a reload), keeping its
    /// state: a MASTER whose advertised timing changed advertises at once,
    /// so peers compare against the new values without waiting an interval;
    /// a BACKUP re-arms master-down from the last advert it heard, with the
    /// new timing. The vhid number must stay; a different one is another
    /// vhid (remove one, add the other).
    pub fn reconfigure_vhid(
        &mut self,
        now: Time,
        key: VhidKey,
        config: VhidConfig,
    ) -> Result<(), EngineError> {
        config.validate().map_err(|source| EngineError::Config {
            iface: key.iface,
            source,
        })?;
        if config.vhid != key.vhid {
            return Err(EngineError::UnknownVhid {
                key: VhidKey {
                    iface: key.iface,
                    vhid: config.vhid,
                },
            });
        }
        self.running_vhid(key, |vhid, host| vhid.reconfigure(now, config, host))
    }

    /// Adopts the MASTER state a previous agent had for `key` (see
    /// [`Reason::Adopted`]): a vhid in INIT goes to MASTER, not BACKUP, when
    /// its link comes up; a BACKUP becomes MASTER at once. The caller must
    /// know that no backup can have taken over yet.
    pub fn adopt_master(&mut self, now: Time, key: VhidKey) -> Result<(), EngineError> {
        self.running_vhid(key, |vhid, host| vhid.adopt_master(now, host))
    }

    /// Runs `input` on vhid `key` unless the engine has shut down.
    fn running_vhid(
        &mut self,
        key: VhidKey,
        input: impl FnOnce(&mut Vhid, &mut Host<'_>),
    ) -> Result<(), EngineError> {
        let demotion = self.demotion;
        let vhid = self
            .vhids
            .get_mut(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        if !self.shut_down {
            input(
                vhid,
                &mut Host {
                    demotion,
                    actions: &mut self.actions,
                },
            );
        }
        Ok(())
    }

    /// Reports the link state of `iface`. Down: its vhids go to INIT and the host
    /// is demoted by 240 (once per interface). Up: the demotion is removed and its
    /// vhids go to BACKUP.
    pub fn set_link(&mut self, now: Time, iface: Iface, up: bool) {
        if self.shut_down {
            return;
        }
        let previous = self.links.insert(iface, up);
        if previous == Some(up) {
            return;
        }
        if up {
            if previous == Some(false) {
                self.change_demotion(now, Demotion::iface_up);
            }
            let demotion = self.demotion;
            for vhid in self.vhids.range_mut(iface_range(iface)).map(|(_, v)| v) {
                vhid.link_up(
                    now,
                    &mut Host {
                        demotion,
                        actions: &mut self.actions,
                    },
                );
            }
        } else {
            let demotion = self.demotion;
            let mut released = 0;
            for vhid in self.vhids.range_mut(iface_range(iface)).map(|(_, v)| v) {
                let mut host = Host {
                    demotion,
                    actions: &mut self.actions,
                };
                released += u32::from(vhid.stop(Reason::LinkDown, &mut host));
            }
            self.change_demotion(now, |d| {
                d.iface_down();
                (0..released).for_each(|_| d.send_failing(false));
            });
        }
    }

    /// An authenticated advert for `key` arrived.
    pub fn handle_advert(
        &mut self,
        now: Time,
        key: VhidKey,
        advert: PeerAdvert,
    ) -> Result<(), EngineError> {
        if self.shut_down {
            return Ok(());
        }
        let demotion = self.demotion;
        let vhid = self
            .vhids
            .get_mut(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        vhid.on_advert(
            now,
            &advert,
            &mut Host {
                demotion,
                actions: &mut self.actions,
            },
        );
        Ok(())
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.shut_down {
            return;
        }
        let demotion = self.demotion;
        for vhid in self.vhids.values_mut() {
            vhid.on_timeout(
                now,
                &mut Host {
                    demotion,
                    actions: &mut self.actions,
                },
            );
        }
    }

    /// `ifconfig em0 vhid N state backup|master`.
    pub fn admin_set_state(
        &mut self,
        now: Time,
        key: VhidKey,
        target: AdminState,
    ) -> Result<(), EngineError> {
        let demotion = self.demotion;
        let vhid = self
            .vhids
            .get_mut(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        let mut host = Host {
            demotion,
            actions: &mut self.actions,
        };
        if self.shut_down || !vhid.admin(now, target, &mut host) {
            return Err(EngineError::NotRunning { key, target });
        }
        Ok(())
    }

    /// Adds `delta` (may be negative) to the administrator's demotion, like
    /// `sysctl net.inet.carp.demotion=N`. Any change makes every MASTER advertise
    /// at once.
    pub fn demote(&mut self, now: Time, delta: i32) {
        self.change_demotion(now, |d| d.adjust_admin(delta));
    }

    /// Sets the administrator's demotion to `value`.
    pub fn set_demotion(&mut self, now: Time, value: u32) {
        self.change_demotion(now, |d| d.set_admin(value));
    }

    /// The host demotion as FreeBSD counts it: the administrator's value plus
    /// 240 per interface down and per vhid failing to send.
    pub fn demotion(&self) -> u32 {
        self.demotion.total(Flavor::FreeBsd)
    }

    /// The host demotion a vhid of `flavor` applies (OpenBSD counts +1 per
    /// interface down or vhid failing to send instead of 240).
    pub fn demotion_for(&self, flavor: Flavor) -> u32 {
        self.demotion.total(flavor)
    }

    /// Reports whether sending an advert for `key` worked. Three failures in a
    /// row demote the host by 240 until three sends in a row succeed (FreeBSD).
    pub fn report_send(&mut self, now: Time, key: VhidKey, ok: bool) -> Result<(), EngineError> {
        let vhid = self
            .vhids
            .get_mut(&key)
            .ok_or(EngineError::UnknownVhid { key })?;
        if let Some(failing) = vhid.record_send(ok) {
            self.change_demotion(now, |d| d.send_failing(failing));
        }
        Ok(())
    }

    /// Stops every vhid: each MASTER sends the bow-out advert (advbase 255,
    /// advskew 255) if configured to, then every vhid goes to INIT.
    pub fn shutdown(&mut self, _now: Time) {
        if self.shut_down {
            return;
        }
        let demotion = self.demotion;
        for vhid in self.vhids.values_mut() {
            vhid.leave(
                Reason::Shutdown,
                &mut Host {
                    demotion,
                    actions: &mut self.actions,
                },
            );
        }
        self.shut_down = true;
    }

    /// The next action for the caller, in the order they arose.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Engine::handle_timeout`] must next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        self.vhids.values().filter_map(Vhid::deadline).min()
    }

    /// State of one vhid.
    pub fn state(&self, key: VhidKey) -> Option<State> {
        self.vhids.get(&key).map(Vhid::state)
    }

    /// Snapshot of one vhid.
    pub fn status(&self, key: VhidKey) -> Option<VhidStatus> {
        let demotion = self.demotion;
        self.vhids.get(&key).map(|v| v.status(demotion))
    }

    fn host(&mut self) -> Host<'_> {
        Host {
            demotion: self.demotion,
            actions: &mut self.actions,
        }
    }

    fn change_demotion(&mut self, now: Time, change: impl FnOnce(&mut Demotion)) {
        let before = self.demotion;
        change(&mut self.demotion);
        let after = self.demotion;
        if self.shut_down {
            return;
        }
        for vhid in self.vhids.values_mut() {
            // Only vhids whose own flavor's total moved advertise at once.
            let flavor = vhid.flavor();
            if before.total(flavor) == after.total(flavor) {
                continue;
            }
            vhid.demotion_changed(
                now,
                &mut Host {
                    demotion: after,
                    actions: &mut self.actions,
                },
            );
        }
    }
}

fn iface_range(iface: Iface) -> std::ops::RangeInclusive<VhidKey> {
    VhidKey { iface, vhid: 0 }..=VhidKey {
        iface,
        vhid: u8::MAX,
    }
}
