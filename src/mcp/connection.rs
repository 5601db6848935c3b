//! One server: connect (stdio child or streamable HTTP), keep the tool list
//! fresh, and on loss reconnect with backoff while callers fail fast. Every wait
//! on the peer is bounded, and every one of them gives way to the host's shutdown.
//! A listing is capped (see [`listing`]), and a flood of `list_changed`
//! notifications costs at most one re-listing a second.

mod listing;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{ClientCacheConfig, NotificationContext, Peer, RunningService};
use rmcp::transport::IntoTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::sync::{Notify, RwLock, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outage::{Outage, clip, seconds};
pub use super::state::ConnectionState;
use super::transport::{self, StdioChild};
use crate::config::servers::{ServerSpec, ServerTransport};
use crate::support::retry::backoff;
use listing::ListingError;

pub(super) struct ServerConnection {
    pub spec: ServerSpec,
    /// The session, while connected.
    pub live: RwLock<Option<Peer<RoleClient>>>,
    /// The last tool list the server gave (kept while it is down; empty until listed).
    pub tools: RwLock<Vec<Tool>>,
    pub state: watch::Sender<ConnectionState>,
    pub outage: Mutex<Outage>,
    shutdown: CancellationToken,
}

/// How the host introduces itself, and hears that a server's tools changed.
struct HostClient {
    /// Holds at most one pending signal however many notifications arrive, so
    /// a flood of them costs nothing until the next re-listing.
    tools_changed: Arc<Notify>,
}

impl ClientHandler for HostClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("opsdeck", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

/// A session that completed the handshake, with the process behind it (stdio).
struct Connected {
    running: RunningService<RoleClient, HostClient>,
    child: Option<StdioChild>,
    changes: Arc<Notify>,
}

/// Why an attempt or a session ended.
enum Ended {
    /// The host is shutting down.
    Stopped,
    Failed(String),
}

/// The wait before the first reconnect; doubled after each further failure.
const FIRST_RECONNECT: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that stayed up this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// How long a closing session may take to say goodbye before its process is stopped.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// The shortest time between two re-listings a server asked for with `list_changed`.
const RELIST_INTERVAL: Duration = Duration::from_secs(1);

impl ServerConnection {
    pub fn new(spec: ServerSpec) -> Arc<ServerConnection> {
        let (state, _) = watch::channel(ConnectionState::Connecting);
        Arc::new(ServerConnection {
            spec,
            live: RwLock::new(None),
            tools: RwLock::new(Vec::new()),
            state,
            outage: Mutex::new(Outage::default()),
            shutdown: CancellationToken::new(),
        })
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// A server re-listed every second while ready is one line, not one a second.
    fn set_state(&self, state: ConnectionState) {
        let previous = self.state.send_replace(state.clone());
        if previous != state || !matches!(state, ConnectionState::Ready { .. }) {
            tracing::info!(server = %self.spec.name, ?state, "connection state");
        }
    }

    fn note_outage(&self, update: impl FnOnce(&mut Outage)) {
        if let Ok(mut outage) = self.outage.lock() {
            update(&mut outage);
        }
    }

    /// Connects, serves until the connection is lost, reconnects with backoff; until stopped.
    pub async fn supervise(self: Arc<Self>) {
        let mut attempt: u32 = 0;
        loop {
            self.set_state(ConnectionState::Connecting);
            let started = Instant::now();
            let deadline = after(self.spec.init_timeout);
            self.note_outage(|o| o.until = Some(deadline));
            let ended = match self.connect(deadline).await {
                Ok(connected) => {
                    let ended = self.serve(connected, deadline).await;
                    *self.live.write().await = None;
                    if started.elapsed() >= HEALTHY_AFTER {
                        attempt = 0;
                    }
                    ended
                }
                Err(ended) => ended,
            };
            let error = match ended {
                Ended::Stopped => break,
                Ended::Failed(error) => clip(&error),
            };
            attempt = attempt.saturating_add(1);
            let delay = reconnect_delay(attempt);
            tracing::warn!(server = %self.spec.name, attempt, %error, "connection lost or refused");
            self.note_outage(|o| {
                *o = Outage {
                    attempt,
                    error: Some(error.clone()),
                    until: Some(after(delay)),
                }
            });
            self.set_state(ConnectionState::Reconnecting {
                attempt,
                error,
                retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.cancelled() => break,
            }
        }
        *self.live.write().await = None;
        self.set_state(ConnectionState::Stopped);
    }

    /// Starts the transport and completes the handshake by `deadline`; a child that
    /// does not make it is stopped before this returns.
    async fn connect(&self, deadline: Instant) -> Result<Connected, Ended> {
        let changes = Arc::new(Notify::new());
        let client = HostClient {
            tools_changed: changes.clone(),
        };
        match &self.spec.transport {
            ServerTransport::Stdio { .. } => {
                let process = transport::spawn_stdio(&self.spec).map_err(Ended::Failed)?;
                let pipes = (process.stdout, process.stdin);
                match self.handshake(client, pipes, deadline).await {
                    Ok(running) => Ok(Connected {
                        running,
                        child: Some(process.child),
                        changes,
                    }),
                    Err(ended) => {
                        // The pipes went with the handshake, so the child has seen EOF.
                        process.child.stop().await;
                        Err(ended)
                    }
                }
            }
            ServerTransport::Http {
                url,
                headers,
                token_scope,
            } => {
                let http =
                    transport::http_transport(&self.spec, url, headers, token_scope.as_deref())
                        .map_err(Ended::Failed)?;
                let running = self.handshake(client, http, deadline).await?;
                Ok(Connected {
                    running,
                    child: None,
                    changes,
                })
            }
        }
    }

    async fn handshake<T, E, A>(
        &self,
        client: HostClient,
        transport: T,
        deadline: Instant,
    ) -> Result<RunningService<RoleClient, HostClient>, Ended>
    where
        T: IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => Err(Ended::Stopped),
            outcome = tokio::time::timeout_at(deadline, client.serve(transport)) => match outcome {
                Err(_) => Err(Ended::Failed(format!(
                    "did not answer initialize within {}",
                    seconds(self.spec.init_timeout)
                ))),
                Ok(Err(e)) => Err(Ended::Failed(handshake_failure(&e))),
                Ok(Ok(running)) => Ok(running),
            },
        }
    }

    /// Lists tools (by the attempt's `deadline`), then waits for the connection to
    /// end or the host to stop, re-listing whenever the server says its tools
    /// changed. The session is closed and its process stopped before this returns.
    async fn serve(&self, connected: Connected, deadline: Instant) -> Ended {
        let Connected {
            running,
            child,
            changes,
        } = connected;
        let peer = running.peer().clone();
        // opsdeck keeps its own tool list; rmcp's response cache would keep up to
        // 512 more pages of a server's lists, and answer stale ones on errors.
        peer.set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        let cancel = running.cancellation_token();
        let mut waiting = Box::pin(running.waiting());
        let listed = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => Err(Ended::Stopped),
            listed = self.list_tools(&peer, self.spec.init_timeout, deadline) => listed.map_err(|e| Ended::Failed(e.to_string())),
        };
        let mut closed = false;
        let mut relist_due: Option<Instant> = None;
        let mut earliest_relist = after(RELIST_INTERVAL);
        let ended = match listed {
            Err(ended) => ended,
            Ok(()) => loop {
                tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => break Ended::Stopped,
                    outcome = &mut waiting => {
                        closed = true;
                        break Ended::Failed(match outcome {
                            Ok(reason) => format!("the server closed the connection ({reason:?})"),
                            Err(e) => format!("the connection task failed: {e}"),
                        });
                    }
                    // Notifications arriving meanwhile leave one signal in `changes`.
                    _ = changes.notified(), if relist_due.is_none() => {
                        relist_due = Some(earliest_relist);
                    }
                    _ = tokio::time::sleep_until(relist_due.unwrap_or(earliest_relist)), if relist_due.is_some() => {
                        relist_due = None;
                        let within = self.spec.call_timeout;
                        let listed = tokio::select! {
                            _ = self.shutdown.cancelled() => break Ended::Stopped,
                            listed = self.list_tools(&peer, within, after(within)) => listed,
                        };
                        match listed {
                            Ok(()) => {}
                            // A server that grew past a cap is refused as at the start.
                            Err(ListingError::OverCap(error)) => break Ended::Failed(error),
                            Err(ListingError::Failed(error)) => {
                                tracing::warn!(server = %self.spec.name, %error, "tool list refresh failed");
                            }
                        }
                        earliest_relist = after(RELIST_INTERVAL);
                    }
                }
            },
        };
        *self.live.write().await = None;
        // Cancelling closes the transport (stdin, for a child); a peer that will not
        // let go is not waited on past the grace.
        cancel.cancel();
        if !closed {
            let _ = tokio::time::timeout(CLOSE_GRACE, waiting).await;
        }
        if let Some(child) = child {
            child.stop().await;
        }
        ended
    }

    /// Re-lists the tools of a live connection; a failure is logged, the old list
    /// kept (a server over a cap is refused when it next announces a change).
    pub async fn refresh(&self) {
        let peer = self.live.read().await.clone();
        if let Some(peer) = peer
            && let Err(error) = self
                .list_tools(&peer, self.spec.call_timeout, after(self.spec.call_timeout))
                .await
        {
            tracing::warn!(server = %self.spec.name, %error, "tool list refresh failed");
        }
    }

    /// Lists the tools by `deadline` (`within` is that limit, for the message).
    async fn list_tools(
        &self,
        peer: &Peer<RoleClient>,
        within: Duration,
        deadline: Instant,
    ) -> Result<(), ListingError> {
        let tools: Vec<Tool> = tokio::time::timeout_at(deadline, listing::list_all(peer))
            .await
            .map_err(|_| {
                ListingError::Failed(format!(
                    "did not answer tools/list within {}",
                    seconds(within)
                ))
            })??
            .into_iter()
            .filter(|t| self.spec.offers(&t.name))
            .collect();
        let count = tools.len();
        *self.tools.write().await = tools;
        *self.live.write().await = Some(peer.clone());
        self.note_outage(|o| *o = Outage::default());
        self.set_state(ConnectionState::Ready { tools: count });
        Ok(())
    }
}

