//! RFC 1071 Internet checksum, used by the CARP header and the IPv4 header.

/// One's-complement of the one's-complement sum of `data` as big-endian 16-bit
/// words (an odd last byte is padded with zero).
///
/// Over data that already contains a correct checksum field the result is 0.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut words = data.chunks_exact(2);
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves at most 16 bits.
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::internet_checksum;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 section 3: the sum is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), internet_checksum(&[0x12, 0x00]));
    }

    #[test]
    fn verifies_to_zero_with_field_filled() {
        let mut data = [0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00, 0x00];
        let sum = internet_checksum(&data);
        data[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(internet_checksum(&data), 0);
    }
}
