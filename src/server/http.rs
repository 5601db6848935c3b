//! `opsdeck serve --http ADDR`: streamable HTTP at `/mcp`, plus `/health/live`
//! and `/health/ready`.
//!
//! Safe by default: loopback only unless a bearer token is configured (and then
//! required on `/mcp`); `Host` checked against loopback names to stop DNS
//! rebinding and browser `Origin`s other than localhost rejected, on every
//! route; real remediation only for callers with the token, unless the
//! operator opens it with `--http-allow-unauthenticated-remediation`. Sessions
//! and requests in flight are capped ([`HttpLimits`]): past a cap, 503.

mod health;
mod limits;
mod rebinding;
mod screen;

pub use limits::{HttpLimits, SERVER_BUSY};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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

/// Who may rerun and cancel for real through this HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemediationAccess {
    /// A token is configured, so every `/mcp` caller presented it.
    BearerToken,
    /// No token: callers are anonymous, so only dry runs are served.
    RefusedWithoutToken,
    /// No token, and the operator chose to allow it anyway.
    OpenWithoutAuthentication,
}

impl RemediationAccess {
    pub fn of(options: &HttpOptions) -> RemediationAccess {
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

/// Checks the bind rules before anything listens.
pub fn check_bind(options: &HttpOptions) -> Result<(), String> {
    if !options.bind.ip().is_loopback() && options.bearer_token.is_none() {
        return Err(format!(
            "refusing to serve on {} without authentication: bind a loopback address (127.0.0.1:PORT), or set a bearer token with OPSDECK_HTTP_TOKEN or --token-file",
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

/// The HTTP application: MCP, health, and the guards around them.
///
/// Without a token (and without the operator's explicit flag), the server's
/// remediation policy is told to refuse real reruns and cancels: the tools see
/// one refusal whichever way they are reached over this transport.
pub fn router_with_limits(
    server: OpsdeckServer,
    options: &HttpOptions,
    limits: &HttpLimits,
    cancel: CancellationToken,
) -> Router {
    let access = RemediationAccess::of(options);
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
    let sessions = Arc::new(limits::BoundedSessions::new(limits));
    let service =
        StreamableHttpService::new(move || Ok(mcp_server.clone()), sessions.clone(), config);
    let token = options.bearer_token.clone().map(Arc::new);
    // The layer added last runs first: the token check, then the in-flight
    // cap (before any body is read), then screening, then the session cap.
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(
            sessions,
            limits::refuse_sessions_over_the_limit,
        ))
        .layer(middleware::from_fn_with_state(
            limits.body_read_timeout,
            screen::screen_mcp_request,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(limits::InFlight::new(limits)),
            limits::limit_in_flight,
        ))
        .layer(middleware::from_fn_with_state(
            token.clone(),
            require_bearer,
        ));
    let allowlists = Arc::new(rebinding::Allowlists::new(hosts.as_deref(), &origins));
    health::routes(server, token, access)
        .merge(mcp)
        .layer(middleware::from_fn_with_state(
            allowlists,
            rebinding::reject_foreign_host_or_origin,
        ))
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

/// Serves until Ctrl-C / SIGTERM / SIGHUP.
pub async fn serve_http_with_limits(
    server: OpsdeckServer,
    options: HttpOptions,
    limits: HttpLimits,
) -> Result<(), String> {
    check_bind(&options)?;
    let cancel = CancellationToken::new();
    let app = router_with_limits(server, &options, &limits, cancel.child_token());
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.bind))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tracing::info!(%local, auth = options.bearer_token.is_some(), ?limits, "serving MCP over HTTP");
    announce_remediation_access(&options);
    // Tests and scripts read this line to learn the port when binding port 0.
    eprintln!("opsdeck: serving MCP at http://{local}/mcp");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            cancel.cancel();
        })
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

/// Says at start who may remediate; loudly when anyone may.
fn announce_remediation_access(options: &HttpOptions) {
    match RemediationAccess::of(options) {
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
            "no bearer token: real reruns and cancels over HTTP are refused, dry runs and reads are served"
        ),
        RemediationAccess::BearerToken if options.allow_unauthenticated_remediation => {
            tracing::info!(
                "--http-allow-unauthenticated-remediation has no effect: a bearer token is configured and required"
            )
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
        let err = check_bind(&options("0.0.0.0:8080", None)).unwrap_err();
        assert!(err.contains("without authentication"), "{err}");
        assert!(check_bind(&options("0.0.0.0:8080", Some("t"))).is_ok());
        assert!(check_bind(&options("127.0.0.1:8080", None)).is_ok());
        assert!(check_bind(&options("[::1]:8080", None)).is_ok());
    }

    #[test]
    fn remediation_needs_a_token_or_the_explicit_flag() {
        let mut open = options("127.0.0.1:8080", None);
        assert_eq!(
            RemediationAccess::of(&open),
            RemediationAccess::RefusedWithoutToken
        );
        open.allow_unauthenticated_remediation = true;
        assert_eq!(
            RemediationAccess::of(&open),
            RemediationAccess::OpenWithoutAuthentication
        );
        let mut tokened = options("127.0.0.1:8080", Some("t"));
        tokened.allow_unauthenticated_remediation = true;
        assert_eq!(
            RemediationAccess::of(&tokened),
            RemediationAccess::BearerToken
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
