//! A real keepalived (Debian package) on a lab host: VRRP only, in the
//! foreground, its configuration, pid files and log in the lab directory.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::{lab::Lab, netns::Background};

pub const BINARY: &str = "/usr/sbin/keepalived";

/// One `vrrp_instance`, as [`Keepalived::start`] writes it.
pub struct Instance<'a> {
    /// 2 or 3 (`version`).
    pub version: u8,
    pub vrid: u8,
    /// `MASTER` or `BACKUP`: the state it starts in.
    pub state: &'a str,
    pub priority: u8,
    /// `advert_int` as keepalived reads it, in seconds ("1", "0.01": VRRPv3
    /// counts in centiseconds).
    pub advert_int: &'a str,
    /// ADDR/PREFIX.
    pub vip: &'a str,
    /// `vrrp_rt_priority` (real-time scheduling of the VRRP process) and
    /// `vrrp_no_swap` (its memory locked): keepalived's own `--realtime`.
    pub realtime: Option<u8>,
}

impl Instance<'_> {
    fn config(&self, router_id: &str) -> String {
        let realtime = self.realtime.map_or_else(String::new, |priority| {
            format!("  vrrp_rt_priority {priority}\n  vrrp_no_swap\n")
        });
        format!(
            "global_defs {{\n  router_id {router_id}\n{realtime}}}\n\
             vrrp_instance lab {{\n  version {}\n  state {}\n  interface eth0\n  \
             virtual_router_id {}\n  priority {}\n  advert_int {}\n  \
             virtual_ipaddress {{\n    {}\n  }}\n}}\n",
            self.version, self.state, self.vrid, self.priority, self.advert_int, self.vip
        )
    }
}

/// keepalived in the foreground. It forks a VRRP child: on drop the parent
/// gets SIGTERM (it stops the child), and whatever is left of either after
/// 5 s gets SIGKILL, so no keepalived outlives the lab.
pub struct Keepalived {
    process: Option<Background>,
    vrrp_pid: PathBuf,
    log: PathBuf,
}

impl Keepalived {
    /// Starts keepalived on lab host `host` with `instance`; its files are
    /// named after the host and the vrid.
    pub fn start(lab: &Lab, host: usize, instance: &Instance) -> anyhow::Result<Self> {
        let name = format!("keepalived-{}-{}", lab.hosts[host].name, instance.vrid);
        Self::start_config(lab, host, &name, &instance.config(&name))
    }

    /// Starts keepalived on lab host `host` with the configuration `text`
    /// (written to `<name>.conf` in the lab directory), e.g. many instances.
    pub fn start_config(lab: &Lab, host: usize, name: &str, text: &str) -> anyhow::Result<Self> {
        let file = |suffix: &str| lab.dir.join(format!("{name}{suffix}"));
        let conf = file(".conf");
        let vrrp_pid = file("-vrrp.pid");
        let log = file(".log");
        fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        let log_file =
            fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = lab.hosts[host].ns.command(BINARY);
        cmd.args([
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
        ])
        .arg("--vrrp")
        .arg("--use-file")
        .arg(&conf)
        .arg("--pid")
        .arg(file(".pid"))
        .arg("--vrrp_pid")
        .arg(&vrrp_pid)
        .arg("--checkers_pid")
        .arg(file("-checkers.pid"))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
        let process = Background(cmd.spawn().context("starting keepalived")?);
        Ok(Self {
            process: Some(process),
            vrrp_pid,
            log,
        })
    }

    /// The parent's pid (`ip netns exec` execs keepalived), while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.process.as_ref().map(|p| p.0.id() as i32)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The VRRP child's pid (the process that sends and receives adverts),
    /// once it has written its pid file.
    pub fn vrrp_pid(&self) -> Option<i32> {
        read_pid(&self.vrrp_pid).filter(|&pid| is_keepalived(pid))
    }

    /// SIGHUP to the parent: keepalived's reload (it re-reads its file and
    /// has the VRRP child re-read it).
    pub fn reload(&self) {
        if let Some(process) = &self.process {
            // SAFETY: kill(2) on our own child process.
            unsafe { libc::kill(process.0.id() as i32, libc::SIGHUP) };
        }
    }

    /// `kill -9` of every keepalived process, as a crash: no priority-0
    /// advert, the VIP left on the interface. The parent is stopped first:
    /// it would respawn a VRRP child killed under it, and a parent killed
    /// first would have its children told (SIGTERM) to stop cleanly.
    pub fn kill9(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let parent = process.0.id() as i32;
        let child = self.vrrp_pid();
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(parent, libc::SIGSTOP) };
        if let Some(child) = child {
            // SAFETY: kill(2) on a process our keepalived forked.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(parent, libc::SIGKILL) };
        // Reaped here; dropping a reaped child signals nothing.
        let _ = process.0.wait();
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let child = self.vrrp_pid();
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(process.0.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if process.0.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The VRRP child this keepalived started, if it is still there.
        if let Some(child) = child.filter(|&c| is_keepalived(c)) {
            // SAFETY: kill(2) on a process our keepalived forked.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
        drop(process); // SIGKILL and reap, if still running
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn is_keepalived(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "keepalived")
}
