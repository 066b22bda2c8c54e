//! Shared fixtures for the proto_* integration tests.
// Each test crate includes this module and uses only part of it.
#![allow(dead_code, unused_imports)]

use std::net::IpAddr;

use carp_agent::proto::{Auth, AuthKey, VipSet};
pub use carp_agent::testdata::ucarp::{
    COUNTER as UCARP_COUNTER, SRC as UCARP_SRC, VIP as UCARP_VIP, frame as ucarp_frame,
};

pub fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    hex::decode(digits).expect("fixture is valid hex")
}

pub fn auth(password: &str, vips: &[IpAddr]) -> Auth {
    let key = AuthKey::from_password(password.as_bytes()).expect("short password");
    Auth::new(&key, VipSet::new(vips.iter().copied()))
}

pub fn ucarp_auth() -> Auth {
    auth(
        carp_agent::testdata::ucarp::PASSWORD,
        &[IpAddr::V4(UCARP_VIP)],
    )
}
