//! The session's tool calls, one record per call id, from the agent's events:
//! server, tool, arguments, state, timing, result, and the approval asked and
//! given. One store on the [`App`](super::update::App), so every view of a call
//! (the inspector's list today, the chat's call lines next) reads the same facts.

use std::collections::HashMap;
use std::ops::Index;

use serde_json::Value;

use crate::agent::events::AgentEvent;

#[derive(Debug, Clone, PartialEq)]
pub enum CallState {
    Running,
    AwaitingApproval,
    Ok,
    /// The call ended in an error, or never ran (refused, cancelled); its
    /// [`ToolCall::decision`] says whether a person refused it.
    Failed,
}

/// The answer about a call that needed approval, and whose it was: "user" for
/// the person at the console, else why nobody decided ("cancelled: …").
#[derive(Debug, Clone, PartialEq)]
pub struct CallDecision {
    pub approved: bool,
    pub by: String,
}

#[derive(Debug, Clone)]
pub struct ToolCall {
    pub call_id: String,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub state: CallState,
    pub duration_ms: Option<u64>,
    pub result: Value,
    pub truncated: bool,
    /// Approval reason and decision in words, when one was needed.
    pub approval: Option<String>,
    /// The decision itself, once given.
    pub decision: Option<CallDecision>,
    /// The first lines of the result, computed once, for the list's preview.
    pub preview: String,
    /// The result's size as JSON text, counted once (the store's budget).
    result_bytes: usize,
    /// It never finished: its turn was cancelled, or the answer came too late.
    pub cancelled: bool,
}

/// How a call reads wherever it is shown — the chat's call line and the
/// inspector's list alike: a symbol, a word, and its tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallReading {
    pub symbol: &'static str,
    pub label: &'static str,
    pub tone: Tone,
}

/// What a reading stands for; the drawing picks the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Busy,
    Good,
    Bad,
    Attention,
}

impl ToolCall {
    fn new(call_id: &str, server: &str, tool: &str, arguments: Value, state: CallState) -> Self {
        ToolCall {
            call_id: call_id.to_string(),
            server: server.to_string(),
            tool: tool.to_string(),
            arguments,
            state,
            duration_ms: None,
            result: Value::Null,
            truncated: false,
            approval: None,
            decision: None,
            preview: String::new(),
            result_bytes: 0,
            cancelled: false,
        }
    }

    /// The call's state in a symbol and a word: a refusal reads as refused
    /// (never as an error), a call that never finished as cancelled.
    pub fn reading(&self) -> CallReading {
        let (symbol, label, tone) = match &self.state {
            CallState::AwaitingApproval => ("?", "awaiting approval", Tone::Attention),
            CallState::Running => ("…", "running", Tone::Busy),
            CallState::Ok => ("✓", "ok", Tone::Good),
            CallState::Failed if self.refused_by().is_some() => ("⊘", "refused", Tone::Attention),
            CallState::Failed if self.cancelled => ("⊘", "cancelled", Tone::Attention),
            CallState::Failed => ("✗", "error", Tone::Bad),
        };
        CallReading {
            symbol,
            label,
            tone,
        }
    }

    /// Who refused the call, when it was refused rather than failed.
    pub fn refused_by(&self) -> Option<&str> {
        self.decision
            .as_ref()
            .filter(|d| !d.approved)
            .map(|d| d.by.as_str())
    }

    /// Run ids mentioned in the arguments or the result, for "calls that touched this run".
    pub fn mentions(&self, run_id: &str) -> bool {
        contains_text(&self.arguments, run_id) || contains_text(&self.result, run_id)
    }
}

fn contains_text(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| contains_text(v, needle)),
        Value::Object(map) => map.values().any(|v| contains_text(v, needle)),
        _ => false,
    }
}

/// The first few lines of a result's text, for the preview under the call list.
fn preview_of(result: &Value) -> String {
    const LINES: usize = 12;
    const CHARS: usize = 2_000;
    let text = match result {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => match other.get("content").and_then(Value::as_array) {
            Some(parts) => parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            None => other.to_string(),
        },
    };
    let clipped: String = text.chars().take(CHARS).collect();
    clipped.lines().take(LINES).collect::<Vec<_>>().join("\n")
}

/// The most calls the store keeps; past it the oldest finished ones go.
pub const MAX_CALLS: usize = 2_000;
/// The most result text the store keeps (each result is already capped by
/// the runner); past it the oldest finished calls go.
pub const MAX_RESULT_BYTES: usize = 64 << 20;

/// Every call of the session in the order it first appeared, found by call
/// id — within [`MAX_CALLS`] and [`MAX_RESULT_BYTES`]: a long session keeps
/// its newest calls and every call still running or waiting.
#[derive(Debug, Clone, Default)]
pub struct ToolCalls {
    calls: Vec<ToolCall>,
    by_id: HashMap<String, usize>,
    result_bytes: usize,
}

impl ToolCalls {
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ToolCall> {
        self.calls.iter()
    }

    pub fn get(&self, call_id: &str) -> Option<&ToolCall> {
        self.by_id.get(call_id).map(|&i| &self.calls[i])
    }

