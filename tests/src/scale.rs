//! Pure pieces of `cargo xtask bench scale` (`bin/scale_bench.rs`): what a
//! captured frame is (an advert of which vhid from which source, or an ARP
//! announcement of which address), how late adverts were against their
//! configured interval, percentiles, and how the vhids spread over
//! segments (a vhid is one byte: at most 255 per interface).
use std::net::Ipv4Addr;

/// Most vhids (or VRRP router ids) one interface holds: 1..=255.
pub const VHIDS_PER_SEGMENT: usize = 255;

/// What a captured Ethernet frame is, for the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// IP protocol 112 (CARP or VRRP): byte 1 of both headers is the
    /// vhid / virtual router id.
    Advert { source: Ipv4Addr, vhid: u8 },
    /// An ARP packet whose sender address is `sender` (a gratuitous ARP
    /// announces a VIP as its sender).
    Arp { sender: Ipv4Addr },
}

/// Classifies an untagged Ethernet frame; `None` for anything else or a
/// frame too short to hold what is read.
pub fn classify(frame: &[u8]) -> Option<Seen> {
    const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
    const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
    const PROTO_CARP: u8 = 112;
    let ethertype = frame.get(12..14)?;
    if ethertype == ETHERTYPE_ARP {
        // Ethernet/IPv4 ARP: sender protocol address at bytes 14..18 of the ARP body.
        let sender: [u8; 4] = frame.get(28..32)?.try_into().ok()?;
        return Some(Seen::Arp {
            sender: Ipv4Addr::from(sender),
        });
    }
    if ethertype != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ihl < 20 || *ip.get(9)? != PROTO_CARP {
        return None;
    }
    let source: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    let vhid = *ip.get(ihl + 1)?;
    Some(Seen::Advert {
        source: Ipv4Addr::from(source),
        vhid,
    })
}

/// How late each advert was, in seconds: each spacing between consecutive
/// adverts (`times`, seconds, in order) minus the configured `interval`.
/// Negative: early.
pub fn lateness(times: &[f64], interval: f64) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0] - interval).collect()
}

/// The `q` quantile (0..=1) of `values` by nearest rank (the smallest value
/// with at least `q` of them at or below it); `None` if empty or `q` is out
/// of range. Sorts `values`.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.saturating_sub(1)).copied()
}

/// How many vhids each segment carries for `count` vhids in all: full
/// segments of 255, then the rest.
pub fn segments(count: usize) -> Vec<usize> {
    let mut left = count;
    let mut out = Vec::new();
    while left > 0 {
        let here = left.min(VHIDS_PER_SEGMENT);
        out.push(here);
        left -= here;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(proto: u8, source: [u8; 4], vhid: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 36];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&source);
        f[14 + 20] = 0x21;
        f[14 + 21] = vhid;
        f
    }

    #[test]
    fn adverts_are_told_by_source_and_vhid() {
        let frame = ipv4_frame(112, [10, 81, 0, 11], 200);
        assert_eq!(
            classify(&frame),
            Some(Seen::Advert {
                source: Ipv4Addr::new(10, 81, 0, 11),
                vhid: 200
            })
        );
        // Another protocol, and a frame cut before the vhid.
        assert_eq!(classify(&ipv4_frame(17, [10, 81, 0, 11], 1)), None);
        assert_eq!(classify(&frame[..14 + 21]), None);
    }

    #[test]
    fn an_ip_header_with_options_moves_the_vhid() {
        let mut frame = ipv4_frame(112, [10, 81, 0, 12], 0);
        frame[14] = 0x46; // 24-byte header
        frame.splice(14 + 20..14 + 20, [0u8; 4]);
        frame[14 + 24 + 1] = 7;
        assert_eq!(
            classify(&frame),
            Some(Seen::Advert {
                source: Ipv4Addr::new(10, 81, 0, 12),
                vhid: 7
            })
        );
    }

    #[test]
    fn arp_gives_its_sender_address() {
        let mut frame = vec![0u8; 42];
        frame[12..14].copy_from_slice(&[0x08, 0x06]);
        frame[28..32].copy_from_slice(&[10, 81, 1, 5]);
        assert_eq!(
            classify(&frame),
            Some(Seen::Arp {
                sender: Ipv4Addr::new(10, 81, 1, 5)
            })
        );
        assert_eq!(classify(&frame[..30]), None);
    }

    #[test]
    fn lateness_is_spacing_minus_interval() {
        let late = lateness(&[10.0, 11.002, 12.002, 12.999], 1.0);
        let expected = [0.002, 0.0, -0.003];
        assert_eq!(late.len(), 3);
        for (got, want) in late.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
        assert!(lateness(&[1.0], 1.0).is_empty());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut values, 0.5), Some(50.0));
        assert_eq!(percentile(&mut values, 0.99), Some(99.0));
        assert_eq!(percentile(&mut values, 1.0), Some(100.0));
        assert_eq!(percentile(&mut values, 0.0), Some(1.0));
        assert_eq!(percentile(&mut [3.0], 0.99), Some(3.0));
        assert_eq!(percentile(&mut [], 0.5), None);
        assert_eq!(percentile(&mut [1.0], 1.5), None);
    }

    #[test]
    fn vhids_fill_segments_of_255() {
        assert_eq!(segments(1), [1]);
        assert_eq!(segments(255), [255]);
        assert_eq!(segments(256), [255, 1]);
        assert_eq!(segments(1000), [255, 255, 255, 235]);
        assert!(segments(0).is_empty());
    }
}
