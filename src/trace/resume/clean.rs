//! A trace's agent events made safe to resume. A trace file is untrusted: an
//! older opsdeck may have written it before a redaction rule existed, or a
//! person edited it. So every event read for resuming is redacted and its
//! control characters neutralised, exactly as a live event is, before it
//! reaches the model, the screen or the new session's trace. The answer's
//! text deltas of one response are joined first, so a secret split across
//! two of them is seen whole.

use std::borrow::Cow;

use serde_json::Value;

use crate::agent::events::AgentEvent;
use crate::support::terminal::terminal_safe;
use crate::trace::redact;
use crate::trace::schema::{Record, TraceMessage};

/// What resuming reads of a trace, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Agent(AgentEvent),
    /// `:new`: what came before is forgotten.
    Reset,
}

/// The agent events and resets of `records`, cleaned; consecutive text
/// deltas joined into one.
pub fn items(records: &[Record]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut text = String::new();
    let flush = |items: &mut Vec<Item>, text: &mut String| {
        if !text.is_empty() {
            items.push(Item::Agent(clean(AgentEvent::TextDelta {
                text: std::mem::take(text),
            })));
        }
    };
    for record in records {
        match &record.message {
            TraceMessage::Agent {
                event: AgentEvent::TextDelta { text: piece },
            } => text.push_str(piece),
            TraceMessage::Agent { event } => {
                flush(&mut items, &mut text);
                items.push(Item::Agent(clean(event.clone())));
            }
            TraceMessage::ConversationReset => {
                flush(&mut items, &mut text);
                items.push(Item::Reset);
            }
            // Board and connection records say nothing about the conversation.
            _ => {}
        }
    }
    flush(&mut items, &mut text);
    items
}

/// One event with its control characters shown, not obeyed, then redacted
/// (last, so nothing after it can rebuild a secret's pattern).
pub fn clean(event: AgentEvent) -> AgentEvent {
    redact::event(neutralise(event))
}

fn neutralise(mut event: AgentEvent) -> AgentEvent {
    match &mut event {
        AgentEvent::UserMessage { text }
        | AgentEvent::TextDelta { text }
        | AgentEvent::AgentMode { mode: text }
        | AgentEvent::Error { message: text }
        | AgentEvent::TurnFinished { answer: text, .. } => safe(text),
        AgentEvent::ToolCallStarted {
            call_id,
            server,
            tool,
            arguments,
        } => {
            [call_id, server, tool].into_iter().for_each(safe);
            safe_json(arguments);
        }
        AgentEvent::ToolCallFinished {
            call_id,
            server,
            tool,
            result,
            ..
        } => {
            [call_id, server, tool].into_iter().for_each(safe);
            safe_json(result);
        }
        AgentEvent::ApprovalNeeded {
            call_id,
            server,
            tool,
            arguments,
            reason,
        } => {
            [call_id, server, tool, reason].into_iter().for_each(safe);
            safe_json(arguments);
        }
        AgentEvent::ApprovalDecided {
            call_id,
            by,
            reason,
            ..
        } => [call_id, by, reason].into_iter().for_each(safe),
        AgentEvent::ToolsOffered { offered, .. } => offered.iter_mut().for_each(safe),
        AgentEvent::Usage { .. } => {}
    }
    event
}

fn safe(text: &mut String) {
    if let Cow::Owned(shown) = terminal_safe(text) {
        *text = shown;
    }
}

/// Every string of a JSON value, keys too, made safe.
fn safe_json(value: &mut Value) {
    match value {
        Value::String(text) => safe(text),
        Value::Array(items) => items.iter_mut().for_each(safe_json),
        Value::Object(object) => {
            let unsafe_key = object
                .keys()
                .any(|k| matches!(terminal_safe(k), Cow::Owned(_)));
            if unsafe_key {
                *object = std::mem::take(object)
                    .into_iter()
                    .map(|(k, v)| (terminal_safe(&k).into_owned(), v))
                    .collect();
            }
            object.values_mut().for_each(safe_json);
        }
        _ => {}
    }
}
