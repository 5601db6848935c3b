//! A trace as something to read: a transcript (`text`), an incident timeline
//! for a postmortem (`markdown`), or the records as JSON. Pure formatting of
//! what was recorded — it never calls a tool and needs no server or terminal.

use std::borrow::Cow;

use serde_json::Value;

use crate::support::terminal;
use crate::trace::reader::Trace;

mod json;
mod markdown;
pub mod text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

/// The trace in `format`, safe to print on a terminal: text and markdown show
/// any control character from the trace as `\xNN`, JSON escapes it.
pub fn render(trace: &Trace, format: Format) -> String {
    let (rendered, safe): (String, fn(&str) -> Cow<'_, str>) = match format {
        Format::Text => return text::text(trace),
        Format::Markdown => (markdown::markdown(trace), terminal::terminal_safe),
        Format::Json => (json::json(trace), terminal::json_safe),
    };
    match safe(&rendered) {
        Cow::Borrowed(_) => rendered,
        Cow::Owned(safe) => safe,
    }
}

/// The first line of a tool result: its first text part, else its JSON.
pub(crate) fn result_summary(result: &Value) -> String {
    let text = match result {
        Value::String(s) => s.clone(),
        other => match other
            .get("content")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        {
            Some(Value::String(s)) => s.clone(),
            _ => other.to_string(),
        },
    };
    crate::support::text::clip(text.lines().next().unwrap_or(""), 200)
}

pub(crate) fn compact(value: &Value) -> String {
    crate::support::text::clip(&value.to_string(), 300)
}
