//! Runs the agent's tool calls through the MCP host: approval policy first, then
//! the call, with events before and after, and the result capped twice — small
//! for the model, larger for the inspector and the trace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use super::events::AgentEvent;
use super::policy::{ApprovalPolicy, Verdict};
use crate::mcp::{CatalogTool, McpHost};

/// Asks a person whether a call may run (the console's dialog); `ask` refuses.
#[async_trait::async_trait]
pub trait Approver: Send + Sync {
    async fn approve(&self, tool: &str, server: &str, arguments: &Value, reason: &str) -> bool;
}

/// Who is at the keyboard, for `approved_by` (never a secret: the login name).
fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown user".into())
}

/// A person approved this call: tools that take `approved_by` (opsdeck's
/// remediation tools, for the server's policy and audit log) are told who,
/// unless the arguments already say.
fn with_approver(entry: &CatalogTool, mut arguments: Value, approved_by: Option<String>) -> Value {
    let Some(who) = approved_by else {
        return arguments;
    };
    let takes_it = entry
        .tool
        .input_schema
        .get("properties")
        .and_then(|p| p.get("approved_by"))
        .is_some();
    if let Some(object) = arguments.as_object_mut()
        && takes_it
        && !object.contains_key("approved_by")
    {
        object.insert("approved_by".into(), Value::String(who));
    }
    arguments
}

/// Headless: nothing that needs approval runs unless approved up front.
pub struct RefuseUnapproved;

#[async_trait::async_trait]
impl Approver for RefuseUnapproved {
    async fn approve(&self, _: &str, _: &str, _: &Value, _: &str) -> bool {
        false
    }
}

/// A finished call, as the agents use it.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub is_error: bool,
    /// Text for the model: summary and JSON, capped with a visible marker.
    pub for_model: String,
    pub structured: Option<Value>,
    /// The first text block (opsdeck's tools put their one-paragraph summary there).
    pub summary: String,
}

pub struct ToolRunner<'h> {
    host: &'h McpHost,
    policy: Mutex<ApprovalPolicy>,
    approver: Box<dyn Approver>,
    events: mpsc::UnboundedSender<AgentEvent>,
    model_cap: usize,
    full_cap: usize,
    next_id: AtomicU64,
}

/// Result bytes sent to the model by default.
pub const DEFAULT_MODEL_CAP: usize = 16 * 1024;
/// Result bytes kept for the inspector and the trace.
pub const DEFAULT_FULL_CAP: usize = 1024 * 1024;

