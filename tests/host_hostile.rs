//! The MCP host against peers that never get anywhere: a stdio server silent at
//! the handshake (or after it), HTTP endpoints that accept and say nothing, a
//! server that will not die, one that leaves a grandchild. Nothing may hang, no
//! process may outlive the host, and a call while a server is away says why.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::process::{peer_script, python, tempdir};
use opsdeck::config::servers::{ServerSpec, ServerTransport};
use opsdeck::mcp::{CallError, ConnectionState, McpHost, SHUTDOWN_DEADLINE};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// tests/peers/silent_server.py with `marker` (to find its processes) and `flags`.
fn silent_spec(marker: &str, flags: &[&str], init_timeout: Duration) -> ServerSpec {
    let mut args = vec![
        peer_script("silent_server.py").display().to_string(),
        marker.to_string(),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    let mut spec = ServerSpec::stdio("silent", &python("venv-mcp2").display().to_string(), args);
    spec.init_timeout = init_timeout;
    spec
}

fn http_spec(url: String, init_timeout: Duration) -> ServerSpec {
    let mut spec = ServerSpec::http("mute", &url);
    spec.init_timeout = init_timeout;
    spec
}

/// Pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

/// Whether `pid` is a process that still runs (a zombie is dead, only not reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// Whether `pid` has any /proc entry (a zombie has one until its parent reaps it).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

async fn state_where(
    host: &McpHost,
    limit: Duration,
    condition: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    let mut state = host.watch_states().remove(0).1;
    tokio::time::timeout(limit, state.wait_for(|s| condition(s)))
        .await
        .unwrap_or_else(|_| panic!("no such state within {limit:?}: {:?}", host.states()))
        .unwrap()
        .clone()
}

fn error_of(state: &ConnectionState) -> (u32, String) {
    match state {
        ConnectionState::Reconnecting { attempt, error, .. } => (*attempt, error.clone()),
        other => panic!("not reconnecting: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_silent_at_the_handshake_is_reported_killed_and_retried() {
    let marker = unique("silent-init");
    // It ignores SIGTERM and the end of its stdin: only SIGKILL ends it.
    let spec = silent_spec(&marker, &["--ignore-term"], Duration::from_secs(1));
    let host = McpHost::start(vec![spec], Duration::ZERO).await;
    assert!(
        eventually(Duration::from_secs(10), || !processes_with(&marker)
            .is_empty())
        .await,
        "the server never started"
    );
    let first = processes_with(&marker)[0];
    let state = state_where(&host, Duration::from_secs(15), |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    let (attempt, error) = error_of(&state);
    assert_eq!(attempt, 1);
    assert_eq!(error, "did not answer initialize within 1 s");
    assert!(
        !exists(first),
        "the child that timed out is killed and reaped before the retry: {first}"
    );
    let retried = state_where(
        &host,
        Duration::from_secs(20),
        |s| matches!(s, ConnectionState::Reconnecting { attempt, .. } if *attempt >= 2),
    )
    .await;
    assert!(error_of(&retried).1.contains("initialize"));
    let started = Instant::now();
    host.shutdown().await;
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "{:?}",
        started.elapsed()
    );
    assert!(
        processes_with(&marker).iter().all(|pid| !exists(*pid)),
        "{:?}",
        processes_with(&marker)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_handshake_is_bounded_and_leaves_no_process() {
    let marker = unique("silent-shutdown");
    let spec = silent_spec(
        &marker,
        &["--ignore-term", "--grandchild"],
        Duration::from_secs(120),
    );
    let host = McpHost::start(vec![spec], Duration::from_millis(200)).await;
    assert!(
        eventually(Duration::from_secs(10), || processes_with(&marker).len()
            == 2)
        .await,
        "server and grandchild: {:?}",
        processes_with(&marker)
    );
    let pids = processes_with(&marker);
    assert_eq!(host.states()[0].1, ConnectionState::Connecting);
    let started = Instant::now();
    host.shutdown().await;
    let took = started.elapsed();
    assert!(took < SHUTDOWN_DEADLINE, "shutdown took {took:?}");
    assert_eq!(host.states()[0].1, ConnectionState::Stopped);
    // SIGKILL has been sent to the whole group; the kernel takes a moment to
    // finish a killed process on a loaded machine.
    let gone = eventually(Duration::from_secs(3), || {
        pids.iter().all(|pid| !running(*pid))
    })
    .await;
    assert!(
        gone,
        "still running after shutdown: {:?}",
        pids.iter().filter(|pid| running(**pid)).collect::<Vec<_>>()
    );
    // The server itself is our child: reaped, not a zombie.
    let leader = pids
        .iter()
        .copied()
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmdline).contains("grandchild")
        })
        .unwrap_or(pids[0]);
    assert!(!exists(leader), "the server {leader} was not reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_host_still_stops_a_server_stuck_in_the_handshake() {
    let marker = unique("silent-drop");
    let spec = silent_spec(&marker, &[], Duration::from_secs(120));
    let host = McpHost::start(vec![spec], Duration::from_millis(200)).await;
    assert!(
        eventually(Duration::from_secs(10), || !processes_with(&marker)
            .is_empty())
        .await
    );
    let pid = processes_with(&marker)[0];
    drop(host);
    assert!(
        eventually(SHUTDOWN_DEADLINE, || !exists(pid)).await,
        "the child of a dropped host is still there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_lists_its_tools_times_out_and_is_stopped() {
    let marker = unique("silent-list");
    let spec = silent_spec(&marker, &["--mode", "no-tools"], Duration::from_secs(1));
    let host = McpHost::start(vec![spec], Duration::ZERO).await;
    assert!(
        eventually(Duration::from_secs(10), || !processes_with(&marker)
            .is_empty())
        .await
    );
    let first = processes_with(&marker)[0];
    let state = state_where(&host, Duration::from_secs(15), |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    assert_eq!(error_of(&state).1, "did not answer tools/list within 1 s");
    assert!(!exists(first), "{first} outlived its failed attempt");
    host.shutdown().await;
}

/// An HTTP "server" on 127.0.0.1 that accepts connections, reads what comes, and
/// writes `reply` (maybe nothing) and never another byte; it holds every socket open.
async fn mute_http(reply: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 65_536];
            let _ =
                tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buffer)).await;
            let _ = socket.write_all(reply.as_bytes()).await;
            held.push(socket);
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints_that_accept_and_stay_silent_time_out() {
    for reply in [
        "",
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{",
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let url = mute_http(reply).await;
        let started = Instant::now();
        let host = McpHost::start(
            vec![http_spec(url, Duration::from_secs(1))],
            Duration::from_secs(20),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{reply:?}: start took {:?}",
            started.elapsed()
        );
        let (_, error) = error_of(&host.states()[0].1);
        assert_eq!(error, "did not answer initialize within 1 s", "{reply:?}");
        let started = Instant::now();
        host.shutdown().await;
        assert!(
            started.elapsed() < SHUTDOWN_DEADLINE,
            "{reply:?}: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_an_http_peer_is_mid_handshake_is_bounded() {
    // Answers nothing at all: the host is mid-handshake when it is shut down.
    let url = mute_http("").await;
    let host = McpHost::start(
        vec![http_spec(url, Duration::from_secs(120))],
        Duration::from_millis(200),
    )
    .await;
    let started = Instant::now();
    host.shutdown().await;
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(host.states()[0].1, ConnectionState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_call_is_bounded_and_the_call_ends() {
    let marker = unique("mid-call");
    let mut spec = ServerSpec::stdio(
        "py",
        &python("venv-mcp2").display().to_string(),
        vec![
            peer_script("test_server.py").display().to_string(),
            marker.clone(),
        ],
    );
    spec.call_timeout = Duration::from_secs(600);
    let host = std::sync::Arc::new(McpHost::start(vec![spec], Duration::from_secs(30)).await);
    assert!(host.is_ready("py"), "{:?}", host.states());
    let pid = processes_with(&marker)[0];
    let calling = tokio::spawn({
        let host = host.clone();
        async move { host.call("hang", None).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    host.shutdown().await;
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "{:?}",
        started.elapsed()
    );
    let outcome = tokio::time::timeout(Duration::from_secs(5), calling)
        .await
        .expect("the pending call ends with the host")
        .unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(!exists(pid), "the server {pid} outlived the host");
}

/// tests/peers/test_server.py behind a shell that lets it start once: after it
/// crashes, every restart fails, so the server stays "reconnecting".
fn crash_once_spec(flag: &std::path::Path) -> ServerSpec {
    let script = format!(
        "if [ -e '{flag}' ]; then echo 'restart refused' >&2; exit 3; fi; : > '{flag}'; exec '{python}' '{server}'",
        flag = flag.display(),
        python = python("venv-mcp2").display(),
        server = peer_script("test_server.py").display(),
    );
    ServerSpec::stdio("py", "sh", vec!["-c".into(), script])
}

fn env_dump_spec(extra_env: BTreeMap<String, String>, pass_env: Vec<String>) -> ServerSpec {
    let mut spec = ServerSpec::stdio(
        "dump",
        &python("venv-mcp2").display().to_string(),
        vec![peer_script("env_dump_server.py").display().to_string()],
    );
    if let ServerTransport::Stdio {
        env, pass_env: p, ..
    } = &mut spec.transport
    {
        *env = extra_env;
        *p = pass_env;
    }
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_while_a_server_reconnects_says_which_server_and_when() {
    let flag = tempdir("crash-once").join("started");
    let host = McpHost::start(
        vec![
            crash_once_spec(&flag),
            env_dump_spec(BTreeMap::new(), vec![]),
        ],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        host.states()
            .iter()
            .all(|(_, s)| matches!(s, ConnectionState::Ready { .. })),
        "{:?}",
        host.states()
    );
    let before: Vec<String> = host
        .catalog()
        .await
        .into_iter()
        .map(|t| t.exposed_name)
        .collect();
    let crashed = host.call("crash", None).await.unwrap_err();
    assert!(matches!(crashed, CallError::Failed { .. }), "{crashed}");
    state_where(&host, Duration::from_secs(10), |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    // The catalogue keeps the server's last known tools, so names do not shift…
    let catalog = host.catalog().await;
    let after: Vec<String> = catalog.iter().map(|t| t.exposed_name.clone()).collect();
    assert_eq!(before, after);
    assert!(!host.is_ready("py") && host.is_ready("dump"));
    // …and calling one of them says the server is away, not that the tool is unknown.
    let away = host
        .call("echo", json!({"text": "hi"}).as_object().cloned())
        .await
        .unwrap_err();
    let text = away.to_string();
    assert!(matches!(away, CallError::Unavailable { .. }), "{text}");
    assert!(
        text.starts_with("server 'py' is reconnecting (attempt ")
            && text.contains("its tools are not available right now — try again in ")
            && text.ends_with("; the call was not sent"),
        "{text}"
    );
    // A tool no one lists: the answer names the server that is away, and what is there.
    let missing = host.explain_missing("list_pipelines", &catalog);
    assert!(
        missing.starts_with("there is no tool named 'list_pipelines' right now: server 'py' is reconnecting (attempt ")
            && missing.contains("try again in ")
            && missing.ends_with("Available now: environment"),
        "{missing}"
    );
    let unknown = host.call("list_pipelines", None).await.unwrap_err();
    assert!(matches!(unknown, CallError::UnknownTool { .. }));
    assert!(
        unknown.to_string().contains("server 'py' is reconnecting"),
        "{unknown}"
    );
    // With every server ready, the message is the plain one.
    let dump_only = McpHost::start(
        vec![env_dump_spec(BTreeMap::new(), vec![])],
        Duration::from_secs(30),
    )
    .await;
    let plain = dump_only.call("list_pipelines", None).await.unwrap_err();
    assert_eq!(
        plain.to_string(),
        "there is no tool named 'list_pipelines'; available: environment"
    );
    dump_only.shutdown().await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_server_sees_the_defaults_and_what_its_entry_names_only() {
    let host = McpHost::start(
        vec![env_dump_spec(
            BTreeMap::from([("STATIC_SETTING".to_string(), "on".to_string())]),
            vec![],
        )],
        Duration::from_secs(30),
    )
    .await;
    let result = host.call("environment", None).await.unwrap();
    let seen: Value = result.structured_content.clone().unwrap_or_else(|| {
        serde_json::from_str(&opsdeck::mcp::result_texts(&result).join("")).unwrap()
    });
    let seen = seen.get("result").cloned().unwrap_or(seen);
    let names: Vec<&String> = seen.as_object().unwrap().keys().collect();
    assert_eq!(seen["STATIC_SETTING"], "on");
    let allowed = opsdeck::config::child_env::DEFAULT_INHERITED;
    for name in &names {
        assert!(
            allowed.contains(&name.as_str()) || *name == "STATIC_SETTING",
            "{name} reached a third-party server: {names:?}"
        );
    }
    if std::env::var_os("PATH").is_some() {
        assert!(seen.get("PATH").is_some(), "PATH is a default: {names:?}");
    }
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_built_with_unrepresentable_timeouts_still_works() {
    let mut spec = env_dump_spec(BTreeMap::new(), vec![]);
    spec.init_timeout = Duration::MAX;
    spec.call_timeout = Duration::MAX;
    let host = McpHost::start(vec![spec], Duration::from_secs(30)).await;
    assert!(host.is_ready("dump"), "{:?}", host.states());
    host.refresh_tools().await;
    assert!(host.call("environment", None).await.is_ok());
    host.shutdown().await;
}
