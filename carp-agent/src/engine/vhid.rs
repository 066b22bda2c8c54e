//! The election state machine of one vhid.

use std::{collections::VecDeque, net::IpAddr, time::Duration};

use super::{
    action::{Action, AdminState, Reason, State, VhidKey},
    config::{Flavor, TieBreak, VhidConfig},
    demotion::Demotion,
    heard::{Heard, HeardMasters},
    preference::{Contest, Rank, contest},
    time::Time,
    timing::{Advertised, PeerAdvert},
};

/// What a vhid needs from its host for one input: the host demotion, and where
/// to put its actions.
pub(crate) struct Host<'a> {
    pub(crate) demotion: Demotion,
    pub(crate) actions: &'a mut VecDeque<Action>,
}

/// A snapshot of one vhid, for status output and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhidStatus {
    pub key: VhidKey,
    /// Its configuration.
    pub config: VhidConfig,
    /// Current state.
    pub state: State,
    /// The timing fields this host advertises now (demotion applied).
    pub advertised: Advertised,
    /// Time between adverts as MASTER.
    pub interval: Duration,
    /// Time a BACKUP waits for a master.
    pub master_down: Duration,
    /// When the next advert (MASTER) or master-down (BACKUP) is due.
    pub deadline: Option<Time>,
    /// The master a BACKUP currently listens to, if it heard one.
    pub master: Option<IpAddr>,
}

#[derive(Debug)]
pub(crate) struct Vhid {
    key: VhidKey,
    config: VhidConfig,
    state: State,
    /// MASTER: next advert. BACKUP: master-down. INIT: none.
    deadline: Option<Time>,
    /// When a BACKUP last accepted an advert (or entered BACKUP).
    last_heard: Time,
    /// The master a BACKUP follows: the last one accepted (or yielded to).
    master: Option<IpAddr>,
    /// Every master a BACKUP heard lately, to see through reordered adverts.
    heard: HeardMasters,
    send_health: SendHealth,
    /// When a MASTER last re-asserted itself against a less preferred master.
    last_reassert: Option<Time>,
    /// A BACKUP waiting out its bow-out delay: the master that bowed out.
    bowed_out: Option<IpAddr>,
    /// Go to MASTER instead of BACKUP when the link comes up: the previous
    /// agent's MASTER was adopted ([`Reason::Adopted`]).
    adopt: bool,
}

/// A MASTER hearing a less preferred master re-asserts at most this often:
/// a misconfigured peer that never yields must not turn us into a flood.
pub const REASSERT_MIN_GAP: Duration = Duration::from_secs(1);

