//! The flood defences, after the checksum and vhid checks and before the
//! ring buffer: HMAC-SHA1, the per-source replay filter, and the budget for
//! sources the vhid does not know yet. Whatever is dropped here never wakes
//! the agent.
//!
//! A vhid without a `CARP_AUTH` entry, or with mode `AUTH_MODE_OFF`, goes
//! to the agent as before. See docs/protocol.md ("What XDP verifies").
//!
//! The HMAC key is fixed per vhid, so the agent precomputes SHA-1 up to the
//! inner hash's last two blocks, which hold the counter (`AuthForm`): here
//! only those two and the outer hash's one block remain, whatever the
//! number of VIPs.

use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::TcContext};
use carp_common::{
    AUTH_FLAG_NO_REPLAY, AUTH_MAX_FORMS, AUTH_MODE_FULL, AUTH_MODE_OFF, AUTH_TAIL_WORDS, AuthEntry,
    AuthForm, BADAUTH_SAMPLE_INTERVAL_NS, FAMILY_IPV4, FAMILY_IPV6, IPPROTO_CARP, NEW_SOURCE_BURST,
    NEW_SOURCE_INTERVAL_NS, Port, REPLAY_WINDOW, ReplayEntry, SeenEntry, Stat, VhidKey,
    wire::{ETHERTYPE_IPV4, ETHERTYPE_IPV6},
};

use crate::{cursor::Cursor, egress, eth, maps, sha1, words};

/// Byte 0 of a CARP advert: version 2, type 1.
const CARP_VERSION_TYPE: u8 = 0x21;
/// The IPv6 fixed header.
const IPV6_HLEN: usize = 40;

/// Byte offsets in the CARP header.
const COUNTER_AT: usize = 8;
const MD_AT: usize = 16;
/// The outer hash's message: key^opad (one block, in the state) plus the
/// 20-byte inner digest, in bits.
const OUTER_BITS: u32 = (64 + 20) * 8;

/// What becomes of an advert.
pub enum Outcome {
    /// Queued for the agent, counted as `adverts`.
    Queue,
    /// Dropped here with this counter.
    Drop(Stat),
    /// A wrong digest queued anyway (the vhid's sample, see
    /// `BADAUTH_SAMPLE_INTERVAL_NS`), counted as `badauth`.
    QueueBadauth,
}

/// Runs the checks `mode` asks for on an advert of `vhid`.
///
/// Map keys go by reference although clippy calls it needless: the helper
/// then gets a pointer to the 8-aligned slot the word stores filled (see
/// `maps::vip_vhid`).
///
/// # Safety
/// `advert` must point at the 36 bounds-checked bytes of the advert.
#[inline(always)]
#[allow(clippy::needless_borrows_for_generic_args)]
pub unsafe fn check(
    port: Port,
    vhid: u8,
    advert: *const u8,
    family: u8,
    source: [u64; 2],
) -> Outcome {
    let Some(entry) = maps::CARP_AUTH.get_ptr_mut(VhidKey::new(port, vhid)) else {
        return Outcome::Queue;
    };
    // SAFETY: a successful lookup; `advert` per the caller.
    unsafe {
        let mode = (*entry).mode;
        if mode == AUTH_MODE_OFF {
            return Outcome::Queue;
        }
        let hi = u32::from_be(words::load::<u32>(advert.add(COUNTER_AT)));
        let lo = u32::from_be(words::load::<u32>(advert.add(COUNTER_AT + 4)));
        if mode == AUTH_MODE_FULL && !hmac_ok(entry, advert, hi, lo) {
            let now = bpf_ktime_get_ns();
            if now >= (*entry).sample_ns {
                (*entry).sample_ns = now + BADAUTH_SAMPLE_INTERVAL_NS;
                return Outcome::QueueBadauth;
            }
            return Outcome::Drop(Stat::Badauth);
        }
        let counter = u64::from(hi) << 32 | u64::from(lo);
        // Replays are judged on authenticated adverts only: without the
        // HMAC anyone could move `last` or fill `CARP_SEEN`.
        let replay_check = mode == AUTH_MODE_FULL && (*entry).flags & AUTH_FLAG_NO_REPLAY == 0;
        let key = maps::replay_key(port, vhid, family, source);
        let last = maps::CARP_REPLAY.get_ptr_mut(&key.0);
        if replay_check {
            // A known source: its counter must not be stale.
            if let Some(last) = last {
                if (*last).counter.wrapping_sub(counter) < REPLAY_WINDOW {
                    return Outcome::Drop(Stat::Replayed);
                }
            }
            // Any source: a counter accepted or sent before is a replay,
            // say of the master's advert from a spoofed address (the digest
            // does not cover the source).
            let seen = maps::seen_key(port, vhid, family, counter);
            if maps::CARP_SEEN.get_ptr(&seen.0).is_some() {
                return Outcome::Drop(Stat::Replayed);
            }
        }
        match last {
            Some(last) => {
                if replay_check {
                    (*last).counter = counter;
                }
            }
            None => {
                // A new source spends the vhid's budget, and is remembered
                // only when it could: a flood of spoofed sources adds at
                // most the budget's rate of entries, so the sources heard
                // every advbase (the master) stay the most recently used
                // and are never evicted.
                if !take_budget(entry) {
                    return Outcome::Drop(Stat::Ratelimited);
                }
                // A full LRU map evicts; an error would only forget the source.
                let _ = maps::CARP_REPLAY.insert(&key.0, &ReplayEntry { counter }, 0);
            }
        }
        if replay_check {
            remember(port, vhid, family, counter);
        }
        Outcome::Queue
    }
}

