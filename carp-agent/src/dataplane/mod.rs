//! The agent's side of the XDP dataplane: load the embedded programs (XDP
//! ingress, TC egress), pin their maps for `bpftool`, attach them to
//! interfaces, mirror engine state into the maps, sum the per-CPU counters,
//! and read validated adverts.
pub mod auth;
pub mod bpffs;
pub mod events;
pub mod leftovers;
pub mod libxdp;
pub mod share;

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
};

use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerCpuArray, RingBuf},
    programs::{
        ProgramError, SchedClassifier, TcAttachType, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        tc::{self, SchedClassifierLinkId},
        xdp::{XdpLink, XdpLinkId},
    },
    util::KernelVersion,
};
use carp_common::{
    AuthEntry, EGRESS_PROGRAM_NAME, IfaceEntry, MAP_AUTH, MAP_EVENTS, MAP_IFACES, MAP_REPLAY,
    MAP_SEEN, MAP_STATS, MAP_VHIDS, MAP_VIPS, MAP_VRRP, MAX_VHIDS, PROGRAM_NAME, Port, Stats,
    VhidEntry, VhidKey, VipEntry, VipKey, VrrpSeen,
};
pub use events::{AdvertReader, ReceivedAdvert};
pub use leftovers::Leftovers;
use tracing::warn;

/// The XDP object built by `build.rs` from `carp-ebpf`, with BTF.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/carp-xdp"));

/// Name of the XDP program inside [`XDP_OBJECT`].
pub const XDP_PROGRAM: &str = PROGRAM_NAME;
/// Name of the TC egress classifier inside [`XDP_OBJECT`].
pub const EGRESS_PROGRAM: &str = EGRESS_PROGRAM_NAME;
/// The maps pinned under `<bpffs>/carp/` for `bpftool`.
pub const PINNED_MAPS: [&str; 9] = [
    MAP_VHIDS, MAP_VIPS, MAP_IFACES, MAP_STATS, MAP_EVENTS, MAP_VRRP, MAP_AUTH, MAP_REPLAY,
    MAP_SEEN,
];

/// Name of the per-CPU statistics map.
pub const STATS_MAP: &str = MAP_STATS;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("loading the XDP object: {0}")]
    Object(#[from] aya::EbpfError),
    /// Finding, loading or typing one program of the object; `kind` says
    /// which of the two ("XDP", "TC egress") so a verifier rejection of the
    /// egress program is not reported as the XDP program's.
    #[error("{kind} program {name}: {error}")]
    Program {
        kind: &'static str,
        name: &'static str,
        // Not `source`: the message carries it, and a source would print
        // it twice (a verifier log, say) in `{:#}`.
        error: ProgramError,
    },
    #[error("attaching XDP to {interface} ({mode}): {source}")]
    Attach {
        interface: String,
        mode: &'static str,
        source: ProgramError,
    },
    #[error("attaching the TC egress program {EGRESS_PROGRAM} to {interface}: {source}")]
    AttachEgress {
        interface: String,
        source: ProgramError,
    },
    #[error("the pinned XDP link on {interface}: {source}")]
    Link {
        interface: String,
        source: aya::programs::links::LinkError,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("pinning map {name} at {path}: {source}")]
    Pin {
        name: String,
        path: PathBuf,
        source: aya::pin::PinError,
    },
    #[error("{0}")]
    AuthMode(String),
    #[error("map {0} is missing from the XDP object")]
    MissingMap(&'static str),
    /// The ring buffer's fd could not be registered with the tokio reactor
    /// (epoll): an I/O error, not a map error.
    #[error("map {name}: registering the ring buffer with the event loop: {error}")]
    Reader {
        name: &'static str,
        error: std::io::Error,
    },
    #[error(transparent)]
    Bpffs(#[from] bpffs::BpffsError),
    /// Attaching through libxdp's dispatcher ([`Dataplane::attach_shared`]).
    #[error("attaching XDP to {interface} through libxdp: {source}")]
    Shared {
        interface: String,
        source: libxdp::LibxdpError,
    },
}

/// How to attach: chosen per interface kind ([`choose_mode`]), or one mode
/// only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Skb mode on a veth, native (driver) mode elsewhere, falling back to
    /// skb mode with a warning where the driver has no XDP.
    #[default]
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic mode (slower; works on every interface).
    Skb,
}

impl AttachMode {
    /// The mode's name as the flag spells it.
    pub fn label(self) -> &'static str {
        match self {
            AttachMode::Auto => "auto",
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
        }
    }
}

