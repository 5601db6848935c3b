//! Runs the agent's tool calls through the MCP host: approval policy first, then
//! the call, with events before and after, and the result capped twice — small
//! for the model, larger for the inspector and the trace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use super::events::AgentEvent;
use super::policy::{Ask, SharedPolicy, Standing, Verdict, declared_dry_run};
use crate::mcp::{CatalogTool, McpHost};
use crate::support::text::cap_text;

/// A call waiting for a person: everything they need to decide. The runner
/// asks an [`Approver`] with it; the console queues it and shows it as its
/// approval dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    /// The call this decision is about (answers name it, so two never mix; the
    /// inspector's id too).
    pub call_id: String,
    pub tool: String,
    pub server: String,
    pub arguments: Value,
    /// Why the policy asks (e.g. "rerun_pipeline changes the estate").
    pub reason: String,
    /// The tool's own dry run, or why there is none.
    pub preview: Result<String, String>,
    /// "Allow for this session" may be offered (an untrusted server's tool).
    pub session_allowable: bool,
    /// Where redaction changed an argument on screen (`query`, `options.key`):
    /// the call sends those values unchanged, and the person must know. Empty
    /// as the runner asks; whoever redacts the request for display fills it.
    pub hidden: Vec<String>,
}

/// Who decided when a person at the console answered.
pub const BY_USER: &str = "user";

/// A person's (or the headless policy's) answer about one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub approved: bool,
    /// Allow this tool, as defined now, for the rest of the session.
    pub for_session: bool,
    /// Who decided: "user", or why nobody could ("cancelled", "policy: …").
    pub by: String,
}

impl Decision {
    /// The person's own answer, recorded as theirs.
    pub fn by_user(approved: bool, for_session: bool) -> Decision {
        Decision {
            approved,
            for_session: approved && for_session,
            by: BY_USER.into(),
        }
    }

    pub fn refused(by: impl Into<String>) -> Decision {
        Decision {
            approved: false,
            for_session: false,
            by: by.into(),
        }
    }
}

/// Asks whether a call may run: the console's dialog, or `ask`'s refusal.
#[async_trait::async_trait]
pub trait Approver: Send + Sync {
    /// Whether a person will read the request, so a dry-run preview is worth making.
    fn shows_preview(&self) -> bool {
        false
    }

    async fn decide(&self, request: ApprovalRequest) -> Decision;
}

/// Who is at the keyboard, for `approved_by` (never a secret: the login name).
fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown user".into())
}

/// Only the host says who approved: an `approved_by` the model wrote is dropped,
/// and tools that take it (opsdeck's remediation tools, for the server's policy
/// and audit log) are told the person when one approved.
fn with_approver(entry: &CatalogTool, mut arguments: Value, approved_by: Option<String>) -> Value {
    let takes_it = entry
        .tool
        .input_schema
        .get("properties")
        .and_then(|p| p.get("approved_by"))
        .is_some();
    if let Some(object) = arguments.as_object_mut() {
        if object.remove("approved_by").is_some() {
            tracing::warn!(tool = %entry.exposed_name, "dropped an approved_by the model wrote");
        }
        if let (Some(who), true) = (approved_by, takes_it) {
            object.insert("approved_by".into(), Value::String(who));
        }
    }
    arguments
}

/// Headless: nothing that needs approval runs unless approved up front.
pub struct RefuseUnapproved;

