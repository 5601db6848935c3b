//! `/health/live` and `/health/ready` for probes and load balancers.
//!
//! Liveness says only that the process answers. Readiness says ready or not to
//! anyone allowed past the Host/Origin checks; what is behind it (backends,
//! factories, the credential in use, who may remediate) only to a caller with
//! the bearer token when one is configured: that is a map of the estate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{RemediationAccess, bearer_matches};
use crate::backends::BackendHealth;
use crate::server::OpsdeckServer;

/// How long one look at the backends answers probes: a probe every second
/// (or anyone hammering the endpoint) costs the cloud APIs one call per
/// backend per this long, never one per request.
const CHECK_FOR: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct HealthState {
    server: OpsdeckServer,
    token: Option<Arc<String>>,
    access: RemediationAccess,
    /// The last look at the backends and when it was taken; the lock also
    /// makes concurrent probes share one look.
    last: Arc<Mutex<Option<Look>>>,
}

/// One look at the backends, and when it was taken.
type Look = (Instant, Vec<BackendHealth>);

impl HealthState {
    async fn checks(&self) -> Vec<BackendHealth> {
        let mut last = self.last.lock().await;
        if let Some((at, checks)) = last.as_ref()
            && at.elapsed() < CHECK_FOR
        {
            return checks.clone();
        }
        let checks = self.server.backends().health().await;
        *last = Some((Instant::now(), checks.clone()));
        checks
    }
}

/// The health routes, answered outside the `/mcp` token check.
pub fn routes(
    server: OpsdeckServer,
    token: Option<Arc<String>>,
    access: RemediationAccess,
) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(HealthState {
            server,
            token,
            access,
            last: Arc::default(),
        })
}

async fn live() -> Response {
    (StatusCode::OK, Json(json!({"status": "live"}))).into_response()
}

async fn ready(State(state): State<HealthState>, headers: HeaderMap) -> Response {
    let checks = state.checks().await;
    let ok = !checks.is_empty() && checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({"status": if ok { "ready" } else { "not ready" }});
    let may_see_details = state
        .token
        .as_deref()
        .is_none_or(|expected| bearer_matches(&headers, expected));
    if may_see_details {
        body["backends"] = json!(checks);
        body["remediation"] = remediation_details(&state);
    }
    (status, Json(body)).into_response()
}

/// Who may act through this server, in the words an operator checks.
fn remediation_details(state: &HealthState) -> Value {
    let unauthenticated = state.access == RemediationAccess::OpenWithoutAuthentication;
    let real = if state.server.read_only() {
        "refused: the server runs --read-only"
    } else {
        match state.access {
            RemediationAccess::BearerToken => "allowed to callers with the bearer token",
            RemediationAccess::RefusedWithoutToken => {
                "dry runs only: real reruns and cancels need a bearer token (OPSDECK_HTTP_TOKEN or --token-file)"
            }
            RemediationAccess::OpenWithoutAuthentication => {
                "ALLOWED WITHOUT AUTHENTICATION (--http-allow-unauthenticated-remediation): anyone who can reach this port can rerun and cancel runs"
            }
        }
    };
    json!({"real": real, "unauthenticated": unauthenticated && !state.server.read_only()})
}
