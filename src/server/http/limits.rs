//! What HTTP callers can make `serve --http` hold, bounded: rmcp's
//! `LocalSessionManager` keeps every session until it has been idle for five
//! minutes, with no limit — 10,000 `initialize` POSTs took the server from
//! 37 MB to 622 MB. Here sessions are capped ([`BoundedSessions`]) and expire
//! sooner, and requests in flight are capped too ([`limit_in_flight`]); past
//! either cap the caller gets `503 Service Unavailable` with `Retry-After`
//! and a JSON-RPC error saying which cap, instead of the server growing.

use std::cell::Cell;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
};
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::server::framing::JsonRpcErrorReply;

/// How much the HTTP server holds for its callers at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open MCP sessions (each made by an `initialize`).
    pub max_sessions: usize,
    /// A session nobody used for this long is closed (its id then gets 404).
    pub session_idle: Duration,
    /// POST and DELETE requests on `/mcp` in flight, a tool call until its
    /// answer is sent; each may buffer a body of up to 4 MiB.
    pub max_requests_in_flight: usize,
    /// GET event streams open (one per session is what clients open).
    pub max_event_streams: usize,
    /// The longest a POST body may take to arrive (it holds a request slot meanwhile).
    pub body_read_timeout: Duration,
}

impl HttpLimits {
    pub const DEFAULT_MAX_SESSIONS: usize = 256;
    pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT: usize = 32;
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_sessions: Self::DEFAULT_MAX_SESSIONS,
            session_idle: Self::DEFAULT_SESSION_IDLE,
            max_requests_in_flight: Self::DEFAULT_MAX_REQUESTS_IN_FLIGHT,
            max_event_streams: Self::DEFAULT_MAX_SESSIONS,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

/// The JSON-RPC code of a refusal for load (the implementation-defined server-error range).
pub const SERVER_BUSY: i64 = -32000;

fn busy(message: String) -> Response {
    let reply = JsonRpcErrorReply {
        id: serde_json::Value::Null,
        code: SERVER_BUSY,
        message,
    };
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json")],
        reply.to_json().to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

tokio::task_local! {
    /// Set when [`BoundedSessions`] refused to open a session for the request
    /// being served on this task, so its answer can be a 503 rather than
    /// the 500 rmcp makes of any session-manager error.
    static SESSION_REFUSED: Cell<bool>;
}

/// rmcp's session manager, with at most `limit` sessions open.
pub struct BoundedSessions {
    inner: LocalSessionManager,
    limit: usize,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    open: HashSet<SessionId>,
    /// Sessions being created: counted so that concurrent `initialize`s cannot overshoot.
    opening: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BoundedSessionsError {
    #[error(
        "this server already has {limit} open MCP sessions, the most it keeps; close one (DELETE /mcp) or wait for an idle one to expire"
    )]
    Full { limit: usize },
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

impl BoundedSessions {
    pub fn new(limits: &HttpLimits) -> BoundedSessions {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(limits.session_idle);
        BoundedSessions {
            inner,
            limit: limits.max_sessions,
            slots: Mutex::new(Slots::default()),
        }
    }

    /// Open sessions now.
    pub fn open(&self) -> usize {
        self.slots.lock().map(|s| s.open.len()).unwrap_or(0)
    }

    fn take_slot(&self) -> Result<(), BoundedSessionsError> {
        let Ok(mut slots) = self.slots.lock() else {
            return Err(BoundedSessionsError::Full { limit: self.limit });
        };
        if slots.open.len().saturating_add(slots.opening) >= self.limit {
            let _ = SESSION_REFUSED.try_with(|refused| refused.set(true));
            return Err(BoundedSessionsError::Full { limit: self.limit });
        }
        slots.opening += 1;
        Ok(())
    }

    fn settle_slot(&self, opened: Option<&SessionId>) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.opening = slots.opening.saturating_sub(1);
            if let Some(id) = opened {
                slots.open.insert(id.clone());
            }
        }
    }

    fn free_slot(&self, id: &SessionId) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.open.remove(id);
        }
    }
}

