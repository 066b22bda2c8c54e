//! Adverts to unicast peers (`peers`, docs/unicast.md), sent through the
//! kernel's IP stack on raw protocol-112 sockets.
//!
//! Why the IP stack and not AF_PACKET as for the multicast adverts
//! ([`super::FrameSender`]): a unicast frame needs the peer's MAC, which is
//! the neighbour table's business (ARP, ND, their retries and timeouts).
//! FreeBSD does the same: its unicast adverts go through `ip_output`, the
//! kernel resolves the neighbour, and the Ethernet source is the NIC's own
//! MAC (FreeBSD puts the virtual MAC on multicast adverts only). The
//! switches still learn where the virtual MAC lives from the gratuitous
//! ARPs and NAs of a new master.
//!
//! Each packet is sent with TTL / hop limit 255 (the BSDs send 255 to peers
//! too, and OpenBSD requires it), the TOS / traffic class of the multicast
//! adverts, DF on IPv4, and its source and interface chosen per packet
//! (`IP_PKTINFO` / `IPV6_PKTINFO`): one socket per family serves every
//! vhid and interface. The sockets receive nothing: a socket filter drops
//! every packet the kernel would queue to them.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use super::error::NetError;
use crate::proto::{ADVERT_LEN, FrameBuilder};

/// TTL / hop limit of every advert.
const TTL: libc::c_int = 255;

/// Raw IPv4 and IPv6 sockets for unicast adverts, each opened on first use
/// (a host without IPv6 never opens the IPv6 one).
#[derive(Debug, Default)]
pub struct UnicastSender {
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
}

impl UnicastSender {
    /// Sends `advert` from `source` to `peer` out of `ifindex`. `source`
    /// and `peer` are of one family (the caller picks the peers of the
    /// advert's family).
    pub fn send_advert(
        &mut self,
        ifindex: u32,
        source: IpAddr,
        peer: IpAddr,
        advert: &[u8; ADVERT_LEN],
    ) -> Result<(), NetError> {
        match (source, peer) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let fd = match &self.v4 {
                    Some(fd) => fd,
                    None => self.v4.insert(open(libc::AF_INET, ifindex)?),
                };
                send_v4(fd, ifindex, src, dst, advert)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let fd = match &self.v6 {
                    Some(fd) => fd,
                    None => self.v6.insert(open(libc::AF_INET6, ifindex)?),
                };
                send_v6(fd, ifindex, src, dst, advert)
            }
            _ => Err(NetError::Socket {
                operation: format!("sending an advert from {source} to {peer}"),
                ifindex,
                source: io::Error::new(io::ErrorKind::InvalidInput, "mixed address families"),
            }),
        }
    }
}

fn socket_error(operation: &str, ifindex: u32) -> NetError {
    NetError::Socket {
        operation: operation.into(),
        ifindex,
        source: io::Error::last_os_error(),
    }
}

fn set_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A raw protocol-112 socket of `family` with TTL 255, the adverts' TOS,
/// DF (IPv4) and a filter that drops everything it would receive.
fn open(family: libc::c_int, ifindex: u32) -> Result<OwnedFd, NetError> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::c_int::from(carp_common::IPPROTO_CARP),
        )
    };
    if raw < 0 {
        return Err(socket_error("opening a raw protocol-112 socket", ifindex));
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let tos = libc::c_int::from(FrameBuilder::DEFAULT_TOS);
    let options: &[(libc::c_int, libc::c_int, libc::c_int)] = if family == libc::AF_INET {
        &[
            (libc::IPPROTO_IP, libc::IP_TTL, TTL),
            (libc::IPPROTO_IP, libc::IP_TOS, tos),
            (
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_DO,
            ),
        ]
    } else {
        &[
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, TTL),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, tos),
        ]
    };
    for &(level, name, value) in options {
        set_int(&fd, level, name, value).map_err(|source| NetError::Socket {
            operation: "setting up the raw protocol-112 socket".into(),
            ifindex,
            source,
        })?;
    }
    drop_everything_received(&fd).map_err(|source| NetError::Socket {
        operation: "attaching a drop-all filter to the raw protocol-112 socket".into(),
        ifindex,
        source,
    })?;
    Ok(fd)
}