/// Link kinds (rtnetlink IFLA_INFO_KIND) where native XDP attaches but the
/// program's answers do not work, so `auto` takes skb mode, with the reason.
///
/// veth runs a native program on an skb that `veth_xmit` already classified
/// (`__dev_forward_skb` -> `eth_type_trans`): a frame to the virtual MAC is
/// PACKET_OTHERHOST, and after the program rewrites the destination to the
/// NIC's MAC and returns XDP_PASS, veth calls `eth_type_trans` again, which
/// never sets PACKET_HOST back, so IP drops the frame. XDP_TX on veth queues
/// the frame on the peer's XDP ring, which exists only while the peer has an
/// XDP program of its own or GRO on; otherwise the reply is dropped
/// (`xdp_tx_errors`). Generic XDP re-classifies a rewritten frame and
/// transmits XDP_TX through the device's normal xmit. Verified on this
/// project's lab: docs/xdp-modes.md.
///
/// Kinds without native XDP (bridge, vxlan, macvlan, ...) need no entry: the
/// native attach fails and `auto` falls back by itself.
const SKB_KINDS: &[(&str, &str)] = &[(
    "veth",
    "native XDP on veth drops the XDP_TX replies (ARP/ND) unless the peer runs XDP or GRO, \
     and frames rewritten from the virtual MAC stay PACKET_OTHERHOST, so the VIP would be \
     unreachable",
)];

/// The mode to attach in on one interface and why, from the mode asked for
/// and the interface's link kind (`None` for a physical NIC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChoice {
    /// What to pass to [`Dataplane::attach`]: `Auto` still means native
    /// with a fallback to skb.
    pub mode: AttachMode,
    /// Why, for the log line of the attach.
    pub reason: String,
    /// A mode asked for explicitly that will not give a reachable VIP.
    pub warning: Option<String>,
}

impl ModeChoice {
    /// The reason for the mode actually `used`: `auto` may have fallen back.
    pub fn describe(&self, used: AttachMode) -> String {
        if self.mode == AttachMode::Auto && used == AttachMode::Skb {
            "auto: the driver refused native XDP (see the warning above), so skb mode".to_string()
        } else {
            self.reason.clone()
        }
    }
}

/// Chooses the attach mode of an interface of link kind `kind`.
pub fn choose_mode(requested: AttachMode, kind: Option<&str>) -> ModeChoice {
    let broken = kind.and_then(|kind| {
        SKB_KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(k, why)| (*k, *why))
    });
    let kind_text = kind.map_or(
        "a device without a link kind (a NIC driver)".to_string(),
        |k| format!("a {k}"),
    );
    match (requested, broken) {
        (AttachMode::Auto, Some((kind, why))) => ModeChoice {
            mode: AttachMode::Skb,
            reason: format!("auto: skb mode because the interface is a {kind}: {why}"),
            warning: None,
        },
        (AttachMode::Auto, None) => ModeChoice {
            mode: AttachMode::Auto,
            reason: format!("auto: native mode on {kind_text}"),
            warning: None,
        },
        (AttachMode::Native, Some((kind, why))) => ModeChoice {
            mode: AttachMode::Native,
            reason: "--xdp-mode native".to_string(),
            warning: Some(format!(
                "native XDP on a {kind} as asked, but {why}; use --xdp-mode auto or skb"
            )),
        },
        (mode, _) => ModeChoice {
            mode,
            reason: format!("--xdp-mode {}", mode.label()),
            warning: None,
        },
    }
}

/// Parses the embedded object and loads the XDP program and the TC egress
/// program into the kernel (not attached to any interface yet).
/// The name the kernel keeps for loaded BPF program `id` (at most 15
/// bytes), if the program exists and can be read.
pub fn program_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|program| program.id() == id)
        .map(|program| String::from_utf8_lossy(program.name()).into_owned())
}

pub fn load() -> Result<Ebpf, DataplaneError> {
    let mut ebpf = Ebpf::load(XDP_OBJECT)?;
    xdp_program(&mut ebpf)?
        .load()
        .map_err(program_err("XDP", XDP_PROGRAM))?;
    egress_program(&mut ebpf)?
        .load()
        .map_err(program_err("TC egress", EGRESS_PROGRAM))?;
    Ok(ebpf)
}

