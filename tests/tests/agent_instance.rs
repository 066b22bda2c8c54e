//! One agent per control socket and bpffs, and what an agent changed on the
//! host put back after a kill -9: real agents in the namespace lab.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use carp_tests::{
    agent,
    lab::{Lab, vhid1_args},
    privileges::require_root,
};

const VIP: &str = "10.77.0.100";

fn arp_announce(lab: &Lab, host: usize) -> String {
    let out = lab.hosts[host]
        .ns
        .run("cat", &["/proc/sys/net/ipv4/conf/eth0/arp_announce"])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn set_arp_announce(lab: &Lab, host: usize, value: &str) {
    lab.hosts[host]
        .ns
        .run(
            "sysctl",
            &[
                "-q",
                "-w",
                &format!("net.ipv4.conf.eth0.arp_announce={value}"),
            ],
        )
        .unwrap();
}

fn agent_pid(lab: &Lab, host: usize) -> u32 {
    let pid = lab.hosts[host].agent.as_ref().unwrap().process.0.id();
    // `ip netns exec` execs the program in its own process: this is the agent.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "carp-agent", "pid {pid}");
    pid
}

fn socket(lab: &Lab, host: usize) -> PathBuf {
    lab.dir.join(format!("{}.sock", lab.hosts[host].name))
}

fn bpffs(lab: &Lab, host: usize) -> PathBuf {
    lab.dir.join(format!("{}-bpf", lab.hosts[host].name))
}

/// The agent's pins as its own mount namespace sees them (`ip netns exec`
/// gives it one, where it mounted the bpffs).
fn pins(pid: u32, bpffs: &Path) -> Vec<String> {
    let dir = format!("/proc/{pid}/root{}/carp", bpffs.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn xdp_attached(lab: &Lab, host: usize) -> bool {
    let out = lab.hosts[host].ns.ip(&["link", "show", "eth0"]).unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

/// Runs `cmd` to completion, killing it after `within`; None if it had to be
/// killed (a second agent that did not refuse keeps running).
fn run_bounded(mut cmd: Command, within: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > within {
            // SAFETY: plain kill(2) on our own child; SIGTERM lets it clean up.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait_with_output();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

/// `carp-agent run` arguments for a second agent on eth0, with the lab's
/// state directory (where the bpffs locks live) like every lab agent.
fn second_agent_args(lab: &Lab, socket: &Path, bpffs: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--interface", "eth0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("--control-socket".into());
    args.push(socket.display().to_string());
    args.push("--bpffs".into());
    args.push(bpffs.display().to_string());
    args.push("--state-dir".into());
    args.push(lab.dir.display().to_string());
    args.extend(vhid1_args("0", false));
    args
}

/// Adverts the client hears within `within` (at most 2 are waited for).
fn client_hears_adverts(lab: &Lab, within: Duration) -> bool {
    lab.client
        .run(
            "timeout",
            &[
                &within.as_secs().to_string(),
                "tcpdump",
                "-i",
                "eth0",
                "-n",
                "-c",
                "2",
                "ip proto 112",
            ],
        )
        .is_ok()
}

#[test]
fn arp_announce_is_put_back_after_a_kill9_and_a_clean_restart() {
    if !require_root("agent_instance arp_announce") {
        return;
    }
    let mut lab = Lab::new("ia", 1).unwrap();
    set_arp_announce(&lab, 0, "1");
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    assert_eq!(arp_announce(&lab, 0), "2", "{}", lab.log(0));
    let state = lab.dir.join("router1.sock.state");
    assert!(state.exists(), "state file {}", state.display());

    lab.kill9(0);
    // Nothing ran at exit: the agent's 2 is still there.
    assert_eq!(arp_announce(&lab, 0), "2");
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    assert_eq!(arp_announce(&lab, 0), "2");
    let log = lab.log(0);
    lab.terminate(0).unwrap();
    assert_eq!(
        arp_announce(&lab, 0),
        "1",
        "the administrator's value, saved before the kill -9; log:\n{log}"
    );
    assert!(
        log.contains("eth0: a previous agent did not exit cleanly; will put back arp_announce 1"),
        "{log}"
    );
    assert!(!state.exists(), "a clean exit deletes {}", state.display());
}

#[test]
fn arp_announce_changed_after_a_kill9_is_the_administrators() {
    if !require_root("agent_instance arp_announce changed") {
        return;
    }
    let mut lab = Lab::new("ib", 1).unwrap();
    set_arp_announce(&lab, 0, "1");
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    lab.kill9(0);
    // The administrator sets a value of their own before the restart: the
    // record of 1 no longer describes the interface.
    set_arp_announce(&lab, 0, "0");
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    assert_eq!(arp_announce(&lab, 0), "2");
    lab.terminate(0).unwrap();
    assert_eq!(arp_announce(&lab, 0), "0");
}

#[test]
fn a_second_agent_on_the_same_bpffs_refuses_and_changes_nothing() {
    if !require_root("agent_instance bpffs lock") {
        return;
    }
    let mut lab = Lab::new("ic", 1).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let pid = agent_pid(&lab, 0);
    let bpffs = bpffs(&lab, 0);
    let pins_before = pins(pid, &bpffs);
    assert!(
        !pins_before.is_empty(),
        "A's pins under {}",
        bpffs.display()
    );
    assert!(xdp_attached(&lab, 0));

    // As on a host without `ip netns exec`: the same mount namespace, so
    // the second agent sees A's bpffs and pins.
    let other_socket = lab.dir.join("second.sock");
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &pid.to_string(), "-m", "-n", "--"])
        .arg(agent::binary())
        .args(second_agent_args(&lab, &other_socket, &bpffs))
        .env("CARP_LOG", "info");
    let out = run_bounded(cmd, Duration::from_secs(5))
        .expect("the second agent must exit at once, not run next to the first");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        pins(pid, &bpffs),
        pins_before,
        "A's pins untouched; {stderr}"
    );
    assert!(xdp_attached(&lab, 0), "A's XDP program still attached");
    assert!(lab.host_has_addr(0, VIP), "A's VIP still there");
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bpffs {} is in use by another carp-agent (pid {pid};",
            bpffs.display()
        )),
        "{stderr}"
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));
    assert!(client_hears_adverts(&lab, Duration::from_secs(3)));
    lab.client_pings(VIP).unwrap();
    assert!(!other_socket.exists());
    assert!(!lab.dir.join("second.sock.state").exists());
}

