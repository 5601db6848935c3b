//! `serve --http`: streamable HTTP for a real rmcp client, health endpoints,
//! Origin checks and bearer authentication.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use common::{TestClock, pinned, sandbox_backends, text_of};
use opsdeck::server::OpsdeckServer;
use opsdeck::server::http::{HttpLimits, HttpOptions, SERVER_BUSY, router, router_with_limits};

async fn serve(token: Option<&str>) -> SocketAddr {
    serve_with(token, false).await
}

async fn serve_with(token: Option<&str>, allow_unauthenticated_remediation: bool) -> SocketAddr {
    serve_limited(
        token,
        allow_unauthenticated_remediation,
        HttpLimits::default(),
    )
    .await
}

async fn serve_limited(
    token: Option<&str>,
    allow_unauthenticated_remediation: bool,
    limits: HttpLimits,
) -> SocketAddr {
    let (_, backends) = sandbox_backends("expired-secret", 7, TestClock::at(pinned()));
    let server = OpsdeckServer::new(backends, false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = HttpOptions {
        bind: addr,
        bearer_token: token.map(str::to_string),
        allowed_origins: vec![],
        allowed_hosts: vec![],
        allow_unauthenticated_remediation,
    };
    let app = if limits == HttpLimits::default() {
        router(server, &options, CancellationToken::new())
    } else {
        router_with_limits(server, &options, &limits, CancellationToken::new())
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn post(addr: SocketAddr) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT)
}

#[tokio::test]
async fn an_rmcp_client_lists_and_calls_tools_over_http() {
    let addr = serve(None).await;
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "triage_run"));
    let result = client
        .call_tool(
            CallToolRequestParams::new("get_pipeline_status").with_arguments(
                serde_json::json!({"pipeline": "ingest_crm_customers"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(result.structured_content.unwrap()["state"], "failing");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn health_endpoints_answer() {
    let addr = serve(None).await;
    let live = reqwest::get(format!("http://{addr}/health/live"))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = reqwest::get(format!("http://{addr}/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["backends"][0]["ok"], true);
}

#[tokio::test]
async fn a_foreign_browser_origin_is_rejected_and_localhost_accepted() {
    let addr = serve(None).await;
    let evil = post(addr)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let local = post(addr)
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    let none = post(addr).send().await.unwrap();
    assert_eq!(none.status(), 200, "non-browser clients send no Origin");
}

#[tokio::test]
async fn a_foreign_host_header_is_rejected() {
    let addr = serve(None).await;
    let rebound = post(addr)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "DNS rebinding protection");
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let token = "s3cret-token-for-tests-0123456789";
    let addr = serve(Some(token)).await;
    let missing = post(addr).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.headers().get("www-authenticate").is_some());
    let wrong = post(addr).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let health = reqwest::get(format!("http://{addr}/health/live"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "probes need no token");
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header(token);
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    assert!(!client.list_all_tools().await.unwrap().is_empty());
    client.cancel().await.unwrap();
}

const TOKEN: &str = "s3cret-token-for-tests-0123456789";

async fn mcp_client(addr: SocketAddr, token: Option<&str>) -> RunningService<RoleClient, ()> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap()
}

fn real_rerun() -> Value {
    json!({"pipeline": "ingest_crm_customers", "dry_run": false})
}

async fn health(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn without_a_token_real_remediation_is_refused_and_says_how_to_enable_it() {
    let addr = serve(None).await;
    let client = mcp_client(addr, None).await;
    let refused = call(&client, "rerun_pipeline", real_rerun()).await;
    assert_eq!(refused.is_error, Some(true), "{}", text_of(&refused));
    let text = text_of(&refused);
    for hint in [
        "OPSDECK_HTTP_TOKEN",
        "--token-file",
        "--http-allow-unauthenticated-remediation",
    ] {
        assert!(text.contains(hint), "{hint} missing: {text}");
    }
    let failed = call(
        &client,
        "list_pipeline_runs",
        json!({"pipeline": "ingest_crm_customers", "status": "Failed"}),
    )
    .await;
    let run_id = failed.structured_content.unwrap()["runs"][0]["run_id"].clone();
    let cancel = call(
        &client,
        "cancel_run",
        json!({"run_id": run_id, "dry_run": false}),
    )
    .await;
    assert!(
        text_of(&cancel).contains("OPSDECK_HTTP_TOKEN"),
        "{}",
        text_of(&cancel)
    );
    let preview = call(
        &client,
        "rerun_pipeline",
        json!({"pipeline": "ingest_crm_customers", "dry_run": true}),
    )
    .await;
    assert_eq!(preview.is_error, Some(false), "{}", text_of(&preview));
    assert_eq!(preview.structured_content.unwrap()["dry_run"], true);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn with_the_token_real_remediation_goes_ahead() {
    let addr = serve(Some(TOKEN)).await;
    let client = mcp_client(addr, Some(TOKEN)).await;
    let done = call(&client, "rerun_pipeline", real_rerun()).await;
    assert_eq!(done.is_error, Some(false), "{}", text_of(&done));
    let outcome = done.structured_content.unwrap();
    assert_eq!(outcome["dry_run"], false);
    assert!(outcome["new_run_id"].is_string(), "{outcome}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_explicit_flag_allows_unauthenticated_remediation_and_ready_says_so() {
    let addr = serve_with(None, true).await;
    let client = mcp_client(addr, None).await;
    let done = call(&client, "rerun_pipeline", real_rerun()).await;
    assert_eq!(done.is_error, Some(false), "{}", text_of(&done));
    client.cancel().await.unwrap();
    let (status, ready) = health(addr, "/health/ready", None).await;
    assert_eq!(status, 200);
    assert_eq!(ready["remediation"]["unauthenticated"], true, "{ready}");
    assert!(
        ready["remediation"]["real"]
            .as_str()
            .unwrap()
            .contains("WITHOUT AUTHENTICATION"),
        "{ready}"
    );
    let (_, closed) = health(serve(None).await, "/health/ready", None).await;
    assert_eq!(closed["remediation"]["unauthenticated"], false, "{closed}");
}

#[tokio::test]
async fn ready_without_the_token_says_only_whether_it_is_ready() {
    let addr = serve(Some(TOKEN)).await;
    assert_eq!(
        health(addr, "/health/ready", None).await,
        (200, json!({"status": "ready"}))
    );
    assert_eq!(
        health(addr, "/health/ready", Some("wrong-token-wrong-token")).await,
        (200, json!({"status": "ready"}))
    );
    assert_eq!(
        health(addr, "/health/live", None).await,
        (200, json!({"status": "live"}))
    );
    let (status, detailed) = health(addr, "/health/ready", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(detailed["backends"][0]["ok"], true, "{detailed}");
    assert!(detailed["backends"][0]["name"].is_string(), "{detailed}");
    assert_eq!(detailed["remediation"]["unauthenticated"], false);
}

#[tokio::test]
async fn health_routes_check_the_host_and_origin_too() {
    let addr = serve(None).await;
    let get = |path: &str| reqwest::Client::new().get(format!("http://{addr}{path}"));
    for path in ["/health/live", "/health/ready"] {
        let rebound = get(path)
            .header("host", "attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), 403, "{path}: DNS rebinding");
        let foreign = get(path)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 403, "{path}: foreign origin");
        let local = get(path)
            .header("origin", "http://localhost:6274")
            .send()
            .await
            .unwrap();
        assert_eq!(local.status(), 200, "{path}: local origin");
    }
}

/// Every malformed request gets its JSON-RPC answer over HTTP too: a body that
/// is not JSON (-32700), a `tools/call` whose `arguments` is not an object
/// (-32602, not "method not found"), and a body over the cap (-32600, 413) —
/// read only up to the cap.
#[tokio::test]
async fn malformed_requests_get_their_json_rpc_errors() {
    let addr = serve(None).await;
    let not_json = post(addr).body("{not json").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");
    assert_eq!(body["id"], Value::Null);

    for arguments in [json!("a string"), json!([1, 2]), json!(7)] {
        let request = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
                             "params": {"name": "list_pipelines", "arguments": arguments}});
        let answer = post(addr).json(&request).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32602, "{body}");
        assert_eq!(body["id"], 41);
    }

    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{{"name":"fetch_logs","arguments":{{"pipeline":"{}"}}}}}}"#,
        "x".repeat(5 << 20)
    );
    let answer = post(addr).body(huge).send().await.unwrap();
    assert_eq!(answer.status(), 413);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert_eq!(body["id"], "big-1", "the id is read from the body's start");
}

/// A POST on an open session (`id`), with `body`.
fn post_in_session(addr: SocketAddr, id: &str, body: Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-06-18")
        .body(body.to_string())
}

/// Opens a session; its id.
async fn initialize(addr: SocketAddr) -> Result<String, (u16, Value)> {
    let answer = post(addr).send().await.unwrap();
    let status = answer.status().as_u16();
    let id = answer
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = answer.text().await.unwrap();
    match id {
        Some(id) if status == 200 => Ok(id),
        _ => Err((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_limit_get_503_and_an_idle_one_expires_and_frees_its_slot() {
    let limits = HttpLimits {
        max_sessions: 4,
        // Long enough that opening 40 sessions on a loaded 2-core machine
        // never outlasts it (at 1 s, some expired mid-loop and freed slots).
        session_idle: Duration::from_secs(5),
        ..HttpLimits::default()
    };
    let addr = serve_limited(None, false, limits).await;
    let mut open = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..40 {
        match initialize(addr).await {
            Ok(id) => open.push(id),
            Err(refusal) => refused.push(refusal),
        }
    }
    assert_eq!(open.len(), 4, "{refused:?}");
    assert_eq!(refused.len(), 36);
    for (status, body) in &refused {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["error"]["code"], SERVER_BUSY, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("this server already has 4 open MCP sessions, the most it keeps"),
            "{message}"
        );
    }
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let alive = post_in_session(addr, &open[0], initialized)
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 202, "a session in use stays open");
    // Unused for longer than the idle timeout, every session closes…
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let expired = post_in_session(addr, &open[0], ping).send().await.unwrap();
    assert_eq!(expired.status(), 404, "an idle session expires");
    // …and frees its slot.
    for _ in 0..4 {
        initialize(addr)
            .await
            .expect("a slot freed by an expired session");
    }
    assert_eq!(initialize(addr).await.unwrap_err().0, 503);
}

/// A connection that sends a POST's headers and only half its body, and holds.
async fn half_sent_post(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: {}\r\n\r\n",
        INIT.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&INIT.as_bytes()[..INIT.len() / 2])
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_frees_its_slot() {
    use tokio::io::AsyncReadExt;
    let limits = HttpLimits {
        max_requests_in_flight: 1,
        body_read_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let addr = serve_limited(None, false, limits).await;
    let mut slow = half_sent_post(addr).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer))
        .await
        .expect("the server answers a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 1 s"), "{answer}");
    assert_eq!(post(addr).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_limit_get_503_until_one_ends() {
    let limits = HttpLimits {
        max_requests_in_flight: 2,
        ..HttpLimits::default()
    };
    let addr = serve_limited(None, false, limits).await;
    let slow = [half_sent_post(addr).await, half_sent_post(addr).await];
    // Both are being read now, each holding its permit.
    let mut third = None;
    for _ in 0..50 {
        let answer = post(addr).send().await.unwrap();
        if answer.status() == 503 {
            third = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = third.expect("a third request in flight is refused");
    assert_eq!(third.headers()["retry-after"], "1");
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], SERVER_BUSY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("this server already has 2 requests in flight"),
        "{body}"
    );
    drop(slow);
    let mut served = false;
    for _ in 0..50 {
        if post(addr).send().await.unwrap().status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "closed requests give their permits back");
}
