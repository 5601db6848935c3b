//! The approval dialog: a destructive call waits here for a person's `y` or `n`.
//! It shows the tool, the server, the full arguments, the target the call would
//! touch, and the dry-run preview when the tool can produce one.

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

/// The request the runner makes is the dialog's: one type from the agent to the screen.
pub use crate::agent::runner::ApprovalRequest;
pub use view::{DialogLine, dialog_lines, dialog_rows};

mod view;

/// How long a dialog must be on screen with no key pressed before an answer
/// counts: keys typed for the chat as a dialog opens restart the wait.
pub const ARM_DELAY: std::time::Duration = std::time::Duration::from_millis(600);

/// The dialogs waiting behind the open one, and how far the open one is scrolled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApprovalQueue {
    waiting: VecDeque<ApprovalRequest>,
    pub scroll: usize,
    /// The call whose dialog has been on screen, untouched, long enough to
    /// take an answer: keys typed for the chat as it opens must decide nothing.
    armed: Option<String>,
    /// Which wait for quiet is current: an older timer arms nothing.
    generation: u64,
    /// The call whose "allow for the session" waits for its second `a`.
    confirming_session: Option<String>,
    /// Calls whose turn was cancelled while they waited for approval: a
    /// request for one still on its way opens no dialog. (Call ids are unique
    /// in a session, so this outlives the queue's clearing.)
    withdrawn: HashSet<String>,
    /// The open dialog's wrapped rows and how many fit on screen, as last measured.
    rows: usize,
    visible: usize,
    /// Every row of the open dialog has been on screen: only then may it be approved.
    seen_all: bool,
    /// The terminal changed size since the dialog was armed: what it shows
    /// moved, so approving waits for quiet again (refusing does not).
    approval_held: bool,
}

impl ApprovalQueue {
    pub fn push(&mut self, request: ApprovalRequest) {
        self.waiting.push_back(request);
    }

    /// The next dialog to open, scrolled to its top.
    pub fn pop(&mut self) -> Option<ApprovalRequest> {
        self.scroll = 0;
        self.waiting.pop_front()
    }

    /// A new dialog is on screen: at its top, nothing of it seen yet.
    pub fn showing_new(&mut self) {
        self.scroll = 0;
        self.seen_all = false;
        self.rows = 0;
        self.visible = 0;
    }

    /// The open dialog takes `rows` rows and `visible` of them fit: the scroll
    /// is kept within them, and reaching the last row counts as having seen
    /// it all (a dialog that fits is seen at once).
    pub fn measured(&mut self, rows: usize, visible: usize) {
        self.rows = rows;
        self.visible = visible;
        self.scroll = self.scroll.min(rows.saturating_sub(visible));
        if visible > 0 && self.scroll.saturating_add(visible) >= rows {
            self.seen_all = true;
        }
    }

    /// Whether every row of the open dialog has been on screen.
    pub fn seen_all(&self) -> bool {
        self.seen_all
    }

    /// Rows of the open dialog below the screen.
    pub fn rows_below(&self) -> usize {
        self.rows
            .saturating_sub(self.scroll.saturating_add(self.visible))
    }

    /// The call's turn is gone: no dialog for it, now or when its request comes.
    pub fn withdraw(&mut self, call_id: String) {
        self.waiting.retain(|request| request.call_id != call_id);
        self.withdrawn.insert(call_id);
    }

    pub fn is_withdrawn(&self, call_id: &str) -> bool {
        self.withdrawn.contains(call_id)
    }

