//! Entry points of the fuzz targets (`carp-agent/fuzz`), one per target.
//!
//! Each takes the fuzzer's bytes, feeds them to the same code the agent runs
//! on outside input, and checks what must hold for every input: a panic here
//! (including a failed `assert!`) is a finding. The fuzz targets call these
//! and nothing else, and `tests/fuzz_seeds.rs` runs the checked-in seed
//! corpus through them, so a finding once fixed stays a regression test.
//! See docs/fuzzing.md.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::Path,
};

use crate::{
    config::{Config, ConfigError},
    control::{
        ErrorKind, Request, RequestError, Response, ResponseError, decode_request_bytes,
        decode_response_bytes, encode_request, encode_response,
    },
    proto::{
        Advertisement, Auth, AuthKey, CarpPacket, DecodeError, VipSet, decode_frame, decode_ip,
    },
};

/// What [`decode`] made of its input, for the seed test to look at.
#[derive(Debug)]
pub struct DecodeOutcome {
    /// The input as an Ethernet frame.
    pub frame: Result<CarpPacket, DecodeError>,
    /// The input as a bare IP packet.
    pub ip: Result<CarpPacket, DecodeError>,
    /// The input as a bare 36-byte CARP header.
    pub advert: Result<Advertisement, DecodeError>,
}

/// Target `decode`: the bytes as a frame, an IP packet and a CARP header.
/// Whatever decodes must re-encode to itself and pass through HMAC checking;
/// whatever does not must name its carpstats counter.
pub fn decode(data: &[u8]) -> DecodeOutcome {
    let outcome = DecodeOutcome {
        frame: decode_frame(data),
        ip: decode_ip(data),
        advert: Advertisement::decode(data),
    };
    for result in [&outcome.frame, &outcome.ip] {
        match result {
            Ok(packet) => {
                assert_eq!(packet.ttl, 255, "a decoded advert had TTL {}", packet.ttl);
                check_advert(&packet.advert);
                // The HMAC path; either answer is fine.
                let _ = packet.advert.authenticate(&fuzz_auth());
            }
            Err(err) => check_decode_error(err),
        }
    }
    match &outcome.advert {
        Ok(advert) => check_advert(advert),
        Err(err) => check_decode_error(err),
    }
    outcome
}

fn fuzz_auth() -> Auth {
    // "secret" is a valid password: the error branch cannot happen.
    let key = AuthKey::from_password(b"secret").unwrap_or_else(|err| panic!("{err}"));
    Auth::new(
        &key,
        VipSet::new([IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100))]),
    )
}

fn check_advert(advert: &Advertisement) {
    assert_eq!(
        Advertisement::decode(&advert.encode()).as_ref(),
        Ok(advert),
        "a decoded advert does not survive re-encoding"
    );
}

fn check_decode_error(err: &DecodeError) {
    assert!(!err.counter_name().is_empty(), "{err:?} has no counter");
    assert!(!err.to_string().is_empty(), "{err:?} has no message");
}

/// Where [`config`] says its text comes from (errors name it; a relative
/// `password_file` is read from its directory, which does not exist).
pub const CONFIG_ORIGIN: &str = "/nonexistent/carp-agent-fuzz/carp.toml";

/// Target `config`: the bytes as the text of a `--config` file, through the
/// parser and checks `run` uses. `None` when the bytes are not UTF-8 (the
/// file reader refuses those before parsing).
///
/// Checks that an error never shows a password: for every line of the form
/// `password = "WORD"` (WORD of 6 or more ASCII letters and digits, found
/// once in the text) the error message may contain WORD only if it still
/// does with WORD replaced by another word of the same length.
pub fn config(data: &[u8]) -> Option<Result<Config, ConfigError>> {
    let text = std::str::from_utf8(data).ok()?;
    let result = parse_config(text);
    match &result {
        Ok(config) => assert!(
            config.validate().is_ok(),
            "an accepted configuration fails validation"
        ),
        Err(err) => {
            let message = err.to_string();
            assert!(!message.is_empty(), "{err:?} has no message");
            for password in plain_passwords(text) {
                if message.contains(password) {
                    let other = text.replace(password, &rotate(password));
                    let other_message = match parse_config(&other) {
                        Ok(_) => String::new(),
                        Err(err) => err.to_string(),
                    };
                    assert!(
                        other_message.contains(password),
                        "the error shows the password {password:?}: {message}"
                    );
                }
            }
        }
    }
    Some(result)
}

fn parse_config(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new(CONFIG_ORIGIN))
}

/// The WORDs of `password = "WORD"` lines that [`config`] checks. Texts
/// with multi-line strings are left out: such a line may be inside one, and
/// then it is text, not a password.
fn plain_passwords(text: &str) -> Vec<&str> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return Vec::new();
    }
    text.lines()
        .filter_map(|line| {
            let value = line.trim().strip_prefix("password")?.trim_start();
            let value = value.strip_prefix('=')?.trim();
            let word = value.strip_prefix('"')?.strip_suffix('"')?;
            let plain = word.len() >= 6 && word.bytes().all(|b| b.is_ascii_alphanumeric());
            (plain && text.matches(word).count() == 1).then_some(word)
        })
        .collect()
}

/// Another word of the same length and character classes.
fn rotate(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            c => char::from(c as u8 + 1),
        })
        .collect()
}

/// What [`control`] made of its input, for the seed test to look at.
#[derive(Debug)]
pub struct ControlOutcome {
    /// The input as a request, as the agent reads it from a client.
    pub request: Result<Request, RequestError>,
    /// The input as a response, as the CLI reads it from the agent.
    pub response: Result<Response, ResponseError>,
}

/// Target `control`: the bytes as a request line the agent receives (up to
/// and with the first newline, as it reads them) and as a response line the
/// CLI receives. A request that decodes must survive re-encoding; one that
/// does not must get an error line the CLI can read, of the right kind; a
/// response that decodes must survive re-encoding.
pub fn control(data: &[u8]) -> ControlOutcome {
    let line = data
        .split_inclusive(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let request = decode_request_bytes(line);
    match &request {
        Ok(req) => {
            let again = decode_request_bytes(encode_request(req).as_bytes());
            assert_eq!(again.as_ref().ok(), Some(req), "{again:?}");
        }
        Err(err) => check_refusal(err),
    }
    let response = decode_response_bytes(line);
    if let Ok(resp) = &response {
        let again = decode_response_bytes(encode_response(resp).as_bytes());
        assert_eq!(again.as_ref().ok(), Some(resp), "{again:?}");
    }
    ControlOutcome { request, response }
}

/// The agent's answer to a bad request is one line the CLI reads as the
/// error it is.
fn check_refusal(err: &RequestError) {
    let line = err.response_line();
    assert!(
        line.ends_with('\n') && line.matches('\n').count() == 1,
        "not one line: {line:?}"
    );
    match (err, decode_response_bytes(line.as_bytes())) {
        (RequestError::Unversioned, Err(ResponseError::Version(0))) => {}
        (RequestError::Version(_), Ok(Response::Error(body))) => {
            assert_eq!(body.kind, ErrorKind::UnsupportedVersion);
        }
        (RequestError::Bad(_), Ok(Response::Error(body))) => {
            assert_eq!(body.kind, ErrorKind::BadRequest);
            assert_eq!(body.message, err.to_string());
        }
        (err, read) => panic!("the CLI reads the answer to {err:?} as {read:?}"),
    }
}