#[async_trait::async_trait]
impl Approver for RefuseUnapproved {
    async fn decide(&self, _: ApprovalRequest) -> Decision {
        Decision::refused("policy: headless, no matching --approve")
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
    policy: SharedPolicy,
    approver: Box<dyn Approver>,
    events: mpsc::UnboundedSender<AgentEvent>,
    model_cap: usize,
    full_cap: usize,
    /// Numbers calls across the session when shared, so an id names one call only.
    next_id: Arc<AtomicU64>,
    /// Calls attempted by this runner (this turn).
    attempted: AtomicU64,
}

/// Result bytes sent to the model by default.
pub const DEFAULT_MODEL_CAP: usize = 16 * 1024;
/// Result bytes kept for the inspector and the trace.
pub const DEFAULT_FULL_CAP: usize = 1024 * 1024;
/// How long a dry-run preview may take before the dialog opens without it.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(20);

/// What a call produced, before it is shaped for the model.
struct Raw {
    is_error: bool,
    texts: Vec<String>,
    structured: Option<Value>,
}

impl<'h> ToolRunner<'h> {
    /// `policy` is the session's: pass a [`SharedPolicy`] the caller keeps so
    /// that what was seen and allowed outlasts this runner.
    pub fn new(
        host: &'h McpHost,
        policy: impl Into<SharedPolicy>,
        approver: Box<dyn Approver>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Self {
        ToolRunner {
            host,
            policy: policy.into(),
            approver,
            events,
            model_cap: DEFAULT_MODEL_CAP,
            full_cap: DEFAULT_FULL_CAP,
            next_id: Arc::new(AtomicU64::new(1)),
            attempted: AtomicU64::new(0),
        }
    }

    /// Numbers calls from a counter the caller keeps for the session: call ids
    /// then never repeat from one turn to the next.
    pub fn with_numbering(mut self, counter: Arc<AtomicU64>) -> Self {
        self.next_id = counter;
        self
    }

    pub fn with_caps(mut self, model_cap: usize, full_cap: usize) -> Self {
        self.model_cap = model_cap.max(256);
        self.full_cap = full_cap.max(self.model_cap);
        self
    }

    pub fn host(&self) -> &McpHost {
        self.host
    }

    /// Whether the session refuses everything that needs approval (read-only mode).
    pub fn read_only(&self) -> bool {
        self.policy.with(|policy| policy.read_only)
    }

    /// Whether a person reads the approval requests (the console's dialog);
    /// headless, a call that needs approval is refused unless approved up front.
    pub fn asks_a_person(&self) -> bool {
        self.approver.shows_preview()
    }

    /// How many calls were attempted (refused ones included).
    pub fn calls_made(&self) -> u32 {
        u32::try_from(self.attempted.load(Ordering::Relaxed)).unwrap_or(u32::MAX)
    }

    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    /// Runs one call by catalogue name. Never fails: errors and refusals come back
    /// as error outcomes the model (or the offline agent) can read. Nothing is
    /// sent to a server before the policy (and, when it asks, a person) said yes.
    pub async fn call(&self, tool: &str, arguments: Value) -> ToolOutcome {
        let call_id = format!("call-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        self.attempted.fetch_add(1, Ordering::Relaxed);
        let catalog = self.host.catalog().await;
        // Every tool listed now is "seen": a later change to any of them is asked
        // about, even one first called after it changed.
        self.policy.with(|policy| policy.observe(&catalog));
        let Some(entry) = catalog.iter().find(|t| t.exposed_name == tool) else {
            let message = self.host.explain_missing(tool, &catalog);
            return self.refusal(&call_id, "", tool, message);
        };
        let server = entry.server.clone();
        // A server that is down keeps its tools listed: say so before anyone is asked.
        if let Some(reason) = self.host.why_unavailable(&server) {
            let message = format!("{tool}: {reason}; the call was not sent");
            return self.refusal(&call_id, &server, tool, message);
        }
        let standing = Standing::of(self.host.spec(&server));
        let verdict = self
            .policy
            .with(|policy| policy.judge(entry, &arguments, standing));
        let approved_by = match verdict {
            Verdict::Allow => None,
            Verdict::PreApproved => Some(format!("{} (--approve)", operator())),
            Verdict::Refuse(reason) => return self.refusal(&call_id, &server, tool, reason),
            Verdict::NeedsApproval(ask) => {
                let decision = self
                    .ask_person(&call_id, entry, &arguments, &ask, standing.trusted)
                    .await;
                if !decision.approved {
                    let message = format!(
                        "{}: not approved ({}), so the call was not made (approve it in the console's dialog, or headless with --approve '{tool}:<the exact arguments as JSON>')",
                        ask.reason, decision.by
                    );
                    return self.refusal(&call_id, &server, tool, message);
                }
                self.policy
                    .with(|policy| policy.approved(entry, decision.for_session));
                Some(format!("{} (approved in the session)", operator()))
            }
        };
        let arguments = with_approver(entry, arguments, approved_by);
        let raw = self.execute(&call_id, entry, arguments).await;
        // What the model reads is redacted too: an injected instruction must not
        // be able to have it copy a secret into another tool's arguments.
        let for_model = crate::support::redact::text(&raw.texts.join("\n")).into_owned();
        ToolOutcome {
            is_error: raw.is_error,
            for_model: cap_text(&for_model, self.model_cap),
            summary: raw.texts.first().cloned().unwrap_or_default(),
            structured: raw.structured,
        }
    }

    /// Tells everyone a call waits, makes the preview a person may see (only a
    /// trusted server's declared dry run), and waits for the decision.
    async fn ask_person(
        &self,
        call_id: &str,
        entry: &CatalogTool,
        arguments: &Value,
        ask: &Ask,
        trusted: bool,
    ) -> Decision {
        self.emit(AgentEvent::ApprovalNeeded {
            call_id: call_id.to_string(),
            server: entry.server.clone(),
            tool: entry.exposed_name.clone(),
            arguments: arguments.clone(),
            reason: ask.reason.clone(),
        });
        let preview = if !self.approver.shows_preview() {
            Err("no preview headless".to_string())
        } else if !trusted {
            Err(format!(
                "not asked: server '{}' is not trusted, so nothing is sent to it before you approve",
                entry.server
            ))
        } else if declared_dry_run(entry).is_none() {
            Err("this tool has no dry run".to_string())
        } else {
            Ok(self.preview(call_id, entry, arguments).await)
        };
        let decision = self
            .approver
            .decide(ApprovalRequest {
                call_id: call_id.to_string(),
                tool: entry.exposed_name.clone(),
                server: entry.server.clone(),
                arguments: arguments.clone(),
                reason: ask.reason.clone(),
                preview,
                session_allowable: ask.session_allowable(),
                hidden: Vec::new(),
            })
            .await;
        self.emit(AgentEvent::ApprovalDecided {
            call_id: call_id.to_string(),
            approved: decision.approved,
            by: decision.by.clone(),
            reason: ask.reason.clone(),
        });
        decision
    }

    /// The tool's own dry run, recorded like any call (its own id, in the trace
    /// and the inspector).
    async fn preview(&self, call_id: &str, entry: &CatalogTool, arguments: &Value) -> String {
        let mut preview_args = arguments.as_object().cloned().unwrap_or_default();
        preview_args.remove("approved_by");
        preview_args.insert("dry_run".into(), Value::Bool(true));
        let preview_id = format!("{call_id}-preview");
        let run = self.execute(&preview_id, entry, Value::Object(preview_args));
        match tokio::time::timeout(PREVIEW_TIMEOUT, run).await {
            Err(_) => format!(
                "the dry run did not answer within {} s",
                PREVIEW_TIMEOUT.as_secs()
            ),
            Ok(raw) if raw.is_error => format!("the dry run failed: {}", raw.texts.join("\n")),
            Ok(raw) => raw.texts.join("\n"),
        }
    }

    /// Sends the call, with events before and after.
    async fn execute(&self, call_id: &str, entry: &CatalogTool, arguments: Value) -> Raw {
        self.emit(AgentEvent::ToolCallStarted {
            call_id: call_id.to_string(),
            server: entry.server.clone(),
            tool: entry.exposed_name.clone(),
            arguments: arguments.clone(),
        });
        let started = Instant::now();
        let result = self
            .host
            .call_tool(entry, arguments.as_object().cloned())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let raw = match result {
            Ok(r) => Raw {
                is_error: r.is_error == Some(true),
                texts: crate::mcp::result_texts(&r),
                structured: r.structured_content,
            },
            Err(error) => Raw {
                is_error: true,
                texts: vec![error.to_string()],
                structured: None,
            },
        };
        let full = serde_json::json!({"content": raw.texts, "structured": raw.structured});
        // Redacted while still JSON: once capped into one escaped string, secret
        // keys and quoted values no longer look like themselves.
        let (full_value, truncated) =
            cap_value(crate::support::redact::value(&full), self.full_cap);
        self.emit(AgentEvent::ToolCallFinished {
            call_id: call_id.to_string(),
            server: entry.server.clone(),
            tool: entry.exposed_name.clone(),
            duration_ms,
            is_error: raw.is_error,
            result: full_value,
            truncated,
        });
        raw
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

/// Keeps a JSON value whole when it fits, else its text form cut to `cap`.
fn cap_value(value: Value, cap: usize) -> (Value, bool) {
    let text = value.to_string();
    if text.len() <= cap {
        (value, false)
    } else {
        (Value::String(cap_text(&text, cap)), true)
    }
}
