//! `/health/live` and `/health/ready` for probes and load balancers.
//!
//! Liveness says only that the process answers. Readiness is read from a
//! snapshot a background task refreshes every [`REFRESH_EVERY`]: a probe never
//! calls the cloud, however often it comes. Before the first look it answers
//! 503 "starting"; when a backend fails, 503 with `failing` naming its kind and
//! environment (e.g. `adf/prod`), which anyone may see; while the server drains
//! for shutdown, 503 "draining". What is behind it (each backend's detail, the
//! credential in use, who may remediate) only a caller with the bearer token
//! sees when one is configured: that is a map of the estate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::auth::SignIn;
use super::{RemediationAccess, bearer_matches};
use crate::backends::{BackendHealth, PipelineBackend};
use crate::server::OpsdeckServer;

/// How often the background task looks at the backends: one call per backend
/// per this long, never one per probe.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// The longest one backend's check may take; past it, that backend counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(8);

/// How long a probe arriving before the first look waits for it; then "starting".
const FIRST_LOOK_WAIT: Duration = Duration::from_secs(5);

/// One look at every backend.
#[derive(Debug, Clone)]
struct Snapshot {
    checks: Vec<BackendHealth>,
    /// `kind/environment` of each backend that failed its check.
    failing: Vec<String>,
}

impl Snapshot {
    fn ready(&self) -> bool {
        !self.checks.is_empty() && self.failing.is_empty()
    }
}

/// Whether this server should get traffic: the last look at the backends, and
/// whether it is draining for shutdown. Cheap to clone; probes only read it.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: watch::Sender<Option<Snapshot>>,
    draining: AtomicBool,
}

impl Readiness {
    /// Starts looking at the server's backends now and every [`REFRESH_EVERY`],
    /// until every copy of the returned value is gone. Needs a tokio runtime.
    pub fn start(server: OpsdeckServer) -> Readiness {
        let readiness = Readiness {
            inner: Arc::new(Inner {
                snapshot: watch::Sender::new(None),
                draining: AtomicBool::new(false),
            }),
        };
        tokio::spawn(refresh(server, Arc::downgrade(&readiness.inner)));
        readiness
    }

    /// From now on `/health/ready` answers 503 "draining".
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// The latest look, waiting up to `wait` for the first one.
    async fn snapshot(&self, wait: Duration) -> Option<Snapshot> {
        let mut receiver = self.inner.snapshot.subscribe();
        let first = tokio::time::timeout(wait, receiver.wait_for(Option::is_some)).await;
        match first {
            Ok(Ok(seen)) => seen.clone(),
            _ => None,
        }
    }
}

/// The background task: look, publish, sleep; ends with the last [`Readiness`].
async fn refresh(server: OpsdeckServer, readiness: Weak<Inner>) {
    loop {
        let snapshot = look(&server).await;
        let Some(inner) = readiness.upgrade() else {
            return;
        };
        if !snapshot.failing.is_empty() {
            tracing::warn!(failing = ?snapshot.failing, "not ready: backends failed their health check");
        }
        inner.snapshot.send_replace(Some(snapshot));
        drop(inner);
        tokio::time::sleep(REFRESH_EVERY).await;
    }
}

/// Checks every backend at once, each bounded by [`CHECK_TIMEOUT`].
async fn look(server: &OpsdeckServer) -> Snapshot {
    let checks = futures::future::join_all(
        server
            .backends()
            .pipelines
            .iter()
            .map(|backend| check(backend.as_ref())),
    )
    .await;
    let failing = checks
        .iter()
        .filter(|(_, health)| !health.ok)
        .map(|(name, _)| name.clone())
        .collect();
    Snapshot {
        checks: checks.into_iter().map(|(_, health)| health).collect(),
        failing,
    }
}

/// One backend's check and its public name, `kind/environment`.
async fn check(backend: &dyn PipelineBackend) -> (String, BackendHealth) {
    let name = format!("{}/{}", backend.kind().as_str(), backend.environment());
    let health = match tokio::time::timeout(CHECK_TIMEOUT, backend.health()).await {
        Ok(health) => health,
        Err(_) => BackendHealth {
            name: name.clone(),
            ok: false,
            detail: format!(
                "the health check did not answer within {} s",
                CHECK_TIMEOUT.as_secs()
            ),
        },
    };
    (name, health)
}

/// Who may see what is behind readiness (backends, credential, who may act).
#[derive(Clone)]
pub enum Details {
    /// Callers with this shared token; everyone when there is none (loopback).
    Token(Option<Arc<String>>),
    /// Signed-in callers with the read permission.
    SignedIn(Arc<SignIn>),
}

impl Details {
    async fn shown_to(&self, headers: &HeaderMap) -> bool {
        match self {
            Details::Token(token) => token
                .as_deref()
                .is_none_or(|expected| bearer_matches(headers, expected)),
            // Only when a token came: an anonymous probe costs no verification.
            Details::SignedIn(sign_in) => {
                headers.contains_key(axum::http::header::AUTHORIZATION)
                    && sign_in.authenticate(headers).await.is_ok()
            }
        }
    }
}

#[derive(Clone)]
struct HealthState {
    server: OpsdeckServer,
    details: Details,
    access: RemediationAccess,
    readiness: Readiness,
}

/// The health routes, answered outside the `/mcp` authentication.
pub fn routes(
    server: OpsdeckServer,
    details: Details,
    access: RemediationAccess,
    readiness: Readiness,
) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(HealthState {
            server,
            details,
            access,
            readiness,
        })
}

async fn live() -> Response {
    (StatusCode::OK, Json(json!({"status": "live"}))).into_response()
}

async fn ready(State(state): State<HealthState>, headers: HeaderMap) -> Response {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    if state.readiness.draining() {
        return (unavailable, Json(json!({"status": "draining"}))).into_response();
    }
    let Some(snapshot) = state.readiness.snapshot(FIRST_LOOK_WAIT).await else {
        return (unavailable, Json(json!({"status": "starting"}))).into_response();
    };
    let ok = snapshot.ready();
    let mut body = json!({"status": if ok { "ready" } else { "not ready" }});
    if !ok {
        body["failing"] = json!(snapshot.failing);
    }
    if state.details.shown_to(&headers).await {
        body["backends"] = json!(snapshot.checks);
        body["remediation"] = remediation_details(&state);
    }
    let status = if ok { StatusCode::OK } else { unavailable };
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
            RemediationAccess::SignedIn => {
                "allowed to signed-in callers with the remediate permission"
            }
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
