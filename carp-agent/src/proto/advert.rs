//! The 36-byte CARP v2 advertisement header.
//!
//! ```text
//!  0      version 2 << 4 | type 1      1  vhid        2  advskew   3  authlen 7
//!  4      demote (OpenBSD) / pad 0     5  advbase     6  checksum (2 bytes)
//!  8      counter (8 bytes, big-endian)
//! 16      md: HMAC-SHA1 (20 bytes)
//! ```

use super::{
    auth::{Auth, MD_LEN},
    checksum::internet_checksum,
    error::{DecodeError, LengthError},
};

/// Size of an advertisement on the wire.
pub const ADVERT_LEN: usize = carp_common::CARP_ADVERT_LEN;
pub const VERSION: u8 = 2;
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Authentication length in 32-bit words; always 7, and ignored on receipt as
/// the BSDs do.
pub const AUTHLEN: u8 = 7;

const CHECKSUM: std::ops::Range<usize> = 6..8;

/// A CARP v2 advertisement, decoded or about to be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advertisement {
    pub vhid: u8,
    pub advskew: u8,
    pub advbase: u8,
    /// Header byte 4: FreeBSD sends 0 (pad), OpenBSD its demotion counter.
    pub demote: u8,
    pub counter: u64,
    pub md: [u8; MD_LEN],
}

impl Advertisement {
    /// Fills `md` with the digest for this vhid and counter.
    pub fn sign(&mut self, auth: &Auth) {
        self.md = auth.digest(self.vhid, self.counter);
    }

    /// The wire bytes, with the checksum computed after `md` (as the BSDs do).
    pub fn encode(&self) -> [u8; ADVERT_LEN] {
        let mut bytes = self.bytes_without_checksum();
        let sum = internet_checksum(&bytes);
        bytes[CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    /// Checks the structure of a protocol-112 payload in the BSD order (length,
    /// version, checksum). The HMAC is left to [`Advertisement::authenticate`].
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let bytes: &[u8; ADVERT_LEN] = payload
            .try_into()
            .map_err(|_| DecodeError::BadLength(LengthError::Payload(payload.len())))?;
        let (version, kind) = (bytes[0] >> 4, bytes[0] & 0x0f);
        if (version, kind) != (VERSION, TYPE_ADVERTISEMENT) {
            return Err(DecodeError::BadVersion { version, kind });
        }
        if internet_checksum(bytes) != 0 {
            let found = u16::from_be_bytes([bytes[6], bytes[7]]);
            let mut zeroed = *bytes;
            zeroed[CHECKSUM].fill(0);
            let expected = internet_checksum(&zeroed);
            return Err(DecodeError::BadChecksum { found, expected });
        }
        Ok(Self::read_fields(bytes))
    }

    /// Reads the fields of exactly 36 bytes without any check, to show what a
    /// rejected advertisement claimed. `None` for any other length.
    pub fn peek(payload: &[u8]) -> Option<Self> {
        payload.try_into().ok().map(Self::read_fields)
    }

    /// Checks the HMAC against the receiver's key and virtual addresses.
    pub fn authenticate(&self, auth: &Auth) -> Result<(), DecodeError> {
        if auth.verify(self.vhid, self.counter, &self.md) {
            Ok(())
        } else {
            Err(DecodeError::BadAuth)
        }
    }

    fn read_fields(bytes: &[u8; ADVERT_LEN]) -> Self {
        let mut counter = [0; 8];
        counter.copy_from_slice(&bytes[8..16]);
        let mut md = [0; MD_LEN];
        md.copy_from_slice(&bytes[16..]);
        Advertisement {
            vhid: bytes[1],
            advskew: bytes[2],
            demote: bytes[4],
            advbase: bytes[5],
            counter: u64::from_be_bytes(counter),
            md,
        }
    }

    fn bytes_without_checksum(&self) -> [u8; ADVERT_LEN] {
        let mut bytes = [0; ADVERT_LEN];
        bytes[0] = VERSION << 4 | TYPE_ADVERTISEMENT;
        bytes[1] = self.vhid;
        bytes[2] = self.advskew;
        bytes[3] = AUTHLEN;
        bytes[4] = self.demote;
        bytes[5] = self.advbase;
        bytes[8..16].copy_from_slice(&self.counter.to_be_bytes());
        bytes[16..].copy_from_slice(&self.md);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::ucarp;

    /// The CARP payload of the ucarp capture (docs/protocol.md, "Test vector").
    fn ucarp() -> Vec<u8> {
        ucarp::frame().split_off(ucarp::CARP_OFFSET)
    }

    #[test]
    fn decodes_and_reencodes_the_ucarp_header() {
        let advert = Advertisement::decode(&ucarp()).unwrap();
        assert_eq!(
            (advert.vhid, advert.advskew, advert.advbase, advert.demote),
            (1, 0, 1, 0)
        );
        assert_eq!(advert.counter, ucarp::COUNTER);
        assert_eq!(advert.encode().as_slice(), ucarp().as_slice());
    }

    #[test]
    fn bad_checksum_reports_the_expected_value() {
        let mut bytes = ucarp();
        bytes[7] ^= 1;
        assert_eq!(
            Advertisement::decode(&bytes),
            Err(DecodeError::BadChecksum {
                found: 0xa0cd,
                expected: 0xa0cc
            })
        );
    }

    #[test]
    fn other_lengths_are_badlen() {
        let err = Advertisement::decode(&[0x21; 40]).unwrap_err();
        assert_eq!(err, DecodeError::BadLength(LengthError::Payload(40)));
        assert!(err.to_string().contains("probably VRRP"));
    }

    #[test]
    fn version_is_checked_before_checksum() {
        let mut bytes = ucarp();
        bytes[0] = 0x31;
        assert_eq!(
            Advertisement::decode(&bytes),
            Err(DecodeError::BadVersion {
                version: 3,
                kind: 1
            })
        );
    }
}
