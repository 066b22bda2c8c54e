//! Async reader of the advertisement ring buffer.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use aya::maps::{MapData, RingBuf};
use carp_common::{AdvertEvent, CARP_ADVERT_LEN, FAMILY_IPV4};
use tokio::io::{Interest, unix::AsyncFd};

/// An advertisement the XDP program validated (not yet authenticated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedAdvert {
    pub ifindex: u32,
    /// The 802.1Q VLAN id of its tag, 0 for none.
    pub vlan: u16,
    pub source: IpAddr,
    /// CLOCK_MONOTONIC at reception, from the kernel.
    pub received: Duration,
    pub header: [u8; CARP_ADVERT_LEN],
}

impl From<&AdvertEvent> for ReceivedAdvert {
    fn from(ev: &AdvertEvent) -> Self {
        let source = if ev.family == FAMILY_IPV4 {
            let [a, b, c, d, ..] = ev.source;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        } else {
            IpAddr::V6(Ipv6Addr::from(ev.source))
        };
        Self {
            ifindex: ev.ifindex,
            vlan: ev.vlan,
            source,
            received: Duration::from_nanos(ev.timestamp_ns),
            header: ev.advert,
        }
    }
}

/// Decodes one ring-buffer record; `None` for a record of the wrong size.
pub fn parse_event(bytes: &[u8]) -> Option<ReceivedAdvert> {
    if bytes.len() < size_of::<AdvertEvent>() {
        return None;
    }
    // SAFETY: length checked; AdvertEvent is plain data valid for any bytes;
    // read_unaligned because ring-buffer records are only 8-byte aligned.
    let ev = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<AdvertEvent>()) };
    Some(ReceivedAdvert::from(&ev))
}

/// Waits for adverts without busy polling: the ring buffer's fd becomes
/// readable when the kernel submits a record.
pub struct AdvertReader {
    ring: AsyncFd<RingBuf<MapData>>,
}

impl AdvertReader {
    pub fn new(ring: RingBuf<MapData>) -> std::io::Result<Self> {
        // SAFETY: the ring buffer owns its map fd, which stays open and
        // unchanged until the AsyncFd (which owns the ring buffer) is dropped.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(Self { ring })
    }

    /// Every advert already in the ring buffer, up to `limit`, without
    /// waiting: what arrived while the agent was not running.
    pub fn drain(&mut self, limit: usize) -> Vec<ReceivedAdvert> {
        let ring = self.ring.get_mut();
        let mut adverts = Vec::new();
        while adverts.len() < limit {
            let Some(item) = ring.next() else {
                break;
            };
            adverts.extend(parse_event(&item));
        }
        adverts
    }

    /// The next advert, waiting as long as needed. Malformed records are skipped.
    pub async fn next(&mut self) -> std::io::Result<ReceivedAdvert> {
        loop {
            let mut guard = self.ring.readable_mut().await?;
            let ring = guard.get_inner_mut();
            while let Some(item) = ring.next() {
                if let Some(advert) = parse_event(&item) {
                    return Ok(advert);
                }
            }
            guard.clear_ready();
        }
    }
}
