//! `opsdeck serve --http ADDR`: streamable HTTP at `/mcp`, plus `/health/live`
//! and `/health/ready`.
//!
//! Safe by default: loopback only unless callers authenticate, with a shared
//! bearer token or by signing in ([`auth`], OAuth access tokens), required on
//! `/mcp`; `Host` checked against loopback names to stop DNS
//! rebinding and browser `Origin`s other than localhost rejected, on every
//! route; real remediation only for callers with the token (or, signed in,
//! the remediate permission), unless the operator opens it with `--http-allow-unauthenticated-remediation`. Sessions
//! and requests in flight are capped ([`HttpLimits`]): past a cap, 503.
//!
//! With [`HttpRuntime::stateless`] no session is kept: every POST is answered
//! on its own, so replicas behind a load balancer are interchangeable. On a
//! signal the server drains before it stops ([`ShutdownTimes`]).

pub mod auth;
mod health;
mod limits;
mod rebinding;
mod replica;
mod screen;
mod shutdown;

pub use health::Readiness;
pub use limits::{HttpLimits, SERVER_BUSY};
pub use replica::{HEADER as REPLICA_HEADER, check_name as check_replica_name};
pub use shutdown::ShutdownTimes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::OpsdeckServer;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    /// Required as `Authorization: Bearer …` on `/mcp` when set.
    pub bearer_token: Option<String>,
    /// Extra browser origins to accept (scheme://host[:port|:*]).
    pub allowed_origins: Vec<String>,
    /// Extra `Host` names to accept (for a non-loopback bind behind a name).
    pub allowed_hosts: Vec<String>,
    /// Let callers without a token rerun and cancel for real (loopback only,
    /// since a public bind needs a token anyway).
    pub allow_unauthenticated_remediation: bool,
}

/// How this server runs in its deployment (the defaults suit one process on a laptop).
#[derive(Clone, Default)]
pub struct HttpRuntime {
    /// Keep no MCP sessions (replicas behind a load balancer).
    pub stateless: bool,
    /// The name sent in the `opsdeck-replica` header when stateless (default: the host name).
    pub replica_name: Option<String>,
    pub shutdown: ShutdownTimes,
    /// Callers sign in with OAuth access tokens (in place of the shared bearer token).
    pub sign_in: Option<Arc<auth::SignIn>>,
}

/// Who may rerun and cancel for real through this HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemediationAccess {
    /// A token is configured, so every `/mcp` caller presented it.
    BearerToken,
    /// No token: callers are anonymous, so only dry runs are served.
    RefusedWithoutToken,
    /// No token, and the operator chose to allow it anyway.
    OpenWithoutAuthentication,
    /// Callers sign in (OAuth); real remediation needs the remediate permission.
    SignedIn,
}

impl RemediationAccess {
    /// Who may act, given the options and whether callers sign in.
    pub fn of(options: &HttpOptions, signed_in: bool) -> RemediationAccess {
        if signed_in {
            return RemediationAccess::SignedIn;
        }
        match (
            &options.bearer_token,
            options.allow_unauthenticated_remediation,
        ) {
            (Some(_), _) => RemediationAccess::BearerToken,
            (None, false) => RemediationAccess::RefusedWithoutToken,
            (None, true) => RemediationAccess::OpenWithoutAuthentication,
        }
    }
}

/// The tool error a real rerun or cancel gets from a caller without a token.
pub const UNAUTHENTICATED_REMEDIATION_REFUSAL: &str = "real remediation over HTTP needs an authenticated caller, and this server was started with `serve --http` without a bearer token, so anyone who can reach its port could rerun or cancel runs. To enable it, set OPSDECK_HTTP_TOKEN (or --token-file) to a token of 16+ characters and have the client send `Authorization: Bearer <token>`; or, accepting that risk on this machine, restart with --http-allow-unauthenticated-remediation. Dry runs (dry_run=true) work without a token";

