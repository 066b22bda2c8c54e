//! sd_notify(3): telling systemd how the agent is doing, for `Type=notify`
//! units.
//!
//! - [`ready`]: `READY=1` once start-up is complete (XDP attached, vhids
//!   added, control socket answering); systemd holds back units ordered
//!   after this one, and `systemctl start` returns, until then.
//! - [`StatusReporter`]: `STATUS=` with each vhid's state (`vhid 1 eth0
//!   MASTER, vhid 2 eth0 BACKUP`), shown by `systemctl status`, sent again
//!   whenever it changes.
//! - [`Watchdog`]: `WATCHDOG=1` at half the `WATCHDOG_USEC` the unit's
//!   `WatchdogSec=` sets, from a branch of the event loop, so a loop that
//!   stops turning stops the pings and systemd restarts the agent.
//! - [`stopping`]: `STOPPING=1` when shutdown starts.
//! - [`reloading`] then [`reloaded`]: `RELOADING=1` with `MONOTONIC_USEC=`
//!   (what `Type=notify-reload`, systemd 253 and later, requires) before a
//!   configuration reload is applied, and `READY=1` once it is. Call both
//!   from the reload path, also for a refused configuration (the running one
//!   stays: the agent is ready again).
//!
//! Nothing is sent when `NOTIFY_SOCKET` is unset (not run by systemd), and a
//! failure to send is logged once, never fatal: the agent's job is CARP.
//! systemd only accepts these from the main process (`NotifyAccess=main`),
//! so hooks, which inherit the variable, cannot speak for the agent.
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use sd_notify::NotifyState;

use crate::engine::State;

/// Shortest and longest watchdog ping interval honoured: `WATCHDOG_USEC`
/// is outside input; 0 would be a busy loop and an absurd value would
/// overflow timer arithmetic.
const PING_MIN: Duration = Duration::from_millis(10);
const PING_MAX: Duration = Duration::from_secs(24 * 3600);

/// Whether the agent was started with a notification socket.
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// `READY=1` and the first `STATUS=`.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STOPPING=1`: shutdown has begun (bowing out, removing VIPs, detaching).
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// `RELOADING=1` with `MONOTONIC_USEC=` (CLOCK_MONOTONIC now, as
/// `Type=notify-reload` requires): a reload has begun. Follow it with
/// [`reloaded`], whether the new configuration was applied or refused.
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// `READY=1` after [`reloading`], with the status line of the vhids the
/// agent now runs.
pub fn reloaded(status: &str) {
    ready(status);
}

/// `WATCHDOG=1`: the event loop is turning.
pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}

/// The `STATUS=` line: each vhid with its interface and state, in the
/// order given.
pub fn status_line<'a>(vhids: impl IntoIterator<Item = (u8, &'a str, State)>) -> String {
    let parts: Vec<String> = vhids
        .into_iter()
        .map(|(vhid, interface, state)| format!("vhid {vhid} {interface} {state}"))
        .collect();
    if parts.is_empty() {
        "no vhids".to_string()
    } else {
        parts.join(", ")
    }
}

/// Sends `STATUS=` when the vhids' states changed, and only then.
#[derive(Debug)]
pub struct StatusReporter {
    enabled: bool,
    /// The state-change count the last line was built at: the line is only
    /// rebuilt when it moved, not on every turn of the event loop.
    generation: Option<u64>,
    last: String,
}

impl StatusReporter {
    /// A reporter that stays silent when `NOTIFY_SOCKET` is unset.
    pub fn from_env() -> Self {
        Self::new(enabled())
    }

    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            generation: None,
            last: String::new(),
        }
    }

    /// `READY=1` with the first `STATUS=` (`line()`), at the end of
    /// start-up; later lines are only sent when they differ from it.
    pub fn ready(&mut self, generation: u64, line: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        self.generation = Some(generation);
        self.last = line();
        ready(&self.last);
    }

    /// Calls `line` when `generation` (a count of state changes) moved
    /// since the last call, and sends its result if it differs from the
    /// last line sent. Returns the line sent, if any.
    pub fn update(&mut self, generation: u64, line: impl FnOnce() -> String) -> Option<&str> {
        if !self.enabled || self.generation == Some(generation) {
            return None;
        }
        self.generation = Some(generation);
        let line = line();
        if line == self.last {
            return None;
        }
        self.last = line;
        send(&[NotifyState::Status(&self.last)]);
        Some(&self.last)
    }
}

