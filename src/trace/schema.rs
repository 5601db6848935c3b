//! The session trace, version 1: JSON lines. The first line is a [`Header`];
//! every other line is a [`Record`] — a sequence number, a timestamp and one
//! domain message. Other tools can read it with any JSON parser; the README
//! documents the fields.
//!
//! ```text
//! {"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"…","process":"console",…}
//! {"seq":1,"at":"…","type":"agent","event":{"event":"user_message","text":"why did …"}}
//! {"seq":2,"at":"…","type":"runs_changed","changes":[{"from":"InProgress","run":{"run_id":"…","pipeline":"…","status":"Failed",…}}]}
//! {"seq":9,"at":"…","type":"session_end","reason":"quit"}
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::agent::events::AgentEvent;
use crate::model::run::{PipelineRun, RunStatus};

/// Bumped when a field changes meaning or a required field appears; readers
/// refuse a newer major schema rather than misread it.
pub const SCHEMA_VERSION: u32 = 1;

/// The first line of every trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always "header": tells a trace from any other JSON lines file.
    #[serde(rename = "type")]
    pub kind: String,
    pub schema: u32,
    pub opsdeck_version: String,
    pub started_at: DateTime<Utc>,
    pub host: String,
    /// "console" or "ask".
    pub process: String,
    /// The model's name, or "offline".
    pub agent_mode: String,
    pub read_only: bool,
    /// "sandbox", or the configured servers.
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default)]
    pub servers: Vec<ServerInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub tools: Vec<ToolInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// The name the agent used (prefixed `server__tool` when two servers share it).
    pub name: String,
    /// Hash of the definition: a changed tool shows as a different hash.
    pub definition_hash: String,
    /// True for tools that change the estate (never re-run by `--verify`).
    #[serde(default)]
    pub destructive: bool,
    /// True only for a tool its server annotated `readOnlyHint: true` and that
    /// server was trusted. `--verify` re-runs a call only when this is true
    /// and the server configured now says the same (absent in older traces:
    /// their calls are not re-run).
    #[serde(default)]
    pub read_only: bool,
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub message: TraceMessage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceMessage {
    /// Something the agent did (question, text, tool calls, approvals, usage, errors, turn end).
    /// Text deltas arrive coalesced: one record per burst, its `at` the burst's start.
    Agent { event: AgentEvent },
    /// Runs that appeared or changed status since the previous board refresh,
    /// and the ids of runs no longer listed (they left the board's window).
    RunsChanged {
        changes: Vec<RunChange>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
    },
    /// A board refresh failed (the board kept its data).
    RunsStale { reason: String },
    /// A server's connection state changed.
    Connection {
        server: String,
        ready: bool,
        detail: String,
    },
    /// The conversation was cleared (`:new`): a resumed session starts after it.
    /// (Added after schema 1 was first written; readers that predate it skip the line.)
    ConversationReset,
    /// A run opsdeck started, as its follower saw it change (`run`), or why
    /// following it stopped (`reason`). (Added after schema 1 was first
    /// written; readers that predate it skip the line.)
    RunFollowed {
        server: String,
        run_id: String,
        pipeline: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<Box<PipelineRun>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The session ended: "quit", "signal", "error: …", or "finished" for `ask`.
    SessionEnd { reason: String },
}

/// A run that appeared (`from` is None) or changed status, whole as the board
/// then showed it, so a replay can rebuild the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunChange {
    pub from: Option<RunStatus>,
    pub run: PipelineRun,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_flat_json_lines_with_a_type() {
        let record = Record {
            seq: 3,
            at: "2026-11-23T03:42:00Z".parse().unwrap(),
            message: TraceMessage::Agent {
                event: AgentEvent::TextDelta { text: "hi".into() },
            },
        };
        let line = serde_json::to_value(&record).unwrap();
        assert_eq!(
            line,
            json!({"seq": 3, "at": "2026-11-23T03:42:00Z", "type": "agent", "event": {"event": "text_delta", "text": "hi"}})
        );
        let back: Record = serde_json::from_value(line).unwrap();
        assert_eq!(back, record);
        let end = serde_json::to_value(Record {
            seq: 4,
            at: record.at,
            message: TraceMessage::SessionEnd {
                reason: "quit".into(),
            },
        })
        .unwrap();
        assert_eq!(end["type"], "session_end");
    }
}
