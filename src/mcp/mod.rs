//! The MCP host: connects to the configured servers (stdio children or streamable
//! HTTP), merges their tools into one catalogue, and calls them with a timeout.
//! Each server has a supervisor task that reconnects with backoff; calls to a
//! server that is down fail at once with a clear error.

pub mod catalog;
pub mod config;
mod connection;

use std::sync::Arc;
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
pub use config::ServerSpec;
pub use connection::ConnectionState;
use connection::ServerConnection;

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("there is no tool named '{name}'; available: {known}")]
    UnknownTool { name: String, known: String },
    #[error("server '{server}' is not connected ({state}); the call was not sent")]
    Unavailable { server: String, state: String },
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
    supervisors: Vec<JoinHandle<()>>,
}

impl McpHost {
    /// Starts every server and waits (at most `settle`) until each is ready or has
    /// failed its first attempt, so the first catalogue is complete when it can be.
    pub async fn start(specs: Vec<ServerSpec>, settle: Duration) -> McpHost {
        let servers: Vec<Arc<ServerConnection>> =
            specs.into_iter().map(ServerConnection::new).collect();
        let supervisors = servers
            .iter()
            .map(|s| tokio::spawn(s.clone().supervise()))
            .collect();
        let host = McpHost {
            servers,
            supervisors,
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

    /// The merged catalogue of every connected server.
    pub async fn catalog(&self) -> Vec<CatalogTool> {
        let mut per_server = Vec::new();
        for server in &self.servers {
            if let Some(live) = server.live.read().await.as_ref() {
                per_server.push((server.spec.name.clone(), live.tools.clone()));
            }
        }
        catalog::build(&per_server)
    }

    /// Asks every connected server for its tools again (a changed definition shows
    /// up as a new `definition_hash`). Servers that announce changes are re-listed
    /// on their own; this catches the ones that do not.
    pub async fn refresh_tools(&self) {
        for server in &self.servers {
            server.refresh().await;
        }
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
            let known: Vec<&str> = catalog.iter().map(|t| t.exposed_name.as_str()).collect();
            return Err(CallError::UnknownTool {
                name: exposed_name.to_string(),
                known: known.join(", "),
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
                state: "not configured".into(),
            });
        };
        let Some(live) = server.live.read().await.clone() else {
            let state = serde_json::to_string(&*server.state.borrow()).unwrap_or_default();
            return Err(CallError::Unavailable {
                server: entry.server.clone(),
                state,
            });
        };
        let mut params = CallToolRequestParams::new(entry.tool.name.clone());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let timeout = server.spec.call_timeout;
        match tokio::time::timeout(timeout, live.peer.call_tool(params)).await {
            Err(_) => Err(CallError::Timeout {
                server: entry.server.clone(),
                tool: entry.tool.name.to_string(),
                after: timeout,
            }),
            Ok(Err(error)) => Err(CallError::Failed {
                server: entry.server.clone(),
                tool: entry.tool.name.to_string(),
                error: error.to_string(),
            }),
            Ok(Ok(result)) => Ok(result),
        }
    }

    /// Stops every server (stdin closed, then SIGTERM, then SIGKILL for children)
    /// and waits for their supervisors, so no child outlives the host.
    pub async fn shutdown(self) {
        for server in &self.servers {
            server.stop();
        }
        for supervisor in self.supervisors {
            let _ = supervisor.await;
        }
    }
}
