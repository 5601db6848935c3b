//! The inspector's state: every tool call of the session (server, tool,
//! arguments, status, duration, result or error), the selection, a search over
//! arguments and results, and which runs each call touched (for cross-links
//! with the board).

use serde_json::{Value, json};

use super::json_view::JsonView;
use crate::agent::events::AgentEvent;

#[derive(Debug, Clone, PartialEq)]
pub enum CallState {
    Running,
    AwaitingApproval,
    Ok,
    Failed,
}

#[derive(Debug, Clone)]
pub struct InspectedCall {
    pub call_id: String,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub state: CallState,
    pub duration_ms: Option<u64>,
    pub result: Value,
    pub truncated: bool,
    /// Approval reason and decision, when one was needed.
    pub approval: Option<String>,
    /// The first lines of the result, computed once, for the list's preview.
    pub preview: String,
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

impl InspectedCall {
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

/// A call opened for reading: its arguments and result as foldable JSON.
#[derive(Debug, Clone)]
pub struct OpenCall {
    pub call_id: String,
    pub view: JsonView,
}

/// Results longer than this open with their deeper levels folded.
const FOLD_LINES: usize = 400;

#[derive(Debug, Clone, Default)]
pub struct InspectorState {
    pub calls: Vec<InspectedCall>,
    /// Index into the visible calls.
    pub selected: usize,
    /// Only calls whose tool, arguments or result contain this (case-insensitive).
    search: String,
    /// Indices of the calls matching `search`, kept up to date as calls change, so
    /// drawing never re-serialises a large result.
    matches: Vec<usize>,
    pub open: Option<OpenCall>,
    /// The last text searched for inside an open call (`n` repeats it).
    last_find: String,
}

impl InspectorState {
    pub fn apply(&mut self, event: &AgentEvent) {
        self.apply_event(event);
        if matches!(
            event,
            AgentEvent::ApprovalNeeded { .. }
                | AgentEvent::ToolCallStarted { .. }
                | AgentEvent::ToolCallFinished { .. }
        ) {
            self.rematch();
        }
    }

    fn apply_event(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::ApprovalNeeded {
                call_id,
                server,
                tool,
                arguments,
                reason,
            } => {
                self.calls.push(InspectedCall {
                    call_id: call_id.clone(),
                    server: server.clone(),
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    state: CallState::AwaitingApproval,
                    duration_ms: None,
                    result: Value::Null,
                    truncated: false,
                    approval: Some(format!("needs approval: {reason}")),
                    preview: String::new(),
                });
            }
            AgentEvent::ApprovalDecided {
                call_id,
                approved,
                by,
                ..
            } => {
                if let Some(call) = self.find(call_id) {
                    let verdict = if *approved { "approved" } else { "refused" };
                    call.approval = Some(format!(
                        "{} — {verdict} by {by}",
                        call.approval.clone().unwrap_or_default()
                    ));
                    call.state = if *approved {
                        CallState::Running
                    } else {
                        CallState::Failed
                    };
                }
            }
            AgentEvent::ToolCallStarted {
                call_id,
                server,
                tool,
                arguments,
            } => match self.find(call_id) {
                Some(call) => call.state = CallState::Running,
                None => self.calls.push(InspectedCall {
                    call_id: call_id.clone(),
                    server: server.clone(),
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    state: CallState::Running,
                    duration_ms: None,
                    result: Value::Null,
                    truncated: false,
                    approval: None,
                    preview: String::new(),
                }),
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
                match self.find(call_id) {
                    Some(call) => {
                        call.state = state;
                        call.duration_ms = Some(*duration_ms);
                        call.result = result.clone();
                        call.truncated = *truncated;
                        call.preview = preview_of(result);
                    }
                    None => self.calls.push(InspectedCall {
                        call_id: call_id.clone(),
                        server: server.clone(),
                        tool: tool.clone(),
                        arguments: Value::Null,
                        state,
                        duration_ms: Some(*duration_ms),
                        result: result.clone(),
                        truncated: *truncated,
                        approval: None,
                        preview: preview_of(result),
                    }),
                }
            }
            _ => {}
        }
    }

