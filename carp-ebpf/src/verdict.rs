//! What the program decided about a frame: the XDP action plus at most two
//! counters to bump. `main::finish` is the single place that records it.

use aya_ebpf::bindings::xdp_action::{XDP_DROP, XDP_PASS, XDP_TX};
use carp_common::Stat;

#[derive(Clone, Copy)]
pub struct Verdict {
    pub action: u32,
    pub first: Option<Stat>,
    pub second: Option<Stat>,
}

impl Verdict {
    /// Pass to the stack untouched, counting nothing.
    pub const PASS: Self = Self::new(XDP_PASS, None, None);
    /// Drop counting nothing: only for states that cannot happen.
    pub const DROP: Self = Self::new(XDP_DROP, None, None);

    const fn new(action: u32, first: Option<Stat>, second: Option<Stat>) -> Self {
        Self {
            action,
            first,
            second,
        }
    }

    pub const fn pass(stat: Stat) -> Self {
        Self::new(XDP_PASS, Some(stat), None)
    }

    pub const fn pass2(first: Stat, second: Stat) -> Self {
        Self::new(XDP_PASS, Some(first), Some(second))
    }

    pub const fn drop(stat: Stat) -> Self {
        Self::new(XDP_DROP, Some(stat), None)
    }

    pub const fn drop2(first: Stat, second: Stat) -> Self {
        Self::new(XDP_DROP, Some(first), Some(second))
    }

    pub const fn tx(stat: Stat) -> Self {
        Self::new(XDP_TX, Some(stat), None)
    }
}
