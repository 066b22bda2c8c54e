//! The client subcommands against a real control socket served by a fake
//! agent that answers canned reports.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::{
    collections::BTreeMap,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Output,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use carp_agent::control::{
    ErrorKind, MAX_MESSAGE, ReloadReport, Request, Response, ResponseError, StatusReport,
    TargetState, VhidReport, VhidState,
    client::{ClientError, request, request_within},
    decode_request, decode_response, encode_request, encode_response,
    server::{Call, Limits, serve, serve_with},
};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
    sync::mpsc,
};

fn vhid(interface: &str, vhid: u8, state: VhidState, advskew: u8) -> VhidReport {
    VhidReport {
        interface: interface.to_string(),
        vlan: None,
        vhid,
        state,
        advbase: 1,
        advskew,
        advskew_effective: advskew,
        demotion: 0,
        preempt: false,
        vips: vec![format!("192.168.1.{}/24", 49 + vhid)],
        master: None,
    }
}

fn healthy() -> StatusReport {
    StatusReport {
        demotion: 0,
        vhids: vec![
            vhid("eth0", 1, VhidState::Master, 0),
            vhid("eth0", 2, VhidState::Backup, 100),
        ],
        counters: BTreeMap::from([("badauth".to_string(), 3), ("ipackets".to_string(), 42)]),
        xdp_counters_error: None,
        demotion_sources: Vec::new(),
    }
}

/// A fake agent: answers Status with `report`, records every request,
/// refuses SetState for vhids it does not have.
struct Agent {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    seen: Arc<Mutex<Vec<Request>>>,
}

async fn agent(report: StatusReport) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    let (tx, mut rx) = mpsc::channel::<Call>(4);
    serve(&socket, tx).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut report = report;
        while let Some((request, reply)) = rx.recv().await {
            log.lock().unwrap().push(request.clone());
            let response = match request {
                Request::Status => Response::with_status(report.clone()),
                Request::Demote { delta, .. } => {
                    report.demotion = report.demotion.saturating_add_signed(delta);
                    Response::with_status(report.clone())
                }
                Request::SetDemotion { value, .. } => {
                    report.demotion = value;
                    Response::with_status(report.clone())
                }
                Request::SetState { vhid, .. } if report.vhids.iter().any(|v| v.vhid == vhid) => {
                    Response::ok()
                }
                Request::SetState { vhid, .. } => {
                    Response::error(ErrorKind::Refused, format!("no vhid {vhid}"))
                }
                // A reload "changes" vhid 1 while the demotion is 0, and is
                // refused otherwise.
                Request::Reload if report.demotion == 0 => Response::reloaded(ReloadReport {
                    changed: vec!["eth0 vhid 1".to_string()],
                    unchanged: 1,
                    warnings: vec![
                        "xdp_mode changed; it applies when the agent next starts".into(),
                    ],
                    ..ReloadReport::default()
                }),
                Request::Reload => Response::error(
                    ErrorKind::Refused,
                    "the new configuration was refused: carp.toml: vhid 1: advskew 300",
                ),
                Request::Events => Response::error(ErrorKind::Refused, "no events here"),
            };
            let _ = reply.send(response);
        }
    });
    Agent {
        _dir: dir,
        socket,
        seen,
    }
}