/// Checks the bind rules before anything listens: a public address needs
/// callers to authenticate, with the shared token or by signing in.
pub fn check_bind(options: &HttpOptions, signed_in: bool) -> Result<(), String> {
    if signed_in && options.bearer_token.is_some() {
        return Err("both sign-in (--oauth-issuer) and a shared bearer token (OPSDECK_HTTP_TOKEN or --token-file) are set: choose one. With sign-in, each caller presents their own access token".into());
    }
    if !options.bind.ip().is_loopback() && options.bearer_token.is_none() && !signed_in {
        return Err(format!(
            "refusing to serve on {} without authentication: bind a loopback address (127.0.0.1:PORT), set a bearer token with OPSDECK_HTTP_TOKEN or --token-file, or have callers sign in with --oauth-issuer",
            options.bind
        ));
    }
    Ok(())
}

/// `Host` names accepted; `None` for any.
fn allowed_hosts(options: &HttpOptions) -> Option<Vec<String>> {
    // Behind a token on a public address the Host header is whatever name clients use;
    // DNS rebinding cannot forge the token, so the host list only applies when given.
    if !options.bind.ip().is_loopback() && options.allowed_hosts.is_empty() {
        return None;
    }
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    hosts.push(options.bind.ip().to_string());
    hosts.extend(options.allowed_hosts.iter().cloned());
    Some(hosts)
}

fn allowed_origins(options: &HttpOptions) -> Vec<String> {
    let mut origins: Vec<String> = [
        "http://localhost:*",
        "http://127.0.0.1:*",
        "http://[::1]:*",
        "https://localhost:*",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    origins.extend(options.allowed_origins.iter().cloned());
    origins
}

/// The HTTP application with the default [`HttpLimits`].
pub fn router(server: OpsdeckServer, options: &HttpOptions, cancel: CancellationToken) -> Router {
    router_with_limits(server, options, &HttpLimits::default(), cancel)
}

/// The HTTP application, keeping sessions, with these limits.
pub fn router_with_limits(
    server: OpsdeckServer,
    options: &HttpOptions,
    limits: &HttpLimits,
    cancel: CancellationToken,
) -> Router {
    app(server, options, limits, &HttpRuntime::default(), cancel).router
}

/// The HTTP application and the handles its shutdown needs.
pub struct HttpApp {
    pub router: Router,
    /// Whether the server should get traffic; draining starts here.
    pub readiness: Readiness,
    in_flight: Arc<limits::InFlight>,
}

/// The HTTP application: MCP, health, and the guards around them.
///
/// Without a token (and without the operator's explicit flag), the server's
/// remediation policy is told to refuse real reruns and cancels: the tools see
/// one refusal whichever way they are reached over this transport.
/// Needs a tokio runtime: readiness is refreshed by a background task.
pub fn app(
    server: OpsdeckServer,
    options: &HttpOptions,
    limits: &HttpLimits,
    runtime: &HttpRuntime,
    cancel: CancellationToken,
) -> HttpApp {
    let access = RemediationAccess::of(options, runtime.sign_in.is_some());
    if access == RemediationAccess::RefusedWithoutToken {
        server
            .policy()
            .refuse_unauthenticated_remediation(UNAUTHENTICATED_REMEDIATION_REFUSAL);
    }
    let hosts = allowed_hosts(options);
    let origins = allowed_origins(options);
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(origins.clone())
        .enforce_origin_validation()
        .with_cancellation_token(cancel);
    config = match &hosts {
        None => config.disable_allowed_hosts(),
        Some(list) => config.with_allowed_hosts(list.clone()),
    };
    let mcp_server = server.clone();
    let factory = move || Ok(mcp_server.clone());
    // The layer added last runs first: the token check, then the in-flight
    // cap (before any body is read), then screening, then the session cap.
    let mcp = if runtime.stateless {
        // Every POST on its own, answered as JSON: nothing to keep, nothing
        // to cap but the requests in flight.
        let config = config
            .with_legacy_session_mode(false)
            .with_json_response(true);
        let service =
            StreamableHttpService::new(factory, Arc::new(NeverSessionManager::default()), config);
        Router::new().nest_service("/mcp", service)
    } else {
        let sessions = Arc::new(limits::BoundedSessions::new(limits));
        let service = StreamableHttpService::new(factory, sessions.clone(), config);
        Router::new()
            .nest_service("/mcp", service)
            .layer(middleware::from_fn_with_state(
                sessions,
                limits::refuse_sessions_over_the_limit,
            ))
    };
    let in_flight = Arc::new(limits::InFlight::new(limits));
    let token = options.bearer_token.clone().map(Arc::new);
    let mcp = mcp
        .layer(middleware::from_fn_with_state(
            limits.body_read_timeout,
            screen::screen_mcp_request,
        ))
        .layer(middleware::from_fn_with_state(
            in_flight.clone(),
            limits::limit_in_flight,
        ));
    // Who the caller is, checked before anything else: the signed-in caller
    // (which screening then reads), or the shared token.
    let mcp = match &runtime.sign_in {
        Some(sign_in) => auth::guard(mcp, sign_in.clone()).merge(auth::routes(sign_in.clone())),
        None => mcp.layer(middleware::from_fn_with_state(
            token.clone(),
            require_bearer,
        )),
    };
    let allowlists = Arc::new(rebinding::Allowlists::new(hosts.as_deref(), &origins));
    let readiness = Readiness::start(server.clone());
    let who_sees_details = match &runtime.sign_in {
        Some(sign_in) => health::Details::SignedIn(sign_in.clone()),
        None => health::Details::Token(token),
    };
    let mut router = health::routes(server, who_sees_details, access, readiness.clone())
        .merge(mcp)
        .layer(middleware::from_fn_with_state(
            allowlists,
            rebinding::reject_foreign_host_or_origin,
        ));
    if runtime.stateless {
        router = router.layer(middleware::from_fn_with_state(
            replica::header_value(runtime.replica_name.as_deref()),
            replica::name_the_replica,
        ));
    }
    HttpApp {
        router,
        readiness,
        in_flight,
    }
}

/// Whether the request carries `Authorization: Bearer <expected>`.
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .is_some_and(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes()))
}

