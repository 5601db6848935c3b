//! Sign-in per engineer on `serve --http`: real HTTP, real tokens from a local
//! OpenID issuer (tests/peers/issuer.py: its own RSA and P-256 keys, JWKS,
//! OpenID configuration), the real MCP service behind the sign-in guard.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use common::azure::{FakeApi, Reply, SALES_FACTORY_PATH, sales_clock, sales_vars};
use common::issuer::{AUDIENCE, Issuer, now};
use common::{TestClock, ToolClient, pinned, sandbox_backends};
use opsdeck::backends::Backends;
use opsdeck::ops::policy::{PolicyGuard, RemediationPolicy};
use opsdeck::server::OpsdeckServer;
use opsdeck::server::http::auth::{AuthSettings, OAuthFlags, SignIn};
use opsdeck::server::http::{HttpLimits, HttpOptions, HttpRuntime, app};

const READ: &str = "opsdeck.read";
const BOTH: &str = "opsdeck.read opsdeck.remediate";

fn settings(issuer: &Issuer) -> AuthSettings {
    AuthSettings::from_flags(&OAuthFlags {
        issuers: vec![issuer.url.clone()],
        audiences: vec![AUDIENCE.to_string()],
        ..OAuthFlags::default()
    })
    .unwrap()
    .unwrap()
}

/// A signed-in server over `backends`, auditing into `audit_dir`: the
/// application `serve --http --oauth-issuer …` runs, on a loopback port.
async fn serve(backends: Backends, settings: AuthSettings, audit_dir: &Path) -> SocketAddr {
    serve_in(backends, settings, audit_dir, false).await
}

async fn serve_in(
    backends: Backends,
    settings: AuthSettings,
    audit_dir: &Path,
    stateless: bool,
) -> SocketAddr {
    let guard = PolicyGuard::new(RemediationPolicy::default(), audit_dir);
    let server = OpsdeckServer::new(backends, false).with_policy(guard);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = HttpOptions {
        bind: addr,
        bearer_token: None,
        allowed_origins: vec![],
        allowed_hosts: vec![],
        allow_unauthenticated_remediation: false,
    };
    let runtime = HttpRuntime {
        stateless,
        sign_in: Some(SignIn::new(settings).unwrap()),
        ..HttpRuntime::default()
    };
    let app = app(
        server,
        &options,
        &HttpLimits::default(),
        &runtime,
        CancellationToken::new(),
    );
    tokio::spawn(async move { axum::serve(listener, app.router).await.unwrap() });
    addr
}

async fn serve_sandbox(settings: AuthSettings) -> (SocketAddr, PathBuf) {
    serve_sandbox_in(settings, false).await
}

