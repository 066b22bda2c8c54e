//! A real keepalived (VRRPv2, Debian package) on the lab segment. VRRP shares
//! IP protocol 112 and 224.0.0.18 with CARP, and a VRRP router with virtual
//! router id N uses the virtual MAC 00:00:5e:00:01:N, the same as our vhid
//! N: the agent must say so (one warning per router a minute, counter
//! `vrrp_clash`), and must say nothing about a VRRP router with another id.
//! Either way the VRRP packets are passed untouched and our election is
//! undisturbed.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{Lab, vhid1_args},
    netns::Background,
    privileges::require_root,
};

const KEEPALIVED: &str = "/usr/sbin/keepalived";
const AGENT_HOST: usize = 0;
const VRRP_HOST: usize = 1;
/// keepalived's address: the lab's second host.
const VRRP_SOURCE: &str = "10.77.0.12";

/// keepalived in the foreground, VRRP only, its config, pid files and log
/// in the lab directory. It forks a VRRP child: on drop the parent gets
/// SIGTERM (it stops the child), and whatever is left of either after 5 s
/// gets SIGKILL, so no keepalived outlives the test.
struct Keepalived {
    process: Option<Background>,
    vrrp_pid: PathBuf,
    log: PathBuf,
}

impl Keepalived {
    fn start(lab: &Lab, host: usize, vrid: u8) -> Self {
        let dir = &lab.dir;
        let conf = dir.join(format!("keepalived-{vrid}.conf"));
        let pid = dir.join(format!("keepalived-{vrid}.pid"));
        let vrrp_pid = dir.join(format!("keepalived-{vrid}-vrrp.pid"));
        let checkers_pid = dir.join(format!("keepalived-{vrid}-checkers.pid"));
        let log = dir.join(format!("keepalived-{vrid}.log"));
        fs::write(
            &conf,
            format!(
                "global_defs {{\n  router_id lab{vrid}\n}}\n\
                 vrrp_instance lab {{\n  state MASTER\n  interface eth0\n  \
                 virtual_router_id {vrid}\n  priority 100\n  advert_int 1\n  \
                 virtual_ipaddress {{\n    10.77.0.150/24\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let log_file = fs::File::create(&log).unwrap();
        let mut cmd = lab.hosts[host].ns.command(KEEPALIVED);
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
        .arg(&pid)
        .arg("--vrrp_pid")
        .arg(&vrrp_pid)
        .arg("--checkers_pid")
        .arg(&checkers_pid)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
        let process = Background(cmd.spawn().expect("starting keepalived"));
        Self {
            process: Some(process),
            vrrp_pid,
            log,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let child = read_pid(&self.vrrp_pid);
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

/// The agent's log lines about VRRP routers.
fn vrrp_warnings(lab: &Lab) -> Vec<String> {
    lab.log(AGENT_HOST)
        .lines()
        .filter(|l| l.contains("VRRP router"))
        .map(str::to_string)
        .collect()
}

/// Waits until `counter` on the agent reaches `at_least`.
fn wait_counter(lab: &Lab, counter: &str, at_least: u64, within: Duration, vrrp: &Keepalived) {
    let start = Instant::now();
    loop {
        let value = lab.counter(AGENT_HOST, counter).unwrap();
        if value >= at_least {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{counter} = {value} after {within:?}; keepalived log:\n{}\nagent log:\n{}",
            vrrp.log(),
            lab.log(AGENT_HOST)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lab_with_agent(tag: &str) -> Lab {
    let mut lab = Lab::new(tag, 2).unwrap();
    // advbase 2: keepalived restarts its advert timer on every packet to its
    // router id, ours included (it reads CARP's as a short VRRP packet), so
    // a CARP master advertising exactly every second, as ours does, keeps a
    // 1 s VRRP master from ever sending; every 2 s it sends between them.
    let mut args = vhid1_args("0", false);
    let advbase = args.iter().position(|a| a == "--advbase").unwrap() + 1;
    args[advbase] = "2".into();
    lab.start_agent(AGENT_HOST, &args).unwrap();
    lab.wait_state(AGENT_HOST, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab
}

#[test]
fn vrrp_router_with_our_vhid_is_warned_about_once() {
    if !require_root("vrrp_router_with_our_vhid_is_warned_about_once") {
        return;
    }
    let lab = lab_with_agent("vr1");
    let keepalived = Keepalived::start(&lab, VRRP_HOST, 1);
    // keepalived sends an advert about every second once it is MASTER
    // (about 3 s after it starts); five of them, each counted, one warning.
    wait_counter(&lab, "vrrp_clash", 5, Duration::from_secs(20), &keepalived);
    std::thread::sleep(Duration::from_millis(1500)); // one more poll
    let warnings = vrrp_warnings(&lab);
    println!("{warnings:#?}");
    assert_eq!(warnings.len(), 1, "one warning a minute: {warnings:#?}");
    let warning = &warnings[0];
    for part in [
        "WARN",
        "eth0: VRRP router 10.77.0.12 (VRRPv2)",
        "uses virtual router id 1, the id of our vhid 1",
        "virtual MAC for it is 00:00:5e:00:01:01",
    ] {
        assert!(warning.contains(part), "no {part:?} in {warning:?}");
    }
    assert!(warning.contains(VRRP_SOURCE));
    assert_eq!(lab.counter(AGENT_HOST, "vrrp_passed").unwrap(), 0);
    // VRRP is no CARP: our election did not notice it.
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
    assert_eq!(lab.counter(AGENT_HOST, "badvhid").unwrap(), 0);
}

#[test]
fn vrrp_router_with_another_id_is_not_warned_about() {
    if !require_root("vrrp_router_with_another_id_is_not_warned_about") {
        return;
    }
    let lab = lab_with_agent("vr2");
    let keepalived = Keepalived::start(&lab, VRRP_HOST, 2);
    // The same adverts arrive (passed, counted as VRRP) ...
    wait_counter(&lab, "vrrp_passed", 5, Duration::from_secs(15), &keepalived);
    std::thread::sleep(Duration::from_millis(1500)); // one more poll
    // ... but id 2 is no vhid of ours.
    assert_eq!(vrrp_warnings(&lab), Vec::<String>::new());
    assert_eq!(lab.counter(AGENT_HOST, "vrrp_clash").unwrap(), 0);
    assert_eq!(lab.state(AGENT_HOST, 1).as_deref(), Some("MASTER"));
}
