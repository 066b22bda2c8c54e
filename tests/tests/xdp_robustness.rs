//! Robustness of the XDP program: well over 100,000 random and mutated
//! frames through BPF_PROG_TEST_RUN with the maps populated. For every
//! frame the action, the counter delta (all slots), the output frame and
//! the ring-buffer event must match a plain-Rust reference classifier
//! (`reference.rs`), and XDP_ABORTED must never occur. Seeded; the seed is
//! printed, and `CARP_FUZZ_SEED=<n>` replays a run.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
#[path = "xdp_robustness/reference.rs"]
mod reference;

use carp_common::{
    IFACE_FLAG_ROUTER, STAT_COUNT, STATE_BACKUP, STATE_MASTER, VhidKey, virtual_mac,
};
use carp_tests::{
    frames,
    privileges::require_root,
    xdp::{
        self, MapConfig, XDP_ABORTED, XDP_DROP, action_name, corpus, counters, delta_of,
        describe_delta, lab,
    },
};

/// splitmix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values that sit on the program's decision boundaries.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x0f, 0x21, 0x22, 0x31, 0x40, 0x44, 0x45, 0x4f, 0x5e,
    0x60, 0x81, 0x86, 0x87, 0x88, 0xa8, 0xdd, 0x3a, 0x70, 0xfe, 0xff, 58, 112, 135, 136,
];

/// A position biased towards the headers, where the decisions are.
fn position(rng: &mut Rng, len: usize) -> usize {
    if rng.below(4) != 0 {
        rng.below(len.min(80))
    } else {
        rng.below(len)
    }
}

/// Changes one byte of the CARP header at the end of an advert frame and
/// fixes the checksum, so the checks after `badsum` (vhid, version) and
/// valid adverts with odd fields get exercised too.
fn mutate_advert(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut f = base.to_vec();
    let carp = f.len() - 36;
    let at = carp + *rng.pick(&[0, 1, 1, 1, 2, 3, 4, 5, 8, 20]);
    f[at] = if rng.below(2) == 0 {
        rng.byte()
    } else {
        *rng.pick(INTERESTING)
    };
    f[carp + 6..carp + 8].copy_from_slice(&[0, 0]);
    let sum = frames::internet_checksum(&f[carp..]);
    f[carp + 6..carp + 8].copy_from_slice(&sum.to_be_bytes());
    f
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut f = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(8) {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    if !f.is_empty() {
                        let at = position(rng, f.len());
                        f[at] ^= 1 << rng.below(8);
                    }
                }
            }
            1 => f.truncate(rng.below(f.len() + 1)),
            2 => {
                let extra = 1 + rng.below(64);
                f.extend((0..extra).map(|_| rng.byte()));
            }
            3 | 4 => {
                if !f.is_empty() {
                    let at = position(rng, f.len());
                    f[at] = *rng.pick(INTERESTING);
                }
            }
            5 => {
                // A 16-bit field (a length, an ethertype) set to a boundary value.
                if f.len() >= 2 {
                    let at = position(rng, f.len() - 1);
                    let len = f.len() as u16;
                    let v: u16 = *rng.pick(&[
                        0,
                        1,
                        19,
                        20,
                        24,
                        36,
                        40,
                        56,
                        57,
                        76,
                        0xffff,
                        len,
                        len.saturating_sub(14),
                        len.saturating_sub(18),
                        0x0800,
                        0x86dd,
                        0x0806,
                        0x8100,
                        0x88a8,
                    ]);
                    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
            6 => {
                if f.len() >= 6 {
                    let any = rng.byte();
                    let vhid = *rng.pick(&[1, 2, 3, 7, 9, any]);
                    f[..6].copy_from_slice(&virtual_mac(vhid));
                }
            }
            _ => {
                // Overwrite a run of bytes with noise.
                if !f.is_empty() {
                    let at = position(rng, f.len());
                    let n = 1 + rng.below(8);
                    for b in f.iter_mut().skip(at).take(n) {
                        *b = rng.byte();
                    }
                }
            }
        }
    }
    f
}

fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(161);
    let mut f: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
    if rng.below(2) == 0 && len >= 14 {
        // Structured: a plausible destination and ethertype, then noise.
        let dst = *rng.pick(&[
            virtual_mac(1),
            virtual_mac(2),
            virtual_mac(9),
            lab::NIC_MAC,
            [0xff; 6],
        ]);
        f[..6].copy_from_slice(&dst);
        let ethertype: u16 = *rng.pick(&[0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8]);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        if len > 24 && rng.below(2) == 0 {
            f[23] = 112;
            f[20] = *rng.pick(&[112, 58]);
            f[14] = *rng.pick(&[0x45, 0x60, 0x46]);
        }
    }
    f
}