async fn serve_sandbox_in(settings: AuthSettings, stateless: bool) -> (SocketAddr, PathBuf) {
    let (_, backends) = sandbox_backends("expired-secret", 7, TestClock::at(pinned()));
    let dir = common::process::tempdir("signin-audit");
    let addr = serve_in(backends, settings, &dir, stateless).await;
    (addr, dir.join("audit.jsonl"))
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// An `initialize` POST to `/mcp`, with `token` if given.
async fn initialize(addr: SocketAddr, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{} without WWW-Authenticate", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

async fn client(addr: SocketAddr, token: &str) -> ToolClient {
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header(token.to_string());
    ToolClient {
        client:
            ().serve(StreamableHttpClientTransport::from_config(config))
                .await
                .expect("a signed-in client connects"),
    }
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_good_token_reaches_the_tools_rs256_and_es256() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    let token = issuer.mint(issuer.claims("alice", READ)).await;
    let tools = client(addr, &token).await;
    assert!(tools.tools().await.iter().any(|t| t.name == "triage_run"));
    let status = tools
        .ok(
            "get_pipeline_status",
            json!({"pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert_eq!(status["pipeline"], "ingest_crm_customers");

    let es256 = issuer
        .mint_with(json!({"claims": issuer.claims("bob", READ), "alg": "ES256"}))
        .await;
    assert_eq!(initialize(addr, Some(&es256)).await.status(), 200);
}

/// Every kind of unusable token gets 401, the challenge pointing at the
/// metadata, `invalid_token`, and a description of what was wrong.
#[tokio::test]
async fn bad_tokens_get_401_with_a_challenge_that_says_why() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    let metadata =
        format!("resource_metadata=\"http://{addr}/.well-known/oauth-protected-resource\"");

    let none = initialize(addr, None).await;
    assert_eq!(none.status(), 401);
    let header = challenge(&none);
    assert!(header.starts_with("Bearer "), "{header}");
    assert!(header.contains(&metadata), "{header}");
    assert!(header.contains("scope=\"opsdeck.read\""), "{header}");
    assert!(
        !header.contains("error="),
        "no token, no error code: {header}"
    );

    let good = issuer.claims("alice", READ);
    let with = |change: Value| {
        let mut claims = good.clone();
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let t = now();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "wrong audience",
            json!({"claims": with(json!({"aud": "api://someone-else"}))}),
            "audience",
        ),
        (
            "expired",
            json!({"claims": with(json!({"exp": t - 600}))}),
            "expired",
        ),
        (
            "not yet valid",
            json!({"claims": with(json!({"nbf": t + 600}))}),
            "not valid yet",
        ),
        (
            "bad signature",
            json!({"claims": good, "sign_with": "rogue"}),
            "signature",
        ),
        (
            "unknown issuer",
            json!({"claims": with(json!({"iss": "https://evil.example.com"}))}),
            "does not trust",
        ),
        (
            "alg none",
            json!({"claims": good, "alg": "none"}),
            "RS256 or ES256",
        ),
        (
            "HS256 with the public key",
            json!({"claims": good, "alg": "HS256"}),
            "RS256 or ES256",
        ),
        (
            "unknown kid",
            json!({"claims": good, "kid": "nobody-knows"}),
            "kid",
        ),
        (
            "no exp",
            json!({"claims": with(json!({"exp": null}))}),
            "exp",
        ),
        (
            "no aud",
            json!({"claims": with(json!({"aud": null}))}),
            "aud",
        ),
    ];
    for (what, request, says) in cases {
        let token = issuer.mint_with(request).await;
        let response = initialize(addr, Some(&token)).await;
        assert_eq!(response.status(), 401, "{what}");
        let header = challenge(&response);
        assert!(header.contains(&metadata), "{what}: {header}");
        assert!(
            header.contains("error=\"invalid_token\""),
            "{what}: {header}"
        );
        assert!(header.contains("error_description=\""), "{what}: {header}");
        assert!(header.contains(says), "{what}: {header}");
    }
    let garbage = initialize(addr, Some("not-a-jwt")).await;
    assert_eq!(garbage.status(), 401);
    assert!(challenge(&garbage).contains("invalid_token"));
}

#[tokio::test]
async fn clock_skew_within_a_minute_is_tolerated() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    let t = now();
    let mut claims = issuer.claims("alice", READ);
    claims["exp"] = json!(t - 20);
    claims["nbf"] = json!(t + 20);
    let token = issuer.mint(claims).await;
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn a_token_without_the_read_permission_is_forbidden() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    let token = issuer.mint(issuer.claims("eve", "profile email")).await;
    let response = initialize(addr, Some(&token)).await;
    // RFC 6750 §3.1 and MCP's scope challenge: a valid token that lacks the
    // scope is 403 insufficient_scope, so the client asks for more, not again.
    assert_eq!(response.status(), 403);
    let header = challenge(&response);
    assert!(header.contains("error=\"insufficient_scope\""), "{header}");
    assert!(header.contains("scope=\"opsdeck.read\""), "{header}");
    assert!(header.contains("resource_metadata="), "{header}");
    assert!(header.contains("eve@example.com"), "{header}");

    // App roles count as permissions too.
    let mut by_role = issuer.claims("app", "");
    by_role["roles"] = json!(["opsdeck.read"]);
    let token = issuer.mint(by_role).await;
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn the_metadata_needs_no_token_and_names_the_issuer() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let doc: Value = response.json().await.unwrap();
        assert_eq!(doc["resource"], format!("http://{addr}/mcp"));
        assert_eq!(doc["authorization_servers"], json!([issuer.url]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            doc["scopes_supported"],
            json!(["opsdeck.read", "opsdeck.remediate"])
        );
    }
}

#[tokio::test]
async fn a_reader_may_preview_but_a_real_rerun_is_403_and_the_audit_names_who_acted() {
    readers_and_operators(false).await;
}

/// Stateless mode hands each request's caller to the tools the same way.
#[tokio::test]
async fn stateless_the_audit_names_who_acted_too() {
    readers_and_operators(true).await;
}

async fn readers_and_operators(stateless: bool) {
    let issuer = Issuer::start();
    let (addr, audit) = serve_sandbox_in(settings(&issuer), stateless).await;
    let reader = issuer.mint(issuer.claims("rita", READ)).await;
    let rerun = json!({"pipeline": "ingest_crm_customers", "dry_run": false});

    let call = |token: &str, args: &Value| {
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": "rerun_pipeline", "arguments": args}});
        reqwest::Client::new()
            .post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .bearer_auth(token)
            .body(body.to_string())
    };
    let refused = call(&reader, &rerun).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let header = challenge(&refused);
    assert!(header.contains("error=\"insufficient_scope\""), "{header}");
    assert!(
        header.contains("scope=\"opsdeck.read opsdeck.remediate\""),
        "{header}"
    );
    let cancel = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&reader)
        .body(
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "cancel_run", "arguments": {"run_id": "r1", "dry_run": false}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 403, "a real cancel is remediation too");

    // A dry run is a read.
    let tools = client(addr, &reader).await;
    let preview = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert_eq!(preview["dry_run"], true);

    // Someone who may remediate acts, and the audit names them from the
    // token, keeping what the call claimed apart.
    let operator = issuer.mint(issuer.claims("olga", BOTH)).await;
    let tools = client(addr, &operator).await;
    let done = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "dry_run": false, "approved_by": "mallory"}),
        )
        .await;
    assert_eq!(done["dry_run"], false);
    let lines = audit_lines(&audit);
    let acted = lines
        .iter()
        .find(|l| l["dry_run"] == false && l["tool"] == "rerun_pipeline")
        .unwrap_or_else(|| panic!("no audit of the real rerun: {lines:?}"));
    assert_eq!(acted["who"]["approved_by"], "olga@example.com");
    assert_eq!(acted["who"]["subject"], "oid-olga");
    assert_eq!(acted["who"]["issuer"], issuer.url);
    assert_eq!(acted["who"]["claimed_approved_by"], "mallory");
    assert!(
        !lines
            .iter()
            .any(|l| l["who"]["approved_by"] == "rita@example.com" && l["dry_run"] == false),
        "the reader's refused rerun never reached the tools: {lines:?}"
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_the_retired_one_stops_working() {
    let issuer = Issuer::start();
    let mut settings = settings(&issuer);
    settings.unknown_key_refetch_every = Duration::from_millis(200);
    let (addr, _) = serve_sandbox(settings).await;
    let old = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(initialize(addr, Some(&old)).await.status(), 200);

    issuer.rotate().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(
        initialize(addr, Some(&new)).await.status(),
        200,
        "a token signed by the new key is accepted after one key fetch"
    );
    let retired = initialize(addr, Some(&old)).await;
    assert_eq!(retired.status(), 401, "the old key left the issuer's JWKS");
    assert!(challenge(&retired).contains("kid"));
}

#[tokio::test]
async fn unknown_kids_cannot_make_the_server_hammer_the_issuer() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    let good = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(initialize(addr, Some(&good)).await.status(), 200);
    let before = issuer.jwks_fetches().await;
    for n in 0..8 {
        let forged = issuer
            .mint_with(json!({"claims": issuer.claims("x", READ), "kid": format!("made-up-{n}")}))
            .await;
        assert_eq!(initialize(addr, Some(&forged)).await.status(), 401);
    }
    let after = issuer.jwks_fetches().await;
    assert!(
        after - before <= 1,
        "{} key fetches for 8 unknown kids within 30 s",
        after - before
    );
}

