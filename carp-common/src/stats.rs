//! Per-CPU counters with named slots: `Stats` has one u64 field per slot so
//! `bpftool map dump` prints the names; `Stat` indexes the same slots so the
//! XDP program can bump "the counter of this verdict" in one place.

macro_rules! stats {
    ($($(#[$doc:meta])* $field:ident => $variant:ident,)*) => {
        /// Packet counters; carpstats names where the BSDs have one.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[$doc])* pub $field: u64,)*
        }

        /// Index of one counter in [`Stats`].
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Stat {
            $($variant,)*
        }

        impl Stat {
            pub const ALL: &'static [Stat] = &[$(Stat::$variant,)*];

            /// The counter's name, as in carpstats and `bpftool`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Stat::$variant => stringify!($field),)*
                }
            }
        }

        impl Stats {
            pub fn get(&self, stat: Stat) -> u64 {
                match stat {
                    $(Stat::$variant => self.$field,)*
                }
            }

            /// Field-wise sum, used to fold the per-CPU values into one.
            pub fn add(&mut self, other: &Stats) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

stats! {
    /// IPv4 protocol-112 packets seen.
    ipackets => Ipackets,
    /// IPv6 protocol-112 packets seen.
    ipackets6 => Ipackets6,
    /// Frames too short for the headers they announce.
    hdrops => Hdrops,
    /// TTL / hop limit not 255.
    badttl => Badttl,
    /// IP length fields inconsistent with the frame.
    badlen => Badlen,
    /// CARP version not 2 or type not 1.
    badver => Badver,
    /// CARP checksum wrong.
    badsum => Badsum,
    /// vhid not configured on the receiving interface.
    badvhid => Badvhid,
    /// HMAC wrong, checked in XDP (vhids with a `CARP_AUTH` entry in full mode).
    badauth => Badauth,
    /// A known source's counter at or just below the last one accepted from
    /// it (a replay), checked in XDP after the HMAC.
    replayed => Replayed,
    /// Adverts from a source not yet known for the vhid, beyond the vhid's
    /// budget for new sources.
    ratelimited => Ratelimited,
    /// Valid adverts queued to userspace.
    adverts => Adverts,
    /// Adverts dropped because the ring buffer was full.
    ringbuf_full => RingbufFull,
    /// Protocol-112 packets of another size (VRRP), passed untouched.
    vrrp_passed => VrrpPassed,
    /// VRRP advertisements (IPv4) whose virtual router id is a local vhid in
    /// virtual-MAC mode (same virtual MAC). Passed untouched, recorded in
    /// `CARP_VRRP`.
    vrrp_clash => VrrpClash,
    /// ARP requests for a VIP answered by XDP (MASTER).
    arp_replies => ArpReplies,
    /// ARP requests for a VIP dropped (BACKUP/INIT).
    arp_suppressed => ArpSuppressed,
    /// Neighbor Solicitations for a VIP answered (MASTER).
    nd_replies => NdReplies,
    /// Neighbor Solicitations for a VIP dropped (BACKUP/INIT).
    nd_suppressed => NdSuppressed,
    /// Frames to a virtual MAC rewritten to the NIC MAC and passed (MASTER).
    vmac_accepted => VmacAccepted,
    /// Frames to a virtual MAC dropped (BACKUP/INIT).
    vmac_dropped => VmacDropped,
    /// Neighbor Discovery messages sent by the host from a MASTER VIP whose
    /// Ethernet source / link-layer address option was set to the virtual MAC
    /// (TC egress).
    nd_egress_rewritten => NdEgressRewritten,
    /// Unicast adverts (destination not 224.0.0.0/4 or ff00::/8) from a
    /// source that is not a configured peer of the vhid, dropped.
    badpeer => Badpeer,
}

pub const STAT_COUNT: usize = Stat::ALL.len();

const _: () = assert!(core::mem::size_of::<Stats>() == STAT_COUNT * 8);

#[cfg(feature = "user")]
// SAFETY: repr(C), u64 fields only, no padding.
unsafe impl aya::Pod for Stats {}
