//! Secret redaction, applied before anything leaves the process as text: the
//! session trace, the log file, the screen and exports. A secret is replaced by
//! a marker that says what kind of secret was removed, e.g.
//! `[redacted: storage account key]`, so a reader knows something was there
//! without learning it.
//!
//! Three layers: patterns in free text ([`rules`]: connection strings, SAS
//! signatures, bearer and basic credentials, JWTs, cloud and SaaS token
//! families, PEM private keys, passwords in URLs, `password=…`-style pairs in
//! their shell, header, URL-encoded, XML and JSON-as-text spellings, and
//! `NAME_TOKEN=…`-style variables); in JSON ([`json`]), the values of keys
//! named like secrets, whole subtrees included; and, for text that arrives in
//! pieces, a [`StreamRedactor`] that redacts whole lines so a secret split
//! across two pieces is still seen whole.
//!
//! Each string is screened once by one `RegexSet` of every rule; only the
//! rules that matched rewrite it, and text with no secret is borrowed as is.

use std::borrow::Cow;

use regex::Captures;
use serde_json::Value;

use super::schema::TraceMessage;
use crate::agent::events::AgentEvent;
use crate::model::run::PipelineRun;

mod json;
mod rules;
mod stream;

pub use super::terminal::{for_screen, terminal_safe};
pub use json::{is_secret_key, value};
use rules::RULES;
pub use stream::StreamRedactor;

/// Text with every secret it carries replaced by a marker; borrowed when there was none.
pub fn text(input: &str) -> Cow<'_, str> {
    let Cow::Owned(mut out) = one_pass(input) else {
        return Cow::Borrowed(input);
    };
    // Rules overlap: a rewrite can expose a match another rule missed (or end
    // one it made). Passes until nothing changes, so redacting twice never
    // changes what once gave; text without secrets takes the one pass above.
    for _ in 1..MAX_PASSES {
        match one_pass(&out) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => out = next,
        }
    }
    Cow::Owned(out)
}

/// Enough passes for rewrites that expose further matches to settle.
const MAX_PASSES: usize = 6;

/// Every rule whose pattern occurs, once; borrowed back when nothing changed.
fn one_pass(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    for rule in RULES.matching(input) {
        if let Cow::Owned(replaced) = rule
            .pattern
            .replace_all(&out, |caps: &Captures| rule.replacement(caps))
            // A match that held no secret ("Basic authentication") changes nothing.
            && replaced != *out
        {
            out = Cow::Owned(replaced);
        }
    }
    out
}

fn is_marker(text: &str) -> bool {
    text.starts_with("[redacted")
}

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

fn in_place(text: &mut String) {
    if let Cow::Owned(redacted) = self::text(text) {
        *text = redacted;
    }
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

#[cfg(test)]
mod tests;
