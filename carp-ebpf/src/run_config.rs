//! libxdp's run configuration for `carp_xdp`, read from the object's BTF
//! when the program joins a multi-program dispatcher (`xdp-loader`, or the
//! agent with `xdp_share`): see docs/xdp-coexistence.md.
//!
//! libxdp looks in the `.xdp_run_config` section for a variable named after
//! the program with a leading underscore. Its type is a struct whose members
//! carry numbers in their *types*, the way libbpf's BTF map definitions do
//! (`__uint(name, value)`): a member `name` of type "pointer to an array of
//! `value` ints". Only the BTF matters; the data itself is never read, so
//! the pointers stay null.
//! - `priority`: the dispatcher runs its programs in ascending priority.
//!   xdp-filter uses 10, programs without a configuration get 50. 20 puts
//!   the agent after filters (a DDoS filter sees the flood first) and before
//!   default-priority programs such as forwarders, which might redirect
//!   adverts and ARP away before the agent sees them.
//! - `XDP_PASS`: the actions after which the next program runs. Only
//!   XDP_PASS: a frame the agent passes is not its business (or is an advert
//!   the kernel should also see), while XDP_TX (an ARP reply) and XDP_DROP
//!   (a frame to a virtual MAC this node does not own) end the chain.

/// libxdp's "pointer to an array of N ints" encoding of the number N.
type Uint<const N: usize> = *const [i32; N];

/// The agent's place in a dispatcher.
pub const PRIORITY: usize = 20;

/// Member names are libxdp's keywords, hence the C-style names.
#[repr(C)]
#[allow(non_snake_case)]
pub struct RunConfig {
    priority: Uint<PRIORITY>,
    XDP_PASS: Uint<1>,
}

// SAFETY: the pointers are null and never dereferenced; the static exists
// for its BTF type only.
unsafe impl Sync for RunConfig {}

/// `_` + the program's name, as libxdp looks it up.
#[unsafe(link_section = ".xdp_run_config")]
#[unsafe(no_mangle)]
#[used]
static _carp_xdp: RunConfig = RunConfig {
    priority: core::ptr::null(),
    XDP_PASS: core::ptr::null(),
};