/// Why a handshake failed. A sign-in failure is said as is — it says what to
/// do, and rmcp's wrapping ("Send message error Transport […]") would push that
/// past the 300 characters a state keeps.
fn handshake_failure(error: &rmcp::service::ClientInitializeError) -> String {
    use rmcp::service::ClientInitializeError;
    let sign_in = match error {
        ClientInitializeError::TransportError { error, .. } => {
            transport::SignInError::find(error.error.as_ref())
        }
        _ => None,
    };
    match (sign_in, error) {
        (Some(sign_in), _) => clip(&sign_in.to_string()),
        // rmcp's text names the transport by its full generic type; what went
        // wrong, and when, is what the user needs.
        (None, ClientInitializeError::TransportError { error, context }) => format!(
            "the MCP handshake failed ({context}): {}",
            clip(&error.error.to_string())
        ),
        (None, error) => format!("the MCP handshake failed: {}", clip(&error.to_string())),
    }
}

/// The wait after failed attempt `attempt` (1 for the first): 0.5 s, doubling, at most 30 s.
fn reconnect_delay(attempt: u32) -> Duration {
    backoff(FIRST_RECONNECT, attempt.saturating_sub(1), BACKOFF_MAX)
}

/// The instant `limit` from now; a limit too far to represent (a spec built in code
/// with `Duration::MAX`) means a year, not a panic.
fn after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_from_half_a_second_to_30() {
        let waits: Vec<u128> = (1..=9)
            .map(|attempt| reconnect_delay(attempt).as_millis())
            .collect();
        assert_eq!(
            waits,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        assert_eq!(reconnect_delay(u32::MAX), BACKOFF_MAX);
    }
}
