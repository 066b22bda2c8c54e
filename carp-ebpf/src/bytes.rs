//! Byte copies the compiler cannot turn into `memset` / `memmove` calls.
//!
//! BPF has no such functions: the compiler-builtins fallbacks end up as a
//! byte loop in a BPF subprogram. LLVM forms those calls from plain copies
//! between pointers it cannot prove distinct (map value → packet) and from
//! runs of zero stores; volatile byte accesses cannot be merged, so each
//! copy stays N loads and N stores inline.

use core::ptr::{read_volatile, write_volatile};

/// Reads `N` bytes at `src`.
///
/// # Safety
/// `src` must be valid for `N` bytes (bounds-checked packet or map value).
#[inline(always)]
pub unsafe fn load<const N: usize>(src: *const [u8; N]) -> [u8; N] {
    let mut out = [0u8; N];
    let src = src.cast::<u8>();
    for (i, byte) in out.iter_mut().enumerate() {
        // SAFETY: i < N and the caller guarantees N readable bytes.
        *byte = unsafe { read_volatile(src.add(i)) };
    }
    out
}

/// Writes `value` to the `N` bytes at `dst`.
///
/// # Safety
/// `dst` must be valid for writing `N` bytes.
#[inline(always)]
pub unsafe fn store<const N: usize>(dst: *mut [u8; N], value: [u8; N]) {
    let dst = dst.cast::<u8>();
    for (i, byte) in value.into_iter().enumerate() {
        // SAFETY: i < N and the caller guarantees N writable bytes.
        unsafe { write_volatile(dst.add(i), byte) };
    }
}
