//! `[[track]]` tables: what each tracking source watches, its weight and
//! timing, and their validation. Errors name the table (`[[track]] #2
//! "db"`), the field and the reason.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::{engine::demotion::MAX_DEMOTION, hooks::HookProgram};

/// Names reserved for the status report's own rows.
pub const RESERVED_NAMES: [&str; 2] = ["admin", "carp"];
/// Longest source name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Bounds of `interval_ms` and `timeout_ms`: a check every 10 ms at most
/// often, once an hour at least.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Largest `rise` or `fall`.
pub const MAX_RISE_FALL: u32 = 1000;
/// Default period of scripts (keepalived's `interval`, 1 s there).
pub const DEFAULT_SCRIPT_INTERVAL: Duration = Duration::from_secs(2);
/// Default period of file and route checks.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// One tracking source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSpec {
    /// Unique among the sources and the external ones (`demote --source`).
    pub name: String,
    /// Added to the demotion while the source fails (a file: multiplied by
    /// the number it holds).
    pub weight: u32,
    pub kind: TrackKind,
}

/// What a source watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackKind {
    /// An interface's carrier and operstate, from netlink notifications.
    Interface { name: String },
    /// A program run every `interval`, killed after `timeout`; `fall`
    /// failures in a row make it failing, `rise` successes in a row healthy.
    Script {
        program: HookProgram,
        interval: Duration,
        timeout: Duration,
        rise: u32,
        fall: u32,
    },
    /// A file holding a non-negative integer, read every `interval`.
    File { path: PathBuf, interval: Duration },
    /// A route to `prefix/len` in the main table, looked up every `interval`.
    Route {
        prefix: IpAddr,
        len: u8,
        interval: Duration,
    },
}

impl TrackKind {
    /// `interface`, `script`, `file` or `route`, as in the status report.
    pub fn label(&self) -> &'static str {
        match self {
            TrackKind::Interface { .. } => "interface",
            TrackKind::Script { .. } => "script",
            TrackKind::File { .. } => "file",
            TrackKind::Route { .. } => "route",
        }
    }
}

/// A `[[track]]` table as written. Numbers are read as i64, so that a
/// negative or huge value gets this module's error naming the source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTrack {
    name: String,
    weight: i64,
    interface: Option<String>,
    command: Option<Vec<String>>,
    shell: Option<String>,
    file: Option<PathBuf>,
    route: Option<String>,
    interval_ms: Option<i64>,
    timeout_ms: Option<i64>,
    rise: Option<i64>,
    fall: Option<i64>,
}

/// A `[[track]]` table the agent refuses.
#[derive(Debug, thiserror::Error)]
#[error("[[track]] #{} {name:?}: {field}: {reason}", index + 1)]
pub struct TrackConfigError {
    /// Position of the table, 0-based.
    pub index: usize,
    pub name: String,
    pub field: &'static str,
    pub reason: String,
}

