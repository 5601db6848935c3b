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
use common::issuer::{AUDIENCE, Issuer, KeyRelay, RelayMode, hanging_issuer, now};
use common::{TestClock, ToolClient, pinned, sandbox_backends};
use opsdeck::backends::Backends;
use opsdeck::ops::policy::{PolicyGuard, RemediationPolicy};
use opsdeck::server::OpsdeckServer;
use opsdeck::server::http::auth::{AuthSettings, Caller, OAuthFlags, SignIn, guard};
use opsdeck::server::http::{HttpLimits, HttpOptions, HttpRuntime, app};

const READ: &str = "opsdeck.read";
const BOTH: &str = "opsdeck.read opsdeck.remediate";

fn settings(issuer: &Issuer) -> AuthSettings {
    settings_for(&[&issuer.url], None)
}

/// Sign-in trusting `issuers`, with the keys at `jwks_uri` if given.
fn settings_for(issuers: &[&str], jwks_uri: Option<&str>) -> AuthSettings {
    AuthSettings::from_flags(&OAuthFlags {
        issuers: issuers.iter().map(|i| i.to_string()).collect(),
        audiences: vec![AUDIENCE.to_string()],
        jwks_uri: jwks_uri.map(str::to_string),
        ..OAuthFlags::default()
    })
    .unwrap()
    .unwrap()
}

/// A port on loopback that nothing listens on (just released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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

/// An issuer that is down (connection refused); one that hangs instead is
/// `a_hanging_issuer_does_not_hold_up_callers_whose_keys_are_held`.
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

/// An issuer whose keys cannot be fetched: the caller gets a prompt 401 that
/// says to try later, and nothing of where the keys live or how the fetch
/// failed (that detail is for the server's log).
#[tokio::test]
async fn an_issuer_that_cannot_be_reached_refuses_promptly_without_the_details() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let jwks_port = closed_port();
    let jwks = format!("http://127.0.0.1:{jwks_port}/keys/jwks");
    // Any well-formed token from that issuer (signed by a key the server never saw).
    let issuer = Issuer::start();
    let mut claims = issuer.claims("alice", READ);
    claims["iss"] = json!(url);
    let token = issuer.mint(claims).await;
    for (what, settings) in [
        ("discovery", settings_for(&[&url], None)),
        ("fixed JWKS URI", settings_for(&[&url], Some(&jwks))),
    ] {
        let (addr, _) = serve_sandbox(settings).await;
        let response =
            tokio::time::timeout(Duration::from_secs(15), initialize(addr, Some(&token)))
                .await
                .expect("answered within the fetch timeout");
        assert_eq!(response.status(), 401, "{what}");
        let header = challenge(&response);
        let body = response.text().await.unwrap();
        assert!(
            header.contains(
                "error_description=\"the issuer's signing keys are unavailable; try again later\""
            ),
            "{what}: {header}"
        );
        assert!(
            body.contains("signing keys are unavailable"),
            "{what}: {body}"
        );
        for (told, text) in [("header", &header), ("body", &body)] {
            for secret in [
                port.to_string(),
                jwks_port.to_string(),
                "/.well-known/openid-configuration".to_string(),
                "/keys/jwks".to_string(),
            ] {
                assert!(
                    !text.contains(&secret),
                    "{what}: the {told} names {secret}: {text}"
                );
            }
            let lower = text.to_lowercase();
            for detail in [
                "connect",
                "connection refused",
                "error sending request",
                "os error",
                "tcp",
            ] {
                assert!(
                    !lower.contains(detail),
                    "{what}: the {told} tells {detail:?}: {text}"
                );
            }
        }
    }
}

/// Keys are fetched again every `keys_refresh_every`; an issuer that hangs
/// then (accepts, never answers) must not hold up callers whose keys are
/// already here: the refresh runs in the background.
#[tokio::test]
async fn a_hanging_issuer_does_not_hold_up_callers_whose_keys_are_held() {
    let issuer = Issuer::start();
    let relay = KeyRelay::start(&issuer.url, RelayMode::Forward).await;
    let mut settings = settings_for(&[&issuer.url], Some(&format!("{}/jwks", relay.url)));
    settings.keys_refresh_every = Duration::from_millis(300);
    settings.unknown_key_refetch_every = Duration::from_millis(300);
    // The default fetch timeout: a refresh in the request would take this long.
    assert_eq!(settings.fetch_timeout, Duration::from_secs(5));
    let (addr, _) = serve_sandbox(settings).await;
    let token = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
    let fetched = relay.connections();
    assert!(fetched >= 1, "the keys came through the relay");

    relay.set(RelayMode::Hang);
    // Past the refresh interval, twice: every request would want a refresh.
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let status =
                tokio::time::timeout(Duration::from_secs(4), initialize(addr, Some(&token)))
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "round {round}: a caller with a known kid waited for the hanging issuer"
                        )
                    })
                    .status();
            assert_eq!(status, 200, "round {round}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "round {round}: answered after {:?}",
                started.elapsed()
            );
        }
    }
    assert!(
        relay.connections() > fetched,
        "a refresh was tried against the hanging issuer (else this proves nothing)"
    );
}