#[tokio::test]
async fn keys_already_held_survive_an_issuer_that_stops_answering() {
    let mut issuer = Issuer::start();
    let mut settings = settings(&issuer);
    // Every request wants fresh keys: each one tries the issuer.
    settings.keys_refresh_every = Duration::from_millis(1);
    settings.unknown_key_refetch_every = Duration::from_millis(1);
    settings.fetch_timeout = Duration::from_secs(1);
    let (addr, _) = serve_sandbox(settings).await;
    let token = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
    issuer.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = std::time::Instant::now();
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_refuses_with_a_reason_not_a_hang() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = AuthSettings::from_flags(&OAuthFlags {
        issuers: vec![url.clone()],
        audiences: vec![AUDIENCE.to_string()],
        ..OAuthFlags::default()
    })
    .unwrap()
    .unwrap();
    let (addr, _) = serve_sandbox(settings).await;
    // Any well-formed token from that issuer (signed by a key the server never saw).
    let issuer = Issuer::start();
    let mut claims = issuer.claims("alice", READ);
    claims["iss"] = json!(url);
    let token = issuer.mint(claims).await;
    let response = tokio::time::timeout(Duration::from_secs(15), initialize(addr, Some(&token)))
        .await
        .expect("answered within the fetch timeout");
    assert_eq!(response.status(), 401);
    let header = challenge(&response);
    assert!(header.contains("keys cannot be fetched"), "{header}");
}