impl Vhid {
    pub(crate) fn new(key: VhidKey, config: VhidConfig) -> Self {
        Vhid {
            key,
            config,
            state: State::Init,
            deadline: None,
            last_heard: Time::ZERO,
            master: None,
            heard: HeardMasters::default(),
            send_health: SendHealth::default(),
            last_reassert: None,
            bowed_out: None,
            adopt: false,
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn deadline(&self) -> Option<Time> {
        self.deadline
    }

    pub(crate) fn flavor(&self) -> Flavor {
        self.config.flavor
    }

    pub(crate) fn status(&self, demotion: Demotion) -> VhidStatus {
        let advertised = self.advertised(demotion);
        VhidStatus {
            key: self.key,
            config: self.config.clone(),
            state: self.state,
            advertised,
            interval: advertised.interval(),
            master_down: self.master_down(),
            deadline: self.deadline,
            master: self.master,
        }
    }

    /// How long this BACKUP waits for a master. FreeBSD arms the timer with
    /// the configured advskew, not the demoted one on the wire; OpenBSD's
    /// advskew is never demoted, so the two agree on "configured".
    fn master_down(&self) -> Duration {
        Advertised::for_config(&self.config, 0).master_down(self.config.flavor)
    }

    fn advertised(&self, demotion: Demotion) -> Advertised {
        Advertised::for_config(&self.config, demotion.total(self.config.flavor))
    }

    pub(crate) fn link_up(&mut self, now: Time, host: &mut Host<'_>) {
        if self.state == State::Init {
            match std::mem::take(&mut self.adopt) {
                true => self.become_master(now, Reason::Adopted, host),
                false => self.become_backup(now, None, Reason::LinkUp, host),
            }
        }
    }

    /// Carries on as MASTER after the previous agent: at once if running,
    /// else when the link comes up. A MASTER stays as it is.
    pub(crate) fn adopt_master(&mut self, now: Time, host: &mut Host<'_>) {
        match self.state {
            State::Init => self.adopt = true,
            State::Backup => self.become_master(now, Reason::Adopted, host),
            State::Master => {}
        }
    }

    /// Goes to INIT; returns whether a send-error demotion was released.
    pub(crate) fn stop(&mut self, reason: Reason, host: &mut Host<'_>) -> bool {
        if self.state != State::Init {
            self.transition(State::Init, reason, host);
        }
        self.deadline = None;
        self.master = None;
        self.adopt = false;
        self.heard.clear();
        self.send_health.reset()
    }

    pub(crate) fn on_advert(&mut self, now: Time, advert: &PeerAdvert, host: &mut Host<'_>) {
        match self.state {
            State::Init => {}
            // A host going away is never a reason to yield.
            State::Master if advert.is_bow_out() => {}
            State::Master => self.master_hears(now, advert, host),
            State::Backup => self.backup_hears(now, advert, host),
        }
    }

    /// How `advert`'s sender compares with us advertising `ours`.
    fn contest(&self, advert: &PeerAdvert, ours: Advertised) -> Contest {
        let flavor = self.config.flavor;
        contest(
            Rank::new(flavor, ours.advbase, ours.advskew, ours.demote),
            self.config.source,
            Rank::new(flavor, advert.advbase, advert.advskew, advert.demote),
            advert.source,
            self.config.tie_break,
        )
    }

    fn master_hears(&mut self, now: Time, advert: &PeerAdvert, host: &mut Host<'_>) {
        let ours = self.advertised(host.demotion);
        let peer = *advert;
        let contest = self.contest(advert, ours);
        let reason = match contest {
            Contest::PeerWins { by_address } => Reason::MorePreferredMaster {
                peer,
                by_address,
                demoted_advskew: (self.config.flavor == Flavor::FreeBsd
                    && host.demotion.total(Flavor::FreeBsd) > 0)
                    .then_some(ours.advskew),
            },
            Contest::Tie if self.config.tie_break == TieBreak::AlwaysYield => {
                Reason::EqualMaster { peer }
            }
            Contest::WeWin { .. } => {
                self.reassert(now, ours, advert, host);
                return;
            }
            // A tie under an address rule means our own address: a looped-back
            // advert.
            Contest::Tie => return,
        };
        let winner = Heard {
            advert: *advert,
            at: now,
        };
        self.become_backup(now, Some(winner), reason, host);
        if let Contest::PeerWins { by_address: true } = contest {
            // The winner of a tie may be a BSD, which yields to any equal
            // master: then both of us just yielded, and both master-downs
            // would fire together and collide again. A winner that stays
            // MASTER advertises within its interval and re-arms our timer as
            // usual; one that falls silent for as long as `Heard` presumes a
            // master alive yielded too, and we take over well before its
            // master-down, which then hears an equal master and stays BACKUP.
            self.deadline = self.deadline.map(|d| d.min(winner.alive_until()));
        }
    }

    /// Another master that should yield to us is advertising (two masters
    /// after a partition heals, or a peer with another tie rule): advertise
    /// now, so it yields without waiting for our next interval, and ask the
    /// caller to re-announce the VIPs, so neighbours that followed the other
    /// master come back. ucarp and keepalived re-send gratuitous ARPs here too.
    fn reassert(&mut self, now: Time, ours: Advertised, advert: &PeerAdvert, host: &mut Host<'_>) {
        if self
            .last_reassert
            .is_some_and(|at| now.saturating_duration_since(at) < REASSERT_MIN_GAP)
        {
            return;
        }
        self.last_reassert = Some(now);
        self.push_advert(ours, host);
        host.actions.push_back(Action::Reassert {
            key: self.key,
            peer: *advert,
        });
    }

    fn backup_hears(&mut self, now: Time, advert: &PeerAdvert, host: &mut Host<'_>) {
        let ours = self.advertised(host.demotion);
        let master_down = self.master_down();
        if advert.is_bow_out() && self.config.accept_bow_out {
            self.bow_out_heard(now, advert.source, ours, host);
            return;
        }
        let takeover = self.takeover_reason(advert, ours);
        // A master other than the sender that outranks us is in charge, and it
        // will make the sender yield: taking over would only add a second master
        // for an interval. (Typically the sender's advert is older than that
        // master's, e.g. a demoted master's last word.) If that master is gone,
        // master-down still fires.
        let outranked = self.heard.alive(now).any(|h| {
            h.source() != advert.source
                && matches!(self.contest(&h.advert, ours), Contest::PeerWins { .. })
        });
        self.heard.record(Heard {
            advert: *advert,
            at: now,
        });
        match takeover {
            Some(_) if outranked => {}
            Some(reason) => self.become_master(now, reason, host),
            None => {
                self.master = Some(advert.source);
                self.last_heard = now;
                self.bowed_out = None;
                self.deadline = Some(now + master_down);
            }
        }
    }

    /// A master bows out: unless another master is still advertising that we
    /// would follow anyway (often one that already took over; then follow
    /// that one), take over after [`Self::bow_out_delay`], so that with
    /// several backups only the most preferred one does: its first advert
    /// reaches the others while they still wait, and they follow it.
    fn bow_out_heard(&mut self, now: Time, source: IpAddr, ours: Advertised, host: &mut Host<'_>) {
        let master_down = self.master_down();
        let departed = self
            .heard
            .alive(now)
            .find(|h| h.source() == source)
            .map(|h| h.advert);
        self.heard.forget(source);
        let successor = self
            .heard
            .alive(now)
            .filter(|h| self.takeover_reason(&h.advert, ours).is_none())
            .max_by_key(|h| h.at)
            .copied();
        if let Some(h) = successor {
            self.master = Some(h.source());
            self.last_heard = h.at;
            self.deadline = Some(h.at + master_down);
            return;
        }
        let delay = bow_out_delay(ours, departed.as_ref()).min(master_down);
        if delay.is_zero() {
            self.become_master(now, Reason::BowOut { source }, host);
        } else {
            self.master = None;
            self.bowed_out = Some(source);
            self.deadline = Some(now + delay);
        }
    }

    /// Why a BACKUP hearing `advert` should take over, if it should.
    fn takeover_reason(&self, advert: &PeerAdvert, ours: Advertised) -> Option<Reason> {
        let peer = *advert;
        if self.config.flavor == Flavor::OpenBsd && advert.demote > ours.demote {
            return Some(Reason::MoreDemotedMaster {
                peer,
                ours: ours.demote,
            });
        }
        // Preemption needs a strictly less preferred master: nobody (FreeBSD,
        // OpenBSD, ucarp) takes over from an equal one, whatever the tie rule.
        if self.config.preempt {
            if let Contest::WeWin { by_address: false } = self.contest(advert, ours) {
                return Some(Reason::Preempting { peer });
            }
        }
        let threshold = self.timeout_threshold(ours)?;
        (advert.interval() > threshold).then_some(Reason::MasterTooSlow { peer, threshold })
    }

    /// "Master will time out": a master advertising slower than
    /// `3*advbase + advskew/256` (ours, advskew as on our wire) would miss
    /// our master-down anyway, so it is treated as down at once. OpenBSD
    /// skips the rule with advbase 0, where the threshold would be a
    /// fraction of a second.
    fn timeout_threshold(&self, ours: Advertised) -> Option<Duration> {
        if self.config.flavor == Flavor::OpenBsd && ours.advbase == 0 {
            return None;
        }
        let ticks = 3 * 256 * u32::from(ours.advbase) + u32::from(ours.advskew);
        Some(super::time::ticks(ticks))
    }

    pub(crate) fn on_timeout(&mut self, now: Time, host: &mut Host<'_>) {
        if self.deadline.is_none_or(|deadline| deadline > now) {
            return;
        }
        match self.state {
            State::Backup => {
                let reason = match self.bowed_out.take() {
                    Some(source) => Reason::BowOut { source },
                    None => Reason::MasterDown {
                        silent_for: now.saturating_duration_since(self.last_heard),
                    },
                };
                self.become_master(now, reason, host);
            }
            State::Master => self.advertise_on_schedule(now, host),
            State::Init => self.deadline = None,
        }
    }

    /// FreeBSD: any change of the host demotion makes every master advertise at
    /// once, so peers see the new advskew without waiting an interval.
    pub(crate) fn demotion_changed(&mut self, now: Time, host: &mut Host<'_>) {
        if self.state == State::Master {
            self.advertise(now, host);
        }
    }

    /// Returns false if the vhid is in INIT, where the command means nothing.
    pub(crate) fn admin(&mut self, now: Time, target: AdminState, host: &mut Host<'_>) -> bool {
        match (self.state, target) {
            (State::Init, _) => return false,
            (State::Backup, AdminState::Master) => {
                self.become_master(now, Reason::Admin(target), host);
            }
            (State::Master, AdminState::Backup) => {
                self.become_backup(now, None, Reason::Admin(target), host);
            }
            (State::Backup, AdminState::Backup) | (State::Master, AdminState::Master) => {}
        }
        true
    }

    /// Sends the bow-out if MASTER, then goes to INIT for `reason` (shutdown,
    /// removal). Returns whether a send-error demotion was released.
    pub(crate) fn leave(&mut self, reason: Reason, host: &mut Host<'_>) -> bool {
        if self.state == State::Master && self.config.send_bow_out {
            let ours = self.advertised(host.demotion);
            self.push_advert(Advertised::bow_out(ours.demote), host);
        }
        self.stop(reason, host)
    }

    /// Takes a new configuration (a reload) without leaving its state: the
    /// vhid number and interface stay, everything else may change. A MASTER
    /// whose advertised timing changed advertises at once, so peers compare
    /// against the new values without waiting an interval; a BACKUP re-arms
    /// master-down from the last advert it heard, with the new timing.
    pub(crate) fn reconfigure(&mut self, now: Time, config: VhidConfig, host: &mut Host<'_>) {
        let before = self.advertised(host.demotion);
        self.config = config;
        match self.state {
            State::Master if self.advertised(host.demotion) != before => self.advertise(now, host),
            State::Backup if self.bowed_out.is_none() => {
                self.deadline = Some(self.last_heard + self.master_down());
            }
            _ => {}
        }
    }

    /// Records the outcome of sending an advert; returns `Some(true)` when the
    /// vhid starts demoting the host for send errors, `Some(false)` when it stops.
    pub(crate) fn record_send(&mut self, ok: bool) -> Option<bool> {
        self.send_health.record(ok)
    }

    fn become_master(&mut self, now: Time, reason: Reason, host: &mut Host<'_>) {
        self.transition(State::Master, reason, host);
        self.master = None;
        self.bowed_out = None;
        self.heard.clear();
        self.advertise(now, host);
    }

    fn become_backup(
        &mut self,
        now: Time,
        master: Option<Heard>,
        reason: Reason,
        host: &mut Host<'_>,
    ) {
        self.transition(State::Backup, reason, host);
        self.master = master.map(|m| m.source());
        self.bowed_out = None;
        self.heard.clear();
        if let Some(m) = master {
            self.heard.record(m);
        }
        self.last_heard = now;
        self.deadline = Some(now + self.master_down());
    }

    /// The regular advert of a MASTER whose timer fired at `now`. The next
    /// one is due an interval after this one was *due*, not after the
    /// (possibly late) wake-up: scheduling from the wake-up would stretch
    /// every interval by the wake-up latency (a 3.9 ms interval went out
    /// every 5 ms on a busy host). A wake-up later than a whole interval
    /// starts the schedule again from now instead of sending a burst.
    fn advertise_on_schedule(&mut self, now: Time, host: &mut Host<'_>) {
        let ours = self.advertised(host.demotion);
        let interval = ours.interval();
        let due = self
            .deadline
            .filter(|due| now.saturating_duration_since(*due) < interval)
            .unwrap_or(now);
        self.push_advert(ours, host);
        self.deadline = Some(due + interval);
    }

    fn advertise(&mut self, now: Time, host: &mut Host<'_>) {
        let ours = self.advertised(host.demotion);
        self.push_advert(ours, host);
        self.deadline = Some(now + ours.interval());
    }

    fn push_advert(&self, fields: Advertised, host: &mut Host<'_>) {
        host.actions.push_back(Action::SendAdvert {
            key: self.key,
            advbase: fields.advbase,
            advskew: fields.advskew,
            demote: fields.demote,
        });
    }

    fn transition(&mut self, to: State, reason: Reason, host: &mut Host<'_>) {
        let from = std::mem::replace(&mut self.state, to);
        host.actions.push_back(Action::StateChange {
            key: self.key,
            from,
            to,
            reason,
        });
    }
}

/// How long a BACKUP waits after its master bowed out before taking over:
/// 1/1024 s (about 1 ms) per 1/256 s step that separates our advertised rank (`256*advbase + advskew`) from the departed
/// master's (from its last regular advert; 0 if none was heard).
///
/// This is VRRP's Skew_Time after a priority-0 advert, in CARP's terms: the
/// most preferred backup waits least and takes over first; its first advert
/// reaches the others while they still wait, and they follow it instead of
/// all becoming MASTER for a moment and running their hooks. Backups 50
/// steps apart are 49 ms apart, time enough for a busy host; the most
/// preferred backup of a typical pair (advskew 0 and 100) takes over 98 ms
/// after the bow-out, against master-down's 3.4 s without one.
fn bow_out_delay(ours: Advertised, departed: Option<&PeerAdvert>) -> Duration {
    let rank = |advbase: u8, advskew: u8| 256 * u32::from(advbase) + u32::from(advskew);
    let theirs = departed.map_or(0, |d| rank(d.advbase, d.advskew));
    let steps = rank(ours.advbase, ours.advskew).saturating_sub(theirs);
    super::time::ticks(steps) / 4
}

/// FreeBSD's send-error bookkeeping: 3 consecutive failures demote the host,
/// 3 consecutive successes afterwards undo it.
#[derive(Clone, Debug, Default)]
struct SendHealth {
    errors: u32,
    successes: u32,
    demoting: bool,
}

const SENDAD_MAX_ERRORS: u32 = 3;
const SENDAD_MIN_SUCCESS: u32 = 3;

impl SendHealth {
    fn record(&mut self, ok: bool) -> Option<bool> {
        if !ok {
            self.errors = self.errors.saturating_add(1);
            self.successes = 0;
            if self.errors >= SENDAD_MAX_ERRORS && !self.demoting {
                self.demoting = true;
                return Some(true);
            }
        } else if self.demoting {
            self.successes += 1;
            if self.successes >= SENDAD_MIN_SUCCESS {
                *self = SendHealth::default();
                return Some(false);
            }
        } else {
            self.errors = 0;
        }
        None
    }

    /// Forgets the history; returns whether a demotion was released.
    fn reset(&mut self) -> bool {
        std::mem::take(self).demoting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_health_needs_three_in_a_row() {
        let mut health = SendHealth::default();
        let outcomes = [
            (false, None),
            (false, None),
            (true, None),
            (false, None),
            (false, None),
            (false, Some(true)),
            (false, None),
            (true, None),
            (true, None),
            (false, None),
            (true, None),
            (true, None),
            (true, Some(false)),
            (true, None),
        ];
        for (step, (ok, expected)) in outcomes.into_iter().enumerate() {
            assert_eq!(health.record(ok), expected, "step {step}");
        }
    }
}