async fn require_bearer(
    State(token): State<Option<Arc<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token else {
        return next.run(request).await;
    };
    if bearer_matches(request.headers(), &expected) {
        return next.run(request).await;
    }
    let mut response =
        (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"opsdeck\""),
    );
    response
}

/// Compares without leaking, through timing, how much of the token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves with the default [`HttpLimits`] until Ctrl-C / SIGTERM / SIGHUP.
pub async fn serve_http(server: OpsdeckServer, options: HttpOptions) -> Result<(), String> {
    serve_http_with_limits(server, options, HttpLimits::default()).await
}

/// Serves, keeping sessions, until Ctrl-C / SIGTERM / SIGHUP.
pub async fn serve_http_with_limits(
    server: OpsdeckServer,
    options: HttpOptions,
    limits: HttpLimits,
) -> Result<(), String> {
    serve_http_with(server, options, limits, HttpRuntime::default()).await
}

/// Serves until Ctrl-C / SIGTERM / SIGHUP, then drains (see [`ShutdownTimes`]).
pub async fn serve_http_with(
    server: OpsdeckServer,
    options: HttpOptions,
    limits: HttpLimits,
    runtime: HttpRuntime,
) -> Result<(), String> {
    check_bind(&options, runtime.sign_in.is_some())?;
    let cancel = CancellationToken::new();
    let app = app(server, &options, &limits, &runtime, cancel.child_token());
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.bind))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let signed_in = runtime.sign_in.is_some();
    tracing::info!(%local, token = options.bearer_token.is_some(), signed_in, stateless = runtime.stateless, ?limits, "serving MCP over HTTP");
    announce_remediation_access(&options, signed_in);
    // Tests and scripts read this line to learn the port when binding port 0.
    eprintln!("opsdeck: serving MCP at http://{local}/mcp");
    let stopping = shutdown::Stopping {
        readiness: app.readiness,
        in_flight: app.in_flight,
        cancel,
        times: runtime.shutdown,
    };
    shutdown::serve_until_signal(listener, app.router, stopping).await
}

