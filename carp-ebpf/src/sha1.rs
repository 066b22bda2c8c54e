//! The SHA-1 compression function, for the HMAC check in `auth`.
//!
//! Written here because no SHA-1 crate builds for the BPF target in a shape
//! the verifier accepts: the message schedule lives in a per-CPU map value
//! (`CARP_AUTH_SCRATCH`) and is indexed `& 15`, an access the verifier
//! bounds at once, and the loop has a constant trip count (bounded loops,
//! kernel 5.3+). One call is one BPF subprogram, verified per call site.

/// SHA-1's round constants, one per group of 20 rounds.
const K: [u32; 4] = [0x5a82_7999, 0x6ed9_eba1, 0x8f1b_bcdc, 0xca62_c1d6];

/// Compresses the 16 big-endian words at `w` (as numbers; overwritten by
/// the message schedule) into the state `h`.
///
/// # Safety
/// `h` and `w` must point into a map value valid for 5 and 16 words.
#[inline(never)]
pub unsafe fn compress(h: *mut [u32; 5], w: *mut [u32; 16]) {
    let w = w.cast::<u32>();
    let h = h.cast::<u32>();
    // SAFETY: every index below is masked to 0..16, or is below 5, within
    // the caller's guarantee.
    unsafe {
        let (mut a, mut b, mut c, mut d, mut e) = (*h, *h.add(1), *h.add(2), *h.add(3), *h.add(4));
        let mut t: usize = 0;
        while t < 80 {
            let i = t & 15;
            let word = if t < 16 {
                *w.add(i)
            } else {
                let x =
                    *w.add((t + 13) & 15) ^ *w.add((t + 8) & 15) ^ *w.add((t + 2) & 15) ^ *w.add(i);
                let x = x.rotate_left(1);
                *w.add(i) = x;
                x
            };
            let (f, k) = if t < 20 {
                ((b & c) | (!b & d), K[0])
            } else if t < 40 {
                (b ^ c ^ d, K[1])
            } else if t < 60 {
                ((b & c) | (b & d) | (c & d), K[2])
            } else {
                (b ^ c ^ d, K[3])
            };
            let next = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = next;
            t += 1;
        }
        *h = (*h).wrapping_add(a);
        *h.add(1) = (*h.add(1)).wrapping_add(b);
        *h.add(2) = (*h.add(2)).wrapping_add(c);
        *h.add(3) = (*h.add(3)).wrapping_add(d);
        *h.add(4) = (*h.add(4)).wrapping_add(e);
    }
}