/// The TC egress program of a loaded object.
pub fn egress_program(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier, DataplaneError> {
    let err = program_err("TC egress", EGRESS_PROGRAM);
    let program = ebpf
        .program_mut(EGRESS_PROGRAM)
        .ok_or_else(|| err(ProgramError::NotLoaded))?;
    program.try_into().map_err(err)
}

/// The XDP program of a loaded object.
pub fn xdp_program(ebpf: &mut Ebpf) -> Result<&mut Xdp, DataplaneError> {
    let err = program_err("XDP", XDP_PROGRAM);
    let program = ebpf
        .program_mut(XDP_PROGRAM)
        .ok_or_else(|| err(ProgramError::NotLoaded))?;
    program.try_into().map_err(err)
}

fn program_err(kind: &'static str, name: &'static str) -> impl Fn(ProgramError) -> DataplaneError {
    move |error| DataplaneError::Program { kind, name, error }
}

/// Sums the per-CPU counters into one [`Stats`].
pub fn read_stats(ebpf: &Ebpf) -> Result<Stats, DataplaneError> {
    let map = ebpf
        .map(STATS_MAP)
        .ok_or(DataplaneError::MissingMap(STATS_MAP))?;
    let array: PerCpuArray<_, Stats> = PerCpuArray::try_from(map).map_err(map_err(STATS_MAP))?;
    let per_cpu = array.get(&0, 0).map_err(map_err(STATS_MAP))?;
    let mut total = Stats::default();
    for cpu in per_cpu.iter() {
        total.add(cpu);
    }
    Ok(total)
}

fn map_err(name: &'static str) -> impl FnOnce(aya::maps::MapError) -> DataplaneError {
    move |source| DataplaneError::Map { name, source }
}

/// How the XDP program is attached to one interface.
enum XdpAttachment {
    /// A bpf_link pinned in the pin directory: it outlives the process (see
    /// [`leftovers`]); unpinned and closed on a clean exit.
    Pinned(PinnedLink),
    /// Owned by the program object (netlink attachment on kernels before
    /// 5.9, which have no XDP links to pin).
    Owned(XdpLinkId),
    /// A component of libxdp's dispatcher (`xdp_share`); taken out of the
    /// dispatcher on a clean exit, left in it (libxdp's pins) otherwise.
    Shared(libxdp::Component),
}

/// A loaded, pinned XDP object and the interfaces it is attached to.
/// Dropping it detaches the program and removes the pins; a process that
/// dies without dropping it leaves the XDP links pinned, on purpose.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: Option<PathBuf>,
    links: Vec<(String, XdpAttachment)>,
    egress_links: Vec<(String, SchedClassifierLinkId)>,
}

impl Dataplane {
    /// Loads the program and pins every map under `<bpffs_root>/carp/`,
    /// replacing pins left by an agent that was killed.
    pub fn load_pinned(bpffs_root: &Path) -> Result<Self, DataplaneError> {
        let ebpf = load()?;
        let dir = bpffs::prepare_pin_dir(bpffs_root)?;
        // Only the project's maps: the compiler's own (.rodata, .bss) are
        // internal, and bpffs refuses their dotted names anyway.
        for name in PINNED_MAPS {
            let map = ebpf.map(name).ok_or(DataplaneError::MissingMap(name))?;
            let path = dir.join(name);
            map.pin(&path).map_err(|source| DataplaneError::Pin {
                name: name.to_string(),
                path: path.clone(),
                source,
            })?;
        }
        Ok(Self {
            ebpf,
            pin_dir: Some(dir),
            links: Vec::new(),
            egress_links: Vec::new(),
        })
    }

    /// Attaches to `interface` (index `ifindex`); returns the mode
    /// actually used.
    pub fn attach(
        &mut self,
        interface: &str,
        ifindex: u32,
        mode: AttachMode,
    ) -> Result<AttachMode, DataplaneError> {
        let program = xdp_program(&mut self.ebpf)?;
        let try_mode = |program: &mut Xdp, xdp_mode, label| {
            program
                .attach(interface, xdp_mode)
                .map_err(|source| DataplaneError::Attach {
                    interface: interface.to_string(),
                    mode: label,
                    source,
                })
        };
        let (link, used) = match mode {
            AttachMode::Native => (
                try_mode(program, XdpMode::Driver, "native")?,
                AttachMode::Native,
            ),
            AttachMode::Skb => (try_mode(program, XdpMode::Skb, "skb")?, AttachMode::Skb),
            AttachMode::Auto => match try_mode(program, XdpMode::Driver, "native") {
                Ok(link) => (link, AttachMode::Native),
                Err(err) => {
                    warn!("{err}; falling back to skb (generic) mode, which is slower");
                    (try_mode(program, XdpMode::Skb, "skb")?, AttachMode::Skb)
                }
            },
        };
        self.keep_link(interface, ifindex, link)?;
        Ok(used)
    }

