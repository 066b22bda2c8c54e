//! The lab: hosts and a client as network namespaces, each with an `eth0`
//! plugged into a bridge that lives in a namespace of its own (the "switch"),
//! so nothing touches the machine's own network. Agents run as real
//! processes; everything is torn down on drop, also when a test panics.
use std::{
    fs,
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::netns::{Background, Netns};

/// The lab's usual vhid 1: its VIP and password.
pub const VIP: &str = "10.77.0.100";
pub const PASSWORD: &str = "labpass";

/// How long a failover from a kill -9'd MASTER may take in the lab: the
/// master-down interval of the advskew-100 backup (3*1 + 100/256 s) plus one
/// of its intervals (1 + 100/256 s), 4.78 s.
pub const FAILOVER_BOUND: Duration = Duration::from_millis(4800);

/// The virtual MAC of `vhid` as `ip neigh` prints it, e.g. "00:00:5e:00:01:01".
pub fn vmac(vhid: u8) -> String {
    carp_common::virtual_mac(vhid)
        .map(|b| format!("{b:02x}"))
        .join(":")
}

/// `run` flags for one vhid: the password, each of `vips` (ADDR[/PREFIX]),
/// advbase 1 and the given advskew.
pub fn vhid_args(vhid: u8, password: &str, vips: &[&str], advskew: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--vhid".into(),
        vhid.to_string(),
        "--password".into(),
        password.into(),
    ];
    for vip in vips {
        args.extend(["--vip".into(), vip.to_string()]);
    }
    args.extend([
        "--advbase".into(),
        "1".into(),
        "--advskew".into(),
        advskew.into(),
    ]);
    args
}

/// Flags for the lab's usual vhid: vhid 1, VIP 10.77.0.100/24, advbase 1,
/// the given advskew, with or without preemption.
pub fn vhid1_args(advskew: &str, preempt: bool) -> Vec<String> {
    let mut args = vhid_args(1, PASSWORD, &[&format!("{VIP}/24")], advskew);
    if preempt {
        args.push("--preempt".into());
    }
    args
}

/// Polls `f` every 20 ms until it is true or `within` has passed; whether
/// it became true. `within` bounds the wait on a slow machine, it asserts
/// no speed.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lab subnet; hosts are .11, .12, ..., the client .200.
pub const SUBNET: &str = "10.77.0";
pub const PREFIX6: &str = "fd77::";

pub struct Lab {
    pub switch: Netns,
    pub hosts: Vec<Host>,
    pub client: Netns,
    pub dir: PathBuf,
}

pub struct Host {
    pub name: String,
    pub ns: Netns,
    pub addr: String,
    pub agent: Option<Agent>,
}

pub struct Agent {
    pub process: Background,
    pub log: PathBuf,
    pub socket: PathBuf,
}

/// The snooping switch's timers, in centiseconds as `ip link` takes them:
/// queries every second (the default 125 s would leave a querier that missed
/// its start-up queries absent for two minutes), answered within 0.5 s.
const QUERY_INTERVAL_CS: &str = "100";
const QUERY_RESPONSE_CS: &str = "50";

impl Lab {
    /// `hosts` routers plus a client, all on one bridge that floods every
    /// multicast frame (no snooping).
    pub fn new(tag: &str, hosts: usize) -> anyhow::Result<Self> {
        Self::build(tag, hosts, false)
    }

    /// As [`Lab::new`], on a bridge that snoops IGMP/MLD and is the querier,
    /// as managed switches do: once its querier runs, multicast other than
    /// ff02::1 and 224.0.0.x reaches only the ports that reported the group.
    /// Returns once the querier runs.
    pub fn new_snooping(tag: &str, hosts: usize) -> anyhow::Result<Self> {
        Self::build(tag, hosts, true)
    }

