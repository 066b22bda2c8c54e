//! CARP authentication: the password key, the virtual address set, and the
//! HMAC-SHA1 over them that every advertisement carries.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

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

    /// Builds the key from the contents of a password file: one line ending,
    /// `\n` or `\r\n`, is dropped, because editors and `echo` add one;
    /// every other byte is the password, a lone trailing `\r` included. The
    /// agent (`run`) and the troubleshooting tool (`decode`) both read files
    /// through this, so `decode` checks adverts with the agent's own key.
    pub fn from_password_file(contents: &[u8]) -> Result<Self, PasswordError> {
        let password = contents
            .strip_suffix(b"\r\n")
            .or_else(|| contents.strip_suffix(b"\n"))
            .unwrap_or(contents);
        AuthKey::from_password(password)
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

    /// Whether an IPv6 VIP is link-local (the only scope-embedded unicast
    /// kind), which makes the two digest forms differ.
    pub fn has_link_local(&self) -> bool {
        self.ipv6.iter().any(is_link_local)
    }
}

/// fe80::/10: the addresses the BSD kernels store with a scope embedded.
fn is_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
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

/// Whether a digest covers the vhid's link-local IPv6 VIPs.
///
/// FreeBSD (and OpenBSD's original context) hash every VIP, link-local ones
/// with the scope zeroed. OpenBSD sends digests from a second context that
/// leaves every scope-embedded (link-local) address out, and accepts either.
/// With no link-local VIP the two forms are the same digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LinkLocalVips {
    /// Link-local VIPs are hashed (FreeBSD, ucarp).
    #[default]
    Included,
    /// Link-local VIPs are left out (what OpenBSD sends).
    Omitted,
}

/// Computes and checks advertisement digests for one key and address set.
///
/// The HMAC message is `02 01 vhid`, the IPv4 addresses, the IPv6 addresses,
/// then the 8 counter bytes; advskew, advbase and demote are not covered.
/// Digests are made in the form set by [`Auth::sending`] and accepted in
/// either form, as OpenBSD does: both are keyed, so accepting both weakens
/// nothing.
#[derive(Clone)]
pub struct Auth {
    /// HMAC state with the key already absorbed; cloned for every digest.
    keyed: Hmac<Sha1>,
    /// The key itself, for the XDP program's precomputed state
    /// ([`Auth::xdp_key_state`]).
    key: AuthKey,
    vips: VipSet,
    send: LinkLocalVips,
}

impl Auth {
    pub fn new(key: &AuthKey, vips: VipSet) -> Self {
        let keyed =
            Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        Auth {
            keyed,
            key: key.clone(),
            vips,
            send: LinkLocalVips::Included,
        }
    }

    /// Makes digests in `form` (OpenBSD peers: [`LinkLocalVips::Omitted`]).
    pub fn sending(mut self, form: LinkLocalVips) -> Self {
        self.send = form;
        self
    }

    pub fn vips(&self) -> &VipSet {
        &self.vips
    }

    /// The digest an advertisement for `vhid` with `counter` carries when
    /// this host sends it.
    pub fn digest(&self, vhid: u8, counter: u64) -> [u8; MD_LEN] {
        self.digest_in(self.send, vhid, counter)
    }