/// Converts and checks every `[[track]]` table; `base` anchors relative
/// `file` paths (the configuration file's directory).
pub fn from_file(tables: Vec<FileTrack>, base: &Path) -> Result<Vec<TrackSpec>, TrackConfigError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut specs = Vec::with_capacity(tables.len());
    for (index, table) in tables.into_iter().enumerate() {
        let spec = build(table, index, base)?;
        if let Some(first) = seen.insert(spec.name.clone(), index) {
            return Err(TrackConfigError {
                index,
                name: spec.name,
                field: "name",
                reason: format!(
                    "already used by [[track]] #{}; names must be unique",
                    first + 1
                ),
            });
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Checks a source name (also those of `demote --source`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!("must be 1 to {MAX_NAME_BYTES} bytes"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:/@".contains(c);
    if !name.chars().all(ok) {
        return Err("may hold only ASCII letters, digits and - _ . : / @".to_string());
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "{name:?} is reserved (the status report's row for {})",
            if name == "admin" {
                "the administrative demotion"
            } else {
                "link-down and send-error demotion"
            }
        ));
    }
    Ok(())
}

fn build(t: FileTrack, index: usize, base: &Path) -> Result<TrackSpec, TrackConfigError> {
    let name = t.name.clone();
    let fail = |field: &'static str, reason: String| TrackConfigError {
        index,
        name: name.clone(),
        field,
        reason,
    };
    check_name(&t.name).map_err(|reason| fail("name", reason))?;
    let weight = u32::try_from(t.weight)
        .ok()
        .filter(|w| (1..=MAX_DEMOTION).contains(w))
        .ok_or_else(|| {
            fail(
                "weight",
                format!(
                    "{} is out of range 1..={MAX_DEMOTION} (the demotion added while the \
                     source fails; CARP has no negative demotion)",
                    t.weight
                ),
            )
        })?;
    let given: Vec<&'static str> = [
        ("interface", t.interface.is_some()),
        ("command", t.command.is_some()),
        ("shell", t.shell.is_some()),
        ("file", t.file.is_some()),
        ("route", t.route.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, on)| on.then_some(key))
    .collect();
    if given.len() != 1 {
        let what = if given.is_empty() {
            "none given".to_string()
        } else {
            format!("{} given", given.join(" and "))
        };
        return Err(fail(
            "kind",
            format!("give exactly one of interface, command, shell, file, route ({what})"),
        ));
    }
    let duration = |field: &'static str, value: Option<i64>, default: Duration| match value {
        None => Ok(default),
        Some(ms) => u64::try_from(ms)
            .ok()
            .map(Duration::from_millis)
            .filter(|d| (MIN_INTERVAL..=MAX_INTERVAL).contains(d))
            .ok_or_else(|| {
                fail(
                    field,
                    format!(
                        "{ms} is out of range {}..={} ms",
                        MIN_INTERVAL.as_millis(),
                        MAX_INTERVAL.as_millis()
                    ),
                )
            }),
    };
    let count = |field: &'static str, value: Option<i64>| match value {
        None => Ok(1),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_RISE_FALL).contains(n))
            .ok_or_else(|| fail(field, format!("{n} is out of range 1..={MAX_RISE_FALL}"))),
    };
    // Keys that only some kinds take.
    let refuse = |field: &'static str, present: bool, kind: &str| {
        if present {
            Err(fail(field, format!("does not apply to {kind} sources")))
        } else {
            Ok(())
        }
    };
    let kind = if let Some(iface) = t.interface {
        if iface.is_empty() || iface.len() > 15 || iface.contains(['/', ':', ' ']) {
            return Err(fail(
                "interface",
                format!("{iface:?} is not a Linux interface name"),
            ));
        }
        refuse(
            "interval_ms",
            t.interval_ms.is_some(),
            "interface (netlink events)",
        )?;
        refuse("timeout_ms", t.timeout_ms.is_some(), "interface")?;
        refuse("rise", t.rise.is_some(), "interface")?;
        refuse("fall", t.fall.is_some(), "interface")?;
        TrackKind::Interface { name: iface }
    } else if t.command.is_some() || t.shell.is_some() {
        let program = if let Some(argv) = t.command {
            if argv.first().is_none_or(String::is_empty) {
                return Err(fail("command", "must name a program".to_string()));
            }
            HookProgram::Argv(argv)
        } else {
            let script = t.shell.unwrap_or_default();
            if script.trim().is_empty() {
                return Err(fail("shell", "must not be empty".to_string()));
            }
            HookProgram::Shell(script)
        };
        let interval = duration("interval_ms", t.interval_ms, DEFAULT_SCRIPT_INTERVAL)?;
        let timeout = duration("timeout_ms", t.timeout_ms, interval)?;
        TrackKind::Script {
            program,
            interval,
            timeout,
            rise: count("rise", t.rise)?,
            fall: count("fall", t.fall)?,
        }
    } else if let Some(path) = t.file {
        refuse("timeout_ms", t.timeout_ms.is_some(), "file")?;
        refuse("rise", t.rise.is_some(), "file")?;
        refuse("fall", t.fall.is_some(), "file")?;
        TrackKind::File {
            path: base.join(path),
            interval: duration("interval_ms", t.interval_ms, DEFAULT_POLL_INTERVAL)?,
        }
    } else {
        let text = t.route.unwrap_or_default();
        let (prefix, len) = parse_route(&text).map_err(|reason| fail("route", reason))?;
        refuse("timeout_ms", t.timeout_ms.is_some(), "route")?;
        refuse("rise", t.rise.is_some(), "route")?;
        refuse("fall", t.fall.is_some(), "route")?;
        TrackKind::Route {
            prefix,
            len,
            interval: duration("interval_ms", t.interval_ms, DEFAULT_POLL_INTERVAL)?,
        }
    };
    Ok(TrackSpec {
        name: t.name,
        weight,
        kind,
    })
}

/// `default` (IPv4 default route), `default6`, or `ADDR/LEN`; host bits
/// must be zero, as `ip route` prints the prefix.
pub fn parse_route(text: &str) -> Result<(IpAddr, u8), String> {
    match text {
        "default" => return Ok((IpAddr::from([0u8; 4]), 0)),
        "default6" => return Ok((IpAddr::from([0u16; 8]), 0)),
        _ => {}
    }
    let bad = || {
        format!(
            "{text:?} is not a route prefix: give ADDR/LEN (e.g. \"10.1.0.0/16\", \
             \"0.0.0.0/0\"), \"default\" or \"default6\""
        )
    };
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    if len > bits {
        return Err(format!(
            "{text:?}: prefix length {len} is longer than {bits}"
        ));
    }
    if mask(addr, len) != addr {
        return Err(format!(
            "{text:?} has host bits set; the prefix is {}/{len}",
            mask(addr, len)
        ));
    }
    Ok((addr, len))
}

