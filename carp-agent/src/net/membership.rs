//! Membership of the CARP multicast groups 224.0.0.18 and ff02::12 on an
//! interface, at the IP level, as FreeBSD (`carp_multicast_setup`), OpenBSD
//! (`carp_join_multicast[6]`) and ucarp (`IP_ADD_MEMBERSHIP`) do.
//!
//! The XDP program sees whatever the NIC lets through, but a NIC with an
//! exact multicast filter drops adverts to a group nobody joined before XDP
//! runs, and a switch that snoops IGMP/MLD forwards ff02::12 only to ports
//! that sent an MLD report for it (224.0.0.x is link-local and flooded by
//! snooping switches; ff02::12 is not). Joining on a socket does both: the
//! kernel adds 01:00:5e:00:00:12 / 33:33:00:00:00:12 to the NIC's filter and
//! answers queries with IGMP/MLD reports. The kernel delays the MLD report
//! until the link-local address has passed duplicate address detection.
//!
//! The sockets are unbound UDP sockets: they hold the memberships and
//! receive nothing (a datagram needs a bound port to be queued), so no
//! receive queue fills up. One pair per interface, so the per-socket limit
//! (`net.ipv4.igmp_max_memberships`, 20 by default) never applies. Closing a
//! socket leaves its groups, so even a `kill -9` leaves no membership behind.
//!
//! Both groups are joined on every interface that carries a vhid, whatever
//! the families of its VIPs (FreeBSD joins only the families it has
//! addresses of). An advert of the other family still reaches the XDP
//! program then, where it is validated and counted, and a peer whose vhid has
//! an address set of another family (a half-done change, a typo) shows up as
//! `badauth` with a warning naming the sender instead of as silence. The cost
//! is one filter entry and one report per group. A family the interface's
//! VIPs do not use may fail to join (IPv6 disabled on it) with only a warning.

use std::{
    io,
    net::IpAddr,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use tracing::{info, warn};

use super::{Interface, error::NetError};

/// Set to 1 in tests only: the agent joins nothing, to show what goes wrong
/// without the joins (two MASTERs behind a snooping switch).
pub const SKIP_JOIN_ENV: &str = "CARP_DEBUG_SKIP_MULTICAST_JOIN";

/// The CARP group of IPv4 (the VRRP one too).
pub use crate::proto::CARP_GROUP_V4 as GROUP_V4;
/// The CARP group of IPv6.
pub use crate::proto::CARP_GROUP_V6 as GROUP_V6;

/// Which address families an interface's vhids advertise in: a group of
/// such a family must be joined, or the start fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    /// The families of these addresses (an interface's VIPs).
    pub fn of(addrs: impl IntoIterator<Item = IpAddr>) -> Families {
        addrs
            .into_iter()
            .fold(Families::default(), |f, addr| Families {
                ipv4: f.ipv4 || addr.is_ipv4(),
                ipv6: f.ipv6 || addr.is_ipv6(),
            })
    }
}

/// The groups joined on every vhid interface of the agent, by name.
#[derive(Debug, Default)]
pub struct Memberships {
    joined: Vec<(String, Membership)>,
}

impl Memberships {
    /// Joins both groups on `iface`, logging which were joined; `required`
    /// says which groups it cannot do without. Nothing is joined when
    /// [`SKIP_JOIN_ENV`] is 1.
    pub fn join(&mut self, iface: &Interface, required: Families) -> Result<(), NetError> {
        if std::env::var(SKIP_JOIN_ENV).is_ok_and(|v| v == "1") {
            warn!(
                "{SKIP_JOIN_ENV}=1: not joining the CARP multicast groups on {} (a test setting)",
                iface.name
            );
            return Ok(());
        }
        let membership = Membership::join(iface.index, required)?;
        info!("{}: joined {}", iface.name, membership.groups());
        for skipped in &membership.skipped {
            warn!(
                "{}: {skipped}; no vhid here uses that family, so nothing depends on it",
                iface.name
            );
        }
        self.joined.push((iface.name.clone(), membership));
        Ok(())
    }

    /// Leaves the groups of one interface (a reload removed its last vhid).
    pub fn leave_one(&mut self, name: &str) {
        let (gone, kept) = std::mem::take(&mut self.joined)
            .into_iter()
            .partition(|(joined, _)| joined == name);
        self.joined = kept;
        Self::leave_all(gone);
    }

    /// Leaves every group (at exit), logging each interface's outcome.
    pub fn leave(&mut self) {
        Self::leave_all(std::mem::take(&mut self.joined));
    }

    fn leave_all(joined: Vec<(String, Membership)>) {
        for (name, membership) in joined {
            match membership.leave() {
                Ok(()) => info!("{name}: left the CARP multicast groups"),
                Err(err) => warn!("{name}: {err}"),
            }
        }
    }
}