/// The MCP token is for opsdeck only: backends get their own credential.
#[tokio::test]
async fn backends_never_see_the_callers_token() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    fake.route(
        "POST",
        &format!("{SALES_FACTORY_PATH}/pipelines/ingest_orders/createRun"),
        None,
        vec![Reply::json(
            200,
            json!({"runId": "6f6f6f6f-0000-4000-8000-000000000002"}),
        )],
    );
    let backends = common::azure::backends(
        &common::azure::settings(&fake, &sales_vars()),
        sales_clock(),
    )
    .await;
    let issuer = Issuer::start();
    let dir = common::process::tempdir("signin-fake");
    let addr = serve(backends, settings(&issuer), &dir).await;
    let token = issuer.mint(issuer.claims("olga", BOTH)).await;
    let tools = client(addr, &token).await;
    tools.ok("list_pipeline_runs", json!({})).await;
    let started = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": false}),
        )
        .await;
    assert_eq!(
        started["new_run_id"],
        "6f6f6f6f-0000-4000-8000-000000000002"
    );
    let seen = fake.requests();
    assert!(!seen.is_empty());
    for request in seen {
        let auth = request.authorization.clone().unwrap_or_default();
        assert!(
            !auth.contains(&token),
            "{} {} got the MCP token",
            request.method,
            request.path
        );
        assert!(auth.starts_with("Bearer token-for:"), "{auth}");
        assert!(!request.body.to_string().contains(&token));
        assert!(!request.query.contains(&token));
    }
    let audit = audit_lines(&dir.join("audit.jsonl"));
    assert!(audit.iter().all(|l| !l.to_string().contains(&token)));
}

/// The Python MCP SDK client (tests/peers/mcp_client.py) against `url`,
/// with `token` as its bearer token if given, making `calls`.
async fn python_client(
    url: &str,
    token: Option<&str>,
    calls: &[(&str, Value)],
) -> std::process::Output {
    let mut command = common::process::python_mcp_client("venv-mcp2", 30);
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    for (tool, args) in calls {
        command.args(["--call", tool, &args.to_string()]);
    }
    command.args(["--http", url]);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// The real `opsdeck serve --http --oauth-issuer …` with the official Python
/// MCP SDK as the client: readers read, a reader's real rerun is 403, an
/// operator's rerun is audited under the name in their token.
#[tokio::test]
async fn the_binary_signs_in_the_python_sdk_client() {
    let issuer = Issuer::start();
    let dir = common::process::tempdir("signin-binary");
    let audit = dir.join("audit.jsonl");
    let (_server, url) = common::process::start_http_server(&[
        "--oauth-issuer",
        &issuer.url,
        "--oauth-audience",
        AUDIENCE,
        "--audit-log",
        audit.to_str().unwrap(),
    ]);
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();

    let anonymous = initialize(addr, None).await;
    assert_eq!(anonymous.status(), 401);
    assert!(
        challenge(&anonymous).contains(&format!(
            "resource_metadata=\"http://{addr}/.well-known/oauth-protected-resource\""
        )),
        "{}",
        challenge(&anonymous)
    );
    let metadata: Value = reqwest::get(format!(
        "http://{addr}/.well-known/oauth-protected-resource"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["authorization_servers"], json!([issuer.url]));

    let reader = issuer.mint(issuer.claims("rita", READ)).await;
    let read = python_client(
        &url,
        Some(&reader),
        &[
            (
                "get_pipeline_status",
                json!({"pipeline": "ingest_crm_customers"}),
            ),
            (
                "rerun_pipeline",
                json!({"pipeline": "ingest_crm_customers"}),
            ),
        ],
    )
    .await;
    let report = common::process::client_report(&read);
    assert_eq!(report["calls"][0]["is_error"], false, "{report}");
    assert_eq!(
        report["calls"][1]["structured"]["dry_run"], true,
        "{report}"
    );
    assert!(
        !python_client(&url, None, &[]).await.status.success(),
        "no token, no session"
    );

    let real = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "rerun_pipeline",
                                 "arguments": {"pipeline": "ingest_crm_customers", "dry_run": false}}});
    let refused = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&reader)
        .body(real.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(challenge(&refused).contains("insufficient_scope"));

    let operator = issuer.mint(issuer.claims("olga", BOTH)).await;
    let acted = python_client(
        &url,
        Some(&operator),
        &[(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "dry_run": false, "approved_by": "mallory"}),
        )],
    )
    .await;
    let report = common::process::client_report(&acted);
    assert_eq!(report["calls"][0]["is_error"], false, "{report}");
    let lines = audit_lines(&audit);
    let record = lines
        .iter()
        .find(|l| l["dry_run"] == false)
        .unwrap_or_else(|| panic!("the real rerun is audited: {lines:?}"));
    assert_eq!(record["who"]["approved_by"], "olga@example.com");
    assert_eq!(record["who"]["subject"], "oid-olga");
    assert_eq!(record["who"]["claimed_approved_by"], "mallory");
    assert!(!std::fs::read_to_string(&audit).unwrap().contains(&operator));
}
