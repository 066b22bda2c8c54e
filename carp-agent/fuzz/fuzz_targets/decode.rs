//! Arbitrary bytes through every decoder: nothing may panic, and whatever is
//! accepted must survive re-encoding.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use carp_agent::proto::{Advertisement, Auth, AuthKey, VipSet, decode_frame, decode_ip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let auth = Auth::new(
        &AuthKey::from_password(b"secret").unwrap(),
        VipSet::new([IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100))]),
    );
    for result in [decode_frame(data), decode_ip(data)] {
        match result {
            Ok(packet) => {
                assert_eq!(packet.ttl, 255);
                let advert = packet.advert;
                assert_eq!(Advertisement::decode(&advert.encode()), Ok(advert));
                // Exercise the HMAC path; either answer is fine.
                let _ = advert.authenticate(&auth);
            }
            Err(err) => {
                assert!(!err.counter_name().is_empty());
                assert!(!err.to_string().is_empty());
            }
        }
    }
    if let Ok(advert) = Advertisement::decode(data) {
        assert_eq!(Advertisement::decode(&advert.encode()), Ok(advert));
    }
});