/// Keys kept through failed refreshes are trusted for `keys_max_age` after
/// the last good fetch, then refused with the generic message; a good fetch
/// brings sign-in back.
#[tokio::test]
async fn keys_not_refreshed_for_too_long_are_no_longer_trusted() {
    let issuer = Issuer::start();
    let relay = KeyRelay::start(&issuer.url, RelayMode::Forward).await;
    let mut settings = settings_for(&[&issuer.url], Some(&format!("{}/jwks", relay.url)));
    settings.keys_refresh_every = Duration::from_millis(100);
    settings.unknown_key_refetch_every = Duration::from_millis(100);
    settings.keys_max_age = Duration::from_millis(1_500);
    settings.fetch_timeout = Duration::from_secs(1);
    let (addr, _) = serve_sandbox(settings).await;
    let token = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);

    relay.set(RelayMode::Drop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        initialize(addr, Some(&token)).await.status(),
        200,
        "young keys survive a failed refresh"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let refused = initialize(addr, Some(&token)).await;
    assert_eq!(refused.status(), 401, "keys past their maximum age");
    let header = challenge(&refused);
    assert!(
        header.contains("the issuer's signing keys are unavailable; try again later"),
        "{header}"
    );

    relay.set(RelayMode::Forward);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        initialize(addr, Some(&token)).await.status(),
        200,
        "a good fetch makes the keys trusted again"
    );
}

/// OpenID ID tokens prove a sign-in to a client; they are not access tokens
/// for this server, even when signed by a trusted issuer for its audience.
#[tokio::test]
async fn id_tokens_and_foreign_token_types_are_refused() {
    let issuer = Issuer::start();
    let (addr, _) = serve_sandbox(settings(&issuer)).await;
    for (claim, value) in [
        ("nonce", json!("n-0S6_WzA2Mj")),
        ("at_hash", json!("77QmUPtjPfzWtF2AnpK9RQ")),
        ("c_hash", json!("LDktKdoQak3Pk0cnXxCltA")),
        ("nonce", json!("")),
    ] {
        let mut claims = issuer.claims("alice", READ);
        claims[claim] = value;
        let token = issuer.mint(claims).await;
        let response = initialize(addr, Some(&token)).await;
        assert_eq!(response.status(), 401, "{claim}");
        let header = challenge(&response);
        assert!(
            header.contains("error=\"invalid_token\""),
            "{claim}: {header}"
        );
        assert!(
            header.contains("an ID token is not an access token"),
            "{claim}: {header}"
        );
    }
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt"),
        json!("AT+JWT"),
        json!("application/at+jwt"),
        Value::Null,
    ] {
        let token = issuer
            .mint_with(json!({"claims": issuer.claims("alice", READ), "typ": typ}))
            .await;
        assert_eq!(
            initialize(addr, Some(&token)).await.status(),
            200,
            "typ {typ}"
        );
    }
    for typ in ["JOSE", "id_token+jwt", "logout+jwt", "dpop+jwt", "at+jwt2"] {
        let token = issuer
            .mint_with(json!({"claims": issuer.claims("alice", READ), "typ": typ}))
            .await;
        let response = initialize(addr, Some(&token)).await;
        assert_eq!(response.status(), 401, "typ {typ:?}");
        let header = challenge(&response);
        assert!(
            header.contains("error=\"invalid_token\""),
            "{typ}: {header}"
        );
        assert!(header.contains("typ"), "{typ}: {header}");
    }
}

/// At start every issuer's keys are fetched at once, within one overall
/// bound, and an issuer that failed then is fetched again on demand.
#[tokio::test]
async fn prefetch_is_concurrent_bounded_and_retried_on_demand() {
    let hanging = [
        hanging_issuer().await,
        hanging_issuer().await,
        hanging_issuer().await,
        hanging_issuer().await,
    ];
    let names: Vec<&str> = hanging.iter().map(String::as_str).collect();
    let mut concurrent = settings_for(&names, None);
    concurrent.fetch_timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let problems = SignIn::new(concurrent).unwrap().prefetch().await;
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "four hanging issuers with a 1 s fetch timeout took {:?}: fetched one after another",
        started.elapsed()
    );
    assert_eq!(problems.len(), 4, "{problems:?}");
    for name in &names {
        assert!(
            problems.iter().any(|p| p.starts_with(name)),
            "{name}: {problems:?}"
        );
    }

    let mut bounded = settings_for(&names[..2], None);
    bounded.prefetch_within = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let problems = SignIn::new(bounded).unwrap().prefetch().await;
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "the start-up bound of 500 ms was not kept: {:?}",
        started.elapsed()
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().all(|p| p.contains("within")),
        "{problems:?}"
    );

    // Down at start, up when the first token comes: that token is accepted.
    let port = closed_port();
    let later = format!("http://127.0.0.1:{port}");
    let settings = settings_for(&[&later], None);
    let sign_in = SignIn::new(settings.clone()).unwrap();
    assert_eq!(sign_in.prefetch().await.len(), 1);
    let (addr, _) = serve_sandbox(settings).await;
    let issuer = Issuer::start_on(port);
    assert_eq!(issuer.url, later);
    let token = issuer.mint(issuer.claims("alice", READ)).await;
    assert_eq!(
        sign_in.authenticate(&bearer(&token)).await.map(|c| c.name),
        Ok("alice@example.com".to_string()),
        "the issuer is fetched on demand after a failed start"
    );
    assert_eq!(initialize(addr, Some(&token)).await.status(), 200);
}

