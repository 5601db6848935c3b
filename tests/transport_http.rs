//! `serve --http`: streamable HTTP for a real rmcp client, health endpoints,
//! Origin checks and bearer authentication.

mod common;

use std::net::SocketAddr;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio_util::sync::CancellationToken;

use common::{TestClock, pinned, sandbox_backends};
use opsdeck::server::OpsdeckServer;
use opsdeck::server::http::{HttpOptions, router};

async fn serve(token: Option<&str>) -> SocketAddr {
    let (_, backends) = sandbox_backends("expired-secret", 7, TestClock::at(pinned()));
    let server = OpsdeckServer::new(backends, false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = HttpOptions {
        bind: addr,
        bearer_token: token.map(str::to_string),
        allowed_origins: vec![],
        allowed_hosts: vec![],
    };
    let app = router(server, &options, CancellationToken::new());
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
