//! The chat pane's state: the conversation as entries (questions, streamed
//! answers, tool calls as one-liners, notices), input history, and scrollback
//! with a follow mode that pauses when the user scrolls up.

pub mod render_memo;

use self::render_memo::RenderMemo;
use crate::agent::events::AgentEvent;

#[derive(Debug, Clone, PartialEq)]
pub enum ToolCallStatus {
    Running,
    Ok,
    Failed,
    AwaitingApproval,
    Refused,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatEntry {
    User(String),
    Assistant {
        text: String,
        streaming: bool,
    },
    /// A one-liner linking to the inspector entry with the same `call_id`.
    ToolCall {
        call_id: String,
        server: String,
        tool: String,
        status: ToolCallStatus,
        duration_ms: Option<u64>,
    },
    Notice {
        error: bool,
        text: String,
    },
}

#[derive(Debug, Clone)]
pub struct ChatState {
    pub entries: Vec<ChatEntry>,
    history: Vec<String>,
    /// Position while recalling history with Up/Down (None: editing a new line).
    history_cursor: Option<usize>,
    /// Lines scrolled up from the bottom.
    pub scroll_from_bottom: usize,
    /// Keep the newest line in view as text streams in.
    pub follow: bool,
    pub turn_active: bool,
    /// Each entry's lines as last drawn. Keyed by position, so anything that
    /// drops or reorders entries must clear it (see `clear`).
    rendered: RenderMemo,
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState {
            entries: Vec::new(),
            history: Vec::new(),
            history_cursor: None,
            scroll_from_bottom: 0,
            follow: true,
            turn_active: false,
            rendered: RenderMemo::default(),
        }
    }
}

impl ChatState {
    /// A question to send; `None` when it is blank or a turn is still running.
    pub fn submit(&mut self, text: &str) -> Option<String> {
        let question = text.trim();
        if question.is_empty() || self.turn_active {
            return None;
        }
        if self.history.last().map(String::as_str) != Some(question) {
            self.history.push(question.to_string());
        }
        self.history_cursor = None;
        self.entries.push(ChatEntry::User(question.to_string()));
        self.turn_active = true;
        self.follow = true;
        self.scroll_from_bottom = 0;
        Some(question.to_string())
    }