    /// Attaches through libxdp (`lib`, opened by the caller): into the
    /// dispatcher on `interface`, or a new one. The copy of the program
    /// libxdp loads shares this object's pinned maps.
    pub fn attach_shared(
        &mut self,
        lib: &libxdp::Libxdp,
        interface: &str,
        ifindex: u32,
        mode: libxdp::Mode,
    ) -> Result<libxdp::Mode, DataplaneError> {
        let err = |source| DataplaneError::Shared {
            interface: interface.to_string(),
            source,
        };
        let Some(dir) = &self.pin_dir else {
            return Err(err(libxdp::LibxdpError::Map {
                name: PINNED_MAPS.join(", "),
                reason: "not pinned: sharing needs the pinned maps".to_string(),
            }));
        };
        let component = lib
            .attach(XDP_OBJECT, XDP_PROGRAM, dir, &PINNED_MAPS, ifindex, mode)
            .map_err(err)?;
        let used = component.mode();
        self.links
            .push((interface.to_string(), XdpAttachment::Shared(component)));
        Ok(used)
    }

    /// Takes over `link`, the pinned XDP link a previous agent left on
    /// `interface`: its program is replaced by this one in one step
    /// (`bpf_link_update`), and the link is pinned again under this agent's
    /// pin directory.
    pub fn adopt(
        &mut self,
        interface: &str,
        ifindex: u32,
        link: PinnedLink,
    ) -> Result<(), DataplaneError> {
        let err = |source: ProgramError| DataplaneError::Attach {
            interface: interface.to_string(),
            mode: "adopted link",
            source,
        };
        let link =
            XdpLink::try_from(FdLink::from(link)).map_err(|source| DataplaneError::Link {
                interface: interface.to_string(),
                source,
            })?;
        let program = xdp_program(&mut self.ebpf)?;
        let id = program.attach_to_link(link).map_err(err)?;
        self.keep_link(interface, ifindex, id)
    }

