//! Arbitrary bytes as an Ethernet frame, an IP packet and a CARP header;
//! the checks are in `carp_agent::fuzzing::decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    carp_agent::fuzzing::decode(data);
});