    /// How many more dialogs wait after the open one.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn clear(&mut self) {
        self.waiting.clear();
        self.showing_new();
        self.armed = None;
        self.confirming_session = None;
    }

    /// Starts (or restarts) the wait for quiet before `call_id`'s dialog takes
    /// an answer; the number names this wait.
    pub fn start_arming(&mut self, _call_id: &str) -> u64 {
        // Always a new wait: a dialog (re)opened or redrawn takes no answer
        // until it has been seen, whatever was armed before.
        self.armed = None;
        self.approval_held = false;
        self.confirming_session = None;
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    /// The wait numbered `generation` for `call_id` ran its course untouched.
    pub fn arm(&mut self, call_id: &str, generation: u64) {
        if generation == self.generation {
            self.armed = Some(call_id.to_string());
            self.approval_held = false;
        }
    }

    /// Approving waits for a fresh quiet moment (the dialog was redrawn);
    /// the number names this wait.
    pub fn hold_approval(&mut self) -> u64 {
        self.approval_held = true;
        self.confirming_session = None;
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    /// Whether an approval waits for the dialog to be seen again.
    pub fn approval_held(&self) -> bool {
        self.approval_held
    }

    /// First `a`: true when this is the second, confirming one.
    pub fn confirm_session(&mut self, call_id: &str) -> bool {
        if self.confirming_session.as_deref() == Some(call_id) {
            self.confirming_session = None;
            return true;
        }
        self.confirming_session = Some(call_id.to_string());
        false
    }

    /// Any other key drops a half-given "allow for the session".
    pub fn forget_session_confirmation(&mut self) {
        self.confirming_session = None;
    }

    pub fn is_armed(&self, call_id: &str) -> bool {
        self.armed.as_deref() == Some(call_id)
    }

    /// Scrolls the open dialog (the drawing clamps to its length); no effect to run.
    pub fn scroll_by<T>(&mut self, delta: isize) -> Vec<T> {
        self.scroll = self.scroll.saturating_add_signed(delta).min(10_000);
        Vec::new()
    }
}

/// The JSON paths at which `shown` differs from `sent` (at most 20, then `…`).
pub fn hidden_paths(sent: &Value, shown: &Value) -> Vec<String> {
    fn walk(sent: &Value, shown: &Value, path: &str, out: &mut Vec<String>) {
        if out.len() > 20 {
            return;
        }
        match (sent, shown) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, value) in a {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    match b.get(key) {
                        Some(other) => walk(value, other, &child, out),
                        None => out.push(child),
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(x, y, &format!("{path}[{i}]"), out);
                }
            }
            (a, b) if a != b => out.push(if path.is_empty() {
                "(the arguments)".into()
            } else {
                path.to_string()
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(sent, shown, "", &mut out);
    if out.len() > 20 {
        out.truncate(20);
        out.push("…".into());
    }
    out
}

// The dialog's reading of a request (what it targets, the arguments laid out)
// lives with the dialog.
impl ApprovalRequest {
    /// The target in words: pipeline, run and environment as far as the arguments
    /// (and the preview's JSON) name them, so the user sees what is touched.
    pub fn target(&self) -> Vec<(&'static str, String)> {
        const FIELDS: [(&str, &str); 4] = [
            ("pipeline", "pipeline"),
            ("run", "run_id"),
            ("environment", "environment"),
            ("from failed activity", "from_failed_activity"),
        ];
        FIELDS
            .iter()
            .filter_map(|(label, key)| {
                let value = self.arguments.get(key)?;
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((*label, text))
            })
            .collect()
    }

    pub fn arguments_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.arguments).unwrap_or_else(|_| self.arguments.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_target_names_what_the_arguments_touch() {
        let request = ApprovalRequest {
            call_id: "call-1".into(),
            tool: "rerun_pipeline".into(),
            server: "opsdeck".into(),
            arguments: json!({"pipeline": "ingest_sales", "run_id": "r-42", "from_failed_activity": true, "dry_run": false}),
            reason: "changes the estate".into(),
            preview: Err("this tool has no dry run".into()),
            session_allowable: false,
            hidden: Vec::new(),
        };
        assert_eq!(
            request.target(),
            vec![
                ("pipeline", "ingest_sales".to_string()),
                ("run", "r-42".to_string()),
                ("from failed activity", "true".to_string())
            ]
        );
        assert!(request.arguments_pretty().contains("\"dry_run\": false"));
    }

    #[test]
    fn hidden_paths_name_every_redacted_argument() {
        let sent =
            json!({"query": "x -----BEGIN", "opts": {"key": "k", "n": 1}, "list": ["a", "b"]});
        let shown = json!({"query": "x [redacted]", "opts": {"key": "[redacted]", "n": 1}, "list": ["a", "[r]"]});
        assert_eq!(
            hidden_paths(&sent, &shown),
            vec!["list[1]", "opts.key", "query"]
        );
        assert!(hidden_paths(&sent, &sent).is_empty());
    }
}