/// A raw socket gets a copy of every protocol-112 packet the stack
/// delivers (VRRP, adverts the XDP program passed); nobody reads this one,
/// so a classic BPF filter returning 0 keeps its queue empty.
fn drop_everything_received(fd: &OwnedFd) -> io::Result<()> {
    // BPF_RET | BPF_K with k = 0: accept 0 bytes, i.e. drop.
    let mut program = [libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `program`, both alive for the call; the
    // kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const fprog).cast(),
            size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Room for one `in6_pktinfo` control message (the larger of the two),
/// 8-aligned as `cmsghdr` needs.
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);

fn send_v4(
    fd: &OwnedFd,
    ifindex: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    advert: &[u8; ADVERT_LEN],
) -> Result<(), NetError> {
    // SAFETY: sockaddr_in and in_pktinfo are plain data; all-zero is valid.
    let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    to.sin_family = libc::AF_INET as libc::sa_family_t;
    to.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
    // SAFETY: as above.
    let mut info: libc::in_pktinfo = unsafe { std::mem::zeroed() };
    info.ipi_ifindex = ifindex as libc::c_int;
    info.ipi_spec_dst.s_addr = u32::from_ne_bytes(src.octets());
    send(
        fd,
        ifindex,
        (&raw const to).cast(),
        size_of::<libc::sockaddr_in>(),
        (libc::IPPROTO_IP, libc::IP_PKTINFO),
        &info,
        advert,
        IpAddr::V4(dst),
    )
}

fn send_v6(
    fd: &OwnedFd,
    ifindex: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    advert: &[u8; ADVERT_LEN],
) -> Result<(), NetError> {
    // SAFETY: sockaddr_in6 and in6_pktinfo are plain data; all-zero is valid.
    let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    to.sin6_addr.s6_addr = dst.octets();
    if dst.is_unicast_link_local() {
        to.sin6_scope_id = ifindex;
    }
    // SAFETY: as above.
    let mut info: libc::in6_pktinfo = unsafe { std::mem::zeroed() };
    info.ipi6_ifindex = ifindex;
    info.ipi6_addr.s6_addr = src.octets();
    send(
        fd,
        ifindex,
        (&raw const to).cast(),
        size_of::<libc::sockaddr_in6>(),
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO),
        &info,
        advert,
        IpAddr::V6(dst),
    )
}

/// sendmsg(2) of `advert` to `to` with one control message `info` of
/// (`level`, `kind`).
#[allow(clippy::too_many_arguments)]
fn send<T>(
    fd: &OwnedFd,
    ifindex: u32,
    to: *const libc::sockaddr,
    to_len: usize,
    (level, kind): (libc::c_int, libc::c_int),
    info: &T,
    advert: &[u8; ADVERT_LEN],
    peer: IpAddr,
) -> Result<(), NetError> {
    let mut control = ControlBuffer([0; 64]);
    let mut iov = libc::iovec {
        iov_base: advert.as_ptr().cast_mut().cast(),
        iov_len: advert.len(),
    };
    // SAFETY: CMSG_SPACE is arithmetic on the size.
    let space = unsafe { libc::CMSG_SPACE(size_of::<T>() as u32) } as usize;
    debug_assert!(space <= control.0.len());
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = to.cast_mut().cast();
    msg.msg_namelen = to_len as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space.min(control.0.len()) as _;
    // SAFETY: `msg` describes `control`, which is 8-aligned and at least
    // CMSG_SPACE(size_of::<T>()) bytes long, so the first header and its
    // data fit; `info` is a live T copied into it; `to`, `iov` and
    // `advert` outlive the sendmsg call, which only reads them.
    let sent = unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const msg);
        (*header).cmsg_level = level;
        (*header).cmsg_type = kind;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<T>() as u32) as _;
        std::ptr::copy_nonoverlapping(
            std::ptr::from_ref(info).cast::<u8>(),
            libc::CMSG_DATA(header),
            size_of::<T>(),
        );
        libc::sendmsg(fd.as_raw_fd(), &raw const msg, 0)
    };
    if sent < 0 {
        return Err(NetError::Socket {
            operation: format!("sending an advert to peer {peer}"),
            ifindex,
            source: io::Error::last_os_error(),
        });
    }
    if sent as usize != advert.len() {
        return Err(NetError::ShortSend {
            what: "an advert to a peer",
            ifindex,
            sent: sent as usize,
            len: advert.len(),
        });
    }
    Ok(())
}