/// The groups joined on one interface; dropping it leaves them (the
/// sockets close), [`Membership::leave`] does so with errors reported.
#[derive(Debug)]
pub struct Membership {
    ifindex: u32,
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
    /// Why a group of an unneeded family was not joined (for the log).
    pub skipped: Vec<String>,
}

impl Membership {
    /// Joins 224.0.0.18 and ff02::12 on interface `ifindex`, in the calling
    /// thread's network namespace. A group of a `required` family that cannot
    /// be joined is an error; one of another family is recorded in
    /// [`Membership::skipped`].
    pub fn join(ifindex: u32, required: Families) -> Result<Membership, NetError> {
        let mut skipped = Vec::new();
        let mut outcome = |result: Result<OwnedFd, NetError>, needed: bool| match result {
            Ok(fd) => Ok(Some(fd)),
            Err(err) if !needed => {
                skipped.push(err.to_string());
                Ok(None)
            }
            Err(err) => Err(err),
        };
        let v4 = outcome(join_v4(ifindex), required.ipv4)?;
        let v6 = outcome(join_v6(ifindex), required.ipv6)?;
        Ok(Membership {
            ifindex,
            v4,
            v6,
            skipped,
        })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The groups joined, for the log: e.g. "224.0.0.18, ff02::12".
    pub fn groups(&self) -> String {
        let mut groups = Vec::new();
        if self.v4.is_some() {
            groups.push(GROUP_V4.to_string());
        }
        if self.v6.is_some() {
            groups.push(GROUP_V6.to_string());
        }
        groups.join(", ")
    }

    /// Leaves both groups explicitly (IP_DROP_MEMBERSHIP /
    /// IPV6_DROP_MEMBERSHIP) and closes the sockets. Both are attempted;
    /// the first error is returned. The kernel sends the IGMP leave / MLD
    /// done at once, so a snooping switch stops forwarding without waiting
    /// for its membership to time out.
    pub fn leave(mut self) -> Result<(), NetError> {
        let ifindex = self.ifindex;
        let v4 = self.v4.take().map(|fd| {
            let request = mreq_v4(ifindex);
            setsockopt(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_DROP_MEMBERSHIP,
                &request,
                ifindex,
                "leaving 224.0.0.18 (IP_DROP_MEMBERSHIP)",
            )
        });
        let v6 = self.v6.take().map(|fd| {
            let request = mreq_v6(ifindex);
            setsockopt(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_DROP_MEMBERSHIP,
                &request,
                ifindex,
                "leaving ff02::12 (IPV6_DROP_MEMBERSHIP)",
            )
        });
        v4.unwrap_or(Ok(())).and(v6.unwrap_or(Ok(())))
    }
}

fn join_v4(ifindex: u32) -> Result<OwnedFd, NetError> {
    let fd = udp_socket(libc::AF_INET, ifindex)?;
    setsockopt(
        &fd,
        libc::IPPROTO_IP,
        libc::IP_ADD_MEMBERSHIP,
        &mreq_v4(ifindex),
        ifindex,
        "joining 224.0.0.18 (IP_ADD_MEMBERSHIP)",
    )?;
    Ok(fd)
}

fn join_v6(ifindex: u32) -> Result<OwnedFd, NetError> {
    let fd = udp_socket(libc::AF_INET6, ifindex)?;
    setsockopt(
        &fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_ADD_MEMBERSHIP,
        &mreq_v6(ifindex),
        ifindex,
        "joining ff02::12 (IPV6_ADD_MEMBERSHIP)",
    )?;
    Ok(fd)
}

/// `ip_mreqn` rather than `ip_mreq`: it names the interface by index, so an
/// interface without an IPv4 address (an IPv6-only vhid) can join too.
fn mreq_v4(ifindex: u32) -> libc::ip_mreqn {
    libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(GROUP_V4.octets()),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        // Interface indexes are positive ints in the kernel; netlink
        // reports them as u32.
        imr_ifindex: ifindex as libc::c_int,
    }
}

fn mreq_v6(ifindex: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: GROUP_V6.octets(),
        },
        ipv6mr_interface: ifindex,
    }
}

fn udp_socket(family: libc::c_int, ifindex: u32) -> Result<OwnedFd, NetError> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(NetError::Socket {
            operation: format!(
                "opening an {} UDP socket for multicast membership",
                if family == libc::AF_INET6 {
                    "IPv6"
                } else {
                    "IPv4"
                }
            ),
            ifindex,
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    ifindex: u32,
    operation: &str,
) -> Result<(), NetError> {
    // SAFETY: `value` is a fully initialised option struct of the given size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(NetError::Socket {
            operation: operation.into(),
            ifindex,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}