async fn cli(socket: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_carp-agent"))
        .args(args)
        .arg("--control-socket")
        .arg(socket)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_prints_what_changed_or_why_not() {
    let agent = agent(healthy()).await;
    let out = cli(&agent.socket, &["reload"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "reloaded: added: none; removed: none; changed: eth0 vhid 1; unchanged: 1\n\
         warning: xdp_mode changed; it applies when the agent next starts\n"
    );
    let out = cli(&agent.socket, &["demote", "--set", "5"]).await;
    assert_eq!(out.status.code(), Some(0));
    let out = cli(&agent.socket, &["reload"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "carp-agent: error: the new configuration was refused: carp.toml: vhid 1: advskew 300\n"
    );
    assert!(agent.seen.lock().unwrap().contains(&Request::Reload));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_text_and_json() {
    let agent = agent(healthy()).await;
    let out = cli(&agent.socket, &["status"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "eth0: MASTER vhid 1 advbase 1 advskew 0 demotion 0\n    vip 192.168.1.50/24\n\
             eth0: BACKUP vhid 2 advbase 1 advskew 100 demotion 0\n    vip 192.168.1.51/24\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("    badauth 3\n"), "{stdout}");

    let out = cli(&agent.socket, &["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vhids = json["vhids"].as_array().unwrap();
    assert_eq!(vhids.len(), 2);
    assert_eq!(vhids[1]["interface"], "eth0");
    assert_eq!(vhids[1]["vhid"], 2);
    assert_eq!(vhids[1]["state"], "BACKUP");
    assert_eq!(vhids[1]["advbase"], 1);
    assert_eq!(vhids[1]["advskew"], 100);
    assert_eq!(vhids[1]["vips"][0], "192.168.1.51/24");
    assert_eq!(json["counters"]["badauth"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn demote_plus_minus_and_set() {
    let agent = agent(healthy()).await;
    let out = cli(&agent.socket, &["demote", "+240"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "demotion 240\n");
    let out = cli(&agent.socket, &["demote", "-40"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "demotion 200\n");
    let out = cli(&agent.socket, &["demote", "--set", "0"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        *agent.seen.lock().unwrap(),
        [
            Request::Demote {
                delta: 240,
                source: None
            },
            Request::Demote {
                delta: -40,
                source: None
            },
            Request::SetDemotion {
                value: 0,
                source: None
            },
        ]
    );
    // No sign: refused before anything is sent.
    let out = cli(&agent.socket, &["demote", "10"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("give +N or -N"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(agent.seen.lock().unwrap().len(), 3);
}

/// An agent from before demotion sources (this fake reports none) applies
/// `--source`'s change to the administrative demotion: the CLI says so and
/// fails instead of printing a share that does not exist.
#[tokio::test(flavor = "multi_thread")]
async fn demote_source_against_an_agent_without_sources_fails_loudly() {
    let agent = agent(healthy()).await;
    let out = cli(&agent.socket, &["demote", "--source", "db", "+50"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("does not know demotion sources"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        *agent.seen.lock().unwrap(),
        [Request::Demote {
            delta: 50,
            source: Some("db".to_string())
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_master_backup() {
    let agent = agent(healthy()).await;
    let out = cli(
        &agent.socket,
        &["state", "backup", "--vhid", "1", "--interface", "eth0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cli(&agent.socket, &["state", "master", "--vhid", "2"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        *agent.seen.lock().unwrap(),
        [
            Request::SetState {
                vhid: 1,
                interface: Some("eth0".into()),
                state: TargetState::Backup
            },
            Request::SetState {
                vhid: 2,
                interface: None,
                state: TargetState::Master
            },
        ]
    );
    // The agent's refusal reaches the user, exit 1.
    let out = cli(&agent.socket, &["state", "master", "--vhid", "9"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "carp-agent: error: no vhid 9\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_ok_and_warnings() {
    let agent_ok = agent(healthy()).await;
    let out = cli(&agent_ok.socket, &["check"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "CARP OK: eth0 vhid 1 MASTER, eth0 vhid 2 BACKUP\n"
    );

    let mut init = healthy();
    init.vhids[0].state = VhidState::Init;
    let agent_init = agent(init).await;
    let out = cli(&agent_init.socket, &["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "CARP WARNING: eth0 vhid 1 INIT\n");

    let mut demoted = healthy();
    demoted.demotion = 240;
    let agent_demoted = agent(demoted).await;
    let out = cli(&agent_demoted.socket, &["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "CARP WARNING: demotion 240\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_agent() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let out = cli(&socket, &["check"]).await;
    assert_eq!(out.status.code(), Some(2));
    let expected = format!(
        "CARP CRITICAL: cannot reach carp-agent at {}: ",
        socket.display()
    );
    assert!(
        text(&out.stdout).starts_with(&expected),
        "{}",
        text(&out.stdout)
    );

    for args in [
        &["status"][..],
        &["demote", "+1"],
        &["state", "backup", "--vhid", "1"],
    ] {
        let out = cli(&socket, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("cannot reach carp-agent at"),
            "{args:?}"
        );
    }
}

/// Sends raw bytes and returns the response line as JSON, to check the
/// wire form itself.
async fn raw(socket: &Path, bytes: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await.unwrap();
    assert!(line.ends_with('\n'), "{line:?}");
    serde_json::from_str(&line).unwrap()
}

/// The `kind` and `message` of an error response in protocol 1.
fn error_of(response: &serde_json::Value) -> (String, String) {
    assert_eq!(response["version"], 1, "{response}");
    assert_eq!(response["result"], "error", "{response}");
    assert!(response.get("status").is_none(), "{response}");
    (
        response["kind"].as_str().unwrap().to_string(),
        response["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_error_responses() {
    let agent = agent(healthy()).await;
    for bad in [
        &b"{not json\n"[..],
        b"[1,2]\n",
        b"{\"version\":1,\"op\":\"reboot\"}\n",
        b"{\"version\":1,\"op\":\"demote\",\"delta\":\"lots\"}\n",
        b"{\"version\":\"one\",\"op\":\"status\"}\n",
        b"\xff\xfe\n",
        b"",
    ] {
        let response = raw(&agent.socket, bad).await;
        let (kind, message) = error_of(&response);
        assert_eq!(kind, "bad_request", "{bad:?}: {message}");
        assert!(message.starts_with("bad request: "), "{bad:?}: {message}");
    }
    // An unknown operation is named, with the ones this agent knows.
    let response = raw(&agent.socket, b"{\"version\":1,\"op\":\"reboot\"}\n").await;
    let (_, message) = error_of(&response);
    assert!(
        message.contains("reboot") && message.contains("set_state"),
        "{message}"
    );
    // The server is still up, and a well-formed raw request works.
    let response = raw(&agent.socket, b"{\"version\":1,\"op\":\"status\"}\n").await;
    assert_eq!(response["version"], 1);
    assert_eq!(response["result"], "ok");
    assert_eq!(response["status"]["vhids"].as_array().unwrap().len(), 2);
    assert_eq!(response["status"]["vhids"][0]["state"], "MASTER");
    assert_eq!(agent.seen.lock().unwrap().len(), 1);
}

/// A CLI of the unversioned protocol 0 (earlier releases) gets an answer it
/// can read, in its own shape, saying which versions are involved.
#[tokio::test(flavor = "multi_thread")]
async fn an_unversioned_request_gets_a_protocol_0_answer_naming_both_versions() {
    let agent = agent(healthy()).await;
    for old in [
        &b"{\"op\":\"status\"}\n"[..],
        b"{\"op\":\"set_state\",\"vhid\":1,\"state\":\"backup\"}\n",
    ] {
        let response = raw(&agent.socket, old).await;
        assert_eq!(response["ok"], false, "{response}");
        assert_eq!(response["status"], serde_json::Value::Null, "{response}");
        let error = response["error"].as_str().unwrap();
        assert!(
            error.contains("control protocol 0") && error.contains("speaks protocol 1"),
            "{error}"
        );
    }
    assert!(
        agent.seen.lock().unwrap().is_empty(),
        "nothing was carried out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_of_a_future_version_is_refused_naming_both_versions() {
    let agent = agent(healthy()).await;
    let response = raw(
        &agent.socket,
        b"{\"version\":2,\"op\":\"demote\",\"delta\":240,\"reason\":\"maintenance\"}\n",
    )
    .await;
    let (kind, message) = error_of(&response);
    assert_eq!(kind, "unsupported_version");
    assert!(
        message.contains("protocol 2") && message.contains("speaks protocol 1"),
        "{message}"
    );
    assert!(
        agent.seen.lock().unwrap().is_empty(),
        "nothing was carried out"
    );
}

/// The server bounds what one client costs: the request's size and the time
/// it takes to arrive.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_slow_requests_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    let (tx, _rx) = mpsc::channel::<Call>(1);
    let limits = Limits {
        max_request: 64,
        read_timeout: Duration::from_millis(300),
    };
    serve_with(&socket, tx, limits).await.unwrap();

    let mut long = br#"{"version":1,"op":"status","padding":""#.to_vec();
    long.resize(1000, b'x');
    long.extend_from_slice(b"\"}\n");
    let (kind, message) = error_of(&raw(&socket, &long).await);
    assert_eq!(kind, "bad_request");
    assert_eq!(message, "bad request: longer than 64 bytes");

    // Half a request, then silence with the connection open.
    let started = Instant::now();
    let mut stream = UnixStream::connect(&socket).await.unwrap();
    stream.write_all(br#"{"version":1,"#).await.unwrap();
    let mut line = String::new();
    BufReader::new(&mut stream)
        .read_line(&mut line)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not cut off in time"
    );
    let (kind, message) = error_of(&serde_json::from_str(&line).unwrap());
    assert_eq!(kind, "bad_request");
    assert_eq!(
        message,
        "bad request: no complete request line within 300ms"
    );

    // The default limit is the documented one.
    assert_eq!(Limits::default().max_request, MAX_MESSAGE);
}

/// A fake agent of another protocol: answers every connection with `answer`
/// after reading the request, and keeps the requests it read.
async fn fake_agent(answer: &'static str) -> (tempfile::TempDir, PathBuf, Arc<Mutex<Vec<String>>>) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut line = String::new();
            BufReader::new(&mut stream)
                .read_line(&mut line)
                .await
                .unwrap();
            log.lock().unwrap().push(line);
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (dir, socket, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_names_both_versions_when_the_agent_speaks_another() {
    // An agent of protocol 0 ignores `version` and answers in its shape.
    let old = r#"{"ok":true,"error":null,"status":{"demotion":0,"vhids":[],"counters":{}}}"#;
    // A future agent says it does not speak this CLI's version.
    let new = concat!(
        r#"{"version":2,"result":"error","kind":"unsupported_version","#,
        r#""message":"this client speaks control protocol 1, carp-agent speaks protocol 2"}"#
    );
    for (answer, agent_version) in [(old, 0), (new, 2)] {
        let answer: &'static str = Box::leak(format!("{answer}\n").into_boxed_str());
        let (_dir, socket, seen) = fake_agent(answer).await;
        for args in [&["status"][..], &["state", "backup", "--vhid", "1"]] {
            let out = cli(&socket, args).await;
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_eq!(
                text(&out.stderr),
                format!(
                    "carp-agent: error: carp-agent at {} speaks control protocol \
                     {agent_version}, this CLI speaks 1; use the carp-agent binary of the \
                     running agent's release, or restart the agent after an upgrade\n",
                    socket.display()
                ),
                "{args:?}"
            );
        }
        // A version mismatch is not "unreachable" for monitoring.
        let out = cli(&socket, &["check"]).await;
        assert_eq!(out.status.code(), Some(3));
        assert!(
            text(&out.stdout).starts_with("CARP UNKNOWN: carp-agent at "),
            "{}",
            text(&out.stdout)
        );
        // The CLI's requests carry its version.
        let requests = seen.lock().unwrap().clone();
        assert!(!requests.is_empty());
        for request in requests {
            let request: serde_json::Value = serde_json::from_str(&request).unwrap();
            assert_eq!(request["version"], 1, "{request}");
        }
    }
}

/// An agent that answers (a refusal) before reading the request and closes:
/// the client's write may then fail with EPIPE, yet the refusal it can
/// still read is what the user sees.
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_sent_before_the_request_is_read_reaches_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let refusal = concat!(
                r#"{"version":1,"result":"error","kind":"permission_denied","#,
                r#""message":"permission denied: uid 1000 may not control carp-agent (root only)"}"#,
                "\n"
            );
            stream.write_all(refusal.as_bytes()).await.unwrap();
            drop(stream);
        }
    });
    // Many runs: the race between the agent's close and the CLI's write
    // goes both ways.
    for _ in 0..20 {
        let out = cli(&socket, &["state", "master", "--vhid", "1"]).await;
        assert_eq!(
            text(&out.stderr),
            "carp-agent: error: permission denied: uid 1000 may not control carp-agent (root only)\n"
        );
        assert_eq!(out.status.code(), Some(1));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_say_what_failed_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sock");
    let err = request(&missing, &Request::Status).await.unwrap_err();
    assert!(matches!(err, ClientError::NoSocket { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach carp-agent at {}: no such socket (is carp-agent running? \
             is --control-socket right?)",
            missing.display()
        )
    );

    // A dead agent's socket file: nobody listens.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = request(&stale, &Request::Status).await.unwrap_err();
    assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(
        err.to_string().contains(&stale.display().to_string()),
        "{err}"
    );

    // An agent that accepts and never answers.
    let hung = dir.path().join("hung.sock");
    let _listener = tokio::net::UnixListener::bind(&hung).unwrap();
    let err = request_within(&hung, &Request::Status, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("carp-agent at {}: no response within 200ms", hung.display())
    );

    // Something that answers garbage.
    let (_dir, garbage, _) = fake_agent("HTTP/1.1 400 Bad Request\n").await;
    let err = request(&garbage, &Request::Status).await.unwrap_err();
    assert!(matches!(err, ClientError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("unreadable response"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn xdp_counters_that_cannot_be_read_are_reported() {
    let mut report = healthy();
    report.xdp_counters_error =
        Some("map carp_stats: the map is missing from the XDP object".to_string());
    let broken = agent(report).await;
    let out = cli(&broken.socket, &["status"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains(
            "counters:\n    XDP counters unavailable: map carp_stats: the map is missing"
        ),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&broken.socket, &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["xdp_counters_error"]
            .as_str()
            .unwrap()
            .starts_with("map carp_stats"),
        "{json}"
    );
    let out = cli(&broken.socket, &["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("CARP WARNING: XDP counters unavailable: map carp_stats"),
        "{}",
        text(&out.stdout)
    );
    // Without an error the member is absent, as the lab's parsers expect.
    let healthy_agent = agent(healthy()).await;
    let out = cli(&healthy_agent.socket, &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("xdp_counters_error").is_none(), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_file_mode_stale_sockets_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    // A dead agent's socket file is replaced.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let (tx, rx) = mpsc::channel::<Call>(1);
    let task = serve(&socket, tx.clone()).await.unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A live one is not.
    let err = serve(&socket, tx).await.unwrap_err();
    assert!(
        err.to_string().contains("another carp-agent is listening"),
        "{err}"
    );
    // Dropping the receiver stops the server and removes the file.
    drop(rx);
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(!socket.exists());

    // Something that is not a socket is never removed.
    std::fs::write(&socket, "precious").unwrap();
    let (tx, _rx) = mpsc::channel::<Call>(1);
    let err = serve(&socket, tx).await.unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "precious");
}

#[test]
fn wire_format() {
    let request = Request::SetState {
        vhid: 1,
        interface: None,
        state: TargetState::Backup,
    };
    assert_eq!(
        encode_request(&request),
        "{\"version\":1,\"op\":\"set_state\",\"vhid\":1,\"interface\":null,\"state\":\"backup\"}\n"
    );
    let parsed =
        decode_request(r#"{"version":1,"op":"set_state","vhid":1,"state":"master"}"#).unwrap();
    assert_eq!(
        parsed,
        Request::SetState {
            vhid: 1,
            interface: None,
            state: TargetState::Master
        }
    );
    assert_eq!(
        encode_request(&Request::SetDemotion {
            value: 0,
            source: None
        }),
        "{\"version\":1,\"op\":\"set_demotion\",\"value\":0}\n"
    );
    // `source` is optional: sent only when given, absent reads as None.
    assert_eq!(
        encode_request(&Request::Demote {
            delta: 50,
            source: Some("db".to_string())
        }),
        "{\"version\":1,\"op\":\"demote\",\"delta\":50,\"source\":\"db\"}\n"
    );
    assert_eq!(
        decode_request("{\"version\":1,\"op\":\"demote\",\"delta\":5}").unwrap(),
        Request::Demote {
            delta: 5,
            source: None
        }
    );
    assert_eq!(
        encode_response(&Response::error(ErrorKind::Refused, "no vhid 9 configured")),
        "{\"version\":1,\"result\":\"error\",\"kind\":\"refused\",\"message\":\"no vhid 9 configured\"}\n"
    );
    assert_eq!(
        encode_response(&Response::ok()),
        "{\"version\":1,\"result\":\"ok\"}\n"
    );
}

#[test]
fn every_message_round_trips() {
    let requests = [
        Request::Status,
        Request::Demote {
            delta: -240,
            source: None,
        },
        Request::Demote {
            delta: 1,
            source: Some("db".to_string()),
        },
        Request::SetDemotion {
            value: 7,
            source: Some("x".to_string()),
        },
        Request::SetState {
            vhid: 255,
            interface: Some("eth0.100".to_string()),
            state: TargetState::Master,
        },
    ];
    for request in requests {
        let line = encode_request(&request);
        assert_eq!(decode_request(line.trim_end()).unwrap(), request, "{line}");
    }
    let mut report = healthy();
    report.vhids[1].master = Some("192.168.1.7".to_string());
    report.vhids[1].state = VhidState::Init;
    report.xdp_counters_error = Some("map carp_stats: gone".to_string());
    let responses = [
        Response::ok(),
        Response::with_status(healthy()),
        Response::with_status(report),
        Response::error(ErrorKind::BadRequest, "bad request: x"),
        Response::error(ErrorKind::UnsupportedVersion, "v"),
        Response::error(ErrorKind::PermissionDenied, "p"),
        Response::error(ErrorKind::Refused, "r"),
        Response::error(ErrorKind::Unavailable, "u"),
    ];
    for response in responses {
        let line = encode_response(&response);
        assert_eq!(
            decode_response(line.trim_end()).unwrap(),
            response,
            "{line}"
        );
    }
}

/// Compatible changes from a newer peer of the same version: members this
/// build does not know are ignored, an unknown error kind is still an error
/// with its message.
#[test]
fn unknown_members_and_error_kinds_are_tolerated() {
    let request = decode_request(r#"{"version":1,"op":"status","verbose":true}"#).unwrap();
    assert_eq!(request, Request::Status);
    let response = decode_response(
        r#"{"version":1,"result":"error","kind":"rate_limited","message":"slow down","retry":3}"#,
    )
    .unwrap();
    assert_eq!(response, Response::error(ErrorKind::Other, "slow down"));
    let response = decode_response(
        r#"{"version":1,"result":"ok","status":{"demotion":0,"vhids":[],"counters":{},"uptime":5}}"#,
    )
    .unwrap();
    assert_eq!(response, Response::with_status(StatusReport::default()));
}

#[test]
fn a_response_is_ok_or_error_never_both() {
    for both in [
        r#"{"version":1,"result":"ok|error","status":null}"#,
        r#"{"version":1,"ok":true,"error":"disk on fire"}"#,
        r#"{"version":1,"result":"error"}"#,
    ] {
        let err = decode_response(both).unwrap_err();
        assert!(
            matches!(err, ResponseError::Malformed(_)),
            "{both}: {err:?}"
        );
    }
    assert!(matches!(
        decode_response(r#"{"ok":true,"error":null,"status":null}"#),
        Err(ResponseError::Version(0))
    ));
    assert!(matches!(
        decode_response(r#"{"version":7,"anything":"else"}"#),
        Err(ResponseError::Version(7))
    ));
}

/// `events`: the one request that keeps its connection: an `ok` line, then
/// one line per event; capped subscribers; refused where nothing publishes.
#[tokio::test(flavor = "multi_thread")]
async fn events_stream_after_an_ok_line_and_subscribers_are_capped() {
    use carp_agent::control::{
        client::subscribe,
        events::{Event, EventHub},
        server::serve_with_events,
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("carp.sock");
    let (tx, _rx) = mpsc::channel::<Call>(1);
    let hub = EventHub::new(16, 1);
    serve_with_events(&socket, tx, Limits::default(), Some(hub.clone()))
        .await
        .unwrap();

    let (response, mut reader) = subscribe(&socket).await.unwrap();
    assert_eq!(response, Response::ok());
    // The subscription is taken once the server has read the request.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hub.has_subscribers() {
        assert!(Instant::now() < deadline, "never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let event = Event::Demotion {
        time: 1.0,
        demotion: 240,
        previous: 0,
        reason: "admin".to_string(),
    };
    hub.publish(&event);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["event"], "demotion");
    assert_eq!(value["demotion"], 240);

    // A second subscriber is over the cap of 1.
    let (response, _) = subscribe(&socket).await.unwrap();
    let Response::Error(body) = response else {
        panic!("{response:?}");
    };
    assert_eq!(body.kind, ErrorKind::Refused);
    assert!(
        body.message.contains("event subscribers"),
        "{}",
        body.message
    );

    // The first goes away: its place is given back.
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.has_subscribers() {
        assert!(Instant::now() < deadline, "the subscription was kept");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (response, _reader) = subscribe(&socket).await.unwrap();
    assert_eq!(response, Response::ok());

    // A server without a hub refuses.
    let agent = agent(healthy()).await;
    let (response, _) = subscribe(&agent.socket).await.unwrap();
    assert!(
        matches!(response, Response::Error(ref b) if b.kind == ErrorKind::Refused),
        "{response:?}"
    );
}
