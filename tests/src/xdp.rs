//! Driving the XDP program from tests and benchmarks: load the embedded
//! object, fill its maps through aya's typed maps, run frames through
//! BPF_PROG_TEST_RUN, read counters and ring-buffer events back.
//!
//! BPF_PROG_TEST_RUN without a context runs the program as if the frame
//! arrived on the loopback device of the caller's network namespace, so
//! `ingress_ifindex` is 1 ([`TEST_RUN_IFINDEX`]). [`run_on`] passes an
//! `xdp_md` context to pick another ingress interface; the kernel requires
//! that interface to exist in the caller's namespace (else ENODEV).

use anyhow::Context as _;
use aya::{
    Ebpf,
    maps::{HashMap, MapData, RingBuf},
    programs::{SchedClassifier, TestRun as _, TestRunOptions, Xdp},
};
use carp_agent::dataplane;
use carp_common::{
    AdvertEvent, AuthEntry, IfaceEntry, MAP_AUTH, MAP_EVENTS, MAP_IFACES, MAP_REPLAY, MAP_SEEN,
    MAP_VHIDS, MAP_VIPS, MAP_VRRP, ReplayEntry, ReplayKey, STAT_COUNT, SeenEntry, SeenKey, Stat,
    Stats, VhidEntry, VhidKey, VipEntry, VipKey, VrrpSeen,
};

pub const XDP_ABORTED: u32 = 0;
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// The ingress ifindex BPF_PROG_TEST_RUN reports when given no context.
pub const TEST_RUN_IFINDEX: u32 = 1;

/// The name of an XDP action, for assertion messages.
pub fn action_name(action: u32) -> &'static str {
    match action {
        XDP_ABORTED => "XDP_ABORTED",
        XDP_DROP => "XDP_DROP",
        XDP_PASS => "XDP_PASS",
        XDP_TX => "XDP_TX",
        4 => "XDP_REDIRECT",
        _ => "unknown",
    }
}

/// Map contents for one scenario.
#[derive(Clone, Debug, Default)]
pub struct MapConfig {
    pub vhids: Vec<(VhidKey, VhidEntry)>,
    pub vips: Vec<(VipKey, VipEntry)>,
    pub ifaces: Vec<(u32, IfaceEntry)>,
}

impl MapConfig {
    pub fn vhid(&self, port: carp_common::Port, vhid: u8) -> Option<&VhidEntry> {
        self.vhids
            .iter()
            .find(|(k, _)| *k == VhidKey::new(port, vhid))
            .map(|(_, e)| e)
    }

    pub fn vip(&self, key: &VipKey) -> Option<&VipEntry> {
        self.vips.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    pub fn iface(&self, ifindex: u32) -> Option<&IfaceEntry> {
        self.ifaces
            .iter()
            .find(|(k, _)| *k == ifindex)
            .map(|(_, e)| e)
    }
}

/// Loads a fresh copy of the embedded object (own maps, program loaded, not attached).
pub fn load() -> anyhow::Result<Ebpf> {
    dataplane::load().context("loading the embedded XDP object")
}

pub fn program(ebpf: &mut Ebpf) -> &mut Xdp {
    dataplane::xdp_program(ebpf).expect("the object has the carp_xdp program")
}

/// Name of the empty XDP_PASS program in the same object (benchmark
/// baseline; also the "any XDP program" a veth peer needs to receive XDP_TX).
pub const BASELINE_PROGRAM: &str = "xdp_pass_baseline";

/// Loads `xdp_pass_baseline` from the object into the kernel.
pub fn load_baseline(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    let prog: &mut Xdp = ebpf
        .program_mut(BASELINE_PROGRAM)
        .context("xdp_pass_baseline missing from the object")?
        .try_into()?;
    prog.load().context("loading xdp_pass_baseline")?;
    Ok(prog)
}

fn hash_map<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &str,
) -> anyhow::Result<HashMap<&'a mut MapData, K, V>> {
    let map = ebpf
        .map_mut(name)
        .with_context(|| format!("map {name} missing"))?;
    HashMap::try_from(map).with_context(|| format!("map {name}"))
}

