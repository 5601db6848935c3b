//! `--replay TRACE --verify`: re-runs the trace's read-only tool calls against
//! the servers configured now and says which results differ. A trace can be
//! forged, so it can only narrow what is re-run: a call is re-run only when the
//! server configured now is trusted and annotates the tool `readOnlyHint:
//! true`, and the trace's header recorded it read-only too. Every other call
//! is skipped with the reason — a tool that writes is never called.

use std::collections::HashMap;

use serde_json::Value;

use super::reader::Trace;
use super::schema::{ToolInfo, TraceMessage};
use crate::agent::events::AgentEvent;
use crate::mcp::McpHost;
use crate::mcp::catalog::CatalogTool;

/// Whether a tool may be taken for read-only: its server says so in its
/// annotations (`readOnlyHint: true`), and the server is trusted — the MCP
/// specification has clients treat an untrusted server's annotations as
/// untrusted. Neither an absent annotation nor `destructiveHint: false` is
/// enough: a tool that is not destructive may still write.
pub fn believed_read_only(tool: &CatalogTool, server_trusted: bool) -> bool {
    server_trusted
        && tool
            .tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            == Some(true)
}

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

/// Why a call must not be re-run, or `None` when it may be.
fn reason_to_skip(
    entry: &CatalogTool,
    server_trusted: bool,
    recorded: Option<&ToolInfo>,
) -> Option<&'static str> {
    if entry.is_destructive(server_trusted) || recorded.is_some_and(|t| t.destructive) {
        return Some("destructive: never re-run");
    }
    if !server_trusted {
        return Some(
            "its server is not trusted, so its read-only annotation is not believed: never re-run",
        );
    }
    if !believed_read_only(entry, server_trusted) {
        return Some("its server does not mark it read-only (readOnlyHint): never re-run");
    }
    if !recorded.is_some_and(|t| t.read_only) {
        return Some("the trace does not record it as read-only: never re-run");
    }
    None
}

pub async fn verify(trace: &Trace, host: &McpHost) -> Vec<Checked> {
    let catalog = host.catalog().await;
    let recorded_tool = |tool: &str| {
        trace
            .header
            .as_ref()?
            .servers
            .iter()
            .flat_map(|s| &s.tools)
            .find(|t| t.name == tool)
    };
    let mut checked = Vec::new();
    for call in recorded_calls(trace) {
        let verdict = match catalog.iter().find(|t| t.exposed_name == call.tool) {
            None => Verdict::Skipped("no configured server offers this tool now".into()),
            Some(entry) => {
                let trusted = host.spec(&entry.server).is_some_and(|s| s.trusted);
                match reason_to_skip(entry, trusted, recorded_tool(&call.tool)) {
                    Some(reason) => Verdict::Skipped(reason.into()),
                    None => {
                        let now = host
                            .call_tool(entry, call.arguments.as_object().cloned())
                            .await;
                        compare(call.result.as_ref(), now)
                    }
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
    use rmcp::model::{Tool, ToolAnnotations};
    use serde_json::json;

    fn entry(annotations: Option<ToolAnnotations>) -> CatalogTool {
        let mut tool = Tool::new(
            "t".to_string(),
            "d",
            std::sync::Arc::new(Default::default()),
        );
        tool.annotations = annotations;
        CatalogTool {
            exposed_name: "t".into(),
            server: "s".into(),
            definition_hash: 0,
            tool,
        }
    }

    fn hints(read_only: Option<bool>, destructive: Option<bool>) -> Option<ToolAnnotations> {
        let mut annotations = ToolAnnotations::default();
        annotations.read_only_hint = read_only;
        annotations.destructive_hint = destructive;
        Some(annotations)
    }

    fn recorded(read_only: bool, destructive: bool) -> ToolInfo {
        ToolInfo {
            name: "t".into(),
            definition_hash: "0".into(),
            destructive,
            read_only,
        }
    }

    #[test]
    fn only_a_trusted_read_only_tool_recorded_read_only_is_re_run() {
        let read_only = entry(hints(Some(true), None));
        assert_eq!(
            reason_to_skip(&read_only, true, Some(&recorded(true, false))),
            None
        );
        // A tool that writes without destroying is not read-only.
        let writer = entry(hints(Some(false), Some(false)));
        let skip = reason_to_skip(&writer, true, Some(&recorded(true, false)));
        assert!(skip.is_some_and(|r| r.contains("readOnlyHint")), "{skip:?}");
        // Nor is one with no annotations, nor one with only destructiveHint: false.
        for annotations in [None, hints(None, Some(false))] {
            let tool = entry(annotations);
            assert!(reason_to_skip(&tool, true, Some(&recorded(true, false))).is_some());
        }
        // An untrusted server's read-only claim is not believed.
        let skip = reason_to_skip(&read_only, false, Some(&recorded(true, false)));
        assert!(skip.is_some_and(|r| r.contains("not trusted")), "{skip:?}");
        // The trace must agree, and a trace without a header (or an older one) does not.
        for trace_says in [None, Some(&recorded(false, false))] {
            let skip = reason_to_skip(&read_only, true, trace_says);
            assert!(skip.is_some_and(|r| r.contains("trace")), "{skip:?}");
        }
        // Destructive by either account: the reason says so.
        let destroyer = entry(hints(Some(false), Some(true)));
        assert_eq!(
            reason_to_skip(&destroyer, true, Some(&recorded(true, false))),
            Some("destructive: never re-run")
        );
        assert_eq!(
            reason_to_skip(&read_only, true, Some(&recorded(true, true))),
            Some("destructive: never re-run")
        );
    }

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
