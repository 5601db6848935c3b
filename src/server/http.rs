//! `opsdeck serve --http ADDR`: streamable HTTP at `/mcp`, plus `/health/live`
//! and `/health/ready`.
//!
//! Safe by default: loopback only unless a bearer token is configured (and then
//! required on `/mcp`); `Host` checked against loopback names to stop DNS
//! rebinding; browser `Origin`s other than localhost rejected.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
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
}

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

/// The HTTP application: MCP, health, and the guards around them.
pub fn router(server: OpsdeckServer, options: &HttpOptions, cancel: CancellationToken) -> Router {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    hosts.push(options.bind.ip().to_string());
    hosts.extend(options.allowed_hosts.iter().cloned());
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
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(cancel);
    // Behind a token on a public address the Host header is whatever name clients use;
    // DNS rebinding cannot forge the token, so the host list only applies when given.
    config = if !options.bind.ip().is_loopback() && options.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(hosts)
    };
    let mcp_server = server.clone();
    let service = StreamableHttpService::new(
        move || Ok(mcp_server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let token = options.bearer_token.clone().map(Arc::new);
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(token, require_bearer));
    Router::new()
        .route(
            "/health/live",
            get(|| async {
                (
                    StatusCode::OK,
                    axum::Json(serde_json::json!({"status": "live"})),
                )
            }),
        )
        .route("/health/ready", get(ready))
        .with_state(server)
        .merge(mcp)
}

async fn ready(State(server): State<OpsdeckServer>) -> Response {
    let checks = server.backends().health().await;
    let ok = !checks.is_empty() && checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body =
        serde_json::json!({"status": if ok { "ready" } else { "not ready" }, "backends": checks});
    (status, axum::Json(body)).into_response()
}

async fn require_bearer(
    State(token): State<Option<Arc<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    match presented {
        Some(candidate) if constant_time_eq(candidate.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        _ => {
            let mut response =
                (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"opsdeck\""),
            );
            response
        }
    }
}

/// Compares without leaking, through timing, how much of the token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves until Ctrl-C / SIGTERM / SIGHUP.
pub async fn serve_http(server: OpsdeckServer, options: HttpOptions) -> Result<(), String> {
    check_bind(&options)?;
    let cancel = CancellationToken::new();
    let app = router(server, &options, cancel.child_token());
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.bind))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tracing::info!(%local, auth = options.bearer_token.is_some(), "serving MCP over HTTP");
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
    fn token_comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