/// Writes every entry of `config` into the maps (existing entries stay).
pub fn install(ebpf: &mut Ebpf, config: &MapConfig) -> anyhow::Result<()> {
    let mut vhids = hash_map::<VhidKey, VhidEntry>(ebpf, MAP_VHIDS)?;
    for (k, v) in &config.vhids {
        vhids.insert(k, v, 0).context("inserting a vhid")?;
    }
    let mut vips = hash_map::<VipKey, VipEntry>(ebpf, MAP_VIPS)?;
    for (k, v) in &config.vips {
        vips.insert(k, v, 0).context("inserting a VIP")?;
    }
    let mut ifaces = hash_map::<u32, IfaceEntry>(ebpf, MAP_IFACES)?;
    for (k, v) in &config.ifaces {
        ifaces.insert(k, v, 0).context("inserting an interface")?;
    }
    Ok(())
}

/// Empties the three config maps, the VRRP records and the ring buffer, so one loaded object
/// can serve many scenarios (parsing the object is the slow part of a load).
/// Counters are not reset: tests compare deltas.
pub fn reset(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    fn clear<K: aya::Pod, V: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> anyhow::Result<()> {
        let mut map = hash_map::<K, V>(ebpf, name)?;
        let keys: Vec<K> = map.keys().collect::<Result<_, _>>()?;
        for k in keys {
            map.remove(&k)?;
        }
        Ok(())
    }
    clear::<VhidKey, VhidEntry>(ebpf, MAP_VHIDS)?;
    clear::<VipKey, VipEntry>(ebpf, MAP_VIPS)?;
    clear::<u32, IfaceEntry>(ebpf, MAP_IFACES)?;
    clear::<VhidKey, VrrpSeen>(ebpf, MAP_VRRP)?;
    clear::<VhidKey, AuthEntry>(ebpf, MAP_AUTH)?;
    clear::<ReplayKey, ReplayEntry>(ebpf, MAP_REPLAY)?;
    clear::<SeenKey, SeenEntry>(ebpf, MAP_SEEN)?;
    drain_events(ebpf)?;
    Ok(())
}

/// Writes a vhid's `CARP_AUTH` entry (HMAC, replay and budget in XDP).
pub fn set_auth(ebpf: &mut Ebpf, key: VhidKey, entry: &AuthEntry) -> anyhow::Result<()> {
    hash_map::<VhidKey, AuthEntry>(ebpf, MAP_AUTH)?
        .insert(key, entry, 0)
        .context("inserting an auth entry")
}

/// The `CARP_REPLAY` entries (sources the program has accepted).
pub fn replay_entries(ebpf: &mut Ebpf) -> anyhow::Result<Vec<(ReplayKey, ReplayEntry)>> {
    hash_map::<ReplayKey, ReplayEntry>(ebpf, MAP_REPLAY)?
        .iter()
        .collect::<Result<_, _>>()
        .context("reading CARP_REPLAY")
}

/// Every record of `CARP_VRRP` (VRRP routers using a local vhid's id).
pub fn vrrp_records(ebpf: &mut Ebpf) -> anyhow::Result<Vec<(VhidKey, VrrpSeen)>> {
    let map = hash_map::<VhidKey, VrrpSeen>(ebpf, MAP_VRRP)?;
    map.iter()
        .collect::<Result<_, _>>()
        .context("reading CARP_VRRP")
}

/// Sets the election state of one configured vhid.
pub fn set_state(ebpf: &mut Ebpf, key: VhidKey, state: u8) -> anyhow::Result<()> {
    let mut vhids = hash_map::<VhidKey, VhidEntry>(ebpf, MAP_VHIDS)?;
    let mut entry = vhids.get(&key, 0).context("the vhid is not configured")?;
    entry.state = state;
    vhids.insert(key, entry, 0).context("updating the vhid")?;
    Ok(())
}

/// One BPF_PROG_TEST_RUN: the action and the frame as the program left it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub action: u32,
    pub output: Vec<u8>,
}

/// Room for the program to grow a frame (NS → NA adds at most 8 bytes).
const OUTPUT_SLACK: usize = 256;

