//! A server's connection state: what the status bar and the trace show.

use serde::Serialize;

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