    /// Pins a new attachment where a successor can find it, where the
    /// kernel makes XDP links (5.9+).
    fn keep_link(
        &mut self,
        interface: &str,
        ifindex: u32,
        id: XdpLinkId,
    ) -> Result<(), DataplaneError> {
        let links = KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(5, 9, 0));
        let (true, Some(dir)) = (links, &self.pin_dir) else {
            self.links
                .push((interface.to_string(), XdpAttachment::Owned(id)));
            return Ok(());
        };
        let path = dir.join(leftovers::link_pin_name(ifindex));
        let program = xdp_program(&mut self.ebpf)?;
        let link = program
            .take_link(id)
            .map_err(program_err("XDP", XDP_PROGRAM))?;
        let fd = FdLink::try_from(link).map_err(|source| DataplaneError::Link {
            interface: interface.to_string(),
            source,
        })?;
        let pinned = fd.pin(&path).map_err(|source| DataplaneError::Pin {
            name: leftovers::link_pin_name(ifindex),
            path,
            source,
        })?;
        self.links
            .push((interface.to_string(), XdpAttachment::Pinned(pinned)));
        Ok(())
    }

    /// Attaches the TC egress program to `interface`.
    ///
    /// On kernels with TCX (6.6+) the attachment is a bpf_link: it goes away
    /// with the agent, even on kill -9, and needs no qdisc. Older kernels get
    /// a netlink filter on a clsact qdisc, which outlives the process: the
    /// qdisc is created if missing (an existing one, with its other filters,
    /// is kept), and a filter of ours left by a killed agent is removed first.
    pub fn attach_egress(&mut self, interface: &str) -> Result<(), DataplaneError> {
        let err = |source: ProgramError| DataplaneError::AttachEgress {
            interface: interface.to_string(),
            source,
        };
        let tcx = KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(6, 6, 0));
        if !tcx {
            match tc::qdisc_add_clsact(interface) {
                Ok(()) => {}
                Err(tc::TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(err(e.into())),
            }
            // Nothing to remove is the usual case.
            let _ = tc::qdisc_detach_program(interface, TcAttachType::Egress, EGRESS_PROGRAM);
        }
        let link = egress_program(&mut self.ebpf)?
            .attach(interface, TcAttachType::Egress)
            .map_err(err)?;
        self.egress_links.push((interface.to_string(), link));
        Ok(())
    }

    /// Leaves everything pinned and attached for the next agent, as a
    /// killed process would (nothing is detached or unpinned; the process's
    /// file descriptors close at exit, the pins keep the objects).
    pub fn leave_for_successor(self) {
        std::mem::forget(self);
    }

    /// Detaches the XDP and TC programs from one interface.
    pub fn detach(&mut self, interface: &str) {
        let (links, kept) = std::mem::take(&mut self.links)
            .into_iter()
            .partition(|(name, _)| name == interface);
        self.links = kept;
        let (egress, kept) = std::mem::take(&mut self.egress_links)
            .into_iter()
            .partition(|(name, _)| name == interface);
        self.egress_links = kept;
        self.detach_links(links, egress);
    }

    /// Detaches from every interface (also done on drop).
    pub fn detach_all(&mut self) {
        let links = std::mem::take(&mut self.links);
        let egress = std::mem::take(&mut self.egress_links);
        self.detach_links(links, egress);
    }

    fn detach_links(
        &mut self,
        links: Vec<(String, XdpAttachment)>,
        egress_links: Vec<(String, SchedClassifierLinkId)>,
    ) {
        for (interface, link) in links {
            let result = match link {
                // Unpinned and closed: the last reference, so the link goes.
                XdpAttachment::Pinned(pinned) => {
                    pinned.unpin().map(drop).map_err(|e| e.to_string())
                }
                XdpAttachment::Owned(id) => xdp_program(&mut self.ebpf)
                    .map_err(|e| e.to_string())
                    .and_then(|program| program.detach(id).map_err(|e| e.to_string())),
                XdpAttachment::Shared(component) => component.detach().map_err(|e| e.to_string()),
            };
            if let Err(err) = result {
                warn!("detaching XDP from {interface}: {err}");
            }
        }
        if let Ok(program) = egress_program(&mut self.ebpf) {
            for (interface, link) in egress_links {
                if let Err(err) = program.detach(link) {
                    warn!("detaching the TC egress program from {interface}: {err}");
                }
            }
        }
    }

    pub fn stats(&self) -> Result<Stats, DataplaneError> {
        read_stats(&self.ebpf)
    }

    fn hash_map<K: aya::Pod, V: aya::Pod>(
        &mut self,
        name: &'static str,
    ) -> Result<HashMap<&mut MapData, K, V>, DataplaneError> {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(DataplaneError::MissingMap(name))?;
        HashMap::try_from(map).map_err(map_err(name))
    }

    pub fn set_iface(&mut self, ifindex: u32, entry: IfaceEntry) -> Result<(), DataplaneError> {
        self.hash_map(MAP_IFACES)?
            .insert(ifindex, entry, 0)
            .map_err(map_err(MAP_IFACES))
    }

    pub fn set_vhid(&mut self, key: VhidKey, entry: VhidEntry) -> Result<(), DataplaneError> {
        self.hash_map(MAP_VHIDS)?
            .insert(key, entry, 0)
            .map_err(map_err(MAP_VHIDS))
    }

    pub fn remove_vhid(&mut self, key: VhidKey) -> Result<(), DataplaneError> {
        // The auth entry may be missing (never set, or the mode is off).
        let _ = self.hash_map::<VhidKey, AuthEntry>(MAP_AUTH)?.remove(&key);
        self.hash_map::<VhidKey, VhidEntry>(MAP_VHIDS)?
            .remove(&key)
            .map_err(map_err(MAP_VHIDS))
    }

    /// Lets the XDP program check the HMAC, replays and new sources of
    /// `key`'s adverts itself (mode from `CARP_DEBUG_XDP_AUTH`, see
    /// [`auth`]); `openbsd` vhids get no replay check. The agent still
    /// checks the HMAC of what reaches it.
    pub fn set_auth(
        &mut self,
        key: VhidKey,
        auth: &crate::proto::auth::Auth,
        openbsd: bool,
    ) -> Result<(), DataplaneError> {
        let mode = auth::XdpAuthMode::from_env().map_err(DataplaneError::AuthMode)?;
        let entry = auth::auth_entry(&auth.xdp_key_state(key.vhid), mode, openbsd);
        self.hash_map(MAP_AUTH)?
            .insert(key, entry, 0)
            .map_err(map_err(MAP_AUTH))
    }

    /// `addr` on `port` belongs to `vhid`: the program answers ARP / ND
    /// for it as that vhid's state says.
    pub fn set_vip(&mut self, port: Port, addr: IpAddr, vhid: u8) -> Result<(), DataplaneError> {
        self.hash_map(MAP_VIPS)?
            .insert(vip_key(port, addr), VipEntry::new(vhid), 0)
            .map_err(map_err(MAP_VIPS))
    }

    pub fn remove_vip(&mut self, port: Port, addr: IpAddr) -> Result<(), DataplaneError> {
        let key = vip_key(port, addr);
        match self.hash_map::<VipKey, VipEntry>(MAP_VIPS)?.remove(&key) {
            // Already gone is what was wanted.
            Err(aya::maps::MapError::KeyNotFound) | Ok(()) => Ok(()),
            Err(err) => Err(map_err(MAP_VIPS)(err)),
        }
    }

    /// The VRRP routers heard using a local vhid's id: one record per vhid
    /// (the newest), at most `MAX_VHIDS` of them.
    pub fn vrrp_seen(&mut self) -> Result<Vec<(VhidKey, VrrpSeen)>, DataplaneError> {
        let map = self.hash_map::<VhidKey, VrrpSeen>(MAP_VRRP)?;
        map.iter()
            .take(MAX_VHIDS as usize)
            .collect::<Result<_, _>>()
            .map_err(map_err(MAP_VRRP))
    }

    /// Takes the event ring buffer out of the object for an async reader.
    pub fn take_advert_reader(&mut self) -> Result<AdvertReader, DataplaneError> {
        let map = self
            .ebpf
            .take_map(MAP_EVENTS)
            .ok_or(DataplaneError::MissingMap(MAP_EVENTS))?;
        let ring = RingBuf::try_from(map).map_err(map_err(MAP_EVENTS))?;
        AdvertReader::new(ring).map_err(|error| DataplaneError::Reader {
            name: MAP_EVENTS,
            error,
        })
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.detach_all();
        if let Some(dir) = self.pin_dir.take() {
            if let Err(err) = bpffs::remove_pins(&dir) {
                warn!("removing pins: {err}");
            }
        }
    }
}