/// Runs `frame` once, ingress on [`TEST_RUN_IFINDEX`].
pub fn run(ebpf: &mut Ebpf, frame: &[u8]) -> anyhow::Result<Outcome> {
    run_with(ebpf, frame, None)
}

/// Runs `frame` once as if received on `ifindex` (must exist in this thread's netns).
pub fn run_on(ebpf: &mut Ebpf, frame: &[u8], ifindex: u32) -> anyhow::Result<Outcome> {
    run_with(ebpf, frame, Some(ifindex))
}

/// `struct xdp_md` as BPF_PROG_TEST_RUN takes it in `ctx_in`: data must be
/// 0 and data_end the frame length; data_meta 0; egress_ifindex 0.
fn xdp_md(frame_len: usize, ifindex: u32) -> [u8; 24] {
    let fields = [0u32, frame_len as u32, 0, ifindex, 0, 0];
    let mut out = [0u8; 24];
    for (chunk, field) in out.chunks_mut(4).zip(fields) {
        chunk.copy_from_slice(&field.to_ne_bytes());
    }
    out
}

fn run_with(ebpf: &mut Ebpf, frame: &[u8], ifindex: Option<u32>) -> anyhow::Result<Outcome> {
    let prog = program(ebpf);
    let mut out = vec![0u8; frame.len() + OUTPUT_SLACK];
    let ctx = ifindex.map(|i| xdp_md(frame.len(), i));
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ctx_in: ctx.as_ref().map(|c| &c[..]),
        repeat: 1,
        ..Default::default()
    };
    let result = prog
        .test_run(opts)
        .with_context(|| format!("BPF_PROG_TEST_RUN of a {}-byte frame", frame.len()))?;
    out.truncate(result.data_size_out as usize);
    Ok(Outcome {
        action: result.return_value,
        output: out,
    })
}

/// What the TC egress program returns for every frame: TC_ACT_UNSPEC (-1,
/// "no verdict, next program"), as BPF_PROG_TEST_RUN reports it.
pub const TC_ACT_UNSPEC: u32 = u32::MAX;

/// The TC egress classifier (`carp_tc_egress`) of a loaded object.
pub fn egress_program(ebpf: &mut Ebpf) -> &mut SchedClassifier {
    dataplane::egress_program(ebpf).expect("the object has the carp_tc_egress program")
}

/// Runs `frame` (Ethernet header first) once through the TC egress program.
/// Without a context the skb's device is the namespace's loopback, so
/// `skb->ifindex` is [`TEST_RUN_IFINDEX`], like the XDP runs.
pub fn run_egress(ebpf: &mut Ebpf, frame: &[u8]) -> anyhow::Result<Outcome> {
    let prog = egress_program(ebpf);
    let mut out = vec![0u8; frame.len() + OUTPUT_SLACK];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        repeat: 1,
        ..Default::default()
    };
    let result = prog
        .test_run(opts)
        .with_context(|| format!("BPF_PROG_TEST_RUN (tc) of a {}-byte frame", frame.len()))?;
    out.truncate(result.data_size_out as usize);
    Ok(Outcome {
        action: result.return_value,
        output: out,
    })
}

/// The counters summed over CPUs.
pub fn stats(ebpf: &Ebpf) -> anyhow::Result<Stats> {
    dataplane::read_stats(ebpf).context("reading CARP_STATS")
}

/// Counter values in `Stat` order, for diffs and comparisons.
pub fn counters(stats: &Stats) -> [u64; STAT_COUNT] {
    let mut out = [0; STAT_COUNT];
    for (slot, stat) in out.iter_mut().zip(Stat::ALL) {
        *slot = stats.get(*stat);
    }
    out
}

/// The expected delta: +1 on each listed slot (a slot may repeat).
pub fn delta_of(slots: &[Stat]) -> [u64; STAT_COUNT] {
    let mut out = [0; STAT_COUNT];
    for s in slots {
        out[*s as usize] += 1;
    }
    out
}