struct Checker {
    ebpf: aya::Ebpf,
    config: MapConfig,
    seed: u64,
    frames: u64,
    expected_totals: [u64; STAT_COUNT],
    start: [u64; STAT_COUNT],
}

impl Checker {
    fn check(&mut self, what: &str, frame: &[u8]) {
        let (seed, n) = (self.seed, self.frames);
        self.frames += 1;
        let context = || format!("seed {seed}, frame #{n} ({what}) {}", hex(frame));
        let before = counters(&xdp::stats(&self.ebpf).unwrap());
        let result = xdp::run(&mut self.ebpf, frame);
        if frame.len() < 14 {
            // BPF_PROG_TEST_RUN refuses frames shorter than Ethernet.
            assert!(result.is_err(), "{}: a short frame ran", context());
            return;
        }
        let out = result.unwrap_or_else(|e| panic!("{}: {e:#}", context()));
        assert_ne!(out.action, XDP_ABORTED, "{}", context());
        let want = reference::classify(frame, &self.config, lab::IFINDEX);
        let after = counters(&xdp::stats(&self.ebpf).unwrap());
        let delta: [u64; STAT_COUNT] = std::array::from_fn(|i| after[i] - before[i]);
        let want_delta = delta_of(&want.stats);
        assert!(
            out.action == want.action && delta == want_delta,
            "{}: {} with {}, reference says {} with {}",
            context(),
            action_name(out.action),
            describe_delta(&delta),
            action_name(want.action),
            describe_delta(&want_delta)
        );
        for (total, d) in self.expected_totals.iter_mut().zip(want_delta) {
            *total += d;
        }
        if let Some(output) = &want.output {
            assert!(
                out.output == *output,
                "{}: output\n   got {}\n  want {}",
                context(),
                hex(&out.output),
                hex(output)
            );
        } else {
            assert_eq!(want.action, XDP_DROP);
        }
        let events = xdp::drain_events(&mut self.ebpf).unwrap();
        let got: Vec<reference::Event> = events
            .iter()
            .map(|e| {
                assert_eq!(e.ifindex, lab::IFINDEX, "{}", context());
                reference::Event {
                    family: e.family,
                    ttl: e.ttl,
                    source: e.source,
                    advert: e.advert,
                }
            })
            .collect();
        assert_eq!(
            got,
            want.event.into_iter().collect::<Vec<_>>(),
            "{}",
            context()
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const MUTATIONS: usize = 100_000;
const RANDOM: usize = 20_000;

#[test]
fn random_and_mutated_frames_match_the_reference() {
    if !require_root("random_and_mutated_frames_match_the_reference") {
        return;
    }
    let seed = std::env::var("CARP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(xdp::monotonic_ns);
    println!("CARP_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let mut ebpf = xdp::load().unwrap();
    let config = lab::config(STATE_MASTER);
    xdp::install(&mut ebpf, &config).unwrap();
    let start = counters(&xdp::stats(&ebpf).unwrap());
    let mut checker = Checker {
        ebpf,
        config,
        seed,
        frames: 0,
        expected_totals: [0; STAT_COUNT],
        start,
    };
    let bases = corpus::all();
    let started = std::time::Instant::now();
    for round in 0..2 {
        if round == 1 {
            // Second half: vhid 1 is BACKUP, the other paths of every rule,
            // and the interface forwards IPv6 (NAs with the Router flag).
            let key = VhidKey::new(carp_common::Port::untagged(lab::IFINDEX), lab::VHID);
            xdp::set_state(&mut checker.ebpf, key, STATE_BACKUP).unwrap();
            checker.config = lab::config(STATE_BACKUP);
            for (_, iface) in &mut checker.config.ifaces {
                iface.flags = IFACE_FLAG_ROUTER;
            }
            xdp::install(&mut checker.ebpf, &checker.config).unwrap();
        }
        for (name, base) in &bases {
            checker.check(name, base);
        }
        for _ in 0..MUTATIONS / 2 {
            let (name, base) = rng.pick(&bases);
            let frame = if name.starts_with("advert") && rng.below(4) == 0 {
                let header = mutate_advert(&mut rng, base);
                if rng.below(2) == 0 {
                    header
                } else {
                    mutate(&mut rng, &header)
                }
            } else {
                mutate(&mut rng, base)
            };
            checker.check(name, &frame);
        }
        for _ in 0..RANDOM / 2 {
            let frame = random_frame(&mut rng);
            checker.check("random", &frame);
        }
    }
    let end = counters(&xdp::stats(&checker.ebpf).unwrap());
    let totals: [u64; STAT_COUNT] = std::array::from_fn(|i| end[i] - checker.start[i]);
    assert_eq!(totals, checker.expected_totals, "seed {seed}: totals");
    println!(
        "{} frames in {:.1?}; counters: {}",
        checker.frames,
        started.elapsed(),
        describe_delta(&totals)
    );
}
