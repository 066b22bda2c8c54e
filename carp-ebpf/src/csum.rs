//! RFC 1071 Internet checksum pieces. Sums are kept in a u32 of 16-bit words
//! read in network order and folded at the end; 36 bytes of CARP header or
//! an NA plus its pseudo-header cannot overflow it.

/// Adds the big-endian 16-bit words of `bytes` (even length) to `sum`.
#[inline(always)]
pub fn add_words<const N: usize>(mut sum: u32, bytes: &[u8; N]) -> u32 {
    let mut i = 0;
    while i + 1 < N {
        sum += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    sum
}

/// Folds the carries back in: the one's-complement sum as 16 bits.
#[inline(always)]
pub fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}