/// "ipackets +1, hdrops +1" style rendering of a counter delta.
pub fn describe_delta(delta: &[u64; STAT_COUNT]) -> String {
    let parts: Vec<String> = Stat::ALL
        .iter()
        .zip(delta)
        .filter(|(_, d)| **d != 0)
        .map(|(s, d)| format!("{} +{d}", s.name()))
        .collect();
    if parts.is_empty() {
        "no counter".into()
    } else {
        parts.join(", ")
    }
}

/// Takes every event waiting in the ring buffer.
pub fn drain_events(ebpf: &mut Ebpf) -> anyhow::Result<Vec<AdvertEvent>> {
    let map = ebpf.map_mut(MAP_EVENTS).context("CARP_EVENTS missing")?;
    let mut ring = RingBuf::try_from(map).context("CARP_EVENTS")?;
    let mut events = Vec::new();
    while let Some(item) = ring.next() {
        events.push(parse_event(&item)?);
    }
    Ok(events)
}

/// Decodes one ring-buffer record.
pub fn parse_event(bytes: &[u8]) -> anyhow::Result<AdvertEvent> {
    anyhow::ensure!(
        bytes.len() == size_of::<AdvertEvent>(),
        "ring buffer record of {} bytes, expected {}",
        bytes.len(),
        size_of::<AdvertEvent>()
    );
    // SAFETY: AdvertEvent is repr(C) plain data (aya::Pod) and the length matches.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<AdvertEvent>()) })
}

/// CLOCK_MONOTONIC in nanoseconds, the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The addresses and map contents the XDP tests and benchmarks share.
pub mod lab {
    use carp_common::{
        IfaceEntry, MODE_REAL_MAC, MODE_VIRTUAL_MAC, STATE_BACKUP, STATE_MASTER, VhidEntry,
        VhidKey, VipEntry, VipKey, virtual_mac,
    };

    use super::{MapConfig, TEST_RUN_IFINDEX};
    use crate::frames::{Ipv4Addr, Ipv6Addr, Mac};