/// The `CARP_VIPS` key of `addr` on `port`.
fn vip_key(port: Port, addr: IpAddr) -> VipKey {
    match addr {
        IpAddr::V4(a) => VipKey::v4(port, a.octets()),
        IpAddr::V6(a) => VipKey::v6(port, a.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        AttachMode, DataplaneError, EGRESS_PROGRAM, ProgramError, XDP_PROGRAM, choose_mode,
        program_err,
    };

    #[test]
    fn program_errors_name_their_program() {
        let egress = program_err("TC egress", EGRESS_PROGRAM)(ProgramError::NotLoaded);
        let text = egress.to_string();
        assert!(
            text.starts_with(&format!("TC egress program {EGRESS_PROGRAM}: ")),
            "{text}"
        );
        assert!(!text.contains(XDP_PROGRAM), "{text}");
        let xdp = program_err("XDP", XDP_PROGRAM)(ProgramError::NotLoaded).to_string();
        assert!(
            xdp.starts_with(&format!("XDP program {XDP_PROGRAM}: ")),
            "{xdp}"
        );
        let reader = DataplaneError::Reader {
            name: "carp_events",
            error: std::io::Error::from_raw_os_error(libc::EBADF),
        };
        assert!(
            reader.to_string().contains("registering the ring buffer"),
            "{reader}"
        );
    }

    #[test]
    fn auto_takes_skb_on_veth_and_native_elsewhere() {
        let veth = choose_mode(AttachMode::Auto, Some("veth"));
        assert_eq!(veth.mode, AttachMode::Skb);
        assert!(veth.reason.contains("veth"), "{}", veth.reason);
        assert_eq!(veth.warning, None);
        for kind in [None, Some("tun"), Some("bridge")] {
            let choice = choose_mode(AttachMode::Auto, kind);
            assert_eq!(choice.mode, AttachMode::Auto, "{kind:?}");
            assert_eq!(choice.warning, None);
        }
    }

    #[test]
    fn explicit_modes_are_kept_and_native_on_veth_warns() {
        let native = choose_mode(AttachMode::Native, Some("veth"));
        assert_eq!(native.mode, AttachMode::Native);
        let warning = native.warning.expect("a warning");
        assert!(warning.contains("unreachable"), "{warning}");
        assert_eq!(choose_mode(AttachMode::Native, None).warning, None);
        let skb = choose_mode(AttachMode::Skb, None);
        assert_eq!(skb.mode, AttachMode::Skb);
        assert_eq!(skb.reason, "--xdp-mode skb");
    }
}
