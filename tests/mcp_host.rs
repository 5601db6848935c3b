//! The MCP host against servers no one here wrote — the Python SDK's server and
//! `@modelcontextprotocol/server-everything` — and our own, over stdio and HTTP;
//! plus servers that crash, hang, flood stderr and change their tools.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::process::{
    ChildGuard, OPSDECK, peer_script, peers_dir, pinned_serve_args, python, start_http_server,
    tempdir,
};
use opsdeck::config::servers::{ServerSpec, ServerTransport};
use opsdeck::mcp::{CallError, ConnectionState, McpHost};
use serde_json::{Value, json};

fn stdio(name: &str, command: String, args: Vec<String>, timeout: Duration) -> ServerSpec {
    ServerSpec {
        name: name.into(),
        transport: ServerTransport::Stdio {
            command,
            args,
            env: BTreeMap::from([(
                "OPSDECK_LOG_DIR".to_string(),
                tempdir("host-logs").display().to_string(),
            )]),
            cwd: None,
            pass_env: vec![],
        },
        trusted: false,
        read_only: false,
        allowed_tools: None,
        denied_tools: vec![],
        always_allow: Vec::new(),
        call_timeout: timeout,
        init_timeout: Duration::from_secs(30),
    }
}

fn http(name: &str, url: String) -> ServerSpec {
    ServerSpec {
        name: name.into(),
        transport: ServerTransport::Http {
            url,
            headers: BTreeMap::new(),
            token_scope: None,
        },
        trusted: false,
        read_only: false,
        allowed_tools: None,
        denied_tools: vec![],
        always_allow: Vec::new(),
        call_timeout: Duration::from_secs(30),
        init_timeout: Duration::from_secs(30),
    }
}

fn opsdeck_spec() -> ServerSpec {
    let mut spec = stdio(
        "opsdeck",
        OPSDECK.into(),
        pinned_serve_args(),
        Duration::from_secs(30),
    );
    spec.trusted = true;
    spec
}

fn python_spec(marker: &str, timeout: Duration) -> ServerSpec {
    let args = vec![
        peer_script("test_server.py").display().to_string(),
        marker.to_string(),
    ];
    stdio(
        "py",
        python("venv-mcp2").display().to_string(),
        args,
        timeout,
    )
}

fn everything_spec() -> ServerSpec {
    let script =
        peers_dir().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    stdio(
        "everything",
        "node".into(),
        vec![script.display().to_string(), "stdio".into()],
        Duration::from_secs(30),
    )
}

