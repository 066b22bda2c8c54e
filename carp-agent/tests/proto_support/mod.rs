//! Shared fixtures for the proto_* integration tests.
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};

use carp_agent::proto::{Auth, AuthKey, VipSet};

/// The frame captured from ucarp 1.5.2 (docs/protocol.md): vhid 1, password
/// `secret`, VIP 10.99.0.100, source 10.99.0.1, advbase 1, advskew 0.
pub const UCARP_FRAME: &str = "01005e000012 00005e000001 0800 \
    4510 0038 8d9b 4000 ff70 0334 0a630001 e0000012 \
    2101 0007 0001 a0cc c5a7b31362fc34fc 070a441a588d0d91b2e88f3566a757c2f970823a";

pub const UCARP_COUNTER: u64 = 0xc5a7_b313_62fc_34fc;
pub const UCARP_SRC: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
pub const UCARP_VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);

pub fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    hex::decode(digits).expect("fixture is valid hex")
}

pub fn ucarp_frame() -> Vec<u8> {
    unhex(UCARP_FRAME)
}

pub fn auth(password: &str, vips: &[IpAddr]) -> Auth {
    let key = AuthKey::from_password(password.as_bytes()).expect("short password");
    Auth::new(&key, VipSet::new(vips.iter().copied()))
}

pub fn ucarp_auth() -> Auth {
    auth("secret", &[IpAddr::V4(UCARP_VIP)])
}