/// Records `counter` in `CARP_SEEN`.
#[inline(always)]
fn remember(port: Port, vhid: u8, family: u8, counter: u64) {
    let key = maps::seen_key(port, vhid, family, counter);
    let entry = SeenEntry {
        // SAFETY: a helper without arguments.
        seen_ns: unsafe { bpf_ktime_get_ns() },
    };
    #[allow(clippy::needless_borrows_for_generic_args)]
    let _ = maps::CARP_SEEN.insert(&key.0, &entry, 0);
}

/// TC egress: records the counter of every advert this host sends for a
/// vhid with replay checks in `CARP_SEEN`, so that the master's own
/// adverts, replayed to it from a spoofed source, are dropped as replays
/// too (it never receives its own adverts otherwise). Reads only; the
/// frame leaves untouched.
#[inline(always)]
pub fn record_sent(ctx: &TcContext) {
    let mut cur = Cursor::tc(ctx);
    let Some(eth) = eth::parse(&mut cur) else {
        return;
    };
    let l3 = cur.pos();
    let (family, header_len) = match eth.ethertype {
        ETHERTYPE_IPV4 => match cur.at::<[u8; 10]>(l3) {
            // SAFETY: `at` checked the bytes are in the linear data.
            Some(ip) => match unsafe { *ip } {
                ip if ip[9] == IPPROTO_CARP && ip[0] >> 4 == 4 => {
                    (FAMILY_IPV4, usize::from(ip[0] & 0x0f) * 4)
                }
                _ => return,
            },
            None => return,
        },
        ETHERTYPE_IPV6 => match cur.at::<[u8; 7]>(l3) {
            // SAFETY: as above.
            Some(ip) if unsafe { (*ip)[6] } == IPPROTO_CARP => (FAMILY_IPV6, IPV6_HLEN),
            _ => return,
        },
        _ => return,
    };
    let Some(head) = cur.at::<[u8; 16]>(l3 + (header_len & 0x3f)) else {
        return;
    };
    // SAFETY: `at` checked the 16 bytes are in the linear data.
    let head = unsafe { *head };
    if head[0] != CARP_VERSION_TYPE {
        return;
    }
    let vhid = head[1];
    let port = egress::port(ctx, eth.vlan);
    let Some(entry) = maps::CARP_AUTH.get_ptr(VhidKey::new(port, vhid)) else {
        return;
    };
    // SAFETY: a successful lookup.
    let (mode, flags) = unsafe { ((*entry).mode, (*entry).flags) };
    if mode != AUTH_MODE_FULL || flags & AUTH_FLAG_NO_REPLAY != 0 {
        return;
    }
    let counter = u64::from_be_bytes([
        head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
    ]);
    remember(port, vhid, family, counter);
}

