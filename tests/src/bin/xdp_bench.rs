//! `cargo xtask bench xdp [filter]`: per-packet cost of the XDP program
//! through BPF_PROG_TEST_RUN, each case next to the empty
//! `xdp_pass_baseline` program of the same object, measured in the same run
//! and the same mode.
//!
//! The figure is the kernel's own `duration` of the test run, which excludes
//! the time the thread spends rescheduled (other tasks running): on a shared
//! machine wall-clock time would mostly measure the neighbours.
//!
//! Two modes, because BPF_PROG_TEST_RUN's `repeat` re-runs the program on
//! the SAME buffer, keeping whatever the previous iteration wrote:
//! - `repeat`: one syscall with repeat = 1,000,000; the kernel reports the
//!   mean per iteration in whole ns. For cases that leave the frame as it
//!   was (pass, drop).
//! - `per-call`: 1,000,000 syscalls with repeat = 1, averaging the kernel's
//!   per-call duration, which then also covers one clock read and the
//!   run-context setup (the empty program shows how much). Needed for
//!   XDP_TX: after one iteration an ARP request has become the reply (an NS
//!   the NA), and further iterations would time the cheap "not ours" path.
//!
//! Each figure is the median of 5 runs, on a thread pinned to CPU 0.
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail, ensure};
use aya::{
    Ebpf, EbpfLoader,
    maps::RingBuf,
    programs::{TestRun as _, TestRunOptions, Xdp},
};
use carp_agent::dataplane::XDP_OBJECT;
use carp_common::{AdvertEvent, EVENTS_BYTES, MAP_EVENTS, PROGRAM_NAME, STATE_MASTER};
use carp_tests::{
    frames::{self, Advert, Ipv4},
    xdp::{self, BASELINE_PROGRAM, XDP_DROP, XDP_PASS, XDP_TX, corpus, lab},
};

const REPEAT: u32 = 1_000_000;
const CALLS: u32 = 1_000_000;
const RUNS: usize = 5;
/// Room for every event of one `repeat` run of valid adverts (80 bytes
/// each with the ring's header): 128 MiB instead of the default 256 KiB.
const BIG_RING: u32 = 1 << 27;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Repeat,
    PerCall,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Repeat => "repeat",
            Mode::PerCall => "per-call",
        }
    }
}

struct Case {
    name: &'static str,
    program: &'static str,
    frame: Vec<u8>,
    action: u32,
    mode: Mode,
}

/// The empty program's figure per mode, for the ratios.
#[derive(Default)]
struct Baselines {
    repeat: f64,
    per_call: f64,
}

impl Baselines {
    fn get(&self, mode: Mode) -> f64 {
        match mode {
            Mode::Repeat => self.repeat,
            Mode::PerCall => self.per_call,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "xdp".into());
    if what != "xdp" {
        bail!("unknown benchmark `{what}`; available: xdp [case-name filter]");
    }
    // Optional: only the cases whose name contains this (baselines always run).
    let filter = args.next().unwrap_or_default();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the XDP benchmark loads BPF programs: run it as root");
    }
    pin_to_cpu(0)?;

    // Valid adverts fill the ring buffer; this object's ring holds a whole
    // run, so every iteration takes the queueing path.
    let mut ebpf = EbpfLoader::new()
        .map_max_entries(MAP_EVENTS, BIG_RING)
        .load(XDP_OBJECT)
        .context("loading the XDP object")?;
    xdp::program(&mut ebpf).load()?;
    xdp::load_baseline(&mut ebpf)?;
    xdp::install(&mut ebpf, &lab::config(STATE_MASTER))?;
    let mut ring = RingBuf::try_from(ebpf.take_map(MAP_EVENTS).context("CARP_EVENTS")?)?;