    /// The digest in a given form.
    pub fn digest_in(&self, form: LinkLocalVips, vhid: u8, counter: u64) -> [u8; MD_LEN] {
        self.message(form, vhid, counter)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Whether `md` is a right digest in either form, compared in constant time.
    pub fn verify(&self, vhid: u8, counter: u64, md: &[u8; MD_LEN]) -> bool {
        self.verify_form(vhid, counter, md).is_some()
    }

    /// The form in which `md` is right, if it is.
    pub fn verify_form(&self, vhid: u8, counter: u64, md: &[u8; MD_LEN]) -> Option<LinkLocalVips> {
        let forms: &[LinkLocalVips] = if self.vips.has_link_local() {
            &[LinkLocalVips::Included, LinkLocalVips::Omitted]
        } else {
            &[LinkLocalVips::Included]
        };
        forms
            .iter()
            .copied()
            .find(|&form| self.message(form, vhid, counter).verify_slice(md).is_ok())
    }

    fn message(&self, form: LinkLocalVips, vhid: u8, counter: u64) -> Hmac<Sha1> {
        let mut mac = self.keyed.clone();
        mac.update(&self.message_head(form, vhid));
        mac.update(&counter.to_be_bytes());
        mac
    }

    /// The HMAC message up to the counter: `02 01 vhid` and the VIPs.
    fn message_head(&self, form: LinkLocalVips, vhid: u8) -> Vec<u8> {
        let mut head = vec![
            super::advert::VERSION,
            super::advert::TYPE_ADVERTISEMENT,
            vhid,
        ];
        for addr in &self.vips.ipv4 {
            head.extend_from_slice(&addr.octets());
        }
        for addr in &self.vips.ipv6 {
            if form == LinkLocalVips::Omitted && is_link_local(addr) {
                continue;
            }
            head.extend_from_slice(&addr.octets());
        }
        head
    }

    /// What the XDP program needs to check digests for `vhid` itself: the
    /// SHA-1 states after the key's inner and outer blocks and after every
    /// message block without a counter byte, and the message's rest as a
    /// template (see [`XdpDigestForm`]). One form, or two when link-local
    /// VIPs make the FreeBSD and OpenBSD digests differ. Pure: the same
    /// key, VIPs and vhid give the same state.
    pub fn xdp_key_state(&self, vhid: u8) -> XdpKeyState {
        let pad = |byte: u8| {
            let mut block = [byte; SHA1_BLOCK];
            for (b, k) in block.iter_mut().zip(self.key.as_bytes()) {
                *b ^= k;
            }
            block
        };
        let outer = sha1_blocks(SHA1_IV, &pad(OPAD));
        let ipad = pad(IPAD);
        let mut forms = vec![LinkLocalVips::Included];
        if self.vips.has_link_local() {
            forms.push(LinkLocalVips::Omitted);
        }
        let forms = forms
            .into_iter()
            .map(|form| XdpDigestForm::new(form, &ipad, &self.message_head(form, vhid)))
            .collect();
        XdpKeyState { outer, forms }
    }
}

/// SHA-1's block size in bytes.
const SHA1_BLOCK: usize = 64;
/// SHA-1's initial state (FIPS 180-4 5.3.1).
const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
/// HMAC's inner and outer pad bytes (RFC 2104).
const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;
/// Words of an [`XdpDigestForm`] tail: two blocks.
pub const XDP_TAIL_WORDS: usize = 32;

/// `state` after compressing `bytes`, a whole number of blocks.
fn sha1_blocks(mut state: [u32; 5], bytes: &[u8]) -> [u32; 5] {
    let blocks: Vec<_> = bytes
        .chunks_exact(SHA1_BLOCK)
        .map(sha1::digest::generic_array::GenericArray::clone_from_slice)
        .collect();
    sha1::compress(&mut state, &blocks);
    state
}

/// The HMAC key state the XDP program checks digests with
/// ([`Auth::xdp_key_state`]).
#[derive(Clone, PartialEq, Eq)]
pub struct XdpKeyState {
    /// SHA-1 state after the key^opad block.
    pub outer: [u32; 5],
    /// One or two digest forms.
    pub forms: Vec<XdpDigestForm>,
}

// Key-derived state: never printed.
impl fmt::Debug for XdpKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XdpKeyState(<redacted>, {} forms)", self.forms.len())
    }
}