    fn find(&mut self, call_id: &str) -> Option<&mut InspectedCall> {
        self.calls.iter_mut().rev().find(|c| c.call_id == call_id)
    }

    fn rematch(&mut self) {
        let needle = self.search.to_lowercase();
        self.matches = self
            .calls
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                needle.is_empty()
                    || c.tool.to_lowercase().contains(&needle)
                    || c.arguments.to_string().to_lowercase().contains(&needle)
                    || c.result.to_string().to_lowercase().contains(&needle)
            })
            .map(|(i, _)| i)
            .collect();
        self.selected = self.selected.min(self.matches.len().saturating_sub(1));
    }

    /// The turn was cancelled: calls still running or waiting will never finish.
    pub fn cancel_running(&mut self) {
        for call in &mut self.calls {
            if matches!(call.state, CallState::Running | CallState::AwaitingApproval) {
                call.state = CallState::Failed;
                call.result = Value::String("cancelled with the turn".into());
                call.preview = "cancelled with the turn".into();
            }
        }
    }

    pub fn search(&self) -> &str {
        &self.search
    }

    pub fn set_search(&mut self, needle: &str) {
        self.search = needle.to_string();
        self.rematch();
    }

    /// Calls matching the search, oldest first.
    pub fn visible(&self) -> impl ExactSizeIterator<Item = &InspectedCall> + '_ {
        self.matches.iter().map(|&i| &self.calls[i])
    }

    pub fn visible_len(&self) -> usize {
        self.matches.len()
    }

    pub fn selected_call(&self) -> Option<&InspectedCall> {
        self.matches.get(self.selected).map(|&i| &self.calls[i])
    }

    /// Selects the newest call that touched a run (the board's cross-link); false when none did.
    pub fn select_call_touching(&mut self, run_id: &str) -> bool {
        let Some(index) = self.calls.iter().rposition(|c| c.mentions(run_id)) else {
            return false;
        };
        self.set_search("");
        self.open = None;
        self.selected = index;
        true
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens the selected call's arguments and result for reading.
    pub fn open(&mut self) {
        let Some(call) = self.selected_call() else {
            return;
        };
        let value = json!({"arguments": call.arguments, "result": call.result});
        let mut view = JsonView::new(&value);
        if view.len() > FOLD_LINES {
            view.fold_all_deeper_than(1);
        }
        self.open = Some(OpenCall {
            call_id: call.call_id.clone(),
            view,
        });
    }

    /// Back from an open call to the list; false when none was open.
    pub fn close(&mut self) -> bool {
        self.open.take().is_some()
    }

    pub fn move_cursor(&mut self, delta: isize, rows: usize) {
        match &mut self.open {
            Some(open) => open.view.move_cursor(delta, rows),
            None => {
                let len = self.matches.len();
                if len > 0 {
                    self.selected =
                        (self.selected as isize + delta).clamp(0, len as isize - 1) as usize;
                }
            }
        }
    }

    pub fn top(&mut self) {
        match &mut self.open {
            Some(open) => open.view.top(),
            None => self.selected = 0,
        }
    }

    pub fn bottom(&mut self, rows: usize) {
        match &mut self.open {
            Some(open) => open.view.bottom(rows),
            None => self.selected = self.matches.len().saturating_sub(1),
        }
    }

    pub fn toggle_fold(&mut self) {
        match &mut self.open {
            Some(open) => open.view.toggle_fold(),
            None => self.open(),
        }
    }

    pub fn last_find(&self) -> &str {
        &self.last_find
    }

    /// Inside an open call: the next line containing the text (unfolding to it).
    /// In the list: the next call matching it. False when nothing matched.
    pub fn find_next(&mut self, needle: &str, rows: usize) -> bool {
        self.last_find = needle.to_string();
        match &mut self.open {
            Some(open) => open.view.find(needle, true, rows),
            None => {
                self.set_search(needle);
                !self.matches.is_empty()
            }
        }
    }

    /// What `y` copies: the open call's JSON, or the selected call's result.
    pub fn copy_text(&self) -> Option<(String, String)> {
        let call = match &self.open {
            Some(open) => {
                let call = self.calls.iter().find(|c| c.call_id == open.call_id)?;
                return Some((format!("{} {}", call.tool, call.call_id), open.view.text()));
            }
            None => self.selected_call()?,
        };
        let text = serde_json::to_string_pretty(
            &json!({"arguments": call.arguments, "result": call.result}),
        )
        .unwrap_or_default();
        Some((format!("{} {}", call.tool, call.call_id), text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn started(id: &str, tool: &str, arguments: Value) -> AgentEvent {
        AgentEvent::ToolCallStarted {
            call_id: id.into(),
            server: "opsdeck".into(),
            tool: tool.into(),
            arguments,
        }
    }

    fn finished(id: &str, tool: &str, result: Value) -> AgentEvent {
        AgentEvent::ToolCallFinished {
            call_id: id.into(),
            server: "opsdeck".into(),
            tool: tool.into(),
            duration_ms: 12,
            is_error: false,
            result,
            truncated: false,
        }
    }

    #[test]
    fn a_call_is_one_entry_from_start_to_result() {
        let mut inspector = InspectorState::default();
        inspector.apply(&started("c1", "get_run_details", json!({"run_id": "r-42"})));
        assert_eq!(inspector.calls[0].state, CallState::Running);
        inspector.apply(&finished(
            "c1",
            "get_run_details",
            json!({"structured": {"run": {"status": "Failed"}}}),
        ));
        assert_eq!(inspector.calls.len(), 1);
        assert_eq!(inspector.calls[0].state, CallState::Ok);
        assert_eq!(inspector.calls[0].duration_ms, Some(12));
    }

    #[test]
    fn approvals_are_recorded_on_the_call() {
        let mut inspector = InspectorState::default();
        let arguments = json!({"pipeline": "p", "dry_run": false});
        inspector.apply(&AgentEvent::ApprovalNeeded {
            call_id: "c".into(),
            server: "s".into(),
            tool: "rerun_pipeline".into(),
            arguments,
            reason: "destructive".into(),
        });
        inspector.apply(&AgentEvent::ApprovalDecided {
            call_id: "c".into(),
            approved: false,
            by: "user".into(),
            reason: "destructive".into(),
        });
        let call = &inspector.calls[0];
        assert_eq!(call.state, CallState::Failed);
        assert_eq!(
            call.approval.as_deref(),
            Some("needs approval: destructive — refused by user")
        );
    }

    #[test]
    fn search_covers_tools_arguments_and_results() {
        let mut inspector = InspectorState::default();
        inspector.apply(&started("a", "list_secrets", json!({})));
        inspector.apply(&finished(
            "a",
            "list_secrets",
            json!({"content": ["adls-sp-client-secret expired"]}),
        ));
        inspector.apply(&started(
            "b",
            "get_pipeline_status",
            json!({"pipeline": "transform_sales"}),
        ));
        inspector.set_search("ADLS");
        assert_eq!(inspector.visible().len(), 1);
        inspector.set_search("transform");
        assert_eq!(
            inspector.selected_call().map(|c| c.tool.as_str()),
            Some("get_pipeline_status")
        );
        inspector.set_search("");
        assert_eq!(inspector.visible_len(), 2);
    }

    #[test]
    fn the_board_can_jump_to_the_calls_that_touched_a_run() {
        let mut inspector = InspectorState::default();
        inspector.apply(&started("a", "list_pipeline_runs", json!({})));
        inspector.apply(&finished(
            "a",
            "list_pipeline_runs",
            json!({"structured": {"runs": [{"run_id": "r-7"}]}}),
        ));
        inspector.apply(&started("b", "list_secrets", json!({})));
        inspector.search = "secrets".into();
        assert!(inspector.select_call_touching("r-7"));
        assert_eq!(inspector.selected, 0);
        assert!(
            inspector.search.is_empty(),
            "the search is cleared so the call is visible"
        );
        assert!(!inspector.select_call_touching("r-unknown"));
    }
}
