//! The client subcommands against a real control socket served by a fake
//! agent that answers canned reports.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use carp_agent::control::server::{Call, serve};
use carp_agent::control::{Request, Response, StatusReport, TargetState, VhidReport};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

fn vhid(interface: &str, vhid: u8, state: &str, advskew: u8) -> VhidReport {
    VhidReport {
        interface: interface.to_string(),
        vhid,
        state: state.to_string(),
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
        vhids: vec![vhid("eth0", 1, "MASTER", 0), vhid("eth0", 2, "BACKUP", 100)],
        counters: BTreeMap::from([("badauth".to_string(), 3), ("ipackets".to_string(), 42)]),
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
                Request::Demote { delta } => {
                    report.demotion = report.demotion.saturating_add_signed(delta);
                    Response::with_status(report.clone())
                }
                Request::SetDemotion { value } => {
                    report.demotion = value;
                    Response::with_status(report.clone())
                }
                Request::SetState { vhid, .. } if report.vhids.iter().any(|v| v.vhid == vhid) => {
                    Response::ok()
                }
                Request::SetState { vhid, .. } => Response::error(format!("no vhid {vhid}")),
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
            Request::Demote { delta: 240 },
            Request::Demote { delta: -40 },
            Request::SetDemotion { value: 0 },
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
    init.vhids[0].state = "INIT".into();
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

/// Sends raw bytes and returns the response line.
async fn raw(socket: &Path, bytes: &[u8]) -> Response {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await.unwrap();
    serde_json::from_str(&line).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_error_responses() {
    let agent = agent(healthy()).await;
    for bad in [
        &b"{not json\n"[..],
        b"{\"op\":\"reboot\"}\n",
        b"{\"op\":\"demote\",\"delta\":\"lots\"}\n",
        b"\xff\xfe\n",
        b"",
    ] {
        let response = raw(&agent.socket, bad).await;
        assert!(!response.ok, "{bad:?}");
        let error = response.error.unwrap();
        assert!(error.starts_with("bad request: "), "{bad:?}: {error}");
    }
    // The server is still up, and a well-formed raw request works.
    let response = raw(&agent.socket, b"{\"op\":\"status\"}\n").await;
    assert!(response.ok);
    assert_eq!(response.status.unwrap().vhids.len(), 2);
    assert_eq!(agent.seen.lock().unwrap().len(), 1);
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
        serde_json::to_string(&request).unwrap(),
        r#"{"op":"set_state","vhid":1,"interface":null,"state":"backup"}"#
    );
    let parsed: Request =
        serde_json::from_str(r#"{"op":"set_state","vhid":1,"state":"master"}"#).unwrap();
    assert_eq!(
        parsed,
        Request::SetState {
            vhid: 1,
            interface: None,
            state: TargetState::Master
        }
    );
    assert_eq!(
        serde_json::to_string(&Request::SetDemotion { value: 0 }).unwrap(),
        r#"{"op":"set_demotion","value":0}"#
    );
}
