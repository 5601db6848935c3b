//! The agent's domain messages: one stream that `opsdeck ask` prints, the console
//! renders and the trace records.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The question that started the turn.
    UserMessage { text: String },
    /// Which agent answers: a model name, or "offline".
    AgentMode { mode: String },
    /// A piece of the answer, as it arrives.
    TextDelta { text: String },
    /// A tool call is about to run.
    ToolCallStarted {
        call_id: String,
        server: String,
        tool: String,
        arguments: Value,
    },
    /// A tool call ended (with the result or the error), and how long it took.
    ToolCallFinished {
        call_id: String,
        server: String,
        tool: String,
        duration_ms: u64,
        is_error: bool,
        /// The result (capped for the inspector and the trace), or the error message.
        result: Value,
        /// True when `result` was cut to the cap.
        truncated: bool,
    },
    /// A call needs a person's yes or no before it runs.
    ApprovalNeeded {
        call_id: String,
        server: String,
        tool: String,
        arguments: Value,
        reason: String,
    },
    /// The decision about a call that needed approval.
    ApprovalDecided {
        call_id: String,
        approved: bool,
        by: String,
        reason: String,
    },
    /// The tools the model was offered for this turn (a catalogue larger than
    /// the model's limit is cut to the tools the question needs), by exposed
    /// name, and how many of the catalogue were left out.
    ToolsOffered {
        offered: Vec<String>,
        left_out: usize,
    },
    /// Tokens the model used in one request, when the provider says.
    Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
    },
    /// Something went wrong; the turn may still finish.
    Error { message: String },
    /// The turn is over.
    TurnFinished {
        answer: String,
        tool_calls: u32,
        ok: bool,
    },
}
