//! The faults the chaos suite injects, each undone by its guard's drop so a
//! failing scenario leaves nothing behind: nftables rules on the switch's
//! bridge (one-way partitions, random loss), a CPU quota on one agent
//! (cgroup), a host's link down, forged adverts from an attacker.
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::{
    frames::{Advert, CARP_GROUP_V4_MAC, ETHERTYPE_IPV4, Ipv4, ethernet},
    lab::Lab,
    netns::{Netns, sh},
};

/// An nftables table of family `bridge` in the switch's namespace; its
/// rules see every frame the bridge forwards, per output port (flooded
/// multicast included), so `iifname`/`oifname` give one-way cuts. Deleted
/// on drop (and with the namespace in any case).
pub struct BridgeFilter<'a> {
    switch: &'a Netns,
}

const TABLE: &str = "chaos";

impl<'a> BridgeFilter<'a> {
    /// A table with one forwarding chain and no rules yet. (`fwd` is an
    /// nft keyword, hence the chain's longer name.)
    pub fn new(switch: &'a Netns) -> anyhow::Result<Self> {
        let filter = Self { switch };
        filter.nft(&["add", "table", "bridge", TABLE])?;
        filter.nft(&[
            "add", "chain", "bridge", TABLE, "forward", "{", "type", "filter", "hook", "forward",
            "priority", "0", ";", "}",
        ])?;
        Ok(filter)
    }

    /// Drops every frame from switch port `from` to switch port `to`.
    pub fn cut(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.nft(&[
            "add", "rule", "bridge", TABLE, "forward", "iifname", from, "oifname", to, "drop",
        ])
    }

    /// Drops `percent` % of all forwarded frames, at random.
    pub fn loss(&self, percent: u8) -> anyhow::Result<()> {
        anyhow::ensure!(percent <= 100, "loss of {percent} %");
        self.nft(&[
            "add",
            "rule",
            "bridge",
            TABLE,
            "forward",
            "numgen",
            "random",
            "mod",
            "100",
            "<",
            &percent.to_string(),
            "drop",
        ])
    }

    fn nft(&self, args: &[&str]) -> anyhow::Result<()> {
        self.switch
            .run("nft", args)
            .map(drop)
            .context("nft (is the nftables package installed? `cargo xtask setup`)")
    }
}

impl Drop for BridgeFilter<'_> {
    fn drop(&mut self) {
        let _ = self.nft(&["delete", "table", "bridge", TABLE]);
    }
}

/// A CPU quota on one process: a cgroup of its own allowed `quota` of CPU
/// time per `period` (at most 1 s) (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` on hybrid machines).
/// On drop the process goes back to the root group and the group is removed.
pub struct CpuQuota {
    dir: PathBuf,
    root: PathBuf,
    pid: u32,
}

impl CpuQuota {
    pub fn apply(pid: u32, quota: Duration, period: Duration) -> anyhow::Result<Self> {
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let (root, v1) = if std::fs::read_to_string(v2).is_ok_and(|c| c.contains("cpu")) {
            (PathBuf::from("/sys/fs/cgroup"), false)
        } else if Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() {
            (PathBuf::from("/sys/fs/cgroup/cpu"), true)
        } else {
            bail!("no cgroup cpu controller (neither v2 cpu.max nor v1 cpu.cfs_quota_us)");
        };
        let dir = root.join(format!("carp-chaos-{}-{pid}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let group = Self { dir, root, pid };
        // The kernel takes periods of 1 ms to 1 s and quotas from 1 ms.
        let period = period.as_micros().clamp(1000, 1_000_000);
        let limit = quota.as_micros().clamp(1000, period);
        if v1 {
            group.write("cpu.cfs_period_us", &period.to_string())?;
            group.write("cpu.cfs_quota_us", &limit.to_string())?;
        } else {
            group.write("cpu.max", &format!("{limit} {period}"))?;
        }
        group.write("cgroup.procs", &pid.to_string())?;
        Ok(group)
    }

    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, value)
            .with_context(|| format!("writing {value} to {}", path.display()))
    }

    /// The group's directory (to check it is gone afterwards).
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // The process may have exited; then the group is empty anyway.
        let _ = std::fs::write(self.root.join("cgroup.procs"), self.pid.to_string());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Host `i`'s eth0 down for `down`, then up again.
pub fn link_flap(lab: &Lab, i: usize, down: Duration) -> anyhow::Result<()> {
    lab.hosts[i].ns.ip(&["link", "set", "eth0", "down"])?;
    std::thread::sleep(down);
    lab.hosts[i].ns.ip(&["link", "set", "eth0", "up"])?;
    Ok(())
}

/// A forged vhid 1 advert from `src` with advskew 0 and a digest that is
/// not the password's: what a host without the password can send.
pub fn forged_advert(src: [u8; 4], counter: u64, src_mac: [u8; 6]) -> Vec<u8> {
    let advert = Advert {
        counter,
        ..Advert::new(1)
    };
    let ip = Ipv4 {
        src,
        ..Ipv4::default()
    };
    ethernet(
        CARP_GROUP_V4_MAC,
        src_mac,
        &[],
        ETHERTYPE_IPV4,
        &ip.packet(&advert.bytes()),
    )
}

/// `stress-ng` busy loops on every CPU for `duration` (the whole machine
/// starved, not one agent).
pub fn busy_loops(duration: Duration) -> anyhow::Result<()> {
    let seconds = format!("{}s", duration.as_secs().max(1));
    sh(
        "stress-ng",
        &["--cpu", "4", "--timeout", &seconds, "--quiet"],
    )
    .map(drop)
    .context("stress-ng (is it installed? `cargo xtask setup`)")
}