impl<'h> ToolRunner<'h> {
    pub fn new(
        host: &'h McpHost,
        policy: ApprovalPolicy,
        approver: Box<dyn Approver>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Self {
        ToolRunner {
            host,
            policy: Mutex::new(policy),
            approver,
            events,
            model_cap: DEFAULT_MODEL_CAP,
            full_cap: DEFAULT_FULL_CAP,
            next_id: AtomicU64::new(1),
        }
    }

    pub fn with_caps(mut self, model_cap: usize, full_cap: usize) -> Self {
        self.model_cap = model_cap.max(256);
        self.full_cap = full_cap.max(self.model_cap);
        self
    }

    pub fn host(&self) -> &McpHost {
        self.host
    }

    /// How many calls were attempted (refused ones included).
    pub fn calls_made(&self) -> u32 {
        (self.next_id.load(Ordering::Relaxed) - 1) as u32
    }

    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    /// Runs one call by catalogue name. Never fails: errors and refusals come back
    /// as error outcomes the model (or the offline agent) can read.
    pub async fn call(&self, tool: &str, arguments: Value) -> ToolOutcome {
        let call_id = format!("call-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let catalog = self.host.catalog().await;
        let Some(entry) = catalog.iter().find(|t| t.exposed_name == tool) else {
            let known: Vec<&str> = catalog.iter().map(|t| t.exposed_name.as_str()).collect();
            return self.refusal(
                &call_id,
                "",
                tool,
                format!(
                    "there is no tool named '{tool}'; available: {}",
                    known.join(", ")
                ),
            );
        };
        let server = entry.server.clone();
        let (trusted, server_read_only) = self
            .host
            .spec(&server)
            .map_or((false, false), |s| (s.trusted, s.read_only));
        let verdict = self
            .policy
            .lock()
            .await
            .judge(entry, &arguments, trusted, server_read_only);
        let approved_by = match verdict {
            Verdict::Allow => None,
            Verdict::PreApproved => Some(format!("{} (--approve)", operator())),
            Verdict::Refuse(reason) => return self.refusal(&call_id, &server, tool, reason),
            Verdict::NeedsApproval(reason) => {
                self.emit(AgentEvent::ApprovalNeeded {
                    call_id: call_id.clone(),
                    server: server.clone(),
                    tool: tool.to_string(),
                    arguments: arguments.clone(),
                    reason: reason.clone(),
                });
                let approved = self
                    .approver
                    .approve(tool, &server, &arguments, &reason)
                    .await;
                self.emit(AgentEvent::ApprovalDecided {
                    call_id: call_id.clone(),
                    approved,
                    by: if approved {
                        "user".into()
                    } else {
                        "policy".into()
                    },
                    reason: reason.clone(),
                });
                if !approved {
                    let message = format!(
                        "{reason}: not approved, so the call was not made (approve it with --approve {tool}, or in the console's dialog)"
                    );
                    return self.refusal(&call_id, &server, tool, message);
                }
                Some(format!("{} (approved in the session)", operator()))
            }
        };
        let arguments = with_approver(entry, arguments, approved_by);
        self.emit(AgentEvent::ToolCallStarted {
            call_id: call_id.clone(),
            server: server.clone(),
            tool: tool.to_string(),
            arguments: arguments.clone(),
        });
        let started = Instant::now();
        let result = self
            .host
            .call_tool(entry, arguments.as_object().cloned())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (is_error, texts, structured) = match result {
            Ok(r) => (
                r.is_error == Some(true),
                crate::mcp::result_texts(&r),
                r.structured_content,
            ),
            Err(error) => (true, vec![error.to_string()], None),
        };
        let full = serde_json::json!({"content": texts, "structured": structured});
        let (full_value, truncated) = cap_value(full, self.full_cap);
        self.emit(AgentEvent::ToolCallFinished {
            call_id,
            server,
            tool: tool.to_string(),
            duration_ms,
            is_error,
            result: full_value,
            truncated,
        });
        ToolOutcome {
            is_error,
            for_model: cap_text(&texts.join("\n"), self.model_cap),
            summary: texts.first().cloned().unwrap_or_default(),
            structured,
        }
    }

    fn refusal(&self, call_id: &str, server: &str, tool: &str, message: String) -> ToolOutcome {
        self.emit(AgentEvent::ToolCallFinished {
            call_id: call_id.to_string(),
            server: server.to_string(),
            tool: tool.to_string(),
            duration_ms: 0,
            is_error: true,
            result: Value::String(message.clone()),
            truncated: false,
        });
        ToolOutcome {
            is_error: true,
            for_model: message.clone(),
            structured: None,
            summary: message,
        }
    }
}

/// Cuts text to `cap` bytes (on a character boundary) with a marker saying how much went.
pub fn cap_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[… truncated: {} of {} bytes shown]",
        &text[..end],
        end,
        text.len()
    )
}

/// Keeps a JSON value whole when it fits, else its text form cut to `cap`.
fn cap_value(value: Value, cap: usize) -> (Value, bool) {
    let text = value.to_string();
    if text.len() <= cap {
        (value, false)
    } else {
        (Value::String(cap_text(&text, cap)), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_marks_what_was_cut() {
        assert_eq!(cap_text("short", 10), "short");
        let capped = cap_text(&"é".repeat(100), 11);
        assert!(capped.starts_with("ééééé"), "cut on a character boundary");
        assert!(
            capped.contains("[… truncated: 10 of 200 bytes shown]"),
            "{capped}"
        );
    }
}
