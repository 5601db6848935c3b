//! The console's background work, each turning into messages: board refreshes,
//! run details, and the approver that asks the user through the dialog.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::agent::runner::Approver;
use crate::app::approval::ApprovalRequest;
use crate::app::update::{Msg, ServerStatus};
use crate::mcp::catalog::CatalogTool;
use crate::mcp::{ConnectionState, McpHost};
use crate::model::run::PipelineRun;

/// The board's window and page: the last day, as many runs as a page holds.
const BOARD_WINDOW: &str = "24h";
const BOARD_LIMIT: u64 = 500;

/// Every server's `list_pipeline_runs`, merged. Fails only when no server could
/// answer; the reasons name each server.
pub async fn fetch_runs(host: &McpHost) -> Result<Vec<PipelineRun>, String> {
    let catalog = host.catalog().await;
    let sources: Vec<&CatalogTool> = catalog
        .iter()
        .filter(|t| t.server_tool_name() == "list_pipeline_runs")
        .collect();
    if sources.is_empty() {
        return Err("no connected server offers list_pipeline_runs".into());
    }
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for entry in sources {
        let arguments = json!({"since": BOARD_WINDOW, "limit": BOARD_LIMIT});
        match call_structured(host, entry, arguments).await {
            Ok(value) => match value
                .get("runs")
                .cloned()
                .map(serde_json::from_value::<Vec<PipelineRun>>)
            {
                Some(Ok(mut page)) => runs.append(&mut page),
                Some(Err(e)) => failures.push(format!(
                    "{}: runs in an unexpected shape ({e})",
                    entry.server
                )),
                None => failures.push(format!("{}: the answer has no runs", entry.server)),
            },
            Err(reason) => failures.push(format!("{}: {reason}", entry.server)),
        }
    }
    if runs.is_empty() && !failures.is_empty() {
        return Err(failures.join("; "));
    }
    if !failures.is_empty() {
        tracing::warn!(failures = %failures.join("; "), "some servers did not refresh the board");
    }
    Ok(runs)
}

/// `get_run_details` from the first server that knows the run.
pub async fn fetch_run_details(host: &McpHost, run_id: &str) -> Result<Value, String> {
    let catalog = host.catalog().await;
    let mut reasons = Vec::new();
    for entry in catalog
        .iter()
        .filter(|t| t.server_tool_name() == "get_run_details")
    {
        match call_structured(host, entry, json!({"run_id": run_id})).await {
            Ok(value) => return Ok(value),
            Err(reason) => reasons.push(format!("{}: {reason}", entry.server)),
        }
    }
    if reasons.is_empty() {
        Err("no connected server offers get_run_details".into())
    } else {
        Err(reasons.join("; "))
    }
}

/// Calls a tool and returns its structured content; a tool error is an error with its text.
async fn call_structured(
    host: &McpHost,
    entry: &CatalogTool,
    arguments: Value,
) -> Result<Value, String> {
    let result = host
        .call_tool(entry, arguments.as_object().cloned())
        .await
        .map_err(|e| e.to_string())?;
    let text = crate::mcp::result_texts(&result);
    if result.is_error == Some(true) {
        return Err(crate::server::reply::clip(&text.join(" "), 300));
    }
    result
        .structured_content
        .ok_or_else(|| format!("{} returned no structured content", entry.exposed_name))
}

/// The servers as the status bar shows them.
pub fn server_statuses(host: &McpHost) -> Vec<ServerStatus> {
    host.states()
        .into_iter()
        .map(|(name, state)| {
            let (ready, detail) = match state {
                ConnectionState::Ready { tools } => (true, format!("ready · {tools} tools")),
                ConnectionState::Connecting => (false, "connecting…".into()),
                ConnectionState::Reconnecting {
                    attempt,
                    error,
                    retry_in_ms,
                } => (
                    false,
                    format!(
                        "down: {} (retry {attempt} in {}s)",
                        crate::server::reply::clip(&error, 80),
                        retry_in_ms.div_ceil(1000)
                    ),
                ),
                ConnectionState::Stopped => (false, "stopped".into()),
            };
            ServerStatus {
                name,
                ready,
                detail,
            }
        })
        .collect()
}

/// The one decision the dialog is waiting for (a turn asks one call at a time).
pub type PendingDecision = Arc<std::sync::Mutex<Option<oneshot::Sender<bool>>>>;

/// Asks the user through the console's dialog, showing the tool's dry-run preview first.
pub struct DialogApprover {
    pub host: Arc<McpHost>,
    pub messages: mpsc::UnboundedSender<Msg>,
    pub pending: PendingDecision,
}

#[async_trait::async_trait]
impl Approver for DialogApprover {
    async fn approve(&self, tool: &str, server: &str, arguments: &Value, reason: &str) -> bool {
        let preview = dry_run_preview(&self.host, tool, arguments).await;
        let (answer, decision) = oneshot::channel();
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some(answer);
        }
        // The dialog is on screen: no secret in the arguments or the preview.
        let request = ApprovalRequest {
            tool: tool.to_string(),
            server: server.to_string(),
            arguments: crate::trace::redact::value(arguments),
            reason: crate::trace::redact::text(reason).into_owned(),
            preview: preview.map(|p| crate::trace::redact::text(&p).into_owned()),
        };
        if self.messages.send(Msg::ApprovalRequested(request)).is_err() {
            return false;
        }
        // A dropped sender (the console quit, the turn was cancelled) is a refusal.
        decision.await.unwrap_or(false)
    }
}

/// The tool's own preview (`dry_run: true`), when its schema has that parameter.
async fn dry_run_preview(host: &McpHost, tool: &str, arguments: &Value) -> Option<String> {
    let catalog = host.catalog().await;
    let entry = catalog.iter().find(|t| t.exposed_name == tool)?;
    let has_dry_run = entry
        .tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key("dry_run"));
    if !has_dry_run {
        return None;
    }
    let mut preview_args: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
    preview_args.insert("dry_run".into(), Value::Bool(true));
    let call = host.call_tool(entry, Some(preview_args));
    let text = match tokio::time::timeout(Duration::from_secs(20), call).await {
        Err(_) => "the dry run did not answer within 20 s".to_string(),
        Ok(Err(e)) => format!("the dry run failed: {e}"),
        Ok(Ok(result)) => crate::mcp::result_texts(&result).join("\n"),
    };
    Some(text)
}
