//! The console's approver: each call that needs a person becomes a dialog,
//! keyed by its call id, so two calls of one model round get two dialogs and
//! each answer reaches the call it was given for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::agent::runner::{ApprovalRequest, Approver, Decision};
use crate::console::app::approval::hidden_paths;
use crate::console::app::update::Msg;

/// The decisions the dialogs are waiting for, by call id.
#[derive(Debug, Clone, Default)]
pub struct PendingDecisions(Arc<Mutex<HashMap<String, oneshot::Sender<Decision>>>>);

impl PendingDecisions {
    fn insert(&self, call_id: String, answer: oneshot::Sender<Decision>) {
        self.lock().insert(call_id, answer);
    }

    /// Gives a call its answer; false when nothing waits for it (a cancelled turn).
    pub fn answer(&self, call_id: &str, decision: Decision) -> bool {
        self.lock()
            .remove(call_id)
            .is_some_and(|answer| answer.send(decision).is_ok())
    }

    /// Whether a call still waits for its answer (a cancelled turn's do not).
    pub fn is_waiting(&self, call_id: &str) -> bool {
        self.lock().contains_key(call_id)
    }

    /// Drops every waiting decision: each call reads it as refused ("cancelled").
    pub fn cancel_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Decision>>> {
        // Every change is one insert or remove: a poisoned map is still consistent.
        crate::support::sync::lock(&self.0)
    }
}

/// Asks the user through the console's dialog.
pub struct DialogApprover {
    pub messages: mpsc::UnboundedSender<Msg>,
    pub pending: PendingDecisions,
}

#[async_trait::async_trait]
impl Approver for DialogApprover {
    fn shows_preview(&self) -> bool {
        true
    }

    async fn decide(&self, request: ApprovalRequest) -> Decision {
        let call_id = request.call_id.clone();
        let (answer, decision) = oneshot::channel();
        self.pending.insert(call_id.clone(), answer);
        if self
            .messages
            .send(Msg::ApprovalRequested(for_screen(request)))
            .is_err()
        {
            self.pending
                .answer(&call_id, Decision::refused("cancelled"));
            return Decision::refused("cancelled: the console is closing");
        }
        // A dropped sender (the console quit, the turn was cancelled) is a refusal.
        decision
            .await
            .unwrap_or_else(|_| Decision::refused("cancelled before anyone answered"))
    }
}

/// The dialog is on screen: no secret in the arguments, the reason or the
/// preview, and the paths where one was hidden are named.
fn for_screen(request: ApprovalRequest) -> ApprovalRequest {
    let clean = |text: &str| crate::trace::redact::text(text).into_owned();
    let shown = crate::trace::redact::value(&request.arguments);
    ApprovalRequest {
        hidden: hidden_paths(&request.arguments, &shown),
        arguments: shown,
        reason: clean(&request.reason),
        preview: request
            .preview
            .as_deref()
            .map(clean)
            .map_err(|why| clean(why)),
        ..request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn the_dialog_says_which_values_it_hides_and_the_answer_reaches_its_call() {
        let (messages, mut inbox) = mpsc::unbounded_channel();
        let pending = PendingDecisions::default();
        let approver = DialogApprover {
            messages,
            pending: pending.clone(),
        };
        let ask = ApprovalRequest {
            call_id: "call-7".into(),
            tool: "run_sql".into(),
            server: "db".into(),
            arguments: json!({"query": "select 1", "password": "hunter2"}),
            reason: "untrusted".into(),
            preview: Err("not asked".into()),
            session_allowable: true,
            hidden: Vec::new(),
        };
        let waiting = tokio::spawn(async move { approver.decide(ask).await });
        let Some(Msg::ApprovalRequested(request)) = inbox.recv().await else {
            panic!("no dialog");
        };
        assert_eq!(request.hidden, vec!["password".to_string()]);
        assert!(!request.arguments.to_string().contains("hunter2"));
        assert!(
            !pending.answer("call-8", Decision::refused("user")),
            "no such call"
        );
        assert!(pending.answer(
            "call-7",
            Decision {
                approved: true,
                for_session: false,
                by: "user".into()
            }
        ));
        assert!(waiting.await.unwrap().approved);
    }

    /// A cancelled turn's calls no longer wait: the runtime drops their
    /// dialogs' requests still on the way.
    #[test]
    fn a_cancelled_call_no_longer_waits() {
        let pending = PendingDecisions::default();
        let (answer, _decision) = oneshot::channel();
        pending.insert("call-1".into(), answer);
        assert!(pending.is_waiting("call-1"));
        assert!(!pending.is_waiting("call-2"));
        pending.cancel_all();
        assert!(!pending.is_waiting("call-1"));
    }
}
