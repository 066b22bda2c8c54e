//! Protocol-112 packets: validate CARP adverts and hand good ones to the
//! agent through the ring buffer. Adverts are consumed here (XDP_DROP after
//! queueing): the agent owns them from then on.
//!
//! Checks, in order, each with its carpstats counter:
//! 1. the IP header (and, for IPv4, IHL*4 bytes of it) is in the frame — `hdrops`;
//! 2. IP version nibble right and IPv4 IHL >= 5 — `badlen`;
//!    (IPv4 fragments, MF or offset != 0, are not ours: passed, `ipackets` only);
//! 3. the IP length fields fit the frame (trailing Ethernet padding is fine;
//!    IPv4 total length below the header length is `badlen`) — `hdrops`;
//! 4. TTL / hop limit 255 — `badttl`;
//! 5. payload exactly 36 bytes and not VRRP of that size (version 3, or
//!    version 2 with an address count other than CARP's authlen 7), else it
//!    is VRRP: passed untouched — `vrrp_passed`, or `vrrp_clash` for an IPv4
//!    VRRP advertisement whose virtual router id is a vhid of this interface
//!    (see `vrrp4`);
//! 6. byte 0 is 0x21 (version 2, type 1) — `badver`;
//! 7. RFC 1071 checksum over the 36 bytes — `badsum`;
//! 8. vhid configured on the receiving interface — `badvhid`;
//! 9. for a vhid with a `CARP_AUTH` entry (see `auth`): HMAC — `badauth`;
//!    counter not stale for a known source — `replayed`; a new source within
//!    the vhid's budget — `ratelimited`.
//!
//! Every protocol-112 packet whose protocol byte is in the frame counts in
//! `ipackets` / `ipackets6` first.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use carp_common::{
    AdvertEvent, CARP_ADVERT_LEN, FAMILY_IPV4, FAMILY_IPV6, IPPROTO_CARP, MODE_VIRTUAL_MAC, Port,
    Stat, VhidKey, VrrpSeen, wire::LINK_LOCAL_TTL,
};

use crate::{auth, csum, cursor::Cursor, maps, verdict::Verdict, words};

const CARP_VERSION_TYPE: u8 = 0x21;
const IPV4_MIN_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
/// IPv4 flags/fragment-offset bits that mark a fragment: MF and the offset.
const IPV4_FRAGMENT_MASK: u16 = 0x3fff;

type Advert = [u8; CARP_ADVERT_LEN];

