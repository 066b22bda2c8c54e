//! CARP authentication: the password key, the virtual address set, and the
//! HMAC-SHA1 over them that every advertisement carries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use super::error::PasswordError;

/// Longest password the BSDs and ucarp accept: they copy it NUL-terminated into
/// a 20-byte buffer.
pub const MAX_PASSWORD_LEN: usize = 19;

/// Length of the HMAC-SHA1 digest in the header.
pub const MD_LEN: usize = 20;

/// The HMAC key: the password zero-padded to 20 bytes, as the BSDs build it.
/// An empty password is allowed (the BSDs run without one).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey([u8; MAX_PASSWORD_LEN + 1]);

impl AuthKey {
    /// Builds the key from password bytes, refusing what the peers would truncate.
    pub fn from_password(password: &[u8]) -> Result<Self, PasswordError> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong {
                len: password.len(),
            });
        }
        if let Some(at) = password.iter().position(|&b| b == 0) {
            return Err(PasswordError::ContainsNul { at });
        }
        let mut key = [0; MAX_PASSWORD_LEN + 1];
        key[..password.len()].copy_from_slice(password);
        Ok(AuthKey(key))
    }

    /// The 20 key bytes fed to HMAC.
    pub fn as_bytes(&self) -> &[u8; MAX_PASSWORD_LEN + 1] {
        &self.0
    }
}

impl FromStr for AuthKey {
    type Err = PasswordError;

    fn from_str(password: &str) -> Result<Self, Self::Err> {
        AuthKey::from_password(password.as_bytes())
    }
}

// Keys end up in logged structs; never print them.
impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

/// The virtual addresses of one vhid, kept in the order the HMAC hashes them:
/// IPv4 ascending, then IPv6 ascending, no duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipSet {
    ipv4: Vec<Ipv4Addr>,
    ipv6: Vec<Ipv6Addr>,
}

impl VipSet {
    /// Collects addresses given in any order.
    pub fn new(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        addrs.into_iter().collect()
    }

    pub fn ipv4(&self) -> &[Ipv4Addr] {
        &self.ipv4
    }

    pub fn ipv6(&self) -> &[Ipv6Addr] {
        &self.ipv6
    }

    pub fn is_empty(&self) -> bool {
        self.ipv4.is_empty() && self.ipv6.is_empty()
    }
}

impl FromIterator<IpAddr> for VipSet {
    fn from_iter<I: IntoIterator<Item = IpAddr>>(iter: I) -> Self {
        let mut set = VipSet::default();
        for addr in iter {
            match addr {
                IpAddr::V4(a) => set.ipv4.push(a),
                IpAddr::V6(a) => set.ipv6.push(a),
            }
        }
        // Ipv4Addr/Ipv6Addr order equals the order of their network bytes.
        set.ipv4.sort_unstable();
        set.ipv4.dedup();
        set.ipv6.sort_unstable();
        set.ipv6.dedup();
        set
    }
}

/// Computes and checks advertisement digests for one key and address set.
///
/// The HMAC message is `02 01 vhid`, the IPv4 addresses, the IPv6 addresses,
/// then the 8 counter bytes; advskew, advbase and demote are not covered.
#[derive(Clone)]
pub struct Auth {
    /// HMAC state with the key already absorbed; cloned for every digest.
    keyed: Hmac<Sha1>,
    vips: VipSet,
}

impl Auth {
    pub fn new(key: &AuthKey, vips: VipSet) -> Self {
        let keyed =
            Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        Auth { keyed, vips }
    }

    pub fn vips(&self) -> &VipSet {
        &self.vips
    }

    /// The digest an advertisement for `vhid` with `counter` must carry.
    pub fn digest(&self, vhid: u8, counter: u64) -> [u8; MD_LEN] {
        self.message(vhid, counter).finalize().into_bytes().into()
    }

    /// Whether `md` is the right digest, compared in constant time.
    pub fn verify(&self, vhid: u8, counter: u64, md: &[u8; MD_LEN]) -> bool {
        self.message(vhid, counter).verify_slice(md).is_ok()
    }

    fn message(&self, vhid: u8, counter: u64) -> Hmac<Sha1> {
        let mut mac = self.keyed.clone();
        mac.update(&[
            super::advert::VERSION,
            super::advert::TYPE_ADVERTISEMENT,
            vhid,
        ]);
        for addr in &self.vips.ipv4 {
            mac.update(&addr.octets());
        }
        for addr in &self.vips.ipv6 {
            mac.update(&addr.octets());
        }
        mac.update(&counter.to_be_bytes());
        mac
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("key", &"<redacted>")
            .field("vips", &self.vips)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_of_19_bytes_is_the_limit() {
        assert!(AuthKey::from_password(&[b'x'; 19]).is_ok());
        let err = AuthKey::from_password(&[b'x'; 20]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "password is 20 bytes; CARP peers (FreeBSD, OpenBSD, ucarp) use at most 19"
        );
    }

    #[test]
    fn nul_in_password_is_refused() {
        assert_eq!(
            AuthKey::from_password(b"ab\0c"),
            Err(PasswordError::ContainsNul { at: 2 })
        );
    }

    #[test]
    fn key_is_zero_padded() {
        let key: AuthKey = "ab".parse().unwrap();
        let mut expected = [0; 20];
        expected[..2].copy_from_slice(b"ab");
        assert_eq!(key.as_bytes(), &expected);
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let key: AuthKey = "hunter2".parse().unwrap();
        let auth = Auth::new(&key, VipSet::default());
        assert!(!format!("{key:?} {auth:?}").contains("hunter2"));
    }

    #[test]
    fn vip_set_sorts_and_dedups_per_family() {
        let set: VipSet = ["10.0.0.2", "fe80::1", "10.0.0.1", "::1", "10.0.0.2"]
            .iter()
            .map(|s| s.parse::<IpAddr>().unwrap())
            .collect();
        assert_eq!(
            set.ipv4(),
            &[Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert_eq!(
            set.ipv6(),
            &[Ipv6Addr::LOCALHOST, "fe80::1".parse::<Ipv6Addr>().unwrap()]
        );
    }

    #[test]
    fn ucarp_vector_digest() {
        let key: AuthKey = "secret".parse().unwrap();
        let auth = Auth::new(
            &key,
            VipSet::new([IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100))]),
        );
        let md = auth.digest(1, 0xc5a7_b313_62fc_34fc);
        assert_eq!(hex::encode(md), "070a441a588d0d91b2e88f3566a757c2f970823a");
        assert!(auth.verify(1, 0xc5a7_b313_62fc_34fc, &md));
        assert!(!auth.verify(2, 0xc5a7_b313_62fc_34fc, &md));
    }
}
