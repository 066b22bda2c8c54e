//! End-to-end: `carp-agent run --metrics-listen` in the lab, scraped over
//! the lab network from the client's namespace with a plain HTTP GET, the
//! exposition checked by a strict parser.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::{
    collections::BTreeMap,
    io::{Read as _, Write as _},
    net::TcpStream,
    time::{Duration, Instant},
};

use carp_tests::{
    lab::{Lab, PASSWORD, vhid1_args},
    privileges::require_root,
};

/// The port the docs use as the example.
const PORT: u16 = 9709;

/// One HTTP exchange: the status code, the headers (lower-case names) and
/// the body, read until the server closes.
struct HttpResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

fn get(lab: &Lab, addr: &str, path: &str) -> HttpResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    let raw = lab.client.enter(|| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        raw
    });
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: BTreeMap<String, String> = lines
        .map(|l| {
            let (name, value) = l.split_once(": ").unwrap();
            (name.to_ascii_lowercase(), value.to_string())
        })
        .collect();
    assert_eq!(
        headers["content-length"].parse::<usize>().unwrap(),
        body.len(),
        "{raw}"
    );
    HttpResponse {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A sample: the metric name, its labels and its value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict parser of the OpenMetrics text the agent serves: every sample
/// belongs to a family announced by `# TYPE` (a counter's samples carry
/// `_total`), label values are quoted with `\\`, `\"` and `\n` escapes, and
/// the text ends with `# EOF`. Anything else is an error.
fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("does not end with # EOF")?;
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line}"))?;
            if !["counter", "gauge", "info", "unknown"].contains(&kind) {
                return Err(format!("unknown type: {line}"));
            }
            if types.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(format!("family announced twice: {line}"));
            }
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with('#') {
            return Err(format!("unexpected comment: {line}"));
        }
        let sample = parse_sample(line)?;
        let family = match sample.name.strip_suffix("_total") {
            Some(base) if types.get(base).is_some_and(|t| t == "counter") => base,
            _ => sample.name.as_str(),
        };
        match types.get(family).map(String::as_str) {
            Some("counter") if family == sample.name => {
                return Err(format!("counter sample without _total: {line}"));
            }
            Some(_) => {}
            None => return Err(format!("sample of no announced family: {line}")),
        }
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line}"))?;
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return Err(format!("bad metric name: {line}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().ok_or(format!("unclosed labels: {line}"))?;
            match c {
                '}' if key.is_empty() => {
                    rest = &after[i + 1..];
                    break;
                }
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return Err(format!("unquoted label value: {line}"));
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next().ok_or(format!("unclosed value: {line}"))?.1 {
                            '"' => break,
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('\\') => value.push('\\'),
                                Some('"') => value.push('"'),
                                Some('n') => value.push('\n'),
                                _ => return Err(format!("bad escape: {line}")),
                            },
                            c => value.push(c),
                        }
                    }
                    if labels.insert(std::mem::take(&mut key), value).is_some() {
                        return Err(format!("label twice: {line}"));
                    }
                    match chars.next().map(|(_, c)| c) {
                        Some(',') => {}
                        Some('}') => {
                            let (j, _) = chars.next().ok_or(format!("no value: {line}"))?;
                            rest = &after[j..];
                            break;
                        }
                        _ => return Err(format!("bad label list: {line}")),
                    }
                }
                c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                _ => return Err(format!("bad label name: {line}")),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or(format!("no space before the value: {line}"))?;
    let value: f64 = value
        .parse()
        .map_err(|_| format!("bad value {value:?}: {line}"))?;
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The value of the one sample named `name` whose labels include `labels`.
fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .collect();
    assert_eq!(matching.len(), 1, "{name} {labels:?}: {matching:?}");
    matching[0].value
}

fn scrape(lab: &Lab, addr: &str) -> Vec<Sample> {
    let response = get(lab, addr, "/metrics");
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response.headers["content-type"].starts_with("application/openmetrics-text"),
        "{:?}",
        response.headers
    );
    assert!(
        !response.body.contains(PASSWORD),
        "the password is in the scrape"
    );
    parse_exposition(&response.body).unwrap_or_else(|e| panic!("{e}\n{}", response.body))
}

