//! Two network namespaces joined by a veth pair, removed on drop (also
//! when the test panics); code runs inside one with `Netns::enter`.

use std::process::Command;

pub use carp_tests::netns::Netns;

/// Runs `ip args...` and panics with its stderr if it fails.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("running `ip` (iproute2)");
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Namespaces `carpt-<pid>-<tag>a` and `-<tag>b` (the lab's [`Netns`],
/// removed on drop) with `veth-a` in the first joined to `veth-b` in the
/// second, both up, MACs as given.
pub struct VethPair {
    pub a: Netns,
    pub b: Netns,
}

pub const VETH_A: &str = "veth-a";
pub const VETH_B: &str = "veth-b";

impl VethPair {
    pub fn create(tag: &str, mac_a: &str, mac_b: &str) -> Self {
        let pair = Self {
            a: Netns::new(&format!("{tag}a")).expect("creating namespace a"),
            b: Netns::new(&format!("{tag}b")).expect("creating namespace b"),
        };
        ip(&[
            "link",
            "add",
            VETH_A,
            "address",
            mac_a,
            "netns",
            &pair.a.name,
            "type",
            "veth",
            "peer",
            "name",
            VETH_B,
            "address",
            mac_b,
            "netns",
            &pair.b.name,
        ]);
        pair.a.ip(&["link", "set", VETH_A, "up"]).unwrap();
        pair.b.ip(&["link", "set", VETH_B, "up"]).unwrap();
        pair
    }
}

/// The ifindex of `dev` in the calling thread's namespace.
pub fn ifindex(dev: &str) -> u32 {
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: a valid NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {dev}");
    index
}

/// Sends one raw Ethernet frame out of `dev` (AF_PACKET), from the calling
/// thread's namespace.
pub fn send_frame(dev: &str, frame: &[u8]) {
    // SAFETY: plain socket calls on a socket we own and close; the address
    // struct is fully initialised.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex(dev) as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        let sent = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_ll>() as u32,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(sent, frame.len() as isize, "sendto on {dev}: {err}");
    }
}
