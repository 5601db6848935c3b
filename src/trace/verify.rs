//! `--replay TRACE --verify`: re-runs the trace's read-only tool calls against
//! the servers configured now and says which results differ. A destructive tool
//! is never called, whatever the trace says about it: the current server's
//! annotations and the trace's own header both have to call it read-only.

use std::collections::HashMap;

use serde_json::Value;

use super::reader::Trace;
use super::schema::TraceMessage;
use crate::agent::events::AgentEvent;
use crate::mcp::McpHost;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Same,
    Differs(String),
    /// The call failed now (or the recorded one had failed and this one did not).
    Error(String),
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub call_id: String,
    pub tool: String,
    pub verdict: Verdict,
}

/// A recorded call: what was asked and what came back.
struct Recorded {
    call_id: String,
    tool: String,
    arguments: Value,
    result: Option<(bool, Value)>,
}

fn recorded_calls(trace: &Trace) -> Vec<Recorded> {
    let mut calls: Vec<Recorded> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in &trace.records {
        let TraceMessage::Agent { event } = &record.message else {
            continue;
        };
        match event {
            AgentEvent::ToolCallStarted {
                call_id,
                tool,
                arguments,
                ..
            } => {
                index.insert(call_id.clone(), calls.len());
                calls.push(Recorded {
                    call_id: call_id.clone(),
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    result: None,
                });
            }
            AgentEvent::ToolCallFinished {
                call_id,
                is_error,
                result,
                ..
            } => {
                if let Some(&i) = index.get(call_id) {
                    calls[i].result = Some((*is_error, result.clone()));
                }
            }
            _ => {}
        }
    }
    calls
}

pub async fn verify(trace: &Trace, host: &McpHost) -> Vec<Checked> {
    let catalog = host.catalog().await;
    let destructive_in_trace = |tool: &str| {
        trace.header.as_ref().is_none_or(|h| {
            h.servers
                .iter()
                .flat_map(|s| &s.tools)
                .find(|t| t.name == tool)
                .is_none_or(|t| t.destructive)
        })
    };
    let mut checked = Vec::new();
    for call in recorded_calls(trace) {
        let verdict = match catalog.iter().find(|t| t.exposed_name == call.tool) {
            None => Verdict::Skipped("no configured server offers this tool now".into()),
            Some(entry) => {
                let trusted = host.spec(&entry.server).is_some_and(|s| s.trusted);
                if entry.is_destructive(trusted) || destructive_in_trace(&call.tool) {
                    Verdict::Skipped("destructive: never re-run".into())
                } else {
                    let now = host
                        .call_tool(entry, call.arguments.as_object().cloned())
                        .await;
                    compare(call.result.as_ref(), now)
                }
            }
        };
        checked.push(Checked {
            call_id: call.call_id,
            tool: call.tool,
            verdict,
        });
    }
    checked
}

fn compare(
    recorded: Option<&(bool, Value)>,
    now: Result<rmcp::model::CallToolResult, crate::mcp::CallError>,
) -> Verdict {
    let now = match now {
        Ok(result) => result,
        Err(e) => return Verdict::Error(format!("the call failed now: {e}")),
    };
    let Some((was_error, was)) = recorded else {
        return Verdict::Skipped("the trace has no result for this call".into());
    };
    let is_error = now.is_error == Some(true);
    if is_error != *was_error {
        return Verdict::Error(format!(
            "recorded {}, now {}",
            if *was_error { "an error" } else { "a result" },
            if is_error { "an error" } else { "a result" }
        ));
    }
    let texts = crate::mcp::result_texts(&now);
    let structured = now.structured_content.clone();
    // The trace holds results redacted; compare what the trace would have held.
    let now_value =
        super::redact::value(&serde_json::json!({"content": texts, "structured": structured}));
    let (was_part, now_part) = match (was.get("structured"), now_value.get("structured")) {
        (Some(a), Some(b)) if !a.is_null() || !b.is_null() => (a, b),
        _ => (
            was.get("content").unwrap_or(was),
            now_value.get("content").unwrap_or(&Value::Null),
        ),
    };
    match first_difference(was_part, now_part, String::new()) {
        None => Verdict::Same,
        Some(path) => Verdict::Differs(path),
    }
}

/// The JSON path of the first difference, `None` when equal.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, format!("{path}.{k}")),
                _ => Some(format!("{path}.{k} (present on one side only)")),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!(
                    "{path} ({} items recorded, {} now)",
                    x.len(),
                    y.len()
                ));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "the result".into()
        } else {
            path
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        assert_eq!(
            first_difference(&json!({"a": [1, 2]}), &json!({"a": [1, 2]}), String::new()),
            None
        );
        assert_eq!(
            first_difference(
                &json!({"a": [1, 2], "b": "x"}),
                &json!({"a": [1, 3], "b": "x"}),
                String::new()
            ),
            Some(".a[1]".into())
        );
        assert_eq!(
            first_difference(
                &json!({"runs": [1]}),
                &json!({"runs": [1, 2]}),
                String::new()
            ),
            Some(".runs (1 items recorded, 2 now)".into())
        );
        assert_eq!(
            first_difference(&json!({"a": 1}), &json!({"b": 1}), String::new()),
            Some(".a (present on one side only)".into())
        );
    }
}