    let advert = corpus::advert_v4(&[], lab::VHID);
    let mut bad_sum = advert.clone();
    let last = bad_sum.len() - 1;
    bad_sum[last] ^= 0xff;
    let bad_ttl = frames::ethernet(
        frames::CARP_GROUP_V4_MAC,
        lab::PEER_MAC,
        &[],
        frames::ETHERTYPE_IPV4,
        &Ipv4 {
            ttl: 64,
            ..Ipv4::default()
        }
        .packet(&Advert::new(lab::VHID).bytes()),
    );
    let tcp = corpus::tcp_v4(lab::NIC_MAC, &[]);
    let case = |name, program, frame: Vec<u8>, action, mode| Case {
        name,
        program,
        frame,
        action,
        mode,
    };
    use Mode::{PerCall, Repeat};
    #[rustfmt::skip]
    let cases = [
        case("empty program (baseline)", BASELINE_PROGRAM, tcp.clone(), XDP_PASS, Repeat),
        case("unrelated TCP/IPv4", PROGRAM_NAME, tcp.clone(), XDP_PASS, Repeat),
        case("unrelated UDP/IPv6", PROGRAM_NAME, corpus::udp_v6(lab::NIC_MAC), XDP_PASS, Repeat),
        case("valid advert v4 -> ring buffer", PROGRAM_NAME, advert.clone(), XDP_DROP, Repeat),
        case("valid advert v6 -> ring buffer", PROGRAM_NAME, corpus::advert_v6(lab::VHID), XDP_DROP, Repeat),
        case("advert, bad checksum", PROGRAM_NAME, bad_sum, XDP_DROP, Repeat),
        case("advert, bad TTL", PROGRAM_NAME, bad_ttl, XDP_DROP, Repeat),
        case("advert, unknown vhid", PROGRAM_NAME, corpus::advert_v4(&[], lab::UNKNOWN_VHID), XDP_DROP, Repeat),
        case("VRRP-sized, passed", PROGRAM_NAME, corpus::vrrp_v4(20), XDP_PASS, Repeat),
        case("empty program (baseline)", BASELINE_PROGRAM, tcp.clone(), XDP_PASS, PerCall),
        case("unrelated TCP/IPv4", PROGRAM_NAME, tcp, XDP_PASS, PerCall),
        // Rewrites the destination: the second iteration would see the NIC MAC.
        case("TCP to the vMAC -> NIC MAC (XDP_PASS)", PROGRAM_NAME, corpus::tcp_v4(carp_common::virtual_mac(lab::VHID), &[]), XDP_PASS, PerCall),
        case("ARP request -> reply (XDP_TX)", PROGRAM_NAME, corpus::arp_request(&[], lab::VIP4), XDP_TX, PerCall),
        case("NS -> NA (XDP_TX)", PROGRAM_NAME, corpus::neighbor_solicitation(&[], lab::PEER6, lab::VIP6), XDP_TX, PerCall),
    ];

    println!(
        "XDP per-packet cost through BPF_PROG_TEST_RUN: kernel-reported ns, median of {RUNS} runs\n\
         (repeat: 1 syscall x {REPEAT} iterations; per-call: {CALLS} syscalls x 1 iteration)\n"
    );
    println!(
        "{:<42} {:<9} {:>9} {:>11} {:>8}",
        "case", "mode", "ns/packet", "over empty", "x empty"
    );
    let mut baselines = Baselines::default();
    let report = |baselines: &Baselines, name: &str, mode: Mode, ns: f64, note: &str| {
        let base = baselines.get(mode);
        println!(
            "{name:<42} {:<9} {ns:>9.1} {:>11.1} {:>7.2}x{note}",
            mode.name(),
            ns - base,
            ns / base
        );
    };
    for c in &cases {
        let baseline = c.program == BASELINE_PROGRAM;
        if !baseline && !c.name.contains(&filter) {
            continue;
        }
        let prog = program(&ebpf, c.program)?;
        let ns = median(|| {
            let ns = match c.mode {
                Repeat => repeat_run(prog, &c.frame, c.action, REPEAT),
                PerCall => per_call_run(prog, &c.frame, c.action),
            };
            // Empty the ring after each run (advert cases), so the next run
            // finds room for every event again.
            while ring.next().is_some() {}
            ns
        })?;
        if baseline {
            match c.mode {
                Repeat => baselines.repeat = ns,
                PerCall => baselines.per_call = ns,
            }
        }
        report(&baselines, c.name, c.mode, ns, "");
    }