/// GCRA: one new source every `NEW_SOURCE_INTERVAL_NS` on average, bursts
/// of `NEW_SOURCE_BURST`. Concurrent CPUs may both spend the last token:
/// the budget is a bound on the order of magnitude, not an exact one.
///
/// # Safety
/// `entry` must be a map value pointer from a successful lookup.
#[inline(always)]
unsafe fn take_budget(entry: *mut AuthEntry) -> bool {
    // SAFETY: a helper without arguments; `entry` per the caller.
    unsafe {
        let now = bpf_ktime_get_ns();
        let tat = (*entry).budget_ns;
        let next = if tat > now { tat } else { now } + NEW_SOURCE_INTERVAL_NS;
        if next - now > NEW_SOURCE_BURST * NEW_SOURCE_INTERVAL_NS {
            return false;
        }
        (*entry).budget_ns = next;
    }
    true
}

/// Whether the advert's digest is right in one of the entry's forms.
///
/// # Safety
/// As `check`; `entry` from a successful lookup.
#[inline(always)]
unsafe fn hmac_ok(entry: *const AuthEntry, advert: *const u8, hi: u32, lo: u32) -> bool {
    let Some(scratch) = maps::CARP_AUTH_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: per the caller; `scratch` from a successful lookup.
    unsafe {
        let forms = usize::from((*entry).forms);
        let first = (&raw const (*entry).form).cast::<AuthForm>();
        let mut f = 0;
        while f < AUTH_MAX_FORMS && f < forms {
            if form_matches(entry, first.add(f), scratch, advert, hi, lo) {
                return true;
            }
            f += 1;
        }
    }
    false
}

/// HMAC in one form: the inner hash's tail with the counter written in,
/// then the outer hash, compared with the advert's md.
///
/// # Safety
/// As `hmac_ok`; `form` inside the entry, `scratch` a map value.
#[inline(always)]
unsafe fn form_matches(
    entry: *const AuthEntry,
    form: *const AuthForm,
    scratch: *mut maps::AuthScratch,
    advert: *const u8,
    hi: u32,
    lo: u32,
) -> bool {
    // SAFETY: all pointers per the caller; indices bounded as commented.
    unsafe {
        let k = usize::from((*form).counter_word);
        // The counter spans words k..k+2 of the tail. The tail is always
        // two blocks: no branch between the compressions, so the verifier
        // walks one path through them, not two.
        if k > AUTH_TAIL_WORDS - 3 || (*form).blocks != 2 {
            return false;
        }
        let block = (&raw mut (*scratch).block).cast::<u32>();
        let h = &raw mut (*scratch).h;
        words::copy::<u32, AUTH_TAIL_WORDS>(block.cast(), (&raw const (*form).tail).cast());
        // Counter bytes c0..c7 (big-endian `hi`, `lo`): c0 is the last byte
        // of word k, c1..c4 word k+1, c5..c7 the first three of word k+2
        // (whose last byte is the 0x80 of SHA-1 padding, in the template).
        *block.add(k) |= hi >> 24;
        *block.add(k + 1) = hi << 8 | lo >> 24;
        *block.add(k + 2) |= lo << 8;
        words::copy::<u32, 5>(h.cast(), (&raw const (*form).inner).cast());
        sha1::compress(h, block.cast());
        sha1::compress(h, block.add(16).cast());
        // The outer hash: the inner digest, padding, the length in bits.
        words::copy::<u32, 5>(block.cast(), h.cast());
        *block.add(5) = 0x8000_0000;
        let mut i = 6;
        while i < 15 {
            *block.add(i) = 0;
            i += 1;
        }
        *block.add(15) = OUTER_BITS;
        words::copy::<u32, 5>(h.cast(), (&raw const (*entry).outer).cast());
        sha1::compress(h, block.cast());
        let h = h.cast::<u32>();
        let mut diff = 0;
        let mut i = 0;
        while i < 5 {
            diff |= *h.add(i) ^ u32::from_be(words::load::<u32>(advert.add(MD_AT + 4 * i)));
            i += 1;
        }
        diff == 0
    }
}