    /// Where a call sits in [`Self::iter`]'s order.
    pub fn position(&self, call_id: &str) -> Option<usize> {
        self.by_id.get(call_id).copied()
    }

    fn find(&mut self, call_id: &str) -> Option<&mut ToolCall> {
        self.by_id.get(call_id).map(|&i| &mut self.calls[i])
    }

    fn insert(&mut self, call: ToolCall) {
        self.by_id.insert(call.call_id.clone(), self.calls.len());
        self.calls.push(call);
        self.evict();
    }

    /// Drops the oldest finished calls while the store is over its budget
    /// (calls still running or waiting for a person are never dropped).
    fn evict(&mut self) {
        if self.calls.len() <= MAX_CALLS && self.result_bytes <= MAX_RESULT_BYTES {
            return;
        }
        let mut remaining = self.calls.len();
        let mut bytes = self.result_bytes;
        let calls = std::mem::take(&mut self.calls);
        for call in calls {
            let over = remaining > MAX_CALLS || bytes > MAX_RESULT_BYTES;
            if over && matches!(call.state, CallState::Ok | CallState::Failed) {
                remaining -= 1;
                bytes -= call.result_bytes;
                continue;
            }
            self.calls.push(call);
        }
        self.result_bytes = bytes;
        self.by_id = self
            .calls
            .iter()
            .enumerate()
            .map(|(i, call)| (call.call_id.clone(), i))
            .collect();
    }

    /// Folds one agent event in; true when a call was added or changed.
    pub fn apply(&mut self, event: &AgentEvent) -> bool {
        match event {
            AgentEvent::ApprovalNeeded {
                call_id,
                server,
                tool,
                arguments,
                reason,
            } => {
                let approval = Some(format!("needs approval: {reason}"));
                match self.find(call_id) {
                    Some(call) => {
                        call.state = CallState::AwaitingApproval;
                        call.approval = approval;
                    }
                    None => {
                        let mut call = ToolCall::new(
                            call_id,
                            server,
                            tool,
                            arguments.clone(),
                            CallState::AwaitingApproval,
                        );
                        call.approval = approval;
                        self.insert(call);
                    }
                }
            }
            AgentEvent::ApprovalDecided {
                call_id,
                approved,
                by,
                ..
            } => {
                let Some(call) = self.find(call_id) else {
                    return false;
                };
                let decision = CallDecision {
                    approved: *approved,
                    by: by.clone(),
                };
                // A decision told twice (the console records the person's answer
                // as it is given, the runner reports it again) is one decision.
                if call.decision.as_ref() == Some(&decision) {
                    return false;
                }
                let verdict = if *approved { "approved" } else { "refused" };
                call.approval = Some(format!(
                    "{} — {verdict} by {by}",
                    call.approval.clone().unwrap_or_default()
                ));
                call.decision = Some(decision);
                call.state = if *approved {
                    CallState::Running
                } else {
                    CallState::Failed
                };
            }
            AgentEvent::ToolCallStarted {
                call_id,
                server,
                tool,
                arguments,
            } => match self.find(call_id) {
                Some(call) => call.state = CallState::Running,
                None => self.insert(ToolCall::new(
                    call_id,
                    server,
                    tool,
                    arguments.clone(),
                    CallState::Running,
                )),
            },
            AgentEvent::ToolCallFinished {
                call_id,
                server,
                tool,
                duration_ms,
                is_error,
                result,
                truncated,
            } => {
                let state = if *is_error {
                    CallState::Failed
                } else {
                    CallState::Ok
                };
                if self.find(call_id).is_none() {
                    // A refusal before the call started is still a call.
                    self.insert(ToolCall::new(
                        call_id,
                        server,
                        tool,
                        Value::Null,
                        state.clone(),
                    ));
                }
                let bytes = result.to_string().len();
                if let Some(call) = self.find(call_id) {
                    let before = call.result_bytes;
                    call.state = state;
                    call.duration_ms = Some(*duration_ms);
                    call.result = result.clone();
                    call.truncated = *truncated;
                    call.preview = preview_of(result);
                    call.result_bytes = bytes;
                    self.result_bytes = self.result_bytes - before + bytes;
                }
                self.evict();
            }
            _ => return false,
        }
        true
    }

    /// A person's answer reached no waiting call (its turn had ended): the
    /// call never ran, whatever the answer was. True when the call changed.
    pub fn undelivered(&mut self, call_id: &str) -> bool {
        let Some(call) = self.find(call_id) else {
            return false;
        };
        if !matches!(call.state, CallState::Running | CallState::AwaitingApproval) {
            return false;
        }
        call.state = CallState::Failed;
        call.cancelled = true;
        let why = "never ran: the answer came after its turn had ended";
        call.result = Value::String(why.into());
        call.preview = why.into();
        true
    }

    /// The turn was cancelled: calls still running or waiting will never
    /// finish. Returns the ids of those that were waiting for approval.
    pub fn cancel_running(&mut self) -> Vec<String> {
        let mut awaiting = Vec::new();
        for call in &mut self.calls {
            if call.state == CallState::AwaitingApproval {
                awaiting.push(call.call_id.clone());
            }
            if matches!(call.state, CallState::Running | CallState::AwaitingApproval) {
                call.state = CallState::Failed;
                call.cancelled = true;
                call.result = Value::String("cancelled with the turn".into());
                call.preview = "cancelled with the turn".into();
            }
        }
        awaiting
    }
}

