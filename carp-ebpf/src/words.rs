//! Multi-byte loads and stores as single instructions.
//!
//! Header fields sit at offsets that are only 2-byte aligned (an IPv4
//! header starts 14 bytes into the frame), and LLVM splits any load it
//! cannot prove aligned into single bytes for BPF. These helpers read and
//! write through typed pointers instead, one instruction per word: BPF's
//! loads and stores work at any alignment on the architectures this runs
//! on (x86-64, arm64: the verifier checks packet alignment only with
//! BPF_F_STRICT_ALIGNMENT or on architectures without efficient unaligned
//! access).
//!
//! The stores are volatile. BPF has no `memset`/`memmove`: LLVM turns runs
//! of zero stores, or copies between pointers it cannot prove distinct (map
//! value to packet), into calls to them, and the compiler-builtins fallbacks
//! end up as byte loops in a BPF subprogram. Volatile stores are never
//! merged, so each stays one instruction.

use core::ptr::write_volatile;

/// Reads a `T` (an integer or an array of them) at `src`.
///
/// # Safety
/// `src` must be valid for reading `size_of::<T>()` bytes (bounds-checked
/// packet or map memory).
#[inline(always)]
pub unsafe fn load<T: Copy>(src: *const u8) -> T {
    // SAFETY: validity per the caller; alignment as explained above.
    unsafe { *src.cast::<T>() }
}

/// Writes `value` at `dst`.
///
/// # Safety
/// `dst` must be valid for writing `size_of::<T>()` bytes.
#[inline(always)]
pub unsafe fn store<T: Copy>(dst: *mut u8, value: T) {
    // SAFETY: as in `load`.
    unsafe { write_volatile(dst.cast::<T>(), value) }
}

/// Copies `N` words of type `T` from `src` to `dst`, one load and one
/// store each.
///
/// # Safety
/// `src` and `dst` must be valid for `N * size_of::<T>()` bytes.
#[inline(always)]
pub unsafe fn copy<T: Copy, const N: usize>(dst: *mut u8, src: *const u8) {
    let size = core::mem::size_of::<T>();
    for i in 0..N {
        // SAFETY: i < N, within the caller's guarantee.
        unsafe { store(dst.add(size * i), load::<T>(src.add(size * i))) };
    }
}

/// Writes the `N` words of `values` at `dst`, one store each (a volatile
/// store of the whole array would go through the stack).
///
/// # Safety
/// `dst` must be valid for `N * size_of::<T>()` bytes.
#[inline(always)]
pub unsafe fn store_all<T: Copy, const N: usize>(dst: *mut u8, values: [T; N]) {
    let size = core::mem::size_of::<T>();
    for (i, value) in values.into_iter().enumerate() {
        // SAFETY: i < N, within the caller's guarantee.
        unsafe { store(dst.add(size * i), value) };
    }
}
