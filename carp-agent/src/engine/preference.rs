//! Who wins an election: the ordering of advertisers.

use std::{cmp::Ordering, net::IpAddr};

use super::config::{Flavor, TieBreak};

/// An advertiser's place in the election, lower = more preferred.
///
/// The advert interval `advbase + advskew/256` is compared as a time, which is
/// the same as comparing `256*advbase + advskew` because advskew < 256. In
/// OpenBSD mode the demote byte comes first: a more demoted host loses whatever
/// its timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    demote: u8,
    ticks: u32,
}

impl Rank {
    pub(crate) fn new(flavor: Flavor, advbase: u8, advskew: u8, demote: u8) -> Self {
        Rank {
            // FreeBSD sends 0 in this byte and ignores it on input.
            demote: match flavor {
                Flavor::FreeBsd => 0,
                Flavor::OpenBsd => demote,
            },
            ticks: 256 * u32::from(advbase) + u32::from(advskew),
        }
    }
}

/// Result of comparing a peer's advert with our own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contest {
    /// The peer is more preferred; `by_address` if only the tie-break decided it.
    PeerWins { by_address: bool },
    /// We are more preferred; `by_address` if only the tie-break decided it.
    WeWin { by_address: bool },
    /// Equal and unresolved: FreeBSD's tie rule, or the peer uses our own address.
    Tie,
}

/// Compares a peer with us. Equal ranks are decided by the source addresses
/// as `tie_break` says (see [`TieBreak`]); [`Contest::Tie`] is left when the
/// rule does not decide (always-yield, or the peer uses our own address).
pub(crate) fn contest(
    ours: Rank,
    our_address: IpAddr,
    peer: Rank,
    peer_address: IpAddr,
    tie_break: TieBreak,
) -> Contest {
    match peer.cmp(&ours) {
        Ordering::Less => Contest::PeerWins { by_address: false },
        Ordering::Greater => Contest::WeWin { by_address: false },
        Ordering::Equal => {
            let peer_first = match tie_break {
                TieBreak::AlwaysYield => return Contest::Tie,
                TieBreak::LowerAddress => ucarp_order(peer_address).cmp(&ucarp_order(our_address)),
                TieBreak::HigherAddress => our_address.cmp(&peer_address),
            };
            match peer_first {
                Ordering::Less => Contest::PeerWins { by_address: true },
                Ordering::Greater => Contest::WeWin { by_address: true },
                Ordering::Equal => Contest::Tie,
            }
        }
    }
}

/// The order in which ucarp compares IPv4 sources: it compares `s_addr`, the
/// address in network byte order, as a native integer; on the little-endian
/// hosts ucarp runs on that weighs the last octet most. Within one subnet it
/// is the ordinary numeric order. IPv6 (which ucarp does not speak) sorts
/// numerically, after every IPv4 address.
fn ucarp_order(address: IpAddr) -> (u8, u128) {
    match address {
        IpAddr::V4(a) => (4, u128::from(u32::from_le_bytes(a.octets()))),
        IpAddr::V6(a) => (6, u128::from(a)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn contest_table() {
        use Contest::*;
        use Flavor::*;
        use TieBreak::*;
        // (flavor, ours (advbase, advskew, demote, addr), peer (...), tie-break) -> result
        type Side = (u8, u8, u8, u8);
        let cases: [(Flavor, Side, Side, TieBreak, Contest); 12] = [
            (
                FreeBsd,
                (1, 100, 0, 1),
                (1, 0, 0, 2),
                HigherAddress,
                PeerWins { by_address: false },
            ),
            (
                FreeBsd,
                (1, 0, 0, 1),
                (1, 100, 0, 2),
                HigherAddress,
                WeWin { by_address: false },
            ),
            // advbase dominates advskew
            (
                FreeBsd,
                (2, 0, 0, 1),
                (1, 254, 0, 2),
                HigherAddress,
                PeerWins { by_address: false },
            ),
            // FreeBSD ignores the demote byte: advskew alone decides, in
            // both directions (counting demote would flip both outcomes).
            (
                FreeBsd,
                (1, 0, 9, 1),
                (1, 100, 0, 2),
                HigherAddress,
                WeWin { by_address: false },
            ),
            (
                FreeBsd,
                (1, 100, 0, 1),
                (1, 0, 9, 2),
                HigherAddress,
                PeerWins { by_address: false },
            ),
            // ties
            (
                FreeBsd,
                (1, 50, 0, 1),
                (1, 50, 0, 2),
                HigherAddress,
                PeerWins { by_address: true },
            ),
            (
                FreeBsd,
                (1, 50, 0, 3),
                (1, 50, 0, 2),
                HigherAddress,
                WeWin { by_address: true },
            ),
            (FreeBsd, (1, 50, 0, 1), (1, 50, 0, 2), AlwaysYield, Tie),
            (FreeBsd, (1, 50, 0, 2), (1, 50, 0, 2), HigherAddress, Tie),
            // OpenBSD: demote outranks timing
            (
                OpenBsd,
                (1, 0, 1, 1),
                (1, 200, 0, 2),
                HigherAddress,
                PeerWins { by_address: false },
            ),
            (
                OpenBsd,
                (1, 200, 0, 1),
                (1, 0, 1, 2),
                HigherAddress,
                WeWin { by_address: false },
            ),
            (
                OpenBsd,
                (0, 100, 0, 1),
                (1, 0, 0, 2),
                HigherAddress,
                WeWin { by_address: false },
            ),
        ];
        for (flavor, ours, peer, tie_break, expected) in cases {
            let got = contest(
                Rank::new(flavor, ours.0, ours.1, ours.2),
                ip(ours.3),
                Rank::new(flavor, peer.0, peer.1, peer.2),
                ip(peer.3),
                tie_break,
            );
            assert_eq!(
                got, expected,
                "{flavor:?} ours {ours:?} peer {peer:?} {tie_break:?}"
            );
        }
    }

    #[test]
    fn lower_address_follows_ucarp_order() {
        let rank = Rank::new(Flavor::FreeBsd, 1, 50, 0);
        let v4 = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
        let cases = [
            // (ours, peer, expected)
            (ip(1), ip(2), Contest::WeWin { by_address: true }),
            (ip(3), ip(2), Contest::PeerWins { by_address: true }),
            (ip(2), ip(2), Contest::Tie),
            // Across subnets ucarp on little-endian weighs the last octet
            // most: 10.0.1.1 sorts before 10.0.0.2.
            (
                v4([10, 0, 1, 1]),
                v4([10, 0, 0, 2]),
                Contest::WeWin { by_address: true },
            ),
            (
                v4([10, 0, 0, 2]),
                v4([10, 0, 1, 1]),
                Contest::PeerWins { by_address: true },
            ),
            (
                "fd00::1".parse().unwrap(),
                "fd00::2".parse().unwrap(),
                Contest::WeWin { by_address: true },
            ),
        ];
        for (ours, peer, expected) in cases {
            let got = contest(rank, ours, rank, peer, TieBreak::LowerAddress);
            assert_eq!(got, expected, "ours {ours} peer {peer}");
        }
    }
}