/// `addr` with every bit past `len` cleared.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::from(std::net::Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<TrackSpec>, String> {
        #[derive(Deserialize)]
        struct Doc {
            track: Vec<FileTrack>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        from_file(doc.track, Path::new("/etc/carp-agent")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_parses_with_defaults() {
        let specs = parse(
            r#"
            [[track]]
            name = "uplink"
            weight = 240
            interface = "eth1"
            [[track]]
            name = "db"
            weight = 50
            command = ["pg_isready", "-q"]
            rise = 2
            fall = 3
            [[track]]
            name = "load"
            weight = 1
            file = "load"
            [[track]]
            name = "gw"
            weight = 240
            route = "default"
            "#,
        )
        .unwrap();
        assert_eq!(specs.len(), 4);
        assert_eq!(
            specs[1].kind,
            TrackKind::Script {
                program: HookProgram::Argv(vec!["pg_isready".into(), "-q".into()]),
                interval: DEFAULT_SCRIPT_INTERVAL,
                timeout: DEFAULT_SCRIPT_INTERVAL,
                rise: 2,
                fall: 3,
            }
        );
        assert_eq!(
            specs[2].kind,
            TrackKind::File {
                path: PathBuf::from("/etc/carp-agent/load"),
                interval: DEFAULT_POLL_INTERVAL
            }
        );
        assert_eq!(
            specs[3].kind,
            TrackKind::Route {
                prefix: "0.0.0.0".parse().unwrap(),
                len: 0,
                interval: DEFAULT_POLL_INTERVAL
            }
        );
    }

    #[test]
    fn bad_tables_get_clear_errors() {
        let cases = [
            (
                "name = \"a\"\nweight = 1\ninterface = \"e\"\n[[track]]\nname = \"a\"\nweight = 2\nroute = \"default\"",
                "[[track]] #2 \"a\": name: already used by [[track]] #1; names must be unique",
            ),
            (
                "name = \"a\"\nweight = 0\ninterface = \"e\"",
                "[[track]] #1 \"a\": weight: 0 is out of range 1..=2147483647",
            ),
            (
                "name = \"a\"\nweight = -5\ninterface = \"e\"",
                "weight: -5 is out of range",
            ),
            (
                "name = \"a\"\nweight = 1\nshell = \"true\"\ninterval_ms = 0",
                "interval_ms: 0 is out of range 10..=3600000 ms",
            ),
            (
                "name = \"a\"\nweight = 1\nshell = \"true\"\nfall = 0",
                "fall: 0 is out of range 1..=1000",
            ),
            (
                "name = \"a\"\nweight = 1",
                "kind: give exactly one of interface, command, shell, file, route (none given)",
            ),
            (
                "name = \"a\"\nweight = 1\nfile = \"x\"\nroute = \"default\"",
                "(file and route given)",
            ),
            (
                "name = \"a\"\nweight = 1\ninterface = \"e\"\nrise = 2",
                "rise: does not apply to interface sources",
            ),
            (
                "name = \"\"\nweight = 1\ninterface = \"e\"",
                "name: must be 1 to 64 bytes",
            ),
            (
                "name = \"admin\"\nweight = 1\ninterface = \"e\"",
                "\"admin\" is reserved",
            ),
            (
                "name = \"a\"\nweight = 1\nroute = \"10.1.2.3/16\"",
                "has host bits set; the prefix is 10.1.0.0/16",
            ),
            (
                "name = \"a\"\nweight = 1\ncommand = []",
                "command: must name a program",
            ),
        ];
        for (table, expected) in cases {
            let err = parse(&format!("[[track]]\n{table}")).unwrap_err();
            assert!(
                err.contains(expected),
                "{table}: got {err:?}, want {expected:?}"
            );
        }
        let unknown = parse("[[track]]\nname = \"a\"\nweight = 1\ninterface = \"e\"\nweigth = 2");
        assert!(unknown.unwrap_err().contains("unknown field `weigth`"));
    }

    #[test]
    fn routes_parse() {
        assert_eq!(parse_route("default6").unwrap(), ("::".parse().unwrap(), 0));
        assert_eq!(
            parse_route("fd00::/8").unwrap(),
            ("fd00::".parse().unwrap(), 8)
        );
        assert!(
            parse_route("10.0.0.0/33")
                .unwrap_err()
                .contains("longer than 32")
        );
        assert!(parse_route("10.0.0.0").is_err());
        assert_eq!(
            mask("10.1.2.3".parse().unwrap(), 32),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }
}
