//! Arbitrary bytes as the text of a `--config` TOML file; the checks are in
//! `carp_agent::fuzzing::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    carp_agent::fuzzing::config(data);
});