    pub const IFINDEX: u32 = TEST_RUN_IFINDEX;
    /// The NIC's own MAC (CARP_IFACES).
    pub const NIC_MAC: Mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
    /// A neighbour on the segment.
    pub const PEER_MAC: Mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];
    pub const PEER4: Ipv4Addr = [10, 0, 0, 2];
    pub const PEER6: Ipv6Addr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    pub const PEER6_LL: Ipv6Addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// vhid 1: virtual-MAC mode, state chosen per test.
    pub const VHID: u8 = 1;
    pub const VIP4: Ipv4Addr = [10, 0, 0, 100];
    pub const VIP6: Ipv6Addr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    /// vhid 2: virtual-MAC mode, always BACKUP.
    pub const BACKUP_VHID: u8 = 2;
    pub const BACKUP_VIP4: Ipv4Addr = [10, 0, 0, 101];
    pub const BACKUP_VIP6: Ipv6Addr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    /// vhid 3: real-MAC mode (replies from NIC_MAC, no vMAC filter), MASTER.
    pub const REAL_VHID: u8 = 3;
    pub const REAL_VIP4: Ipv4Addr = [10, 0, 0, 102];
    pub const REAL_VIP6: Ipv6Addr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2];
    /// A VIP whose vhid (7) is missing from CARP_VHIDS.
    pub const ORPHAN_VIP4: Ipv4Addr = [10, 0, 0, 107];
    /// Not configured anywhere.
    pub const UNKNOWN_VHID: u8 = 9;
    pub const OTHER4: Ipv4Addr = [10, 0, 0, 50];
    pub const OTHER6: Ipv6Addr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50];

    fn vhid(state: u8, mode: u8, mac: Mac) -> VhidEntry {
        VhidEntry {
            state,
            mode,
            advbase: 1,
            advskew: 0,
            mac,
            _pad: [0; 6],
            master_until_ns: 0,
        }
    }

    fn vip(vhid: u8) -> VipEntry {
        VipEntry { vhid, _pad: [0; 3] }
    }

    /// The VLAN (802.1Q id) the standard maps also configure every vhid
    /// and VIP on, as an agent with the same vhids on `eth0` and `eth0.10`
    /// would: tagged fixtures use it. Frames on any other VLAN, and Q-in-Q
    /// frames, are on no configured port.
    pub const TAGGED_VLAN: u16 = 10;

    /// The standard maps with vhid 1 in `state`.
    pub fn config(state: u8) -> MapConfig {
        let untagged = MapConfig {
            vhids: vec![
                (
                    VhidKey::new(carp_common::Port::untagged(IFINDEX), VHID),
                    vhid(state, MODE_VIRTUAL_MAC, virtual_mac(VHID)),
                ),
                (
                    VhidKey::new(carp_common::Port::untagged(IFINDEX), BACKUP_VHID),
                    vhid(STATE_BACKUP, MODE_VIRTUAL_MAC, virtual_mac(BACKUP_VHID)),
                ),
                (
                    VhidKey::new(carp_common::Port::untagged(IFINDEX), REAL_VHID),
                    vhid(STATE_MASTER, MODE_REAL_MAC, NIC_MAC),
                ),
            ],
            vips: vec![
                (
                    VipKey::v4(carp_common::Port::untagged(IFINDEX), VIP4),
                    vip(VHID),
                ),
                (
                    VipKey::v6(carp_common::Port::untagged(IFINDEX), VIP6),
                    vip(VHID),
                ),
                (
                    VipKey::v4(carp_common::Port::untagged(IFINDEX), BACKUP_VIP4),
                    vip(BACKUP_VHID),
                ),
                (
                    VipKey::v6(carp_common::Port::untagged(IFINDEX), BACKUP_VIP6),
                    vip(BACKUP_VHID),
                ),
                (
                    VipKey::v4(carp_common::Port::untagged(IFINDEX), REAL_VIP4),
                    vip(REAL_VHID),
                ),
                (
                    VipKey::v6(carp_common::Port::untagged(IFINDEX), REAL_VIP6),
                    vip(REAL_VHID),
                ),
                (
                    VipKey::v4(carp_common::Port::untagged(IFINDEX), ORPHAN_VIP4),
                    vip(7),
                ),
            ],
            ifaces: vec![(IFINDEX, IfaceEntry::new(NIC_MAC, 0))],
        };
        let tagged = carp_common::Port::new(IFINDEX, TAGGED_VLAN);
        let mut config = untagged.clone();
        for (key, entry) in &untagged.vhids {
            config.vhids.push((VhidKey::new(tagged, key.vhid), *entry));
        }
        for (key, entry) in &untagged.vips {
            config.vips.push((
                VipKey {
                    ifindex: tagged.ifindex,
                    vlan: tagged.vlan,
                    ..*key
                },
                *entry,
            ));
        }
        config
    }
}

/// One valid frame of every kind the program handles, built on [`lab`]:
/// the fixtures' bases, the robustness test's mutation seeds, the bench's
/// inputs.
pub mod corpus {
    use carp_common::virtual_mac;

    use super::lab::*;
    use crate::frames::{self, Advert, Ipv4, Vlan};

    pub fn advert_v4(vlans: &[Vlan], vhid: u8) -> Vec<u8> {
        let ip = Ipv4 {
            src: PEER4,
            ..Ipv4::default()
        };
        frames::ethernet(
            frames::CARP_GROUP_V4_MAC,
            virtual_mac(5),
            vlans,
            frames::ETHERTYPE_IPV4,
            &ip.packet(&Advert::new(vhid).bytes()),
        )
    }

    pub fn advert_v6(vhid: u8) -> Vec<u8> {
        frames::ethernet(
            frames::CARP_GROUP_V6_MAC,
            virtual_mac(5),
            &[],
            frames::ETHERTYPE_IPV6,
            &frames::ipv6(
                PEER6_LL,
                frames::CARP_GROUP_V6,
                frames::LINK_LOCAL_TTL,
                frames::IPPROTO_CARP,
                &Advert::new(vhid).bytes(),
            ),
        )
    }

    pub fn vrrp_v4(len: usize) -> Vec<u8> {
        let ip = Ipv4 {
            src: PEER4,
            ..Ipv4::default()
        };
        frames::ethernet(
            frames::CARP_GROUP_V4_MAC,
            [0, 0, 0x5e, 0, 1, 9],
            &[],
            frames::ETHERTYPE_IPV4,
            &ip.packet(&vec![0x21; len]),
        )
    }

