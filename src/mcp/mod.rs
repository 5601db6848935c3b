//! The MCP host: connects to the configured servers (stdio children or streamable
//! HTTP), merges their tools into one catalogue, and calls them with a timeout.
//! Each server has a supervisor task that reconnects with backoff; calls to a
//! server that is down fail at once, saying which server and when to try again.
//! Nothing here waits on a peer without a limit: the handshake, listings and calls
//! time out, and shutdown returns within [`SHUTDOWN_DEADLINE`] whatever the peers do.

pub mod catalog;
mod connection;
mod outage;
mod state;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use catalog::CatalogTool;

/// The text parts of a tool result, in order (images and resources are not text).
pub fn result_texts(result: &CallToolResult) -> Vec<String> {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}
pub use crate::config::servers::ServerSpec;
pub use connection::ConnectionState;
use connection::ServerConnection;

/// The longest [`McpHost::shutdown`] waits: each child gets about three seconds
/// (stdin closed, SIGTERM, SIGKILL), all at once; then it returns regardless.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No such tool; the message says whether a server that is down may be why.
    #[error("{message}")]
    UnknownTool { name: String, message: String },
    #[error("{reason}; the call was not sent")]
    Unavailable { server: String, reason: String },
    #[error("{tool} on server '{server}' did not answer within {after:?}; the call was cancelled")]
    Timeout {
        server: String,
        tool: String,
        after: Duration,
    },
    #[error("{tool} on server '{server}' failed: {error}")]
    Failed {
        server: String,
        tool: String,
        error: String,
    },
}

pub struct McpHost {
    servers: Vec<Arc<ServerConnection>>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
}

impl McpHost {
    /// Starts every server and waits (at most `settle`) until each is ready or has
    /// failed its first attempt, so the first catalogue is complete when it can be.
    /// Supervisors keep running after `settle`; dropping the host stops them.
    pub async fn start(specs: Vec<ServerSpec>, settle: Duration) -> McpHost {
        let servers: Vec<Arc<ServerConnection>> =
            specs.into_iter().map(ServerConnection::new).collect();
        let supervisors = servers
            .iter()
            .map(|s| tokio::spawn(s.clone().supervise()))
            .collect();
        let host = McpHost {
            servers,
            supervisors: Mutex::new(supervisors),
        };
        let settled = async {
            for server in &host.servers {
                let mut state = server.state.subscribe();
                let _ = state
                    .wait_for(|s| !matches!(s, ConnectionState::Connecting))
                    .await;
            }
        };
        let _ = tokio::time::timeout(settle, settled).await;
        host
    }

    /// Each server's name and connection state.
    pub fn states(&self) -> Vec<(String, ConnectionState)> {
        self.servers
            .iter()
            .map(|s| (s.spec.name.clone(), s.state.borrow().clone()))
            .collect()
    }

    /// A receiver per server, for a UI that shows connection changes as they happen.
    pub fn watch_states(&self) -> Vec<(String, watch::Receiver<ConnectionState>)> {
        self.servers
            .iter()
            .map(|s| (s.spec.name.clone(), s.state.subscribe()))
            .collect()
    }

    pub fn spec(&self, server: &str) -> Option<&ServerSpec> {
        self.servers
            .iter()
            .map(|s| &s.spec)
            .find(|s| s.name == server)
    }

    /// The merged catalogue. A server that is down keeps its last known tools (see
    /// [`McpHost::is_ready`]), so names do not shift while it reconnects and a call
    /// of one of them says why it cannot be made instead of "no such tool".
    pub async fn catalog(&self) -> Vec<CatalogTool> {
        let mut per_server = Vec::new();
        for server in &self.servers {
            per_server.push((server.spec.name.clone(), server.tools.read().await.clone()));
        }
        catalog::build(&per_server)
    }

    /// What a connected server said about itself at the handshake (its name,
    /// instructions, `_meta`); `None` while it is not connected. Text a server
    /// chose: data for the prompt, never instructions to the host.
    pub async fn peer_info(&self, server: &str) -> Option<Arc<rmcp::model::ServerPeerInfo>> {
        let connection = self.servers.iter().find(|s| s.spec.name == server)?;
        let peer = connection.live.read().await.clone()?;
        peer.peer_info()
    }

    /// Whether `server` is connected now (its catalogue entries can be called).
    pub fn is_ready(&self, server: &str) -> bool {
        self.servers.iter().any(|s| {
            s.spec.name == server && matches!(*s.state.borrow(), ConnectionState::Ready { .. })
        })
    }