#[test]
fn a_second_agent_on_the_same_control_socket_refuses_and_changes_nothing() {
    if !require_root("agent_instance socket lock") {
        return;
    }
    let mut lab = Lab::new("id", 2).unwrap();
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let pid = agent_pid(&lab, 0);
    set_arp_announce(&lab, 1, "1");

    // On the other host, its own bpffs, A's socket.
    let socket = socket(&lab, 0);
    let mut cmd = lab.hosts[1].ns.command(agent::binary().to_str().unwrap());
    cmd.args(second_agent_args(
        &lab,
        &socket,
        &lab.dir.join("second-bpf"),
    ))
    .env("CARP_LOG", "info");
    let out = run_bounded(cmd, Duration::from_secs(5)).expect("the second agent must exit at once");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        arp_announce(&lab, 1),
        "1",
        "host 2's sysctl untouched; {stderr}"
    );
    assert!(!xdp_attached(&lab, 1), "no XDP on host 2");
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "control socket {} is in use by another carp-agent (pid {pid};",
            socket.display()
        )),
        "{stderr}"
    );
    assert_eq!(lab.state(0, 1).as_deref(), Some("MASTER"));

    // kill -9 leaves the lock files but no lock: the next agent starts.
    let lock = lab.dir.join("router1.sock.lock");
    lab.kill9(0);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        pid.to_string()
    );
    lab.start_agent(0, &vhid1_args("0", false)).unwrap();
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(8))
        .unwrap();
    let new_pid = agent_pid(&lab, 0);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        new_pid.to_string()
    );
    lab.terminate(0).unwrap();
    assert!(!lock.exists(), "a clean exit removes {}", lock.display());
}
