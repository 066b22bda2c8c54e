//! A real ucarp (Debian package) on a lab host, for vhid 1 and the lab's
//! VIP. ucarp adds nothing itself: its up and down scripts add and remove
//! the VIP, and it announces the VIP with gratuitous ARP from the NIC's real
//! MAC (ours: the virtual MAC). Its log, scripts' marker and scripts live in
//! the lab directory, named after the host.
use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::{
    lab::{Lab, VIP},
    netns::Background,
};

pub const BINARY: &str = "/usr/sbin/ucarp";

/// A running ucarp; killed (SIGKILL, as `kill -9`: no down script) on drop.
pub struct Ucarp {
    _process: Background,
    log: PathBuf,
    up_marker: PathBuf,
}

impl Ucarp {
    /// Starts ucarp on host `i` for vhid 1 with the lab's VIP, advbase 1 and
    /// `advskew`; `-z` runs the down script on a clean exit. Its scripts get
    /// `<interface> <vip>` as arguments.
    pub fn start(lab: &Lab, i: usize, password: &str, advskew: &str) -> anyhow::Result<Self> {
        if !Path::new(BINARY).exists() {
            bail!("{BINARY} is missing: apt-get install ucarp");
        }
        let host = &lab.hosts[i];
        let up_marker = lab.dir.join(format!("ucarp-up-ran-{}", host.name));
        let up = script(
            &lab.dir,
            &format!("ucarp-up-{}.sh", host.name),
            &format!(
                "echo \"$@\" >> {}\nexec ip addr add \"$2\"/24 dev \"$1\"",
                up_marker.display()
            ),
        )?;
        let down = script(
            &lab.dir,
            "ucarp-down.sh",
            "ip addr del \"$2\"/24 dev \"$1\" 2>/dev/null\nexit 0",
        )?;
        let log = lab.dir.join(format!("ucarp-{}.log", host.name));
        let file = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = host.ns.command(BINARY);
        cmd.args([
            "-i", "eth0", "-s", &host.addr, "-v", "1", "-p", password, "-a", VIP, "-b", "1", "-k",
            advskew, "-z",
        ])
        .arg("-u")
        .arg(&up)
        .arg("-d")
        .arg(&down)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
        Ok(Self {
            _process: Background(cmd.spawn().context("starting ucarp")?),
            log,
            up_marker,
        })
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The state of ucarp's last "Switching to state: X" line.
    pub fn state(&self) -> Option<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split("Switching to state: ").nth(1))
            .next_back()
            .map(|s| s.trim().to_string())
    }

    /// Waits until ucarp reports `state`; returns how long it took.
    pub fn wait_state(&self, state: &str, within: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.state().as_deref() == Some(state) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "ucarp not {state} within {within:?} (is {:?}); log:\n{}",
            self.state(),
            self.log()
        )
    }

    pub fn up_script_ran(&self) -> bool {
        self.up_marker.exists()
    }

    /// ucarp logs "Switching to state: MASTER" before it spawns the up
    /// script, so the marker may lag the log line by a moment.
    pub fn up_script_ran_within(&self, within: Duration) -> bool {
        let start = Instant::now();
        while !self.up_script_ran() {
            if start.elapsed() > within {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

fn script(dir: &Path, name: &str, body: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    Ok(path)
}
