//! The fuzz targets' seed corpus (carp-agent/fuzz/seeds/TARGET/) through the
//! targets' own entry functions, on every `cargo test`: each input that
//! once mattered to a fuzzer (a valid example, a reproducer of a fixed bug)
//! keeps passing the checks fuzzing makes, and gives the kind of result
//! expected of it. See docs/fuzzing.md.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::path::{Path, PathBuf};

use carp_agent::{
    config::ConfigError,
    control::{ErrorKind, Request, RequestError, Response, ResponseError},
    fuzzing,
    proto::DecodeError,
};

/// Every seed of `target`, by file name, sorted.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "{}: no seeds; the corpus is part of the tests",
        dir.display()
    );
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// A decode error names a carpstats-style counter the agent keeps.
fn assert_named(err: &DecodeError, seed: &str) {
    const COUNTERS: [&str; 8] = [
        "hdrops", "badttl", "badlen", "badver", "badsum", "badauth", "notcarp", "fragment",
    ];
    let counter = err.counter_name();
    assert!(
        COUNTERS.contains(&counter),
        "{seed}: {err:?} counts as {counter:?}"
    );
    assert!(!err.to_string().is_empty(), "{seed}: {err:?}");
}

#[test]
fn decode_seeds() {
    let mut decoded = 0;
    for (name, data) in seeds("decode") {
        let outcome = fuzzing::decode(&data);
        for result in [&outcome.frame, &outcome.ip] {
            match result {
                Ok(packet) => {
                    assert_eq!(packet.ttl, 255, "{name}");
                    decoded += 1;
                }
                Err(err) => assert_named(err, &name),
            }
        }
        match &outcome.advert {
            Ok(_) => decoded += 1,
            Err(err) => assert_named(err, &name),
        }
    }
    // The valid adverts of the corpus (ucarp's capture, IPv6, VLAN) decode.
    assert!(decoded >= 5, "only {decoded} decodes");
}

/// The ucarp capture decodes to the advert the protocol docs describe.
#[test]
fn decode_seed_ucarp_frame() {
    let data = seeds("decode")
        .into_iter()
        .find(|(name, _)| name == "ucarp_frame")
        .unwrap()
        .1;
    let packet = fuzzing::decode(&data).frame.unwrap();
    assert_eq!(packet.advert.vhid, carp_agent::testdata::ucarp::VHID);
    assert_eq!(packet.advert.counter, carp_agent::testdata::ucarp::COUNTER);
}

#[test]
fn config_seeds() {
    let mut accepted = 0;
    for (name, data) in seeds("config") {
        let Some(result) = fuzzing::config(&data) else {
            continue; // not UTF-8: refused before parsing
        };
        match result {
            Ok(config) => {
                assert!(!config.vhids.is_empty(), "{name}");
                accepted += 1;
            }
            Err(err) => {
                let message = err.to_string();
                assert!(
                    message.starts_with(fuzzing::CONFIG_ORIGIN),
                    "{name}: the error does not name the file: {message}"
                );
                assert!(matches!(err, ConfigError::File { .. }), "{name}: {err:?}");
            }
        }
    }
    // The sample file and the other valid examples are accepted.
    assert!(accepted >= 3, "only {accepted} configurations accepted");
}

/// Fuzzing found that a syntax error on a password line put the password
/// in the message: the toml crate's report quotes the line.
#[test]
fn config_error_never_quotes_the_password_line() {
    let text = "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npassword = \"hunter2pass\" x\n\
                vips = [\"192.168.1.50/24\"]\n";
    let err = fuzzing::config(text.as_bytes()).unwrap().unwrap_err();
    let message = err.to_string();
    assert!(!message.contains("hunter2pass"), "{message}");
    assert!(
        message.contains("TOML parse error at line 4, column 26"),
        "{message}"
    );
}

#[test]
fn control_seeds() {
    let mut requests = 0;
    let mut responses = 0;
    for (name, data) in seeds("control") {
        let outcome = fuzzing::control(&data);
        match outcome.request {
            Ok(
                Request::Status
                | Request::Demote { .. }
                | Request::SetDemotion { .. }
                | Request::Reload
                | Request::Events,
            ) => {
                requests += 1;
            }
            Ok(Request::SetState { vhid, .. }) => {
                assert_ne!(vhid, 0, "{name}");
                requests += 1;
            }
            Err(RequestError::Unversioned | RequestError::Version(_)) => {}
            Err(RequestError::Bad(why)) => assert!(!why.is_empty(), "{name}"),
        }
        match outcome.response {
            Ok(Response::Ok(_)) => responses += 1,
            Ok(Response::Error(body)) => {
                assert!(!body.message.is_empty(), "{name}");
                if body.kind == ErrorKind::Other {
                    assert!(name.contains("unknown_kind"), "{name}: {body:?}");
                }
                responses += 1;
            }
            Err(ResponseError::Version(_)) => {}
            Err(ResponseError::Malformed(why)) => assert!(!why.is_empty(), "{name}"),
        }
    }
    // Every operation and both results are in the corpus.
    assert!(requests >= 4, "only {requests} requests");
    assert!(responses >= 3, "only {responses} responses");
}

/// A password file that never ends (`/dev/zero`) was read until memory ran
/// out; now the read stops after a bound and says why.
#[test]
fn endless_password_file_is_refused() {
    let text = "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npassword_file = \"/dev/zero\"\n\
                vips = [\"192.168.1.50/24\"]\n";
    let err = fuzzing::config(text.as_bytes()).unwrap().unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("password_file: /dev/zero is larger than 1024 bytes"),
        "{message}"
    );
}