impl Index<usize> for ToolCalls {
    type Output = ToolCall;

    fn index(&self, index: usize) -> &ToolCall {
        &self.calls[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn needed(id: &str) -> AgentEvent {
        AgentEvent::ApprovalNeeded {
            call_id: id.into(),
            server: "opsdeck".into(),
            tool: "rerun_pipeline".into(),
            arguments: json!({"pipeline": "p"}),
            reason: "changes the estate".into(),
        }
    }

    fn decided(id: &str, approved: bool, by: &str) -> AgentEvent {
        AgentEvent::ApprovalDecided {
            call_id: id.into(),
            approved,
            by: by.into(),
            reason: "changes the estate".into(),
        }
    }

    #[test]
    fn each_call_is_one_record_found_by_its_id() {
        let mut calls = ToolCalls::default();
        calls.apply(&needed("call-1"));
        calls.apply(&needed("call-2"));
        calls.apply(&decided("call-2", true, "user"));
        calls.apply(&AgentEvent::ToolCallStarted {
            call_id: "call-2".into(),
            server: "opsdeck".into(),
            tool: "rerun_pipeline".into(),
            arguments: json!({"pipeline": "p"}),
        });
        assert_eq!(calls.len(), 2);
        assert_eq!(calls.position("call-2"), Some(1));
        assert_eq!(
            calls.get("call-1").map(|c| &c.state),
            Some(&CallState::AwaitingApproval)
        );
        assert_eq!(
            calls.get("call-2").map(|c| &c.state),
            Some(&CallState::Running)
        );
        assert!(!calls.apply(&AgentEvent::TextDelta { text: "x".into() }));
    }

    #[test]
    fn a_refusal_is_recorded_as_whoever_gave_it() {
        let mut calls = ToolCalls::default();
        calls.apply(&needed("call-1"));
        calls.apply(&needed("call-2"));
        calls.apply(&decided("call-1", false, "user"));
        calls.apply(&decided("call-2", false, "cancelled: the console quit"));
        // The runner's refusal result arrives after the decision; it stays the user's.
        calls.apply(&AgentEvent::ToolCallFinished {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "rerun_pipeline".into(),
            duration_ms: 0,
            is_error: true,
            result: json!("not approved (user)"),
            truncated: false,
        });
        assert_eq!(
            calls.get("call-1").and_then(ToolCall::refused_by),
            Some("user")
        );
        assert_eq!(
            calls.get("call-2").and_then(ToolCall::refused_by),
            Some("cancelled: the console quit")
        );
        assert!(
            !calls.apply(&decided("call-1", false, "user")),
            "the same decision twice is one"
        );
        assert_eq!(
            calls.get("call-1").and_then(|c| c.approval.as_deref()),
            Some("needs approval: changes the estate — refused by user")
        );
    }

    fn started(id: &str) -> AgentEvent {
        AgentEvent::ToolCallStarted {
            call_id: id.into(),
            server: "s".into(),
            tool: "t".into(),
            arguments: json!({}),
        }
    }

    fn finished(id: &str, result: Value) -> AgentEvent {
        AgentEvent::ToolCallFinished {
            call_id: id.into(),
            server: "s".into(),
            tool: "t".into(),
            duration_ms: 1,
            is_error: false,
            result,
            truncated: false,
        }
    }

    #[test]
    fn a_long_session_keeps_its_newest_calls_and_every_open_one() {
        let mut calls = ToolCalls::default();
        calls.apply(&started("waiting-since-the-start"));
        for i in 0..MAX_CALLS + 50 {
            calls.apply(&finished(&format!("call-{i}"), json!("ok")));
        }
        assert_eq!(calls.len(), MAX_CALLS);
        assert!(
            calls.get("waiting-since-the-start").is_some(),
            "still running: kept"
        );
        assert!(calls.get("call-0").is_none(), "the oldest finished went");
        let newest = format!("call-{}", MAX_CALLS + 49);
        assert_eq!(
            calls.get(&newest).map(|c| c.call_id.as_str()),
            Some(newest.as_str())
        );
        // The index still finds each kept call where it is.
        for (i, call) in calls.iter().enumerate() {
            assert_eq!(calls.position(&call.call_id), Some(i));
        }
    }

    #[test]
    fn big_results_are_kept_within_the_byte_budget() {
        let mut calls = ToolCalls::default();
        let big = Value::String("x".repeat(1 << 20));
        for i in 0..100 {
            calls.apply(&finished(&format!("call-{i}"), big.clone()));
        }
        let kept: usize = calls.iter().map(|c| c.result.to_string().len()).sum();
        assert!(kept <= MAX_RESULT_BYTES, "{kept} bytes kept");
        assert!(
            calls.len() >= 60,
            "only what the budget needs went: {}",
            calls.len()
        );
        assert!(calls.get("call-99").is_some());
    }
}
