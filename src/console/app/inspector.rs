//! The inspector's state over the session's tool calls (the store in
//! [`super::calls`]): the selection, a search over tools, arguments and
//! results, the call opened for reading, and the jump from a run on the board
//! to the calls that touched it.

use serde_json::json;

use super::calls::{ToolCall, ToolCalls};
use super::json_view::JsonView;
use crate::agent::events::AgentEvent;

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
    /// The tools the model was offered for the latest turn.
    pub offered: Option<OfferedTools>,
}

/// Which tools a turn offered the model, and how many it left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferedTools {
    pub names: Vec<String>,
    pub left_out: usize,
}

impl OfferedTools {
    /// "offered 128 of 214 tools (86 left out)".
    pub fn summary(&self) -> String {
        crate::agent::offer::describe(&self.names, self.left_out)
    }
}

impl InspectorState {
    /// Keeps the latest turn's offer (an event of any other kind changes nothing).
    pub fn note_offer(&mut self, event: &AgentEvent) {
        if let AgentEvent::ToolsOffered { offered, left_out } = event {
            self.offered = Some(OfferedTools {
                names: offered.clone(),
                left_out: *left_out,
            });
        }
    }

    /// The calls changed (added, started, finished): the search is run again.
    pub fn calls_changed(&mut self, calls: &ToolCalls) {
        self.rematch(calls);
    }

    fn rematch(&mut self, calls: &ToolCalls) {
        let needle = self.search.to_lowercase();
        self.matches = calls
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

    pub fn search(&self) -> &str {
        &self.search
    }

    pub fn set_search(&mut self, needle: &str, calls: &ToolCalls) {
        self.search = needle.to_string();
        self.rematch(calls);
    }

    /// Calls matching the search, oldest first.
    pub fn visible<'a>(
        &'a self,
        calls: &'a ToolCalls,
    ) -> impl ExactSizeIterator<Item = &'a ToolCall> + 'a {
        self.matches.iter().map(|&i| &calls[i])
    }

    pub fn visible_len(&self) -> usize {
        self.matches.len()
    }

    pub fn selected_call<'a>(&self, calls: &'a ToolCalls) -> Option<&'a ToolCall> {
        self.matches.get(self.selected).map(|&i| &calls[i])
    }

    /// Selects the newest call that touched a run (the board's cross-link); false when none did.
    pub fn select_call_touching(&mut self, run_id: &str, calls: &ToolCalls) -> bool {
        let Some(index) = calls.iter().rposition(|c| c.mentions(run_id)) else {
            return false;
        };
        self.set_search("", calls);
        self.open = None;
        self.selected = index;
        true
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens the selected call's arguments and result for reading.
    pub fn open(&mut self, calls: &ToolCalls) {
        let Some(call) = self.selected_call(calls) else {
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

    pub fn toggle_fold(&mut self, calls: &ToolCalls) {
        match &mut self.open {
            Some(open) => open.view.toggle_fold(),
            None => self.open(calls),
        }
    }

    pub fn last_find(&self) -> &str {
        &self.last_find
    }

    /// Inside an open call: the next line containing the text (unfolding to it).
    /// In the list: the next call matching it. False when nothing matched.
    pub fn find_next(&mut self, needle: &str, rows: usize, calls: &ToolCalls) -> bool {
        self.last_find = needle.to_string();
        match &mut self.open {
            Some(open) => open.view.find(needle, true, rows),
            None => {
                self.set_search(needle, calls);
                !self.matches.is_empty()
            }
        }
    }

    /// What `y` copies: the open call's JSON, or the selected call's result.
    pub fn copy_text(&self, calls: &ToolCalls) -> Option<(String, String)> {
        let call = match &self.open {
            Some(open) => {
                let call = calls.get(&open.call_id)?;
                return Some((format!("{} {}", call.tool, call.call_id), open.view.text()));
            }
            None => self.selected_call(calls)?,
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
    use crate::agent::events::AgentEvent;
    use crate::console::app::calls::CallState;
    use serde_json::{Value, json};

    /// The store and the inspector over it, as the app holds them.
    #[derive(Default)]
    struct Inspected {
        calls: ToolCalls,
        state: InspectorState,
    }

    impl Inspected {
        fn apply(&mut self, event: &AgentEvent) {
            if self.calls.apply(event) {
                self.state.calls_changed(&self.calls);
            }
        }

        fn set_search(&mut self, needle: &str) {
            self.state.set_search(needle, &self.calls);
        }

        fn visible(&self) -> impl ExactSizeIterator<Item = &ToolCall> + '_ {
            self.state.visible(&self.calls)
        }

        fn selected_call(&self) -> Option<&ToolCall> {
            self.state.selected_call(&self.calls)
        }

        fn select_call_touching(&mut self, run_id: &str) -> bool {
            self.state.select_call_touching(run_id, &self.calls)
        }
    }

    impl std::ops::Deref for Inspected {
        type Target = InspectorState;
        fn deref(&self) -> &InspectorState {
            &self.state
        }
    }

    impl std::ops::DerefMut for Inspected {
        fn deref_mut(&mut self) -> &mut InspectorState {
            &mut self.state
        }
    }

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
    fn the_latest_offer_is_kept_for_the_inspector() {
        let mut state = InspectorState::default();
        state.note_offer(&AgentEvent::TextDelta { text: "x".into() });
        assert_eq!(state.offered, None);
        for (names, left_out) in [(vec!["a", "b"], 9), (vec!["c"], 0)] {
            state.note_offer(&AgentEvent::ToolsOffered {
                offered: names.iter().map(|n| n.to_string()).collect(),
                left_out,
            });
        }
        let offered = state.offered.clone().unwrap();
        assert_eq!(offered.names, vec!["c".to_string()]);
        assert_eq!(offered.summary(), "offered the one tool there is");
    }

    #[test]
    fn a_call_is_one_entry_from_start_to_result() {
        let mut inspector = Inspected::default();
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
        let mut inspector = Inspected::default();
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
        let mut inspector = Inspected::default();
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
        let mut inspector = Inspected::default();
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