impl SessionManager for BoundedSessions {
    type Error = BoundedSessionsError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.take_slot()?;
        let created = self.inner.create_session().await;
        self.settle_slot(created.as_ref().ok().map(|(id, _)| id));
        Ok(created?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    /// Called on DELETE and when a session's worker ends (idle, or failed).
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        self.free_slot(id);
        Ok(closed?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    // No session store is configured, so there is nothing to restore; saying
    // so keeps every session created through `create_session`, and counted.
    async fn restore_session(
        &self,
        _id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(RestoreOutcome::NotSupported)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}

/// Answers 503 when [`BoundedSessions`] refused the session this request asked for.
pub async fn refuse_sessions_over_the_limit(
    State(sessions): State<Arc<BoundedSessions>>,
    request: Request,
    next: Next,
) -> Response {
    let (refused, response) = SESSION_REFUSED
        .scope(Cell::new(false), async {
            let response = next.run(request).await;
            (SESSION_REFUSED.with(Cell::get), response)
        })
        .await;
    if refused {
        tracing::warn!(
            limit = sessions.limit,
            open = sessions.open(),
            "refused a new MCP session: the server is at its session limit"
        );
        return busy(
            BoundedSessionsError::Full {
                limit: sessions.limit,
            }
            .to_string(),
        );
    }
    response
}

/// The permits for requests in flight on `/mcp`.
pub struct InFlight {
    requests: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    limits: HttpLimits,
}

impl InFlight {
    pub fn new(limits: &HttpLimits) -> InFlight {
        InFlight {
            requests: Arc::new(Semaphore::new(limits.max_requests_in_flight)),
            streams: Arc::new(Semaphore::new(limits.max_event_streams)),
            limits: *limits,
        }
    }

    /// Resolves once no POST or DELETE is in flight, and keeps any new one
    /// from starting (503) for as long as the returned permits are held: a
    /// server shutting down waits for its answers this way.
    pub async fn settled(&self) -> Option<OwnedSemaphorePermit> {
        let all = u32::try_from(self.limits.max_requests_in_flight).unwrap_or(u32::MAX);
        self.requests.clone().acquire_many_owned(all).await.ok()
    }
}

/// Lets a request through only with a permit, held until its answer has been
/// sent (an event stream's permit until the stream ends); without one, 503.
pub async fn limit_in_flight(
    State(in_flight): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    let (gate, what, limit) = if request.method() == Method::GET {
        (
            &in_flight.streams,
            "open event streams",
            in_flight.limits.max_event_streams,
        )
    } else {
        (
            &in_flight.requests,
            "requests in flight",
            in_flight.limits.max_requests_in_flight,
        )
    };
    let Ok(permit) = gate.clone().try_acquire_owned() else {
        return busy(format!(
            "this server already has {limit} {what}, the most it takes at once; try again shortly"
        ));
    };
    let response = next.run(request).await;
    hold_until_sent(response, permit)
}

/// An event stream keeps its permit until it ends; any other answer is
/// complete already, so the permit goes with this function.
fn hold_until_sent(response: Response, permit: OwnedSemaphorePermit) -> Response {
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !streaming {
        return response;
    }
    let (parts, body) = response.into_parts();
    let held = Held {
        inner: body.into_data_stream(),
        _permit: permit,
    };
    Response::from_parts(parts, Body::from_stream(held))
}

/// A stream that holds a permit for as long as it lives.
struct Held<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: Stream + Unpin> Stream for Held<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_sessions: usize) -> HttpLimits {
        HttpLimits {
            max_sessions,
            ..HttpLimits::default()
        }
    }

    #[tokio::test]
    async fn sessions_past_the_limit_are_refused_and_a_closed_one_frees_its_slot() {
        let sessions = BoundedSessions::new(&limits(2));
        let (first, _a) = sessions.create_session().await.unwrap();
        let (_second, _b) = sessions.create_session().await.unwrap();
        assert_eq!(sessions.open(), 2);
        let refused = SESSION_REFUSED
            .scope(Cell::new(false), async {
                let outcome = sessions.create_session().await;
                (outcome, SESSION_REFUSED.with(Cell::get))
            })
            .await;
        assert!(matches!(
            refused.0,
            Err(BoundedSessionsError::Full { limit: 2 })
        ));
        assert!(refused.1, "the request is marked for a 503");
        sessions.close_session(&first).await.unwrap();
        // A second close (DELETE, then the worker ending) frees nothing more.
        sessions.close_session(&first).await.unwrap();
        assert_eq!(sessions.open(), 1);
        assert!(sessions.create_session().await.is_ok());
        assert_eq!(sessions.open(), 2);
    }

    #[test]
    fn the_idle_timeout_is_passed_to_rmcp() {
        let sessions = BoundedSessions::new(&HttpLimits {
            session_idle: Duration::from_secs(7),
            ..HttpLimits::default()
        });
        assert_eq!(
            sessions.inner.session_config.keep_alive,
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn a_refusal_is_a_503_with_retry_after_and_a_json_rpc_error() {
        let response = busy("full".into());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