/// The watchdog pings of the event loop: [`Watchdog::tick`] completes
/// every half `WATCHDOG_USEC`, or never when systemd asked for no watchdog.
#[derive(Debug)]
pub struct Watchdog {
    interval: Option<tokio::time::Interval>,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must be this
    /// process if set); must be called inside the tokio runtime.
    pub fn from_env() -> Self {
        let every = if enabled() {
            sd_notify::watchdog_enabled().and_then(ping_every)
        } else {
            None
        };
        Self::every(every)
    }

    fn every(every: Option<Duration>) -> Self {
        let interval = every.map(|period| {
            let mut interval = tokio::time::interval(period);
            // A late loop pings once when it comes back, not in a burst.
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        Self { interval }
    }

    /// The ping interval, if the watchdog is on.
    pub fn period(&self) -> Option<Duration> {
        self.interval.as_ref().map(tokio::time::Interval::period)
    }

    /// Completes when the next ping is due (at once for the first).
    pub async fn tick(&mut self) {
        match &mut self.interval {
            Some(interval) => {
                interval.tick().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// Half the watchdog timeout, as sd_watchdog_enabled(3) advises, within
/// [`PING_MIN`]..=[`PING_MAX`]; `None` for a zero timeout (no watchdog).
fn ping_every(timeout: Duration) -> Option<Duration> {
    if timeout.is_zero() {
        return None;
    }
    Some((timeout / 2).clamp(PING_MIN, PING_MAX))
}

fn send(states: &[NotifyState<'_>]) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let Err(err) = sd_notify::notify(states) else {
        return;
    };
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "telling the service manager our state through NOTIFY_SOCKET failed: {err} \
             (warned once; the agent runs on)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_names_each_vhid_interface_and_state() {
        let line = status_line([
            (1, "eth0", State::Master),
            (2, "eth0", State::Backup),
            (7, "bond1", State::Init),
        ]);
        assert_eq!(
            line,
            "vhid 1 eth0 MASTER, vhid 2 eth0 BACKUP, vhid 7 bond1 INIT"
        );
        assert_eq!(status_line([]), "no vhids");
    }

    #[test]
    fn the_watchdog_pings_at_half_the_timeout_within_bounds() {
        assert_eq!(
            ping_every(Duration::from_secs(30)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(ping_every(Duration::ZERO), None);
        assert_eq!(ping_every(Duration::from_micros(1)), Some(PING_MIN));
        assert_eq!(ping_every(Duration::from_micros(u64::MAX)), Some(PING_MAX));
    }

    #[test]
    fn status_is_rebuilt_only_when_the_generation_moves_and_sent_when_it_changed() {
        let mut reporter = StatusReporter::new(true);
        let built = std::cell::Cell::new(0);
        let line = |text: &'static str| {
            built.set(built.get() + 1);
            text.to_string()
        };
        assert_eq!(
            reporter.update(0, || line("vhid 1 eth0 INIT")),
            Some("vhid 1 eth0 INIT")
        );
        assert_eq!(reporter.update(0, || line("unused")), None);
        assert_eq!(
            reporter.update(1, || line("vhid 1 eth0 INIT")),
            None,
            "unchanged"
        );
        assert_eq!(
            reporter.update(2, || line("vhid 1 eth0 MASTER")),
            Some("vhid 1 eth0 MASTER")
        );
        assert_eq!(built.get(), 3, "not rebuilt for an unchanged generation");
    }

    #[test]
    fn a_disabled_reporter_never_builds_the_line() {
        let mut reporter = StatusReporter::new(false);
        reporter.ready(0, || unreachable!("not built"));
        assert_eq!(reporter.update(1, || unreachable!("not built")), None);
    }

    #[test]
    fn the_ready_line_is_not_sent_again_as_a_status() {
        let mut reporter = StatusReporter::new(true);
        reporter.ready(3, || "vhid 1 eth0 INIT".to_string());
        assert_eq!(reporter.update(4, || "vhid 1 eth0 INIT".to_string()), None);
        assert_eq!(
            reporter.update(5, || "vhid 1 eth0 BACKUP".to_string()),
            Some("vhid 1 eth0 BACKUP")
        );
    }

    #[tokio::test]
    async fn a_disabled_watchdog_never_ticks_an_enabled_one_does() {
        let mut off = Watchdog::every(None);
        assert_eq!(off.period(), None);
        let never = tokio::time::timeout(Duration::from_millis(200), off.tick()).await;
        assert!(never.is_err(), "no ping without a watchdog");
        let period = Duration::from_millis(50);
        let mut on = Watchdog::every(Some(period));
        assert_eq!(on.period(), Some(period));
        on.tick().await; // the first at once
        let start = tokio::time::Instant::now();
        on.tick().await;
        assert!(start.elapsed() >= period, "the next one a period later");
    }
}
