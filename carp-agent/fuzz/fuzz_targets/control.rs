//! Arbitrary bytes as a control-socket request line (the agent's side) and
//! response line (the CLI's side); the checks are in
//! `carp_agent::fuzzing::control`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    carp_agent::fuzzing::control(data);
});