/// Scrapes until `name{labels}` exceeds `above`, for up to `within`.
fn wait_above(
    lab: &Lab,
    addr: &str,
    name: &str,
    labels: &[(&str, &str)],
    above: f64,
    within: Duration,
) -> f64 {
    let start = Instant::now();
    loop {
        let value = find(&scrape(lab, addr), name, labels);
        if value > above {
            return value;
        }
        assert!(
            start.elapsed() < within,
            "{name} {labels:?} stayed at {value} for {within:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn master_and_backup_are_scraped_with_keepalived_state_numbers_and_growing_counters() {
    if !require_root("e2e metrics") {
        return;
    }
    let mut lab = Lab::new("em", 2).unwrap();
    let addrs: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("{}:{PORT}", h.addr))
        .collect();
    for (i, advskew) in [(0, "0"), (1, "100")] {
        let mut args = vhid1_args(advskew, false);
        args.extend(["--metrics-listen".to_string(), addrs[i].clone()]);
        lab.start_agent(i, &args).unwrap();
    }
    lab.wait_state(0, 1, "MASTER", Duration::from_secs(10))
        .unwrap();
    lab.wait_state(1, 1, "BACKUP", Duration::from_secs(10))
        .unwrap();
    let vhid = [("interface", "eth0"), ("vhid", "1")];

    let master = scrape(&lab, &addrs[0]);
    let backup = scrape(&lab, &addrs[1]);
    assert_eq!(find(&master, "carp_vhid_state", &vhid), 2.0);
    assert_eq!(find(&backup, "carp_vhid_state", &vhid), 1.0);
    let entered_master = [("interface", "eth0"), ("vhid", "1"), ("state", "MASTER")];
    assert!(find(&master, "carp_vhid_transitions_total", &entered_master) >= 1.0);
    assert_eq!(
        find(&backup, "carp_vhid_transitions_total", &entered_master),
        0.0
    );
    assert_eq!(find(&backup, "carp_vhid_advskew", &vhid), 100.0);
    assert_eq!(find(&master, "carp_demotion", &[]), 0.0);
    assert_eq!(find(&master, "carp_xdp_counters_readable", &[]), 1.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        find(&master, "carp_agent_info", &[("version", version)]),
        1.0
    );

    // The master advertises once a second; the backup hears it, and its
    // XDP program queues each advert.
    let sent = [("interface", "eth0"), ("vhid", "1"), ("family", "ipv4")];
    let sent_before = find(&master, "carp_vhid_adverts_sent_total", &sent);
    let heard_before = find(&backup, "carp_vhid_adverts_received_total", &vhid);
    let queued_before = find(&backup, "carp_xdp_adverts_total", &[]);
    let within = Duration::from_secs(15);
    wait_above(
        &lab,
        &addrs[0],
        "carp_vhid_adverts_sent_total",
        &sent,
        sent_before,
        within,
    );
    wait_above(
        &lab,
        &addrs[1],
        "carp_vhid_adverts_received_total",
        &vhid,
        heard_before,
        within,
    );
    wait_above(
        &lab,
        &addrs[1],
        "carp_xdp_adverts_total",
        &[],
        queued_before,
        within,
    );
    let agent_sent = find(&scrape(&lab, &addrs[0]), "carp_agent_opackets_total", &[]);
    assert!(agent_sent > sent_before, "{agent_sent} <= {sent_before}");

    for path in ["/", "/metrics/extra", "/debug"] {
        let response = get(&lab, &addrs[0], path);
        assert_eq!(response.status, 404, "{path}: {}", response.body);
    }
}

#[test]
fn an_address_that_cannot_be_bound_stops_the_agent_before_it_changes_anything() {
    if !require_root("e2e metrics bind") {
        return;
    }
    let mut lab = Lab::new("eb", 1).unwrap();
    // Not an address of the host: EADDRNOTAVAIL.
    let addr = "10.99.0.1:9709";
    let mut args = vhid1_args("0", false);
    args.extend(["--metrics-listen".to_string(), addr.to_string()]);
    lab.start_agent(0, &args).unwrap();
    let status = lab.wait_exit(0, Duration::from_secs(20)).unwrap();
    assert!(!status.success());
    let log = lab.log(0);
    assert!(
        log.contains(&format!("metrics listener on {addr}: ")),
        "{log}"
    );
    // Nothing was attached: the XDP slot of eth0 is free.
    let out = lab.hosts[0]
        .ns
        .ip(&["link", "show", "dev", "eth0"])
        .unwrap();
    let link = String::from_utf8_lossy(&out.stdout);
    assert!(!link.contains("xdp"), "{link}");
}

#[test]
fn the_parser_is_strict() {
    let good = "# TYPE a counter\n# HELP a x.\na_total{l=\"q\\\"\\\\\\n\"} 3\n# TYPE g gauge\ng 1\n# EOF\n";
    let samples = parse_exposition(good).unwrap();
    assert_eq!(samples[0].labels["l"], "q\"\\\n");
    assert_eq!(samples[1].value, 1.0);
    for bad in [
        "# TYPE a counter\na_total 1\n",                // no EOF
        "a 1\n# EOF\n",                                 // no TYPE
        "# TYPE a counter\na 1\n# EOF\n",               // counter without _total
        "# TYPE g gauge\ng{l=q} 1\n# EOF\n",            // unquoted
        "# TYPE g gauge\ng{l=\"q\"  1\n# EOF\n",        // unclosed
        "# TYPE g gauge\ng one\n# EOF\n",               // not a number
        "# TYPE g gauge\n# TYPE g gauge\ng 1\n# EOF\n", // twice
        "# TYPE g gauge\ng{l=\"\\x\"} 1\n# EOF\n",      // bad escape
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad:?}");
    }
}