    /// Folds one agent event into the conversation.
    pub fn apply(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::TextDelta { text } if !self.follow => {
                // Keep a paused view still: what streams in below pushes the anchor.
                self.scroll_from_bottom += text.matches('\n').count();
                self.append_text(text);
            }
            AgentEvent::TextDelta { text } => self.append_text(text),
            AgentEvent::ToolCallStarted {
                call_id,
                server,
                tool,
                ..
            } => {
                self.close_streaming_answer();
                match self.find_call(call_id) {
                    Some(ChatEntry::ToolCall { status, .. }) => *status = ToolCallStatus::Running,
                    _ => self.entries.push(ChatEntry::ToolCall {
                        call_id: call_id.clone(),
                        server: server.clone(),
                        tool: tool.clone(),
                        status: ToolCallStatus::Running,
                        duration_ms: None,
                    }),
                }
            }
            AgentEvent::ToolCallFinished {
                call_id,
                server,
                tool,
                duration_ms,
                is_error,
                ..
            } => {
                let finished = if *is_error {
                    ToolCallStatus::Failed
                } else {
                    ToolCallStatus::Ok
                };
                match self.find_call(call_id) {
                    Some(ChatEntry::ToolCall {
                        status,
                        duration_ms: d,
                        ..
                    }) => {
                        if *status != ToolCallStatus::Refused {
                            *status = finished;
                        }
                        *d = Some(*duration_ms);
                    }
                    // A refusal before the call started still shows as a line.
                    _ => self.entries.push(ChatEntry::ToolCall {
                        call_id: call_id.clone(),
                        server: server.clone(),
                        tool: tool.clone(),
                        status: finished,
                        duration_ms: Some(*duration_ms),
                    }),
                }
            }
            AgentEvent::ApprovalNeeded {
                call_id,
                server,
                tool,
                ..
            } => {
                self.close_streaming_answer();
                self.entries.push(ChatEntry::ToolCall {
                    call_id: call_id.clone(),
                    server: server.clone(),
                    tool: tool.clone(),
                    status: ToolCallStatus::AwaitingApproval,
                    duration_ms: None,
                });
            }
            AgentEvent::ApprovalDecided {
                call_id, approved, ..
            } => {
                if let Some(ChatEntry::ToolCall { status, .. }) = self.find_call(call_id) {
                    *status = if *approved {
                        ToolCallStatus::Running
                    } else {
                        ToolCallStatus::Refused
                    };
                }
            }
            AgentEvent::Error { message } => self.entries.push(ChatEntry::Notice {
                error: true,
                text: message.clone(),
            }),
            AgentEvent::TurnFinished { .. } => {
                self.close_streaming_answer();
                self.turn_active = false;
            }
            AgentEvent::UserMessage { .. }
            | AgentEvent::AgentMode { .. }
            | AgentEvent::ToolsOffered { .. }
            | AgentEvent::Usage { .. } => {}
        }
    }

    /// Esc while a turn runs: the turn is dropped; the chat says so.
    pub fn cancel_turn(&mut self) -> bool {
        if !self.turn_active {
            return false;
        }
        self.close_streaming_answer();
        for entry in &mut self.entries {
            if let ChatEntry::ToolCall {
                status: status @ (ToolCallStatus::Running | ToolCallStatus::AwaitingApproval),
                ..
            } = entry
            {
                *status = ToolCallStatus::Refused;
            }
        }
        self.entries.push(ChatEntry::Notice {
            error: false,
            text: "cancelled".into(),
        });
        self.turn_active = false;
        true
    }

    fn append_text(&mut self, text: &str) {
        match self.entries.last_mut() {
            Some(ChatEntry::Assistant {
                text: existing,
                streaming: true,
            }) => existing.push_str(text),
            _ => self.entries.push(ChatEntry::Assistant {
                text: text.to_string(),
                streaming: true,
            }),
        }
    }

    /// A line from the console itself (command results, export paths, errors).
    pub fn notice(&mut self, error: bool, text: impl Into<String>) {
        self.entries.push(ChatEntry::Notice {
            error,
            text: text.into(),
        });
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.rendered.clear();
        self.scroll_to_bottom();
    }

    /// The drawing code's memo of rendered entries.
    pub fn rendered(&self) -> &RenderMemo {
        &self.rendered
    }

    fn close_streaming_answer(&mut self) {
        if let Some(ChatEntry::Assistant { streaming, .. }) = self.entries.last_mut() {
            *streaming = false;
        }
    }

    fn find_call(&mut self, id: &str) -> Option<&mut ChatEntry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| matches!(e, ChatEntry::ToolCall { call_id, .. } if call_id == id))
    }

    /// Up: the previous question (oldest stops).
    pub fn history_previous(&mut self) -> Option<&str> {
        if self.history.is_empty() {
            return None;
        }
        let index = match self.history_cursor {
            None => self.history.len() - 1,
            Some(i) => i.saturating_sub(1),
        };
        self.history_cursor = Some(index);
        self.history.get(index).map(String::as_str)
    }

    /// Down: the next question, or back to an empty line after the newest.
    pub fn history_next(&mut self) -> Option<&str> {
        let index = self.history_cursor? + 1;
        if index >= self.history.len() {
            self.history_cursor = None;
            return Some("");
        }
        self.history_cursor = Some(index);
        self.history.get(index).map(String::as_str)
    }

    /// Scrolling up pauses follow mode.
    pub fn scroll_up(&mut self, lines: usize) {
        self.scroll_from_bottom = self.scroll_from_bottom.saturating_add(lines);
        self.follow = false;
    }

    /// Scrolling back to the bottom resumes follow mode.
    pub fn scroll_down(&mut self, lines: usize) {
        self.scroll_from_bottom = self.scroll_from_bottom.saturating_sub(lines);
        self.follow = self.scroll_from_bottom == 0;
    }

    /// Far enough up for the oldest line; the drawing clamps it.
    pub fn scroll_to_top(&mut self) {
        self.scroll_from_bottom = usize::MAX / 2;
        self.follow = false;
    }

    pub fn scroll_to_bottom(&mut self) {
        self.scroll_from_bottom = 0;
        self.follow = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delta(text: &str) -> AgentEvent {
        AgentEvent::TextDelta { text: text.into() }
    }

    #[test]
    fn stream_chunks_append_to_the_last_answer() {
        let mut chat = ChatState::default();
        chat.submit("why?").unwrap();
        chat.apply(&delta("The cause "));
        chat.apply(&delta("is X."));
        assert_eq!(
            chat.entries[1],
            ChatEntry::Assistant {
                text: "The cause is X.".into(),
                streaming: true
            }
        );
        chat.apply(&AgentEvent::TurnFinished {
            answer: String::new(),
            tool_calls: 0,
            ok: true,
        });
        assert_eq!(
            chat.entries[1],
            ChatEntry::Assistant {
                text: "The cause is X.".into(),
                streaming: false
            }
        );
        assert!(!chat.turn_active);
    }

    #[test]
    fn tool_calls_show_as_one_liners_that_update_in_place() {
        let mut chat = ChatState::default();
        chat.submit("status").unwrap();
        chat.apply(&delta("Let me look."));
        chat.apply(&AgentEvent::ToolCallStarted {
            call_id: "c1".into(),
            server: "opsdeck".into(),
            tool: "get_pipeline_status".into(),
            arguments: json!({}),
        });
        chat.apply(&delta("It is failing."));
        chat.apply(&AgentEvent::ToolCallFinished {
            call_id: "c1".into(),
            server: "opsdeck".into(),
            tool: "get_pipeline_status".into(),
            duration_ms: 42,
            is_error: false,
            result: json!(null),
            truncated: false,
        });
        assert_eq!(
            chat.entries.len(),
            4,
            "question, text, call, text: {:?}",
            chat.entries
        );
        assert!(matches!(
            &chat.entries[2],
            ChatEntry::ToolCall {
                status: ToolCallStatus::Ok,
                duration_ms: Some(42),
                ..
            }
        ));
        assert!(
            matches!(&chat.entries[3], ChatEntry::Assistant { text, .. } if text == "It is failing."),
            "a new answer after the call"
        );
    }

    #[test]
    fn a_refused_approval_stays_refused() {
        let mut chat = ChatState::default();
        chat.submit("rerun").unwrap();
        chat.apply(&AgentEvent::ApprovalNeeded {
            call_id: "c".into(),
            server: "s".into(),
            tool: "rerun_pipeline".into(),
            arguments: json!({}),
            reason: "destructive".into(),
        });
        chat.apply(&AgentEvent::ApprovalDecided {
            call_id: "c".into(),
            approved: false,
            by: "user".into(),
            reason: "destructive".into(),
        });
        chat.apply(&AgentEvent::ToolCallFinished {
            call_id: "c".into(),
            server: "s".into(),
            tool: "rerun_pipeline".into(),
            duration_ms: 0,
            is_error: true,
            result: json!("not approved"),
            truncated: false,
        });
        assert!(matches!(
            &chat.entries[1],
            ChatEntry::ToolCall {
                status: ToolCallStatus::Refused,
                ..
            }
        ));
    }

    #[test]
    fn blank_questions_and_questions_during_a_turn_are_not_sent() {
        let mut chat = ChatState::default();
        assert!(chat.submit("   ").is_none());
        chat.submit("one").unwrap();
        assert!(
            chat.submit("two").is_none(),
            "the input stays while the answer streams"
        );
        assert!(chat.cancel_turn());
        assert!(chat.submit("two").is_some());
    }

    #[test]
    fn history_recalls_questions_up_and_down() {
        let mut chat = ChatState::default();
        for q in ["first", "second"] {
            chat.submit(q).unwrap();
            chat.apply(&AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 0,
                ok: true,
            });
        }
        assert_eq!(chat.history_previous(), Some("second"));
        assert_eq!(chat.history_previous(), Some("first"));
        assert_eq!(chat.history_previous(), Some("first"), "oldest stops");
        assert_eq!(chat.history_next(), Some("second"));
        assert_eq!(
            chat.history_next(),
            Some(""),
            "past the newest: an empty line"
        );
        assert_eq!(chat.history_next(), None);
    }

    #[test]
    fn scrolling_up_pauses_follow_and_the_bottom_resumes_it() {
        let mut chat = ChatState::default();
        chat.scroll_up(10);
        assert!(!chat.follow);
        chat.scroll_down(4);
        assert!(!chat.follow);
        chat.scroll_down(6);
        assert!(chat.follow && chat.scroll_from_bottom == 0);
    }
}
