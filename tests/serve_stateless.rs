//! `opsdeck serve --http ADDR --stateless`: no MCP session is kept, so any
//! replica answers any request. The official Python SDK client runs whole
//! sessions against one stateless server, and against two behind a
//! round-robin proxy (each request to the next replica), and the flags that
//! need sessions are refused.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use common::process::{
    OPSDECK, client_report, pinned_serve_args, python_mcp_client, start_http_server, tempdir,
};

const CALLS: &[(&str, &str)] = &[
    ("list_pipeline_runs", r#"{"limit": 5, "status": "Failed"}"#),
    (
        "get_pipeline_status",
        r#"{"pipeline": "ingest_crm_customers"}"#,
    ),
    (
        "rerun_pipeline",
        r#"{"pipeline": "ingest_crm_customers", "dry_run": true}"#,
    ),
    ("get_pipeline_status", r#"{"pipeline": "no_such_pipeline"}"#),
];

/// The Python SDK client's report of a whole session at `url` (mode: auto or legacy).
async fn python_session(url: String, mode: &'static str) -> Value {
    let mut command = python_mcp_client("venv-mcp2", 90);
    command.args(["--mode", mode]);
    for (tool, args) in CALLS {
        command.args(["--call", tool, args]);
    }
    command
        .args(["--http", &url])
        .env("OPSDECK_LOG_DIR", tempdir("stateless-py"));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the python client runs");
    client_report(&output)
}

fn check_session(report: &Value) {
    assert_eq!(report["server_name"], "opsdeck", "{report:#}");
    let tools = report["tools"].as_array().unwrap();
    assert!(
        tools.iter().any(|t| t["name"] == "triage_run"),
        "{report:#}"
    );
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls.len(), CALLS.len(), "{report:#}");
    assert_eq!(calls[0]["is_error"], false, "{}", calls[0]);
    assert!(calls[0]["structured"]["count"].as_u64().unwrap() >= 1);
    assert_eq!(
        calls[1]["structured"]["last_failure"]["run_id"]
            .as_str()
            .map(str::len),
        Some(36),
        "{}",
        calls[1]
    );
    assert_eq!(calls[2]["structured"]["dry_run"], true, "{}", calls[2]);
    // A tool error is still an answer, from whichever replica.
    assert_eq!(calls[3]["is_error"], true, "{}", calls[3]);
    assert!(
        calls[3]["text"][0]
            .as_str()
            .unwrap()
            .contains("no_such_pipeline"),
        "{}",
        calls[3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_runs_whole_sessions_against_a_stateless_server() {
    let (_server, url) = start_http_server(&["--stateless", "--replica-name", "solo"]);
    for mode in ["legacy", "auto"] {
        let report = python_session(url.clone(), mode).await;
        check_session(&report);
    }

    // No session: initialize gets no Mcp-Session-Id, and every answer names the replica.
    let client = reqwest::Client::new();
    let init = client
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.headers().get("mcp-session-id").is_none());
    assert_eq!(init.headers()["opsdeck-replica"], "solo");
    assert!(
        init.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "answers are plain JSON"
    );
    // A request on its own, with no initialize before it, is served.
    let call = client
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_pipeline_status","arguments":{"pipeline":"ingest_crm_customers"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    let body: Value = call.json().await.unwrap();
    assert_eq!(body["result"]["isError"], false, "{body}");
    // There is no event stream to open.
    let get = client
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let ready = client
        .get(url.replace("/mcp", "/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.headers()["opsdeck-replica"], "solo");
}

/// A proxy sending each request to the next upstream in turn, counting which
/// replica (by its `opsdeck-replica` header) answered.
#[derive(Clone)]
struct RoundRobin {
    upstreams: Arc<Vec<String>>,
    next: Arc<Mutex<usize>>,
    answered_by: Arc<Mutex<BTreeMap<String, usize>>>,
    client: reqwest::Client,
}

async fn forward(
    State(proxy): State<RoundRobin>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let upstream = {
        let mut next = proxy.next.lock().unwrap();
        *next += 1;
        proxy.upstreams[*next % proxy.upstreams.len()].clone()
    };
    let mut request = proxy
        .client
        .request(method, format!("{upstream}{uri}"))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut out = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out.insert(name, value.clone());
        }
    }
    if let Some(replica) = answer.headers().get("opsdeck-replica") {
        *proxy
            .answered_by
            .lock()
            .unwrap()
            .entry(replica.to_str().unwrap().to_string())
            .or_default() += 1;
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    (status, out, bytes).into_response()
}

async fn start_proxy(upstreams: Vec<String>) -> (SocketAddr, RoundRobin) {
    let proxy = RoundRobin {
        upstreams: Arc::new(upstreams),
        next: Arc::default(),
        answered_by: Arc::default(),
        client: reqwest::Client::new(),
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, proxy)
}

fn origin_of(url: &str) -> String {
    url.trim_end_matches("/mcp").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stateless_replicas_behind_round_robin_serve_one_client_session() {
    let (_a, url_a) = start_http_server(&["--stateless", "--replica-name", "replica-a"]);
    let (_b, url_b) = start_http_server(&["--stateless", "--replica-name", "replica-b"]);
    let (proxy_addr, proxy) = start_proxy(vec![origin_of(&url_a), origin_of(&url_b)]).await;
    for mode in ["legacy", "auto"] {
        let report = python_session(format!("http://{proxy_addr}/mcp"), mode).await;
        check_session(&report);
    }
    let answered_by = proxy.answered_by.lock().unwrap().clone();
    assert_eq!(
        answered_by.keys().collect::<Vec<_>>(),
        ["replica-a", "replica-b"],
        "{answered_by:?}"
    );
    // Each session has at least initialize + list + the calls: both replicas served several.
    assert!(
        answered_by.values().all(|n| *n >= 3),
        "requests spread over both replicas: {answered_by:?}"
    );
}

#[test]
fn flags_that_need_sessions_are_refused_with_stateless() {
    for (flag, value) in [
        ("--http-max-sessions", "10"),
        ("--http-session-idle-seconds", "30"),
    ] {
        let output = Command::new(OPSDECK)
            .args(pinned_serve_args())
            .args(["--http", "127.0.0.1:0", "--stateless", flag, value])
            .env("OPSDECK_LOG_DIR", tempdir("stateless-refused"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{flag} cannot be used with --stateless"))
                && stderr.contains("keeps no MCP sessions"),
            "{stderr}"
        );
    }
    // Without --http there is nothing to be stateless about.
    let output = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .arg("--stateless")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--http"));
    // A replica name that cannot be a header value is refused by name.
    let output = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0", "--stateless"])
        .args(["--replica-name", "bad name\u{1b}[2J"])
        .env("OPSDECK_LOG_DIR", tempdir("stateless-refused"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--replica-name"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn a_stateless_server_refuses_a_policy_that_needs_its_memory() {
    let dir = tempdir("stateless-policy");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "[remediation]\nrequire_preview = true\n").unwrap();
    let output = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0", "--stateless"])
        .args(["--policy", policy.to_str().unwrap()])
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("require_preview"), "{stderr}");
}
