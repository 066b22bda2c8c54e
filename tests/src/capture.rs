//! A tcpdump capture of IP protocol 112 (CARP and VRRP) in a lab namespace,
//! read back as (kernel receive timestamp, IPv4 source) pairs.
use std::{
    fs,
    io::{BufRead as _, BufReader},
    net::Ipv4Addr,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, bail};
use pcap_file::pcap::PcapReader;

use crate::netns::{Background, Netns};

/// Largest capture file read back: an hour of adverts every 4 ms is 70 MB.
const MAX_CAPTURE_BYTES: u64 = 256 << 20;
/// A pcap file's global header: once it is on disk, tcpdump captures.
const PCAP_HEADER_BYTES: u64 = 24;

/// One IPv4 protocol-112 packet seen on the wire.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    /// The kernel's receive timestamp (wall clock), nanosecond precision.
    pub at: SystemTime,
    pub source: Ipv4Addr,
}

/// tcpdump running on `eth0` of a namespace; [`Capture::finish`] stops it.
pub struct Capture {
    process: Option<Background>,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on `eth0` of `ns`, writing to `file`; returns once it
    /// captures.
    pub fn start(ns: &Netns, file: PathBuf) -> anyhow::Result<Self> {
        let _ = fs::remove_file(&file);
        let mut cmd = ns.command("tcpdump");
        cmd.args([
            "-i",
            "eth0",
            "-n",
            "-s",
            "96",
            "-B",
            "8192",
            "--time-stamp-precision=nano",
            "-w",
        ])
        .arg(&file)
        .args(["ip", "proto", "112"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let capture = Self {
            process: Some(Background(cmd.spawn().context("starting tcpdump")?)),
            file,
        };
        capture.wait_header()?;
        Ok(capture)
    }

    /// tcpdump on interface `iface` of `ns` with the capture filter
    /// `filter` (e.g. "ip proto 112 or arp"), frames cut at 96 bytes,
    /// handed over and written as they come (`--immediate-mode`, `-U`: a
    /// stopped tcpdump loses nothing still buffered) to `file`; returns once tcpdump says it
    /// listens (a quiet interface gets no file header before its first
    /// packet). Read it back with [`Capture::finish_frames`].
    pub fn start_on(ns: &Netns, iface: &str, filter: &str, file: PathBuf) -> anyhow::Result<Self> {
        let _ = fs::remove_file(&file);
        let mut cmd = ns.command("tcpdump");
        cmd.args([
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "96",
            "-B",
            "16384",
        ])
        .arg("--time-stamp-precision=nano")
        .arg("-w")
        .arg(&file)
        .args(filter.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting tcpdump")?;
        let stderr = child.stderr.take().context("tcpdump's stderr")?;
        let capture = Self {
            process: Some(Background(child)),
            file,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads tcpdump's stderr to its end, so tcpdump never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .with_context(|| format!("tcpdump on {iface} did not start listening within 5 s"))?;
        Ok(capture)
    }

    fn wait_header(&self) -> anyhow::Result<()> {
        let start = Instant::now();
        while fs::metadata(&self.file).map_or(0, |m| m.len()) < PCAP_HEADER_BYTES {
            if start.elapsed() > Duration::from_secs(5) {
                bail!("tcpdump wrote no {} within 5 s", self.file.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops tcpdump and returns every frame (kernel receive time, bytes
    /// as captured) in capture order.
    pub fn finish_frames(mut self) -> anyhow::Result<Vec<(SystemTime, Vec<u8>)>> {
        self.stop()?;
        let mut frames = Vec::new();
        read_each(&self.file, |at, data| frames.push((at, data.to_vec())))?;
        Ok(frames)
    }

    /// SIGINT (tcpdump flushes its buffer) and waits for the exit.
    fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(process.0.id() as i32, libc::SIGINT) };
            let start = Instant::now();
            while process.0.try_wait()?.is_none() {
                if start.elapsed() > Duration::from_secs(5) {
                    bail!("tcpdump did not stop within 5 s of SIGINT");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Stops tcpdump (SIGINT: it flushes its buffer) and reads the capture.
    pub fn finish(mut self) -> anyhow::Result<Vec<Seen>> {
        self.stop()?;
        read(&self.file)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.process.take();
        let _ = fs::remove_file(&self.file);
    }
}

/// The IPv4 packets of an Ethernet pcap file, in capture order.
fn read(path: &std::path::Path) -> anyhow::Result<Vec<Seen>> {
    let mut seen = Vec::new();
    read_each(path, |at, data| {
        if let Some(source) = ipv4_source(data) {
            seen.push(Seen { at, source });
        }
    })?;
    Ok(seen)
}

/// Calls `each` with every packet of a pcap file (bounded in size).
fn read_each(
    path: &std::path::Path,
    mut each: impl FnMut(SystemTime, &[u8]),
) -> anyhow::Result<()> {
    let size = fs::metadata(path)
        .with_context(|| format!("{}", path.display()))?
        .len();
    if size > MAX_CAPTURE_BYTES {
        bail!(
            "{}: {size} bytes, more than the {MAX_CAPTURE_BYTES} read back",
            path.display()
        );
    }
    let file = fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut reader =
        PcapReader::new(file).with_context(|| format!("{}: not a pcap file", path.display()))?;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.with_context(|| format!("{}: truncated packet", path.display()))?;
        each(UNIX_EPOCH + packet.timestamp, &packet.data);
    }
    Ok(())
}

/// The source address of an untagged Ethernet IPv4 frame.
fn ipv4_source(frame: &[u8]) -> Option<Ipv4Addr> {
    const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
    if frame.get(12..14)? != ETHERTYPE_IPV4 {
        return None;
    }
    let bytes: [u8; 4] = frame.get(26..30)?.try_into().ok()?;
    Some(Ipv4Addr::from(bytes))
}