    fn build(tag: &str, hosts: usize, snooping: bool) -> anyhow::Result<Self> {
        let switch = Netns::new(&format!("{tag}sw"))?;
        if snooping {
            // br0 inherits it: its link-local, the source of its MLD queries,
            // is usable at once. Hosts ignore queries from any other source
            // (RFC 3810), and a bridge without one is no IPv6 querier.
            // /proc/sys/net shows the namespace of the thread that opens it.
            let path = "/proc/sys/net/ipv6/conf/default/accept_dad";
            switch
                .enter(|| fs::write(path, "0"))
                .with_context(|| format!("{path} in {}", switch.name))?;
            switch.ip(&[
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "1",
                "mcast_query_interval",
                QUERY_INTERVAL_CS,
                "mcast_startup_query_interval",
                QUERY_RESPONSE_CS,
                "mcast_query_response_interval",
                QUERY_RESPONSE_CS,
            ])?;
        } else {
            switch.ip(&["link", "add", "br0", "type", "bridge"])?;
        }
        switch.ip(&["link", "set", "br0", "up"])?;
        let dir = std::env::temp_dir().join(format!("carp-lab-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let client = Netns::new(&format!("{tag}c"))?;
        let mut lab = Self {
            switch,
            hosts: Vec::new(),
            client,
            dir,
        };
        lab.plug(&lab.client.name.clone(), "p0")?;
        lab.client
            .ip(&["addr", "add", &format!("{SUBNET}.200/24"), "dev", "eth0"])?;
        lab.client.ip(&[
            "addr",
            "add",
            &format!("{PREFIX6}200/64"),
            "dev",
            "eth0",
            "nodad",
        ])?;
        for i in 0..hosts {
            let ns = Netns::new(&format!("{tag}h{}", i + 1))?;
            lab.plug(&ns.name, &format!("p{}", i + 1))?;
            let addr = format!("{SUBNET}.{}", 11 + i);
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
            lab.hosts.push(Host {
                name: format!("router{}", i + 1),
                ns,
                addr,
                agent: None,
            });
        }
        if snooping {
            lab.start_querier()?;
        }
        Ok(lab)
    }

    /// Makes br0 the querier once it has a link-local address (it has one
    /// only once a port is up), then waits out the bridge's start-up delay:
    /// on becoming querier it floods for one query response interval first.
    fn start_querier(&self) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let out = self
                .switch
                .ip(&["-6", "addr", "show", "dev", "br0", "scope", "link"])?;
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains("inet6") && !text.contains("tentative") {
                break;
            }
            if start.elapsed() > Duration::from_secs(5) {
                bail!("br0 has no usable link-local address after 5 s: {text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.switch
            .ip(&["link", "set", "br0", "type", "bridge", "mcast_querier", "1"])?;
        // The response interval (0.5 s) and one query round to spare.
        std::thread::sleep(Duration::from_millis(1500));
        Ok(())
    }

    /// The bridge's multicast database (`bridge mdb show`), for messages.
    pub fn mdb(&self) -> String {
        crate::netns::sh("bridge", &["-n", &self.switch.name, "mdb", "show"])
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string())
    }

    /// The switch port (in [`Lab::switch`]) host `i` is plugged into.
    pub fn port(i: usize) -> String {
        format!("p{}", i + 1)
    }

    /// The client's switch port.
    pub const CLIENT_PORT: &str = "p0";

    /// One more namespace on the bridge, e.g. an attacker, with `eth0` on
    /// switch port `port` (not a `p<N>` the lab uses) and no address. The
    /// caller owns it; it goes away on drop.
    pub fn attach_station(&self, tag: &str, port: &str) -> anyhow::Result<Netns> {
        let ns = Netns::new(tag)?;
        self.plug(&ns.name, port)?;
        Ok(ns)
    }

    /// The bridge port that has learned `mac` ("p2", ...), if any.
    pub fn fdb_port(&self, mac: &str) -> Option<String> {
        let out = crate::netns::sh(
            "bridge",
            &["-n", &self.switch.name, "fdb", "show", "br", "br0"],
        )
        .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with(mac) && !l.contains("permanent"))
            .and_then(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "dev")
                    .nth(1)
                    .map(str::to_string)
            })
    }

    /// One more segment: bridge `br<k>` in the switch, and on every host an
    /// `eth<k>` plugged into it (switch port `s<k>p<host + 1>`), up, without
    /// an address. For more vhids than one interface holds (255), each
    /// segment its own broadcast domain, as VLANs would be.
    pub fn add_segment(&self, k: usize) -> anyhow::Result<()> {
        let bridge = format!("br{k}");
        self.switch
            .ip(&["link", "add", &bridge, "type", "bridge"])?;
        self.switch.ip(&["link", "set", &bridge, "up"])?;
        let iface = format!("eth{k}");
        for (i, host) in self.hosts.iter().enumerate() {
            let port = Self::segment_port(k, i);
            self.switch.ip(&[
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                &iface,
                "netns",
                &host.ns.name,
            ])?;
            self.switch
                .ip(&["link", "set", &port, "master", &bridge, "up"])?;
            host.ns.ip(&["link", "set", &iface, "up"])?;
        }
        Ok(())
    }

    /// The switch port of host `i` on segment `k` ([`Lab::add_segment`]).
    pub fn segment_port(k: usize, i: usize) -> String {
        format!("s{k}p{}", i + 1)
    }

    /// A veth from namespace `ns` (as `eth0`) to the bridge (as `port`).
    /// Makes the switch carry 802.1Q tags inside the frames, as a wire
    /// does. A veth receiving a tagged frame hands the tag to the stack
    /// outside the frame (the kernel's "offloaded" tag), and a bridge port
    /// that can transmit such tags (veth can) passes it on that way; the
    /// XDP program of the next host would then see an untagged frame. With
    /// transmit VLAN offload off on the switch's ports, the tag goes back
    /// into the frame on the way out. (A NIC that strips tags on receive
    /// needs `ethtool -K IFACE rxvlan off` for the same reason; docs/vlan.md.)
    pub fn tags_on_the_wire(&self) -> anyhow::Result<()> {
        let hosts = (0..self.hosts.len()).map(Self::port);
        for port in std::iter::once(Self::CLIENT_PORT.to_string()).chain(hosts) {
            let out = self
                .switch
                .run("ethtool", &["-K", &port, "txvlan", "off"])?;
            if !out.status.success() {
                bail!(
                    "ethtool -K {port} txvlan off in {}: {}",
                    self.switch.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(())
    }

    fn plug(&self, ns: &str, port: &str) -> anyhow::Result<()> {
        self.switch.ip(&[
            "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        self.switch
            .ip(&["link", "set", port, "master", "br0", "up"])?;
        crate::netns::sh("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// Starts `carp-agent run <args>` on host `i`, with its own control
    /// socket and bpffs under the lab directory, logging to a file.
    pub fn start_agent<S: AsRef<str>>(&mut self, i: usize, args: &[S]) -> anyhow::Result<()> {
        self.start_agent_with_env(i, args, &[])
    }

    /// [`Lab::start_agent`] with extra environment variables for the agent.
    pub fn start_agent_with_env<S: AsRef<str>>(
        &mut self,
        i: usize,
        args: &[S],
        env: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let mut full = vec!["--interface", "eth0"];
        full.extend(args.iter().map(AsRef::as_ref));
        self.spawn_agent(i, &[], &full, env)
    }

    /// [`Lab::start_agent`] through `wrapper`, a command that execs the
    /// agent with changed limits or privileges (`prlimit`, `setpriv`): the
    /// agent keeps the wrapper's pid.
    pub fn start_agent_via<S: AsRef<str>>(
        &mut self,
        i: usize,
        wrapper: &[&str],
        args: &[S],
    ) -> anyhow::Result<()> {
        let mut full = vec!["--interface", "eth0"];
        full.extend(args.iter().map(AsRef::as_ref));
        self.spawn_agent(i, wrapper, &full, &[])
    }

    /// The pid of host `i`'s agent, if it runs one.
    pub fn agent_pid(&self, i: usize) -> Option<u32> {
        self.hosts[i].agent.as_ref().map(|a| a.process.0.id())
    }

    /// Starts `carp-agent run --config <config>` on host `i` (no single-vhid
    /// flags: the file names the interfaces), socket and bpffs as above.
    pub fn start_agent_with_config(
        &mut self,
        i: usize,
        config: &std::path::Path,
    ) -> anyhow::Result<()> {
        self.spawn_agent(
            i,
            &[],
            &["--config", config.to_str().context("utf-8 path")?],
            &[],
        )
    }

    /// Writes `toml_text` to a file in the lab directory and starts the
    /// agent of host `i` with it, as [`Lab::start_agent_with_config`].
    pub fn start_agent_config(&mut self, i: usize, toml_text: &str) -> anyhow::Result<()> {
        let path = self.dir.join(format!("{}.toml", self.hosts[i].name));
        fs::write(&path, toml_text)?;
        self.start_agent_with_config(i, &path)
    }

    /// No `--xdp-mode`: the lab runs what users run (`auto`, skb mode on
    /// these veths). `wrapper`, if not empty, runs first and execs the agent.
    fn spawn_agent(
        &mut self,
        i: usize,
        wrapper: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let args = self.password_to_file(i, args)?;
        let host = &mut self.hosts[i];
        let socket = self.dir.join(format!("{}.sock", host.name));
        let bpffs = self.dir.join(format!("{}-bpf", host.name));
        mount_bpffs(&bpffs)?;
        let log = self.dir.join(format!("{}.log", host.name));
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut cmd = match wrapper.split_first() {
            None => host.ns.command(&agent_path()?),
            Some((program, wrapper_args)) => {
                let mut cmd = host.ns.command(program);
                cmd.args(wrapper_args).arg(agent_path()?);
                cmd
            }
        };
        cmd.arg("run")
            .arg("--control-socket")
            .arg(&socket)
            .arg("--bpffs")
            .arg(&bpffs)
            // Lock files go with the lab, not into the machine's /run.
            .arg("--state-dir")
            .arg(&self.dir)
            // The kept demotion too, one directory per host, not the
            // machine's /var/lib/carp-agent; it outlives agent restarts.
            .arg("--persist-dir")
            .arg(self.dir.join(format!("{}-persist", host.name)))
            .args(args)
            .env("CARP_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd.spawn().context("starting carp-agent")?;
        host.agent = Some(Agent {
            process: Background(child),
            log,
            socket,
        });
        Ok(())
    }

    /// `--password P` becomes `--password-file FILE` (a file in the lab
    /// directory holding P), as users are told to run the agent: the flag
    /// would show in `ps`, and the agent warns about it.
    fn password_to_file(&self, i: usize, args: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(args.len());
        let mut args = args.iter();
        let mut files = 0;
        while let Some(&arg) = args.next() {
            if arg != "--password" {
                out.push(arg.to_string());
                continue;
            }
            let password = args.next().context("--password without a value")?;
            files += 1;
            let path = self
                .dir
                .join(format!("{}-{files}.pass", self.hosts[i].name));
            fs::write(&path, format!("{password}\n"))?;
            out.push("--password-file".to_string());
            out.push(path.to_str().context("utf-8 path")?.to_string());
        }
        Ok(out)
    }

    /// `carp-agent <args> --control-socket <host's socket>`, run on the host.
    pub fn control(&self, i: usize, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let host = &self.hosts[i];
        let agent = host.agent.as_ref().context("no agent on this host")?;
        let out = host
            .ns
            .command(&agent_path()?)
            .args(args)
            .arg("--control-socket")
            .arg(&agent.socket)
            .output()?;
        Ok(out)
    }

    /// The state ("MASTER", "BACKUP", "INIT") of `vhid` on host `i`, from `status --json`.
    pub fn state(&self, i: usize, vhid: u8) -> Option<String> {
        let out = self.control(i, &["status", "--json"]).ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["vhids"]
            .as_array()?
            .iter()
            .find(|v| v["vhid"] == vhid)
            .and_then(|v| v["state"].as_str().map(str::to_string))
    }

    /// Waits until host `i` reports `state` for `vhid`; returns how long it took.
    pub fn wait_state(
        &self,
        i: usize,
        vhid: u8,
        state: &str,
        within: Duration,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.state(i, vhid).as_deref() == Some(state) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} vhid {vhid} not {state} within {within:?} (is {:?}); log:\n{}",
            self.hosts[i].name,
            self.state(i, vhid),
            self.log(i)
        )
    }

    /// The client's neighbour entry for `ip`, e.g. "00:00:5e:00:01:01" ("" if none).
    pub fn client_neighbour_mac(&self, ip: &str) -> String {
        let Ok(out) = self.client.ip(&["neigh", "show", ip]) else {
            return String::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    /// Three pings from the client to `ip`; an error if none is answered.
    pub fn client_pings(&self, ip: &str) -> anyhow::Result<()> {
        self.client
            .run("ping", &["-c", "3", "-i", "0.2", "-W", "1", ip])
            .map(drop)
    }

    /// [`Lab::client_pings`], a panic naming `context` if it fails.
    pub fn assert_client_reaches(&self, ip: &str, context: &str) {
        if let Err(err) = self.client_pings(ip) {
            panic!("{context}: the client cannot reach {ip}: {err:#}");
        }
    }

    /// The MAC address of host `i`'s eth0 (its own, not a virtual one).
    pub fn real_mac(&self, i: usize) -> anyhow::Result<String> {
        let out = self.hosts[i].ns.ip(&["-br", "link", "show", "eth0"])?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(2)
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "no MAC in `ip -br link show eth0` of {}",
                    self.hosts[i].name
                )
            })
    }

    /// Whether host `i` has address `ip` (any family) on eth0.
    pub fn host_has_addr(&self, i: usize, ip: &str) -> bool {
        self.hosts[i]
            .ns
            .ip(&["addr", "show", "eth0"])
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&format!(" {ip}/")))
    }

    /// A counter from host `i`'s `status --json` (XDP and agent counters).
    pub fn counter(&self, i: usize, name: &str) -> anyhow::Result<u64> {
        let out = self.control(i, &["status", "--json"])?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("status --json: {out:?}"))?;
        json["counters"][name]
            .as_u64()
            .with_context(|| format!("no counter {name} in {json}"))
    }

    pub fn log(&self, i: usize) -> String {
        self.hosts[i]
            .agent
            .as_ref()
            .and_then(|a| fs::read_to_string(&a.log).ok())
            .unwrap_or_default()
    }

    /// kill -9 of host `i`'s agent: no bow-out, no cleanup.
    pub fn kill9(&mut self, i: usize) {
        if let Some(agent) = self.hosts[i].agent.take() {
            drop(agent.process);
        }
    }

    /// SIGTERM, then waits for the agent to exit (its clean shutdown).
    pub fn terminate(&mut self, i: usize) -> anyhow::Result<()> {
        if self.hosts[i].agent.is_some() {
            self.signal(i, libc::SIGTERM);
            self.wait_exit(i, Duration::from_secs(10))
                .context("after SIGTERM")?;
            self.hosts[i].agent = None;
        }
        Ok(())
    }

    /// Sends `signal` to host `i`'s agent, if it runs one.
    pub fn signal(&self, i: usize, signal: i32) {
        if let Some(agent) = &self.hosts[i].agent {
            let pid = agent.process.0.id() as i32;
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Waits up to `within` for host `i`'s agent to exit and returns how it
    /// did; the agent stays recorded, so its log can still be read.
    pub fn wait_exit(
        &mut self,
        i: usize,
        within: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            let agent = self.hosts[i]
                .agent
                .as_mut()
                .context("no agent on this host")?;
            if let Some(status) = agent.process.0.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > within {
                bail!(
                    "{} agent did not exit within {within:?}; log:\n{}",
                    self.hosts[i].name,
                    self.log(i)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a probe stream from the client to `target`: one ping every 10 ms.
    pub fn probe(&self, target: &str) -> anyhow::Result<Probe> {
        let mut cmd = self.client.command("ping");
        cmd.args(["-D", "-n", "-i", "0.01", "-W", "1", target])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let child = cmd.spawn().context("starting ping")?;
        Ok(Probe {
            process: Background(child),
            started: Instant::now(),
        })
    }
}

/// Mounts a bpffs at `path` in the test's mount namespace, as systemd
/// mounts /sys/fs/bpf on a real host: the agent's `ip netns exec` namespace
/// inherits it, and what the agent pins outlives the agent (the XDP link a
/// killed agent leaves for its successor). A bpffs the agent mounted itself
/// would vanish with its mount namespace.
fn mount_bpffs(path: &std::path::Path) -> anyhow::Result<()> {
    fs::create_dir_all(path)?;
    if carp_agent::dataplane::bpffs::is_bpffs(path) {
        return Ok(());
    }
    let status = Command::new("mount")
        .args(["-t", "bpf", "bpf"])
        .arg(path)
        .status()
        .context("running mount")?;
    if !status.success() {
        bail!("mount -t bpf bpf {}: {status}", path.display());
    }
    Ok(())
}

/// The carp-agent binary the lab runs, as the string `Netns::command` takes.
fn agent_path() -> anyhow::Result<String> {
    crate::agent::binary()
        .into_os_string()
        .into_string()
        .ok()
        .context("the carp-agent binary's path is not UTF-8")
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            host.agent.take();
        }
        // The hosts' bpffs mounts (see `mount_bpffs`): unmounting releases
        // whatever a killed agent left pinned in them.
        for host in &self.hosts {
            let _ = Command::new("umount")
                .arg(self.dir.join(format!("{}-bpf", host.name)))
                .stderr(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A running ping; `finish` stops it and measures the longest gap in replies.
pub struct Probe {
    process: Background,
    started: Instant,
}

pub struct ProbeResult {
    pub sent_for: Duration,
    /// Echo requests sent, from ping's summary ("N packets transmitted").
    pub sent: Option<usize>,
    pub replies: usize,
    /// Longest time between two consecutive replies (the outage).
    pub longest_gap: Duration,
    /// Wall-clock times of the first and last reply (ping's `-D` stamps).
    pub first_reply: Option<std::time::SystemTime>,
    pub last_reply: Option<std::time::SystemTime>,
}

impl ProbeResult {
    /// Whether replies came both before and after `at`, so `longest_gap`
    /// spans that moment. (How many replies there are says little: on a
    /// loaded machine ping itself may start late or send slower.)
    pub fn answered_across(&self, at: std::time::SystemTime) -> bool {
        self.first_reply.is_some_and(|first| first < at)
            && self.last_reply.is_some_and(|last| last > at)
    }
}

impl Probe {
    pub fn finish(mut self) -> ProbeResult {
        let pid = self.process.0.id() as i32;
        // SAFETY: plain kill(2) on our own child; SIGINT makes ping flush and exit.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let stdout = self.process.0.stdout.take().expect("piped");
        let mut stamps = Vec::new();
        let mut sent = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // "1234 packets transmitted, 1200 received, 2% packet loss, ..."
            if let Some((count, _)) = line.split_once(" packets transmitted") {
                sent = count.trim().parse().ok();
            }
            // "[1700000000.123456] 64 bytes from 10.77.0.100: icmp_seq=1 ttl=64 time=0.1 ms"
            if line.contains("bytes from") {
                if let Some(ts) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                    if let Ok(t) = ts.parse::<f64>() {
                        stamps.push(t);
                    }
                }
            }
        }
        let longest_gap = stamps
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f64, f64::max);
        let wall = |t: f64| std::time::UNIX_EPOCH + Duration::from_secs_f64(t);
        ProbeResult {
            sent_for: self.started.elapsed(),
            sent,
            replies: stamps.len(),
            longest_gap: Duration::from_secs_f64(longest_gap),
            first_reply: stamps.first().copied().map(wall),
            last_reply: stamps.last().copied().map(wall),
        }
    }
}