    pub fn arp_request(vlans: &[Vlan], target: [u8; 4]) -> Vec<u8> {
        frames::arp_request_frame(vlans, PEER_MAC, PEER4, target)
    }

    pub fn neighbor_solicitation(vlans: &[Vlan], src: [u8; 16], target: [u8; 16]) -> Vec<u8> {
        let dst = frames::solicited_node(&target);
        let sllao = (src != frames::UNSPECIFIED).then_some(PEER_MAC);
        let ns = frames::neighbor_solicitation(&src, &dst, &target, sllao);
        frames::ethernet(
            frames::ipv6_multicast_mac(&dst),
            PEER_MAC,
            vlans,
            frames::ETHERTYPE_IPV6,
            &frames::ipv6(
                src,
                dst,
                frames::LINK_LOCAL_TTL,
                frames::IPPROTO_ICMPV6,
                &ns,
            ),
        )
    }

    pub fn tcp_v4(dst_mac: [u8; 6], vlans: &[Vlan]) -> Vec<u8> {
        let ip = Ipv4 {
            src: PEER4,
            dst: [192, 0, 2, 1],
            ttl: 64,
            protocol: frames::IPPROTO_TCP,
            ..Ipv4::default()
        };
        frames::ethernet(
            dst_mac,
            PEER_MAC,
            vlans,
            frames::ETHERTYPE_IPV4,
            &ip.packet(&frames::tcp(40000, 443)),
        )
    }

    pub fn udp_v6(dst_mac: [u8; 6]) -> Vec<u8> {
        frames::ethernet(
            dst_mac,
            PEER_MAC,
            &[],
            frames::ETHERTYPE_IPV6,
            &frames::ipv6(
                PEER6,
                OTHER6,
                64,
                frames::IPPROTO_UDP,
                &frames::udp(5353, 53, b"query"),
            ),
        )
    }

    /// Every kind, named.
    pub fn all() -> Vec<(&'static str, Vec<u8>)> {
        let dot1q = [Vlan::dot1q(10)];
        let qinq = [Vlan::dot1ad(100), Vlan::dot1q(10)];
        vec![
            ("advert v4", advert_v4(&[], VHID)),
            ("advert v4 backup vhid", advert_v4(&[], BACKUP_VHID)),
            ("advert v4 802.1Q", advert_v4(&dot1q, VHID)),
            ("advert v4 QinQ", advert_v4(&qinq, VHID)),
            ("advert v6", advert_v6(VHID)),
            ("VRRPv2", vrrp_v4(20)),
            ("ARP for VIP", arp_request(&[], VIP4)),
            ("ARP for VIP 802.1Q", arp_request(&dot1q, VIP4)),
            ("ARP for backup VIP", arp_request(&[], BACKUP_VIP4)),
            ("ARP for real-MAC VIP", arp_request(&[], REAL_VIP4)),
            ("ARP for other", arp_request(&[], OTHER4)),
            ("NS for VIP", neighbor_solicitation(&[], PEER6, VIP6)),
            ("NS for VIP QinQ", neighbor_solicitation(&qinq, PEER6, VIP6)),
            (
                "DAD NS for VIP",
                neighbor_solicitation(&[], frames::UNSPECIFIED, VIP6),
            ),
            (
                "NS for real-MAC VIP",
                neighbor_solicitation(&[], PEER6, REAL_VIP6),
            ),
            (
                "NS for backup VIP",
                neighbor_solicitation(&[], PEER6, BACKUP_VIP6),
            ),
            ("TCP to vMAC", tcp_v4(virtual_mac(VHID), &[])),
            ("TCP to vMAC 802.1Q", tcp_v4(virtual_mac(VHID), &dot1q)),
            ("UDP6 to backup vMAC", udp_v6(virtual_mac(BACKUP_VHID))),
            ("TCP", tcp_v4(NIC_MAC, &[])),
            ("UDP6", udp_v6(NIC_MAC)),
        ]
    }
}
