//! One server: connect (stdio child or streamable HTTP), keep the tool list
//! fresh, and on loss reconnect with backoff while callers fail fast.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::{RwLock, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::config::{ServerSpec, ServerTransport};

/// What the status bar and the trace show about a server.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Ready {
        tools: usize,
    },
    Reconnecting {
        attempt: u32,
        error: String,
        retry_in_ms: u64,
    },
    Stopped,
}

/// The live session with a server.
#[derive(Clone)]
pub(super) struct Live {
    pub peer: Peer<RoleClient>,
    pub tools: Vec<Tool>,
}

pub(super) struct ServerConnection {
    pub spec: ServerSpec,
    pub live: RwLock<Option<Live>>,
    pub state: watch::Sender<ConnectionState>,
    shutdown: CancellationToken,
}

/// How the host introduces itself, and hears that a server's tools changed.
struct HostClient {
    tools_changed: mpsc::UnboundedSender<()>,
}

impl ClientHandler for HostClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("opsdeck", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.tools_changed.send(());
    }
}

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that stayed up this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

impl ServerConnection {
    pub fn new(spec: ServerSpec) -> Arc<ServerConnection> {
        let (state, _) = watch::channel(ConnectionState::Connecting);
        Arc::new(ServerConnection {
            spec,
            live: RwLock::new(None),
            state,
            shutdown: CancellationToken::new(),
        })
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    fn set_state(&self, state: ConnectionState) {
        tracing::info!(server = %self.spec.name, ?state, "connection state");
        self.state.send_replace(state);
    }

    /// Connects, serves until the connection is lost, reconnects with backoff; until stopped.
    pub async fn supervise(self: Arc<Self>) {
        let mut attempt: u32 = 0;
        loop {
            self.set_state(ConnectionState::Connecting);
            let started = tokio::time::Instant::now();
            let error = match self.connect().await {
                Ok((running, changes)) => {
                    let reason = self.serve(running, changes).await;
                    *self.live.write().await = None;
                    if self.shutdown.is_cancelled() {
                        self.set_state(ConnectionState::Stopped);
                        return;
                    }
                    if started.elapsed() >= HEALTHY_AFTER {
                        attempt = 0;
                    }
                    reason
                }
                Err(error) => error,
            };
            attempt = attempt.saturating_add(1);
            let delay = BACKOFF_START
                .saturating_mul(1 << attempt.min(8))
                .min(BACKOFF_MAX);
            tracing::warn!(server = %self.spec.name, attempt, %error, "connection lost or refused");
            self.set_state(ConnectionState::Reconnecting {
                attempt,
                error,
                retry_in_ms: delay.as_millis() as u64,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.cancelled() => {
                    self.set_state(ConnectionState::Stopped);
                    return;
                }
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<
        (
            RunningService<RoleClient, HostClient>,
            mpsc::UnboundedReceiver<()>,
        ),
        String,
    > {
        let (tools_changed, changes) = mpsc::unbounded_channel();
        let client = HostClient { tools_changed };
        let running = match &self.spec.transport {
            ServerTransport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).envs(env);
                if let Some(dir) = cwd {
                    cmd.current_dir(dir);
                }
                let (transport, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("cannot start `{command}`: {e}"))?;
                if let Some(stderr) = stderr {
                    tokio::spawn(drain_stderr(self.spec.name.clone(), stderr));
                }
                client
                    .serve(transport)
                    .await
                    .map_err(|e| format!("MCP handshake with `{command}` failed: {e}"))?
            }
            ServerTransport::Http { url, headers } => {
                let mut custom = HashMap::new();
                for (name, value) in headers {
                    let name = name
                        .parse()
                        .map_err(|e| format!("header name {name:?} is invalid: {e}"))?;
                    let value = value
                        .parse()
                        .map_err(|e| format!("header value for {name} is invalid: {e}"))?;
                    custom.insert(name, value);
                }
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom);
                client
                    .serve(StreamableHttpClientTransport::from_config(config))
                    .await
                    .map_err(|e| format!("MCP handshake with {url} failed: {e}"))?
            }
        };
        Ok((running, changes))
    }

    /// Lists tools, then waits for the connection to end (or to be stopped),
    /// re-listing whenever the server says its tools changed.
    async fn serve(
        &self,
        running: RunningService<RoleClient, HostClient>,
        mut changes: mpsc::UnboundedReceiver<()>,
    ) -> String {
        let peer = running.peer().clone();
        if let Err(error) = self.refresh_tools(&peer).await {
            let _ = running.cancel().await;
            return error;
        }
        let cancel = running.cancellation_token();
        let mut waiting = Box::pin(running.waiting());
        loop {
            tokio::select! {
                outcome = &mut waiting => {
                    return match outcome {
                        Ok(reason) => format!("the server closed the connection ({reason:?})"),
                        Err(e) => format!("the connection task failed: {e}"),
                    };
                }
                Some(()) = changes.recv() => {
                    if let Err(error) = self.refresh_tools(&peer).await {
                        tracing::warn!(server = %self.spec.name, %error, "tool list refresh failed");
                    }
                }
                _ = self.shutdown.cancelled() => {
                    // Cancelling closes stdin, then SIGTERM, then SIGKILL (rmcp's child shutdown);
                    // awaiting the task waits for that to finish, so no zombie is left.
                    cancel.cancel();
                    let _ = waiting.await;
                    return "stopped".to_string();
                }
            }
        }
    }

    /// Re-lists the tools of a live connection; a failure is logged, the old list kept.
    pub async fn refresh(&self) {
        let peer = self.live.read().await.as_ref().map(|l| l.peer.clone());
        if let Some(peer) = peer
            && let Err(error) = self.refresh_tools(&peer).await
        {
            tracing::warn!(server = %self.spec.name, %error, "tool list refresh failed");
        }
    }

    async fn refresh_tools(&self, peer: &Peer<RoleClient>) -> Result<(), String> {
        let tools: Vec<Tool> = tokio::time::timeout(self.spec.call_timeout, peer.list_all_tools())
            .await
            .map_err(|_| {
                format!(
                    "tools/list did not answer within {:?}",
                    self.spec.call_timeout
                )
            })?
            .map_err(|e| format!("tools/list failed: {e}"))?
            .into_iter()
            .filter(|t| self.spec.offers(&t.name))
            .collect();
        let count = tools.len();
        *self.live.write().await = Some(Live {
            peer: peer.clone(),
            tools,
        });
        self.set_state(ConnectionState::Ready { tools: count });
        Ok(())
    }
}

/// Reads a child's stderr continuously into the log so it can never block on a
/// full pipe, in bounded pieces so a flood without newlines cannot grow memory.
async fn drain_stderr(server: String, mut stderr: tokio::process::ChildStderr) {
    const MAX_LINE: usize = 2_048;
    let mut buffer = vec![0u8; 8_192];
    let mut line: Vec<u8> = Vec::with_capacity(MAX_LINE);
    loop {
        let read = match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &byte in &buffer[..read] {
            if byte == b'\n' || line.len() >= MAX_LINE {
                tracing::info!(server = %server, "stderr: {}", String::from_utf8_lossy(&line));
                line.clear();
                if byte == b'\n' {
                    continue;
                }
            }
            line.push(byte);
        }
    }
    if !line.is_empty() {
        tracing::info!(server = %server, "stderr: {}", String::from_utf8_lossy(&line));
    }
}
