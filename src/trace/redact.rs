//! Redaction of what the trace, the screen and exports hold: runs, agent
//! events and trace messages. The rules themselves are in
//! [`crate::support::redact`], re-exported here so one path serves both.

use std::borrow::Cow;

use serde_json::Value;

use super::schema::TraceMessage;
use crate::agent::events::AgentEvent;
use crate::model::run::PipelineRun;
pub use crate::support::redact::*;

/// A run as the board and the trace may hold it: its message, trigger name,
/// environment and every parameter redacted (a connection string or a storage
/// key is often a run parameter). Identifiers are kept: the console looks runs
/// up by them.
pub fn run(mut run: PipelineRun) -> PipelineRun {
    in_place(&mut run.message);
    in_place(&mut run.environment);
    in_place(&mut run.invoked_by.name);
    if !run.parameters.is_empty() {
        let parameters = Value::Object(std::mem::take(&mut run.parameters));
        if let Value::Object(clean) = value(&parameters) {
            run.parameters = clean;
        }
    }
    run
}

/// An agent event with every text and JSON payload redacted: what the screen,
/// the trace and exports get.
pub fn event(mut event: AgentEvent) -> AgentEvent {
    match &mut event {
        AgentEvent::UserMessage { text }
        | AgentEvent::TextDelta { text }
        | AgentEvent::Error { message: text }
        | AgentEvent::TurnFinished { answer: text, .. } => in_place(text),
        AgentEvent::ToolCallStarted { arguments, .. } => *arguments = value(arguments),
        AgentEvent::ToolCallFinished { result, .. } => *result = value(result),
        AgentEvent::ApprovalNeeded {
            arguments, reason, ..
        } => {
            *arguments = value(arguments);
            in_place(reason);
        }
        // Names come from servers: a "tool" named after a token is still a token.
        AgentEvent::ToolsOffered { offered, .. } => offered.iter_mut().for_each(in_place),
        AgentEvent::AgentMode { .. }
        | AgentEvent::ApprovalDecided { .. }
        | AgentEvent::Usage { .. } => {}
    }
    event
}

/// A trace message whose secrets are gone — the only kind the recorder writes.
/// Redacting a 1 MB tool result is real work, so it happens once: the console
/// and `ask` redact each agent event as it arrives (for the screen) and hand
/// that same event on with [`Clean::redacted_event`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clean(TraceMessage);

impl Clean {
    /// Redacts the message.
    pub fn new(message: TraceMessage) -> Clean {
        let text = |s: String| match self::text(&s) {
            Cow::Borrowed(_) => s,
            Cow::Owned(redacted) => redacted,
        };
        Clean(match message {
            TraceMessage::Agent { event: e } => TraceMessage::Agent { event: event(e) },
            TraceMessage::RunsChanged { changes, removed } => TraceMessage::RunsChanged {
                removed,
                changes: changes
                    .into_iter()
                    .map(|mut c| {
                        c.run = run(c.run);
                        c
                    })
                    .collect(),
            },
            TraceMessage::RunsStale { reason } => TraceMessage::RunsStale {
                reason: text(reason),
            },
            TraceMessage::Connection {
                server,
                ready,
                detail,
            } => TraceMessage::Connection {
                server,
                ready,
                detail: text(detail),
            },
            TraceMessage::ConversationReset => TraceMessage::ConversationReset,
            TraceMessage::RunFollowed {
                server,
                run_id,
                pipeline,
                run: followed,
                reason,
            } => TraceMessage::RunFollowed {
                server,
                run_id: text(run_id),
                pipeline: text(pipeline),
                run: followed.map(|r| Box::new(run(*r))),
                reason: reason.map(text),
            },
            TraceMessage::SessionEnd { reason } => TraceMessage::SessionEnd {
                reason: text(reason),
            },
        })
    }

    /// An event that has already been through [`event`].
    pub fn redacted_event(event: AgentEvent) -> Clean {
        Clean(TraceMessage::Agent { event })
    }

    pub fn into_inner(self) -> TraceMessage {
        self.0
    }
}

/// Agent events through a [`StreamRedactor`]: the stream of one answer.
pub trait RedactEvents {
    /// Redacts one agent event of a stream: a text delta through
    /// [`StreamRedactor::push`] (nothing when its line is not complete), any
    /// other event through [`event`], preceded by what the answer still held
    /// (as a `TextDelta`) unless it is `Usage`, which can arrive mid-answer.
    fn redact_event(&mut self, event: AgentEvent) -> Vec<AgentEvent>;
}

impl RedactEvents for StreamRedactor {
    fn redact_event(&mut self, event: AgentEvent) -> Vec<AgentEvent> {
        match event {
            AgentEvent::TextDelta { text } => {
                let safe = self.push(&text);
                if safe.is_empty() {
                    Vec::new()
                } else {
                    vec![AgentEvent::TextDelta { text: safe }]
                }
            }
            usage @ AgentEvent::Usage { .. } => vec![usage],
            other => {
                let rest = self.finish();
                let mut out = Vec::with_capacity(2);
                if !rest.is_empty() {
                    out.push(AgentEvent::TextDelta { text: rest });
                }
                out.push(self::event(other));
                out
            }
        }
    }
}

#[cfg(test)]
mod tests;
