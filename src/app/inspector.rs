//! The inspector's state: every tool call of the session (server, tool,
//! arguments, status, duration, result or error), the selection, a search over
//! arguments and results, and which runs each call touched (for cross-links
//! with the board).

use serde_json::Value;

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

#[derive(Debug, Clone, Default)]
pub struct InspectorState {
    pub calls: Vec<InspectedCall>,
    pub selected: usize,
    /// Only calls whose tool, arguments or result contain this (case-insensitive).
    pub search: String,
}

impl InspectorState {
    pub fn apply(&mut self, event: &AgentEvent) {
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
                    }),
                }
            }
            _ => {}
        }
    }

    fn find(&mut self, call_id: &str) -> Option<&mut InspectedCall> {
        self.calls.iter_mut().rev().find(|c| c.call_id == call_id)
    }

    /// Calls matching the search, newest last.
    pub fn visible(&self) -> Vec<&InspectedCall> {
        let needle = self.search.to_lowercase();
        self.calls
            .iter()
            .filter(|c| {
                needle.is_empty()
                    || c.tool.to_lowercase().contains(&needle)
                    || c.arguments.to_string().to_lowercase().contains(&needle)
                    || c.result.to_string().to_lowercase().contains(&needle)
            })
            .collect()
    }

    /// Selects the newest call that touched a run (the board's cross-link); false when none did.
    pub fn select_call_touching(&mut self, run_id: &str) -> bool {
        self.search.clear();
        match self.calls.iter().rposition(|c| c.mentions(run_id)) {
            Some(index) => {
                self.selected = index;
                true
            }
            None => false,
        }
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
        inspector.search = "ADLS".into();
        assert_eq!(inspector.visible().len(), 1);
        inspector.search = "transform".into();
        assert_eq!(inspector.visible()[0].tool, "get_pipeline_status");
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
