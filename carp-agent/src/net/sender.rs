//! Raw frames out of one interface. The kernel's IP stack would put the
//! NIC's own MAC in the Ethernet source; CARP masters send from the virtual
//! MAC so switches learn where the master is, hence AF_PACKET.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use super::{error::NetError, frames};
use crate::proto::{ADVERT_LEN, FrameBuilder, MacAddr};

/// AF_PACKET (SOCK_RAW) socket bound to one interface, for frames whose
/// Ethernet source must be the virtual MAC. Sends never block: a full
/// queue is an error (EAGAIN), not a stall of the caller.
#[derive(Debug)]
pub struct FrameSender {
    fd: OwnedFd,
    ifindex: u32,
}

impl FrameSender {
    /// Opens the socket in the calling thread's network namespace. Protocol 0:
    /// it receives nothing, so no receive queue fills up.
    pub fn open(ifindex: u32) -> Result<FrameSender, NetError> {
        let socket_error = |operation: &str| NetError::Socket {
            operation: operation.into(),
            ifindex,
            source: io::Error::last_os_error(),
        };
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(socket_error("opening an AF_PACKET socket"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let address = link_address(ifindex, [0; 6]);
        // SAFETY: `address` is a fully initialised sockaddr_ll of the given size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const address).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(socket_error("binding the AF_PACKET socket"));
        }
        Ok(FrameSender { fd, ifindex })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Advert: Ethernet src = `src_mac` (the virtual MAC), to
    /// 01:00:5e:00:00:12 / 224.0.0.18 (IPv4 source `src`) or
    /// 33:33:00:00:00:12 / ff02::12 (IPv6 source = the link-local `src`),
    /// TTL / hop limit 255. Tagged with `vlan` unless it is 0.
    pub fn send_advert(
        &self,
        src_mac: [u8; 6],
        src: IpAddr,
        advert: &[u8; ADVERT_LEN],
        vlan: u16,
    ) -> Result<(), NetError> {
        let builder = FrameBuilder {
            src_mac: MacAddr(src_mac),
            ..FrameBuilder::new(0)
        };
        self.send("an advert", &builder.frame(src, advert), vlan)
    }

    /// Gratuitous ARP: broadcast ARP request with sender = target = `vip`,
    /// sender MAC = `mac`, Ethernet source = `mac`.
    pub fn send_gratuitous_arp(
        &self,
        mac: [u8; 6],
        vip: Ipv4Addr,
        vlan: u16,
    ) -> Result<(), NetError> {
        self.send("a gratuitous ARP", &frames::gratuitous_arp(mac, vip), vlan)
    }

    /// Unsolicited NA to ff02::1 with the Override flag (and the Router flag
    /// when `router`), target and source `vip`, Target Link-Layer Address
    /// option `mac`, hop limit 255.
    pub fn send_unsolicited_na(
        &self,
        mac: [u8; 6],
        vip: Ipv6Addr,
        router: bool,
        vlan: u16,
    ) -> Result<(), NetError> {
        self.send(
            "an unsolicited NA",
            &frames::unsolicited_na(mac, vip, router),
            vlan,
        )
    }

    /// Sends `frame`, with an 802.1Q tag for `vlan` after the MACs unless
    /// `vlan` is 0 (the vhids of a VLAN leave tagged by the trunk).
    fn send(&self, what: &'static str, frame: &[u8], vlan: u16) -> Result<(), NetError> {
        let tagged;
        let frame = match vlan {
            0 => frame,
            vlan => {
                tagged = frames::tag(frame, vlan);
                &tagged
            }
        };
        let mut destination = [0; 6];
        destination.copy_from_slice(&frame[..6]);
        let address = link_address(self.ifindex, destination);
        // SAFETY: `frame` is valid for its length; `address` is a fully
        // initialised sockaddr_ll of the given size.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const address).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(NetError::Socket {
                operation: format!("sending {what}"),
                ifindex: self.ifindex,
                source: io::Error::last_os_error(),
            });
        }
        if sent as usize != frame.len() {
            return Err(NetError::ShortSend {
                what,
                ifindex: self.ifindex,
                sent: sent as usize,
                len: frame.len(),
            });
        }
        Ok(())
    }
}

/// A link-layer socket address on `ifindex`; protocol 0 (SOCK_RAW frames
/// carry their own ethertype).
fn link_address(ifindex: u32, destination: [u8; 6]) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as libc::sa_family_t;
    address.sll_ifindex = ifindex as libc::c_int;
    address.sll_halen = 6;
    address.sll_addr[..6].copy_from_slice(&destination);
    address
}
