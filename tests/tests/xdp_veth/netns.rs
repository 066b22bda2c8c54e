//! Two network namespaces joined by a veth pair, removed on drop (also
//! when the test panics), and a way to run code inside one of them.

use std::{fs::File, os::fd::AsRawFd as _, process::Command};

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

/// Namespaces `carpt-<pid>-<tag>-a` and `-b` with `veth-a` in the first
/// joined to `veth-b` in the second, both up, MACs as given.
pub struct VethPair {
    pub a: String,
    pub b: String,
}

pub const VETH_A: &str = "veth-a";
pub const VETH_B: &str = "veth-b";

impl VethPair {
    pub fn create(tag: &str, mac_a: &str, mac_b: &str) -> Self {
        let pid = std::process::id();
        let pair = Self {
            a: format!("carpt-{pid}-{tag}-a"),
            b: format!("carpt-{pid}-{tag}-b"),
        };
        // From here on, Drop removes whatever was created.
        ip(&["netns", "add", &pair.a]);
        ip(&["netns", "add", &pair.b]);
        ip(&[
            "link", "add", VETH_A, "address", mac_a, "netns", &pair.a, "type", "veth", "peer",
            "name", VETH_B, "address", mac_b, "netns", &pair.b,
        ]);
        for (ns, dev) in [(&pair.a, VETH_A), (&pair.b, VETH_B)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veth end (and the peer with it),
        // which detaches any XDP program. Errors are ignored: a half-made
        // pair may lack one of them.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a fresh thread that has joined network namespace `ns`
/// (setns affects only the calling thread, so the test's own thread stays
/// where it is). A panic inside `f` is re-raised here.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let path = format!("/run/netns/{ns}");
            let file = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
            // SAFETY: setns on a valid namespace fd; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
            f()
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
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
