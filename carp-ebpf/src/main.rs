//! The CARP XDP program. For now it recognises protocol-112 packets (IPv4 and
//! IPv6) and counts them; everything passes to the stack.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action, btf_maps::PerCpuArray, macros::btf_map, macros::xdp, programs::XdpContext,
};
use carp_common::{IPPROTO_CARP, Stats};

#[btf_map]
static CARP_STATS: PerCpuArray<Stats, 1> = PerCpuArray::new();

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// Returns a pointer to a `T` at `offset` if the whole `T` lies inside the frame.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *const T)
}

#[xdp]
pub fn carp_xdp(ctx: XdpContext) -> u32 {
    classify(&ctx);
    xdp_action::XDP_PASS
}

#[inline(always)]
fn classify(ctx: &XdpContext) {
    let Some(ethertype) = ptr_at::<[u8; 2]>(ctx, 12) else {
        return;
    };
    // SAFETY: ptr_at checked the bounds.
    let ethertype = u16::from_be_bytes(unsafe { *ethertype });
    let Some(stats) = CARP_STATS.get_ptr_mut(0) else {
        return;
    };
    match ethertype {
        ETH_P_IP => {
            let Some(proto) = ptr_at::<u8>(ctx, ETH_HLEN + 9) else {
                return;
            };
            // SAFETY: bounds checked above; the stats slot is this CPU's own.
            unsafe {
                if *proto == IPPROTO_CARP {
                    (*stats).ipackets += 1;
                }
            }
        }
        ETH_P_IPV6 => {
            let Some(next) = ptr_at::<u8>(ctx, ETH_HLEN + 6) else {
                return;
            };
            // SAFETY: as above.
            unsafe {
                if *next == IPPROTO_CARP {
                    (*stats).ipackets6 += 1;
                }
            }
        }
        _ => {}
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