    // The flood defences in XDP (CARP_AUTH entries for vhids 2 and 3; the
    // cases above use vhid 1, which has none).
    for (name, frame) in auth_cases(&mut ebpf)? {
        if !name.contains(&filter) {
            continue;
        }
        let prog = program(&ebpf, PROGRAM_NAME)?;
        let ns = median(|| {
            let ns = repeat_run(prog, &frame, XDP_DROP, REPEAT);
            while ring.next().is_some() {}
            ns
        })?;
        report(&baselines, name, Repeat, ns, "");
    }

    let name = "valid advert v4, default ring, full";
    if name.contains(&filter) {
        // An object with the default 256 KiB ring, filled and never read.
        let mut full = xdp::load()?;
        xdp::install(&mut full, &lab::config(STATE_MASTER))?;
        let capacity = EVENTS_BYTES as usize / (size_of::<AdvertEvent>() + 8);
        for _ in 0..=capacity {
            xdp::run(&mut full, &advert)?;
        }
        ensure!(xdp::stats(&full)?.ringbuf_full > 0, "the ring did not fill");
        let prog = program(&full, PROGRAM_NAME)?;
        let ns = median(|| repeat_run(prog, &advert, XDP_DROP, REPEAT))?;
        report(&baselines, name, Repeat, ns, "  (ringbuf_full path)");
    }

    let name = "valid advert v4, default ring, busy reader";
    if name.contains(&filter) {
        let (ns, full_share) = with_reader(&advert)?;
        let note = format!(
            "  (repeat {}; {:.1}% found the ring full)",
            REPEAT / 10,
            100.0 * full_share
        );
        report(&baselines, name, Repeat, ns, &note);
    }
    Ok(())
}

/// Installs `CARP_AUTH` entries and returns the HMAC cases. vhid 2 has a
/// link-local VIP (two digest forms) and the OpenBSD flag (no replay check,
/// so a right digest reaches the ring on every iteration); vhid 3 one form
/// and the replay check, so after the first iteration a right digest is a
/// replay.
fn auth_cases(ebpf: &mut Ebpf) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use carp_agent::{
        dataplane::auth::{XdpAuthMode, auth_entry},
        proto::auth::{Auth, AuthKey, LinkLocalVips, VipSet},
    };
    use carp_common::VhidKey;

    let key: AuthKey = "bench".parse()?;
    let two_forms = Auth::new(
        &key,
        VipSet::new([
            IpAddr::V4(Ipv4Addr::from(lab::BACKUP_VIP4)),
            IpAddr::V6(Ipv6Addr::from(lab::BACKUP_VIP6)),
            IpAddr::V6("fe80::1".parse()?),
        ]),
    );
    let one_form = Auth::new(
        &key,
        VipSet::new([IpAddr::V4(Ipv4Addr::from(lab::REAL_VIP4))]),
    );
    for (vhid, auth, openbsd) in [
        (lab::BACKUP_VHID, &two_forms, true),
        (lab::REAL_VHID, &one_form, false),
    ] {
        let entry = auth_entry(&auth.xdp_key_state(vhid), XdpAuthMode::Full, openbsd);
        xdp::set_auth(
            ebpf,
            VhidKey::new(carp_common::Port::untagged(lab::IFINDEX), vhid),
            &entry,
        )?;
    }
    let frame = |vhid: u8, md: [u8; 20]| {
        let mut a = Advert::new(vhid);
        a.md = md;
        let ip = Ipv4 {
            src: lab::PEER4,
            ..Ipv4::default()
        };
        frames::ethernet(
            frames::CARP_GROUP_V4_MAC,
            lab::PEER_MAC,
            &[],
            frames::ETHERTYPE_IPV4,
            &ip.packet(&a.bytes()),
        )
    };
    let counter = Advert::new(0).counter;
    let wrong = *b"not-the-right-digest";
    Ok(vec![
        (
            "XDP HMAC right -> ring buffer",
            frame(
                lab::BACKUP_VHID,
                two_forms.digest_in(LinkLocalVips::Included, lab::BACKUP_VHID, counter),
            ),
        ),
        (
            "XDP HMAC right in 2nd form -> ring buffer",
            frame(
                lab::BACKUP_VHID,
                two_forms.digest_in(LinkLocalVips::Omitted, lab::BACKUP_VHID, counter),
            ),
        ),
        (
            "XDP HMAC wrong, 2 forms -> badauth",
            frame(lab::BACKUP_VHID, wrong),
        ),
        (
            "XDP HMAC right, stale -> replayed",
            frame(
                lab::REAL_VHID,
                one_form.digest_in(LinkLocalVips::Included, lab::REAL_VHID, counter),
            ),
        ),
        (
            "XDP HMAC wrong, 1 form -> badauth",
            frame(lab::REAL_VHID, wrong),
        ),
    ])
}

