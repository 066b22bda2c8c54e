//! The `CARP_AUTH` entry of a vhid: the HMAC key state the XDP program
//! checks digests with, and how much of the flood defence runs in XDP.
//!
//! The mode is a benchmark knob, `CARP_DEBUG_XDP_AUTH`: `full` (the
//! default: HMAC, replay filter, new-source budget), `ratelimit` (only the
//! budget) or `off` (every valid-looking advert goes to the agent, as before
//! the entry existed). `cargo xtask bench flood` compares the three.

use carp_common::{
    AUTH_FLAG_NO_REPLAY, AUTH_MAX_FORMS, AUTH_MODE_FULL, AUTH_MODE_OFF, AUTH_MODE_RATELIMIT,
    AuthEntry, AuthForm,
};

use crate::proto::auth::{XDP_TAIL_WORDS, XdpKeyState};

/// The environment variable choosing the XDP auth mode.
pub const MODE_ENV: &str = "CARP_DEBUG_XDP_AUTH";

/// How much of the flood defence runs in XDP (`AUTH_MODE_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpAuthMode {
    /// Nothing: every advert with a right checksum and vhid wakes the agent.
    Off,
    /// Only the budget for new sources.
    RateLimit,
    /// HMAC, replay filter and the budget.
    #[default]
    Full,
}

impl XdpAuthMode {
    /// Parses the knob's value (`off`, `ratelimit`, `full`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "ratelimit" => Ok(Self::RateLimit),
            "full" => Ok(Self::Full),
            other => Err(format!(
                "{MODE_ENV}={:?}: expected off, ratelimit or full",
                other.chars().take(32).collect::<String>()
            )),
        }
    }

    /// The mode `CARP_DEBUG_XDP_AUTH` asks for; `full` when unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(MODE_ENV) {
            Ok(text) => Self::parse(&text),
            Err(std::env::VarError::NotPresent) => Ok(Self::Full),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{MODE_ENV} is not UTF-8")),
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Off => AUTH_MODE_OFF,
            Self::RateLimit => AUTH_MODE_RATELIMIT,
            Self::Full => AUTH_MODE_FULL,
        }
    }
}

/// The map entry for a vhid: `state` from [`crate::proto::auth::Auth::xdp_key_state`];
/// `openbsd` turns the replay check off (OpenBSD's counter is a constant
/// cookie).
pub fn auth_entry(state: &XdpKeyState, mode: XdpAuthMode, openbsd: bool) -> AuthEntry {
    const _: () = assert!(XDP_TAIL_WORDS == carp_common::AUTH_TAIL_WORDS);
    let empty = AuthForm {
        inner: [0; 5],
        blocks: 0,
        counter_word: 0,
        _pad: [0; 2],
        tail: [0; XDP_TAIL_WORDS],
    };
    let mut form = [empty; AUTH_MAX_FORMS];
    for (slot, f) in form.iter_mut().zip(&state.forms) {
        *slot = AuthForm {
            inner: f.inner,
            blocks: f.blocks,
            counter_word: f.counter_word,
            _pad: [0; 2],
            tail: f.tail,
        };
    }
    AuthEntry {
        budget_ns: 0,
        sample_ns: 0,
        mode: mode.code(),
        flags: if openbsd { AUTH_FLAG_NO_REPLAY } else { 0 },
        forms: state.forms.len().min(AUTH_MAX_FORMS) as u8,
        _pad: [0; 5],
        outer: state.outer,
        _pad2: 0,
        form,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knob_values() {
        assert_eq!(XdpAuthMode::parse("full"), Ok(XdpAuthMode::Full));
        assert_eq!(XdpAuthMode::parse("ratelimit"), Ok(XdpAuthMode::RateLimit));
        assert_eq!(XdpAuthMode::parse("off"), Ok(XdpAuthMode::Off));
        let err = XdpAuthMode::parse("Full").unwrap_err();
        assert!(err.contains(MODE_ENV) && err.contains("ratelimit"), "{err}");
    }
}