fn bearer(token: &str) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    headers
}

/// The guard in front of `/mcp` hands the inner service (rmcp, whose request
/// Parts the tools see) the request without `Authorization`, with the caller.
#[tokio::test]
async fn the_inner_service_sees_the_caller_but_not_the_token() {
    let issuer = Issuer::start();
    let sign_in = SignIn::new(settings(&issuer)).unwrap();
    let inner = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|request: axum::extract::Request| async move {
            let (parts, _) = request.into_parts();
            axum::Json(json!({
                "authorization": parts.headers.get("authorization").map(|v| v.to_str().unwrap_or("?").to_string()),
                "headers": parts.headers.iter().map(|(_, v)| v.to_str().unwrap_or("").to_string()).collect::<Vec<_>>(),
                "caller": parts.extensions.get::<Caller>().map(|c| c.name.clone()),
            }))
        }),
    );
    let app = guard(inner, sign_in);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let token = issuer.mint(issuer.claims("olga", BOTH)).await;
    let response = initialize(addr, Some(&token)).await;
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["authorization"], Value::Null, "{seen}");
    assert_eq!(seen["caller"], "olga@example.com", "{seen}");
    assert!(!seen.to_string().contains(&token), "{seen}");
    assert_eq!(initialize(addr, None).await.status(), 401);
}

/// Off loopback the resource cannot come from the Host header: `serve`
/// refuses sign-in there without `--oauth-resource`, naming the flag.
#[test]
fn the_binary_needs_a_resource_for_sign_in_off_loopback() {
    let run = |bind: &str| {
        let mut child = std::process::Command::new(common::process::OPSDECK)
            .args(common::process::pinned_serve_args())
            .args(["--http", bind])
            .args([
                "--oauth-issuer",
                "https://login.example.com/tenant/v2.0",
                "--oauth-audience",
                "api://opsdeck",
            ])
            .env_remove("OPSDECK_HTTP_TOKEN")
            .env_remove("OPSDECK_OAUTH_RESOURCE")
            .env("OPSDECK_LOG_DIR", common::process::tempdir("signin-bind"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let mut server = common::process::ChildGuard(child);
        // A server that starts anyway would never exit: wait a while only.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = server.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{bind}: sign-in without a resource started serving"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut stderr_pipe, &mut stderr).unwrap();
        (status.code(), stderr)
    };
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let (code, stderr) = run(bind);
        assert_eq!(code, Some(2), "{bind}: {stderr}");
        assert!(stderr.contains("--oauth-resource"), "{bind}: {stderr}");
        assert!(
            stderr.contains("OPSDECK_OAUTH_RESOURCE"),
            "{bind}: {stderr}"
        );
    }
    // With the resource given, sign-in on 0.0.0.0 starts (keys from an
    // issuer that is down now are fetched on demand later).
    let issuer = format!("http://127.0.0.1:{}", closed_port());
    let mut child = std::process::Command::new(common::process::OPSDECK)
        .args(common::process::pinned_serve_args())
        .args(["--http", "0.0.0.0:0", "--oauth-issuer", &issuer])
        .args(["--oauth-audience", "api://opsdeck"])
        .args(["--oauth-resource", "https://opsdeck.example.com/mcp"])
        .env_remove("OPSDECK_HTTP_TOKEN")
        .env("OPSDECK_LOG_DIR", common::process::tempdir("signin-bind"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _server = common::process::ChildGuard(child);
    let mut said = Vec::new();
    let serving = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .inspect(|line| said.push(line.clone()))
        .any(|line| line.starts_with("opsdeck: serving MCP at http://0.0.0.0:"));
    assert!(
        serving,
        "sign-in with a resource serves on 0.0.0.0: {said:?}"
    );
}

/// The MCP token is for opsdeck only: backends get their own credential.
/// (That the request the tools see carries no `Authorization` header at all
/// is `the_inner_service_sees_the_caller_but_not_the_token`.)
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