/// Valid adverts into the default 256 KiB ring while a thread on the other
/// CPU drains it as fast as it can. Each record that finds the reader
/// caught up wakes it (the ring buffer's adaptive notification, an
/// irq_work), which is what this case measures. Returns the median ns and
/// the share of adverts that found the ring full.
fn with_reader(advert: &[u8]) -> anyhow::Result<(f64, f64)> {
    let mut ebpf = xdp::load()?;
    xdp::install(&mut ebpf, &lab::config(STATE_MASTER))?;
    let mut ring = RingBuf::try_from(ebpf.take_map(MAP_EVENTS).context("CARP_EVENTS")?)?;
    let stop = AtomicBool::new(false);
    let before = xdp::stats(&ebpf)?;
    let ns = std::thread::scope(|s| {
        s.spawn(|| {
            let _ = pin_to_cpu(1);
            while !stop.load(Ordering::Relaxed) {
                while ring.next().is_some() {}
                std::hint::spin_loop();
            }
        });
        let result = program(&ebpf, PROGRAM_NAME)
            .and_then(|prog| median(|| repeat_run(prog, advert, XDP_DROP, REPEAT / 10)));
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    let after = xdp::stats(&ebpf)?;
    let full = after.ringbuf_full - before.ringbuf_full;
    let total = full + after.adverts - before.adverts;
    Ok((ns, full as f64 / total as f64))
}

fn program<'a>(ebpf: &'a Ebpf, name: &str) -> anyhow::Result<&'a Xdp> {
    Ok(ebpf
        .program(name)
        .with_context(|| format!("program {name}"))?
        .try_into()?)
}

/// Median of `RUNS` measurements.
fn median(mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut samples = (0..RUNS).map(|_| f()).collect::<anyhow::Result<Vec<_>>>()?;
    samples.sort_by(f64::total_cmp);
    Ok(samples[RUNS / 2])
}

/// One syscall of `repeat` iterations: the kernel's mean ns per iteration.
fn repeat_run(prog: &Xdp, frame: &[u8], action: u32, repeat: u32) -> anyhow::Result<f64> {
    let opts = TestRunOptions {
        data_in: Some(frame),
        repeat,
        ..Default::default()
    };
    let result = prog.test_run(opts)?;
    ensure!(
        result.return_value == action,
        "unexpected action {}",
        result.return_value
    );
    Ok(result.duration.as_nanos() as f64)
}

/// `CALLS` syscalls of one iteration each: the mean of the kernel's durations.
fn per_call_run(prog: &Xdp, frame: &[u8], action: u32) -> anyhow::Result<f64> {
    let mut out = vec![0u8; frame.len() + 64];
    let mut total = 0u128;
    for _ in 0..CALLS {
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: 1,
            ..Default::default()
        };
        let result = prog.test_run(opts)?;
        ensure!(
            result.return_value == action,
            "unexpected action {}",
            result.return_value
        );
        total += result.duration.as_nanos();
    }
    Ok(total as f64 / f64::from(CALLS))
}

fn pin_to_cpu(cpu: usize) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t with one bit set, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        ensure!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}
