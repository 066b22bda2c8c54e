//! RFC 1071 Internet checksum over words as loaded from memory.
//!
//! The one's-complement sum is independent of byte order as long as every
//! 16-bit word is taken the same way: summing native u16 words (or native
//! u32 words, each the sum of its two u16 halves) and storing the folded,
//! complemented result as a native u16 gives the right bytes on the wire,
//! with no byte swapping. Sums are kept in a u64 and folded at the end.

/// Adds native 32-bit words to `sum`.
#[inline(always)]
pub fn add_u32<const N: usize>(mut sum: u64, words: &[u32; N]) -> u64 {
    for w in words {
        sum += u64::from(*w);
    }
    sum
}

/// Adds native 16-bit words to `sum`.
#[inline(always)]
pub fn add_u16<const N: usize>(mut sum: u64, words: &[u16; N]) -> u64 {
    for w in words {
        sum += u64::from(*w);
    }
    sum
}

/// Folds the carries back in: the one's-complement sum as 16 bits.
#[inline(always)]
pub fn fold(mut sum: u64) -> u16 {
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}