/// Says at start who may remediate; loudly when anyone may.
fn announce_remediation_access(options: &HttpOptions, signed_in: bool) {
    match RemediationAccess::of(options, signed_in) {
        RemediationAccess::OpenWithoutAuthentication => {
            tracing::warn!(
                "--http-allow-unauthenticated-remediation: real reruns and cancels are open to any caller without a token"
            );
            eprintln!(
                "opsdeck: WARNING: --http-allow-unauthenticated-remediation is set: anyone who can reach {} can rerun and cancel pipeline runs without a token",
                options.bind
            );
        }
        RemediationAccess::RefusedWithoutToken => tracing::info!(
            "no bearer token, so real reruns and cancels over HTTP are refused; dry runs and reads are served"
        ),
        RemediationAccess::BearerToken if options.allow_unauthenticated_remediation => {
            tracing::info!(
                "--http-allow-unauthenticated-remediation has no effect: a bearer token is configured and required"
            )
        }
        RemediationAccess::SignedIn => {
            tracing::info!("callers sign in: real reruns and cancels need the remediate permission")
        }
        RemediationAccess::BearerToken => {}
    }
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let hup = signal(SignalKind::hangup());
        match (term, hup) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(bind: &str, token: Option<&str>) -> HttpOptions {
        HttpOptions {
            bind: bind.parse().unwrap(),
            bearer_token: token.map(str::to_string),
            allowed_origins: vec![],
            allowed_hosts: vec![],
            allow_unauthenticated_remediation: false,
        }
    }

    #[test]
    fn public_bind_without_token_is_refused() {
        let err = check_bind(&options("0.0.0.0:8080", None), false).unwrap_err();
        assert!(err.contains("without authentication"), "{err}");
        assert!(err.contains("--oauth-issuer"), "{err}");
        assert!(check_bind(&options("0.0.0.0:8080", Some("t")), false).is_ok());
        assert!(check_bind(&options("127.0.0.1:8080", None), false).is_ok());
        assert!(check_bind(&options("[::1]:8080", None), false).is_ok());
        // Signed-in callers are authenticated callers.
        assert!(check_bind(&options("0.0.0.0:8080", None), true).is_ok());
        let both = check_bind(&options("0.0.0.0:8080", Some("t")), true).unwrap_err();
        assert!(both.contains("choose one"), "{both}");
    }

    #[test]
    fn remediation_needs_a_token_or_the_explicit_flag() {
        let mut open = options("127.0.0.1:8080", None);
        assert_eq!(
            RemediationAccess::of(&open, false),
            RemediationAccess::RefusedWithoutToken
        );
        open.allow_unauthenticated_remediation = true;
        assert_eq!(
            RemediationAccess::of(&open, false),
            RemediationAccess::OpenWithoutAuthentication
        );
        let mut tokened = options("127.0.0.1:8080", Some("t"));
        tokened.allow_unauthenticated_remediation = true;
        assert_eq!(
            RemediationAccess::of(&tokened, false),
            RemediationAccess::BearerToken
        );
        assert_eq!(
            RemediationAccess::of(&open, true),
            RemediationAccess::SignedIn
        );
    }

    #[test]
    fn bearer_headers_match_only_the_exact_token() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(bearer_matches(&with("Bearer abc"), "abc"));
        assert!(bearer_matches(&with("bearer abc"), "abc"));
        assert!(!bearer_matches(&with("Bearer abcd"), "abc"));
        assert!(!bearer_matches(&with("Basic abc"), "abc"));
        assert!(!bearer_matches(&HeaderMap::new(), "abc"));
    }

    #[test]
    fn token_comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