    /// Why `server` cannot take a call now (down, reconnecting, with when to
    /// try again); `None` when it is ready.
    pub fn why_unavailable(&self, server: &str) -> Option<String> {
        if self.is_ready(server) {
            return None;
        }
        let down: Vec<outage::Down> = self
            .down()
            .into_iter()
            .filter(|d| d.server == server)
            .collect();
        Some(if down.is_empty() {
            format!("server '{server}' is not connected")
        } else {
            outage::unavailable(&down)
        })
    }

    /// What to answer a call of `name` that `catalog` does not hold: when a server
    /// is not ready, which one, why, and when to try again; else the tools there are.
    pub fn explain_missing(&self, name: &str, catalog: &[CatalogTool]) -> String {
        let available: Vec<&str> = catalog
            .iter()
            .filter(|t| self.is_ready(&t.server))
            .map(|t| t.exposed_name.as_str())
            .collect();
        outage::missing_tool(name, &self.down(), &available)
    }

    /// The servers that are not ready, each as a clause with its retry time.
    fn down(&self) -> Vec<outage::Down> {
        let now = tokio::time::Instant::now();
        self.servers
            .iter()
            .filter_map(|server| {
                let state = server.state.borrow().clone();
                let record = server.outage.lock().map(|o| o.clone()).unwrap_or_default();
                outage::describe(&server.spec.name, &state, &record, now)
            })
            .collect()
    }

    /// Asks every connected server for its tools again (a changed definition shows
    /// up as a new `definition_hash`). Servers that announce changes are re-listed
    /// on their own; this catches the ones that do not. Servers are asked at once,
    /// each bounded by its call timeout.
    pub async fn refresh_tools(&self) {
        futures::future::join_all(self.servers.iter().map(|s| s.refresh())).await;
    }

    /// Calls a tool by its catalogue name. Dropping the future cancels the call
    /// (the server receives `notifications/cancelled`).
    pub async fn call(
        &self,
        exposed_name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, CallError> {
        let catalog = self.catalog().await;
        let Some(entry) = catalog.iter().find(|t| t.exposed_name == exposed_name) else {
            return Err(CallError::UnknownTool {
                name: exposed_name.to_string(),
                message: self.explain_missing(exposed_name, &catalog),
            });
        };
        self.call_tool(entry, arguments).await
    }

    /// Calls a catalogue entry the caller already looked up (no second catalogue build).
    pub async fn call_tool(
        &self,
        entry: &CatalogTool,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, CallError> {
        let Some(server) = self.servers.iter().find(|s| s.spec.name == entry.server) else {
            return Err(CallError::Unavailable {
                server: entry.server.clone(),
                reason: format!("server '{}' is not configured", entry.server),
            });
        };
        let Some(peer) = server.live.read().await.clone() else {
            let reason = self
                .why_unavailable(&entry.server)
                .unwrap_or_else(|| format!("server '{}' is not connected", entry.server));
            return Err(CallError::Unavailable {
                server: entry.server.clone(),
                reason,
            });
        };
        let mut params = CallToolRequestParams::new(entry.tool.name.clone());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let timeout = server.spec.call_timeout;
        match tokio::time::timeout(timeout, peer.call_tool(params)).await {
            Err(_) => Err(CallError::Timeout {
                server: entry.server.clone(),
                tool: entry.tool.name.to_string(),
                after: timeout,
            }),
            Ok(Err(error)) => Err(CallError::Failed {
                server: entry.server.clone(),
                tool: entry.tool.name.to_string(),
                error: outage::clip(&transport::call_failure(&error)),
            }),
            Ok(Ok(result)) => Ok(result),
        }
    }

    /// Stops every server (stdin closed, then SIGTERM, then SIGKILL for children,
    /// all at once) and waits for their supervisors — at most [`SHUTDOWN_DEADLINE`],
    /// whatever a peer does; a supervisor still running then is aborted.
    pub async fn shutdown(&self) {
        for server in &self.servers {
            server.stop();
        }
        let supervisors = match self.supervisors.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(_) => return,
        };
        let aborts: Vec<_> = supervisors.iter().map(JoinHandle::abort_handle).collect();
        let all = futures::future::join_all(supervisors);
        if tokio::time::timeout(SHUTDOWN_DEADLINE, all).await.is_err() {
            tracing::warn!("MCP servers did not stop within {SHUTDOWN_DEADLINE:?}; leaving them");
            for abort in aborts {
                abort.abort();
            }
        }
    }
}

impl Drop for McpHost {
    /// A host dropped without [`McpHost::shutdown`] still stops its supervisors,
    /// which stop their children on their own (while the runtime runs).
    fn drop(&mut self) {
        for server in &self.servers {
            server.stop();
        }
    }
}