fn args(value: Value) -> Option<serde_json::Map<String, Value>> {
    value.as_object().cloned()
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ready(host: &McpHost, server: &str) -> bool {
    host.states()
        .iter()
        .any(|(name, state)| name == server && matches!(state, ConnectionState::Ready { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_catalogue_over_three_stdio_servers_with_collisions_prefixed() {
    let host = McpHost::start(
        vec![
            opsdeck_spec(),
            python_spec("catalogue", Duration::from_secs(30)),
            everything_spec(),
        ],
        Duration::from_secs(30),
    )
    .await;
    for server in ["opsdeck", "py", "everything"] {
        assert!(
            ready(&host, server),
            "{server} not ready: {:?}",
            host.states()
        );
    }
    let catalog = host.catalog().await;
    let names: Vec<&str> = catalog.iter().map(|t| t.exposed_name.as_str()).collect();
    for expected in [
        "opsdeck__list_pipeline_runs",
        "py__list_pipeline_runs",
        "py__echo",
        "everything__echo",
        "triage_run",
        "get-sum",
        "hang",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let runs = host
        .call("opsdeck__list_pipeline_runs", args(json!({"limit": 2})))
        .await
        .unwrap();
    assert_eq!(
        runs.structured_content.unwrap()["runs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let echoed = host
        .call("py__echo", args(json!({"text": "from python"})))
        .await
        .unwrap();
    assert_eq!(text(&echoed), "from python");
    let echoed = host
        .call("everything__echo", args(json!({"message": "from node"})))
        .await
        .unwrap();
    assert!(text(&echoed).contains("from node"), "{}", text(&echoed));
    let sum = host
        .call("get-sum", args(json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    assert!(text(&sum).contains('5'), "{}", text(&sum));
    let unknown = host.call("nope", None).await.unwrap_err();
    assert!(
        matches!(unknown, CallError::UnknownTool { .. })
            && unknown.to_string().contains("triage_run")
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_servers_of_three_kinds() {
    let (_opsdeck, opsdeck_url) = start_http_server(&[]);
    let py_port = free_port();
    let py = ChildGuard(
        std::process::Command::new(python("venv-mcp2"))
            .arg(peer_script("test_server.py"))
            .args(["--http", &py_port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let everything_port = free_port();
    let script =
        peers_dir().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let everything = ChildGuard(
        std::process::Command::new("node")
            .arg("--import")
            .arg(peer_script("loopback.mjs"))
            .arg(script)
            .arg("streamableHttp")
            .env("PORT", everything_port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(py_port);
    wait_for_port(everything_port);
    let host = McpHost::start(
        vec![
            http("opsdeck", opsdeck_url),
            http("py", format!("http://127.0.0.1:{py_port}/mcp")),
            http(
                "everything",
                format!("http://127.0.0.1:{everything_port}/mcp"),
            ),
        ],
        Duration::from_secs(30),
    )
    .await;
    for server in ["opsdeck", "py", "everything"] {
        assert!(
            ready(&host, server),
            "{server} not ready: {:?}",
            host.states()
        );
    }
    let status = host
        .call(
            "get_pipeline_status",
            args(json!({"pipeline": "ingest_crm_customers"})),
        )
        .await
        .unwrap();
    assert_eq!(status.structured_content.unwrap()["state"], "failing");
    assert_eq!(
        text(
            &host
                .call("py__echo", args(json!({"text": "over http"})))
                .await
                .unwrap()
        ),
        "over http"
    );
    let sum = host
        .call("get-sum", args(json!({"a": 20, "b": 22})))
        .await
        .unwrap();
    assert!(text(&sum).contains("42"), "{}", text(&sum));
    host.shutdown().await;
    drop((py, everything));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_crashes_mid_call_fails_the_call_and_is_restarted() {
    let host = McpHost::start(
        vec![python_spec("crash", Duration::from_secs(30))],
        Duration::from_secs(30),
    )
    .await;
    assert!(ready(&host, "py"), "{:?}", host.states());
    let mut state = host.watch_states().remove(0).1;
    let started = Instant::now();
    let error = host.call("crash", None).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the call failed at once, not at the timeout"
    );
    assert!(matches!(error, CallError::Failed { .. }), "{error}");
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await
    .expect("the loss is reported as a state change")
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        state.wait_for(|s| matches!(s, ConnectionState::Ready { .. })),
    )
    .await
    .expect("the server is restarted")
    .unwrap();
    assert_eq!(
        text(
            &host
                .call("echo", args(json!({"text": "back"})))
                .await
                .unwrap()
        ),
        "back"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_stays_usable() {
    let host = McpHost::start(
        vec![python_spec("hang", Duration::from_secs(1))],
        Duration::from_secs(30),
    )
    .await;
    let started = Instant::now();
    let error = host.call("hang", None).await.unwrap_err();
    assert!(matches!(error, CallError::Timeout { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        error.to_string().contains("did not answer within 1s"),
        "{error}"
    );
    assert_eq!(
        text(
            &host
                .call("echo", args(json!({"text": "still here"})))
                .await
                .unwrap()
        ),
        "still here"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_flooding_stderr_never_blocks() {
    let host = McpHost::start(
        vec![python_spec("flood", Duration::from_secs(60))],
        Duration::from_secs(30),
    )
    .await;
    let result = host
        .call("flood_stderr", args(json!({"lines": 100000})))
        .await
        .unwrap();
    assert_eq!(text(&result), "wrote 100000 lines");
    assert_eq!(
        text(
            &host
                .call("echo", args(json!({"text": "ok"})))
                .await
                .unwrap()
        ),
        "ok"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_definition_shows_as_a_new_hash() {
    let host = McpHost::start(
        vec![python_spec("change", Duration::from_secs(30))],
        Duration::from_secs(30),
    )
    .await;
    let before = host
        .catalog()
        .await
        .into_iter()
        .find(|t| t.exposed_name == "echo")
        .unwrap();
    host.call("change_definition", None).await.unwrap();
    host.refresh_tools().await;
    let after = host
        .catalog()
        .await
        .into_iter()
        .find(|t| t.exposed_name == "echo")
        .unwrap();
    assert_ne!(before.definition_hash, after.definition_hash);
    assert!(
        after
            .tool
            .description
            .as_deref()
            .unwrap()
            .contains("changed")
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_child_behind() {
    let marker = format!("marker-{}", std::process::id());
    let host = McpHost::start(
        vec![python_spec(&marker, Duration::from_secs(30))],
        Duration::from_secs(30),
    )
    .await;
    assert!(ready(&host, "py"));
    let pids = processes_with(&marker);
    assert_eq!(pids.len(), 1, "{pids:?}");
    host.shutdown().await;
    // A zombie keeps its /proc entry (state Z) until reaped; a reaped child has none.
    let entry = std::path::Path::new("/proc").join(pids[0].to_string());
    assert!(
        !entry.exists(),
        "child {} still has a /proc entry: {:?}",
        pids[0],
        std::fs::read_to_string(entry.join("stat"))
    );
}

/// Pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .parse::<u32>()
                .ok()
                .map(|pid| (pid, e.path()))
        })
        .filter(|(_, path)| {
            let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .map(|(pid, _)| pid)
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}