/// IPv4 with protocol 112, the cursor on the IPv4 header.
#[inline(always)]
pub fn ipv4(port: Port, cur: &Cursor) -> Verdict {
    let l3 = cur.pos();
    let Some(ip) = cur.at::<[u8; IPV4_MIN_HLEN]>(l3) else {
        return Verdict::drop2(Stat::Ipackets, Stat::Hdrops);
    };
    // SAFETY: `at` checked the 20 bytes are in the frame.
    let ip = unsafe { *ip };
    let ihl = usize::from(ip[0] & 0x0f);
    if ip[0] >> 4 != 4 || ihl < 5 {
        return Verdict::drop2(Stat::Ipackets, Stat::Badlen);
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & IPV4_FRAGMENT_MASK != 0 {
        // A CARP advert is never fragmented; a fragmented VRRP packet may be,
        // and raw sockets in the stack can reassemble it.
        return Verdict::pass(Stat::Ipackets);
    }
    let hlen = ihl * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if !cur.has(l3, hlen) {
        return Verdict::drop2(Stat::Ipackets, Stat::Hdrops);
    }
    if total < hlen {
        return Verdict::drop2(Stat::Ipackets, Stat::Badlen);
    }
    let Some(advert) = payload(cur, l3 + hlen, total - hlen) else {
        return Verdict::drop2(Stat::Ipackets, Stat::Hdrops);
    };
    if ip[8] != LINK_LOCAL_TTL {
        return Verdict::drop2(Stat::Ipackets, Stat::Badttl);
    }
    let advert = match advert {
        // SAFETY: `payload` checked the 36 bytes of an advert are in the frame.
        Some(a) if !is_vrrp(unsafe { words::load::<u32>(a.cast()) }) => a,
        _ => {
            let source = [ip[12], ip[13], ip[14], ip[15]];
            return vrrp4(port, cur, l3 + hlen, total - hlen, source);
        }
    };
    let header = Header {
        family: FAMILY_IPV4,
        ttl: ip[8],
        source: [
            u64::from(u32::from_le_bytes([ip[12], ip[13], ip[14], ip[15]])),
            0,
        ],
    };
    validate(port, advert, &header, Stat::Ipackets)
}

/// IPv6 with next header 112, the cursor on the IPv6 header.
#[inline(always)]
pub fn ipv6(port: Port, cur: &Cursor) -> Verdict {
    let l3 = cur.pos();
    let Some(ip) = cur.at::<[u8; IPV6_HLEN]>(l3) else {
        return Verdict::drop2(Stat::Ipackets6, Stat::Hdrops);
    };
    // SAFETY: `at` checked the 40 bytes are in the frame.
    let ip = unsafe { &*ip };
    if ip[0] >> 4 != 6 {
        return Verdict::drop2(Stat::Ipackets6, Stat::Badlen);
    }
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let Some(advert) = payload(cur, l3 + IPV6_HLEN, len) else {
        return Verdict::drop2(Stat::Ipackets6, Stat::Hdrops);
    };
    let hop_limit = ip[7];
    if hop_limit != LINK_LOCAL_TTL {
        return Verdict::drop2(Stat::Ipackets6, Stat::Badttl);
    }
    let advert = match advert {
        // SAFETY: `payload` checked the 36 bytes of an advert are in the frame.
        Some(a) if !is_vrrp(unsafe { words::load::<u32>(a.cast()) }) => a,
        _ => return Verdict::pass2(Stat::Ipackets6, Stat::VrrpPassed),
    };
    // SAFETY: `ip` is the bounds-checked IPv6 header; bytes 8..24 are the source.
    let source = unsafe { words::load::<[u64; 2]>(ip.as_ptr().add(8)) };
    let header = Header {
        family: FAMILY_IPV6,
        ttl: hop_limit,
        source,
    };
    validate(port, advert, &header, Stat::Ipackets6)
}

/// CARP's authlen (header byte 3): every implementation sends 7.
const CARP_AUTHLEN: u8 = 7;

/// Whether a 36-byte protocol-112 payload, by its first four bytes (as a
/// little-endian word), is VRRP sized like a CARP advert: VRRPv3 (version 3)
/// with 7 IPv4 addresses, or VRRPv2 (version 2, type 1, as CARP) with 5,
/// whose byte 3, the address count, is CARP's authlen and never 7 there.
/// keepalived sends both; counted as `badver` and dropped, they would never
/// reach the VRRP router on this host.
#[inline(always)]
fn is_vrrp(first_word: u32) -> bool {
    let version_type = first_word as u8;
    let authlen = (first_word >> 24) as u8;
    version_type >> 4 == 3 || (version_type == CARP_VERSION_TYPE && authlen != CARP_AUTHLEN)
}

/// VRRP advertisement type (RFC 3768 / RFC 5798: low nibble of byte 0).
const VRRP_TYPE_ADVERTISEMENT: u8 = 1;

/// An IPv4 protocol-112 payload of `len` bytes at `offset` (in the frame,
/// TTL 255) that is not advert-sized: VRRP, passed to the stack either way.
///
/// A VRRP router (version 2 or 3, type 1) whose virtual router id (byte 1)
/// is a vhid of this interface in virtual-MAC mode uses that vhid's virtual
/// MAC: IPv4 VRRP's 00:00:5e:00:01:<vrid> is CARP's 00:00:5e:00:01:<vhid>,
/// and the two fight over it on every switch. Such a packet is counted as `vrrp_clash` and its
/// source recorded in `CARP_VRRP` under the vhid, for the agent to warn
/// about. IPv6 VRRP is not checked: its virtual MAC is 00:00:5e:00:02:<vrid>,
/// which clashes with nothing of ours.
///
/// Why a map the agent polls and not a ring-buffer event: the packet costs
/// one lookup (the vhid, as for adverts) and, if it clashes, one map update;
/// the record is bounded by the vhids configured (one per vhid, newest
/// source wins) whatever the VRRP rate, so no rate limit is needed here; and
/// a flood of such packets can never fill the ring buffer that real adverts
/// need. The agent reads it once a second, a few hundred entries at most.
#[inline(always)]
fn vrrp4(port: Port, cur: &Cursor, offset: usize, len: usize, source: [u8; 4]) -> Verdict {
    // The bounds check first: were `len >= 2` tested before it, LLVM could
    // prove it from `payload`'s check and drop the one the verifier needs.
    let Some(head) = cur.at::<[u8; 2]>(offset) else {
        return Verdict::pass2(Stat::Ipackets, Stat::VrrpPassed);
    };
    // SAFETY: `at` checked the two bytes are in the frame.
    let [version_type, vrid] = unsafe { *head };
    let version = version_type >> 4;
    if len < 2 || !(version == 2 || version == 3) || version_type & 0x0f != VRRP_TYPE_ADVERTISEMENT
    {
        return Verdict::pass2(Stat::Ipackets, Stat::VrrpPassed);
    }
    let key = VhidKey::new(port, vrid);
    // A real-MAC-mode vhid never uses its virtual MAC: no clash.
    if !maps::vhid(port, vrid).is_some_and(|v| v.mode == MODE_VIRTUAL_MAC) {
        return Verdict::pass2(Stat::Ipackets, Stat::VrrpPassed);
    }
    let seen = VrrpSeen {
        // SAFETY: a helper without arguments.
        timestamp_ns: unsafe { bpf_ktime_get_ns() },
        source,
        version,
        _pad: [0; 3],
    };
    // A full map (more vhids than MAX_VHIDS, impossible) only loses the
    // record; the counter still tells.
    // By reference, as every map access here: the helper gets pointers to
    // the stack slots already holding key and value, no extra copies.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let _ = maps::CARP_VRRP.insert(&key, &seen, 0);
    Verdict::pass2(Stat::Ipackets, Stat::VrrpClash)
}

/// What the event needs from the IP header.
struct Header {
    family: u8,
    ttl: u8,
    /// The source address as the event's 16 bytes, in two native words.
    source: [u64; 2],
}

/// The IP payload of `len` bytes at `offset`: `None` if it runs past the
/// frame; `Some(None)` if it is in the frame but not advert-sized (VRRP);
/// `Some(Some(advert))` for 36 bytes.
///
/// The advert-sized case is bounds-checked through `Cursor::at` and nothing
/// else: a separate length check first would let LLVM prove this one
/// redundant and drop it, and the verifier needs it.
#[inline(always)]
fn payload(cur: &Cursor, offset: usize, len: usize) -> Option<Option<*const Advert>> {
    if len == CARP_ADVERT_LEN {
        return Some(Some(cur.at::<Advert>(offset)?.cast_const()));
    }
    cur.has(offset, len).then_some(None)
}

/// Validates the advert-sized payload and queues it for the agent.
///
/// The 36 bytes are read once, as nine 32-bit words, for the checks and
/// the copy: byte-wise they would cost four times the instructions.
#[inline(always)]
fn validate(port: Port, advert: *const Advert, ip: &Header, seen: Stat) -> Verdict {
    // SAFETY: `payload` checked the 36 bytes are in the frame.
    let w = unsafe { words::load::<[u32; 9]>(advert.cast()) };
    // Little-endian words: byte 0 (version/type) and byte 1 (vhid) are the
    // low bytes of the first.
    if w[0] as u8 != CARP_VERSION_TYPE {
        return Verdict::drop2(seen, Stat::Badver);
    }
    // A correct checksum makes the sum over all 36 bytes 0xffff.
    if csum::fold(csum::add_u32(0, &w)) != 0xffff {
        return Verdict::drop2(seen, Stat::Badsum);
    }
    let vhid = (w[0] >> 8) as u8;
    if !maps::has_vhid(port, vhid) {
        return Verdict::drop2(seen, Stat::Badvhid);
    }
    // SAFETY: `payload` checked the 36 bytes are in the frame.
    let queued_as = match unsafe { auth::check(port, vhid, advert.cast(), ip.family, ip.source) } {
        auth::Outcome::Queue => Stat::Adverts,
        auth::Outcome::QueueBadauth => Stat::Badauth,
        auth::Outcome::Drop(stat) => return Verdict::drop2(seen, stat),
    };
    let Some(mut slot) = maps::CARP_EVENTS.reserve_untyped::<AdvertEvent>(0) else {
        return Verdict::drop2(seen, Stat::RingbufFull);
    };
    let event = slot.as_mut_ptr();
    // SAFETY: the reservation is an `AdvertEvent`-sized, 8-aligned slot that
    // is ours until submitted; every byte of it is written here, each store
    // at an offset aligned for its width (the layout is checked below).
    unsafe {
        (*event).timestamp_ns = bpf_ktime_get_ns();
        // ifindex, VLAN, family and ttl as one u64.
        let meta = port.word() | u64::from(ip.family) << 48 | u64::from(ip.ttl) << 56;
        words::store((&raw mut (*event).ifindex).cast(), meta);
        words::store_all((&raw mut (*event).source).cast(), ip.source);
        // Copied again from the frame rather than keeping the nine words
        // alive across the helper calls, which would spill them all.
        words::copy::<u32, 9>((&raw mut (*event).advert).cast(), advert.cast());
        words::store((&raw mut (*event)._pad2).cast(), 0u32);
    }
    slot.submit(0);
    Verdict::drop2(seen, queued_as)
}

// The word stores above rely on this layout.
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(AdvertEvent, ifindex) == 8);
    assert!(offset_of!(AdvertEvent, vlan) == 12);
    assert!(offset_of!(AdvertEvent, family) == 14);
    assert!(offset_of!(AdvertEvent, ttl) == 15);
    assert!(offset_of!(AdvertEvent, source) == 16);
    assert!(offset_of!(AdvertEvent, advert) == 32);
    assert!(offset_of!(AdvertEvent, _pad2) == 68);
    assert!(core::mem::size_of::<AdvertEvent>() == 72);
};

/// True for the protocol number this module handles.
#[inline(always)]
pub fn is_carp(protocol: u8) -> bool {
    protocol == IPPROTO_CARP
}