/// One digest form of [`XdpKeyState`]: the inner hash up to its last two
/// blocks, and those two blocks as big-endian words with the 8 counter
/// bytes zero.
///
/// The inner hash's input is the key^ipad block, the message head (`02 01
/// vhid` plus 4- and 16-byte VIPs), the counter and SHA-1 padding: at least
/// two blocks, and the counter (followed by at least 9 padding bytes) always
/// lies in the last two. Always two, even when one would do, so that the
/// XDP program runs the same three compressions for every vhid: a branch
/// there would double the paths the verifier walks. The head is 3 bytes
/// past a multiple of 4, so the counter always starts at the last byte of
/// word `counter_word` and fills the next word and the first three bytes of
/// the one after (whose last byte is SHA-1's `0x80` padding).
#[derive(Clone, PartialEq, Eq)]
pub struct XdpDigestForm {
    pub form: LinkLocalVips,
    /// SHA-1 state before the last two blocks.
    pub inner: [u32; 5],
    /// Blocks in `tail`: always 2.
    pub blocks: u8,
    /// The word holding the counter's first byte (its last byte).
    pub counter_word: u8,
    /// The last two blocks, big-endian words.
    pub tail: [u32; XDP_TAIL_WORDS],
}

impl XdpDigestForm {
    fn new(form: LinkLocalVips, ipad: &[u8; SHA1_BLOCK], head: &[u8]) -> Self {
        let mut input = ipad.to_vec();
        input.extend_from_slice(head);
        let counter_at = input.len();
        input.extend_from_slice(&[0; 8]);
        let bits = (input.len() * 8) as u64;
        input.push(0x80);
        while input.len() % SHA1_BLOCK != SHA1_BLOCK - 8 {
            input.push(0);
        }
        input.extend_from_slice(&bits.to_be_bytes());
        // At least the ipad block and one more.
        let tail_at = input.len() - 2 * SHA1_BLOCK;
        let inner = sha1_blocks(SHA1_IV, &input[..tail_at]);
        let mut words = [0; XDP_TAIL_WORDS];
        for (word, bytes) in words.iter_mut().zip(input[tail_at..].chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        XdpDigestForm {
            form,
            inner,
            blocks: 2,
            // counter_at - tail_at is at least 128 - 8 - 9 - 63 = 48 and
            // 3 more than a multiple of 4.
            counter_word: ((counter_at - tail_at) / 4) as u8,
            tail: words,
        }
    }

    /// The digest of `counter` in this form, computed as the XDP program
    /// does (tests compare it with [`Auth::digest_in`]).
    pub fn digest(&self, outer: [u32; 5], counter: u64) -> [u8; MD_LEN] {
        let mut tail = self.tail;
        let k = usize::from(self.counter_word);
        let (hi, lo) = ((counter >> 32) as u32, counter as u32);
        tail[k] |= hi >> 24;
        tail[k + 1] = hi << 8 | lo >> 24;
        tail[k + 2] |= lo << 8;
        let bytes: Vec<u8> = tail[..usize::from(self.blocks) * 16]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        let inner = sha1_blocks(self.inner, &bytes);
        let mut block = [0u8; SHA1_BLOCK];
        for (chunk, word) in block.chunks_exact_mut(4).zip(inner) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        block[20] = 0x80;
        block[56..].copy_from_slice(&(((SHA1_BLOCK + MD_LEN) * 8) as u64).to_be_bytes());
        let digest = sha1_blocks(outer, &block);
        let mut md = [0; MD_LEN];
        for (chunk, word) in md.chunks_exact_mut(4).zip(digest) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        md
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("key", &"<redacted>")
            .field("vips", &self.vips)
            .field("send", &self.send)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_drops_one_line_ending() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"secret", b"secret"),
            (b"secret\n", b"secret"),
            (b"secret\r\n", b"secret"),
            // A lone \r is no line ending on Linux: it is part of the password.
            (b"secret\r", b"secret\r"),
            (b"secret\n\n", b"secret\n"),
            (b"secret\r\n\r\n", b"secret\r\n"),
            (b"\n", b""),
        ];
        for (contents, password) in cases {
            assert_eq!(
                AuthKey::from_password_file(contents),
                AuthKey::from_password(password),
                "{contents:?}"
            );
        }
    }

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
        use crate::testdata::ucarp;
        let key: AuthKey = ucarp::PASSWORD.parse().unwrap();
        let auth = Auth::new(&key, VipSet::new([IpAddr::V4(ucarp::VIP)]));
        let md = auth.digest(ucarp::VHID, ucarp::COUNTER);
        assert_eq!(hex::encode(md), ucarp::DIGEST_HEX);
        assert!(auth.verify(ucarp::VHID, ucarp::COUNTER, &md));
        assert!(!auth.verify(ucarp::VHID + 1, ucarp::COUNTER, &md));
    }

    /// The XDP program's way (precomputed state, counter written into the
    /// template) gives `Auth`'s digests, for heads that end at every place
    /// in a block and with link-local VIPs (two forms).
    #[test]
    fn xdp_key_state_digests_equal_hmac() {
        let key: AuthKey = "secret".parse().unwrap();
        for n4 in 0..40u8 {
            for v6 in [
                vec![],
                vec!["fd00::1"],
                vec!["fe80::1", "fd00::2", "fd00::3"],
            ] {
                let mut addrs: Vec<IpAddr> = (0..n4)
                    .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
                    .collect();
                addrs.extend(v6.iter().map(|a| a.parse::<IpAddr>().unwrap()));
                if addrs.is_empty() {
                    continue;
                }
                let auth = Auth::new(&key, VipSet::new(addrs));
                let state = auth.xdp_key_state(9);
                let expected_forms = if auth.vips().has_link_local() { 2 } else { 1 };
                assert_eq!(state.forms.len(), expected_forms, "{n4} {v6:?}");
                for form in &state.forms {
                    assert_eq!(form.blocks, 2);
                    assert!(usize::from(form.counter_word) + 2 < XDP_TAIL_WORDS);
                    for counter in [0, 1, 0x0102_0304_0506_0708, u64::MAX] {
                        assert_eq!(
                            form.digest(state.outer, counter),
                            auth.digest_in(form.form, 9, counter),
                            "{n4} IPv4, {v6:?}, {:?}, counter {counter:#x}",
                            form.form
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn xdp_key_state_of_the_ucarp_vector() {
        use crate::testdata::ucarp;
        let key: AuthKey = ucarp::PASSWORD.parse().unwrap();
        let auth = Auth::new(&key, VipSet::new([IpAddr::V4(ucarp::VIP)]));
        let state = auth.xdp_key_state(ucarp::VHID);
        assert_eq!(state.forms.len(), 1);
        let md = state.forms[0].digest(state.outer, ucarp::COUNTER);
        assert_eq!(hex::encode(md), ucarp::DIGEST_HEX);
        assert!(!format!("{state:?}").contains(&format!("{:x}", state.outer[0])));
    }

    #[test]
    fn openbsd_form_leaves_link_local_vips_out_and_both_verify() {
        let key: AuthKey = "secret".parse().unwrap();
        let vips: VipSet = ["10.0.0.1", "fe80::1", "fd00::1"]
            .iter()
            .map(|s| s.parse::<IpAddr>().unwrap())
            .collect();
        let freebsd = Auth::new(&key, vips.clone());
        let openbsd = Auth::new(&key, vips).sending(LinkLocalVips::Omitted);
        let full = freebsd.digest(7, 42);
        let short = openbsd.digest(7, 42);
        assert_ne!(full, short, "fe80::1 is hashed in one form only");
        // The omitted form equals a digest over the set without fe80::1.
        let without: VipSet = ["10.0.0.1", "fd00::1"]
            .iter()
            .map(|s| s.parse::<IpAddr>().unwrap())
            .collect();
        assert_eq!(Auth::new(&key, without).digest(7, 42), short);
        for auth in [&freebsd, &openbsd] {
            assert_eq!(
                auth.verify_form(7, 42, &full),
                Some(LinkLocalVips::Included)
            );
            assert_eq!(
                auth.verify_form(7, 42, &short),
                Some(LinkLocalVips::Omitted)
            );
            assert!(!auth.verify(7, 43, &short));
        }
        // Without a link-local VIP only one form exists.
        let plain = Auth::new(&key, VipSet::new(["fd00::1".parse::<IpAddr>().unwrap()]));
        let md = plain.digest(1, 1);
        assert_eq!(
            plain.clone().sending(LinkLocalVips::Omitted).digest(1, 1),
            md
        );
        assert_eq!(plain.verify_form(1, 1, &md), Some(LinkLocalVips::Included));
    }
}
