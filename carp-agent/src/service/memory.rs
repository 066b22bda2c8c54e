//! Giving back the memory start-up used and no longer needs.
//!
//! Loading the XDP object is the agent's largest allocation by far: aya
//! parses the kernel's own BTF (`/sys/kernel/btf/vmlinux`, several MB of
//! type records, tens of MB once parsed) to relocate the program, then
//! frees it. glibc's allocator keeps freed heap pages mapped for reuse, so
//! without help an idle agent with one vhid would keep about 16 MB of
//! resident heap it never touches again. `malloc_trim(0)` returns every
//! whole free page of the heap to the kernel (glibc does this for free
//! pages anywhere in the heap, not just at its top, since 2.8).
//!
//! Sound at any time: it only releases memory the allocator owns and has
//! no live allocation in; later allocations get fresh pages as usual.

/// Returns the heap's free pages to the kernel; called once start-up is
/// done. A no-op where the C library is not glibc.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a padding size and only unmaps pages the
    // allocator holds free; it touches no memory the program uses.
    unsafe {
        libc::malloc_trim(0);
    }
}
