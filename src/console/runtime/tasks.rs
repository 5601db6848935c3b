//! The console's background work, each turning into messages: board refreshes
//! and run details. Everything fetched here is redacted before it is returned:
//! runs and details go to the screen and, as board changes, into the trace.

use serde_json::{Value, json};

use crate::agent::policy::{SharedPolicy, Standing, runs_without_asking};
use crate::console::app::update::ServerStatus;
use crate::mcp::catalog::CatalogTool;
use crate::mcp::{ConnectionState, McpHost};
use crate::model::run::PipelineRun;
use crate::trace::redact;

/// A reason for the screen: servers' error texts and serde's messages quote
/// the values they choke on.
fn redacted(reason: String) -> String {
    match redact::text(&reason) {
        std::borrow::Cow::Borrowed(_) => reason,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

/// The board's window and page: the last day, as many runs as a page holds.
const BOARD_WINDOW: &str = "24h";
const BOARD_LIMIT: u64 = 500;

/// Every server's `list_pipeline_runs`, merged. Fails only when no server could
/// answer; the reasons name each server.
pub async fn fetch_runs(host: &McpHost, policy: &SharedPolicy) -> Result<Vec<PipelineRun>, String> {
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
        match call_structured(host, policy, entry, arguments).await {
            Ok(value) => match value
                .get("runs")
                .cloned()
                .map(serde_json::from_value::<Vec<PipelineRun>>)
            {
                Some(Ok(page)) => runs.extend(page.into_iter().map(redact::run)),
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
        return Err(redacted(failures.join("; ")));
    }
    if !failures.is_empty() {
        let failures = redacted(failures.join("; "));
        tracing::warn!(%failures, "some servers did not refresh the board");
    }
    Ok(runs)
}

/// `get_run_details` from the first server that knows the run.
pub async fn fetch_run_details(
    host: &McpHost,
    policy: &SharedPolicy,
    run_id: &str,
) -> Result<Value, String> {
    let catalog = host.catalog().await;
    let mut reasons = Vec::new();
    for entry in catalog
        .iter()
        .filter(|t| t.server_tool_name() == "get_run_details")
    {
        match call_structured(host, policy, entry, json!({"run_id": run_id})).await {
            Ok(value) => return Ok(redact::value(&value)),
            Err(reason) => reasons.push(format!("{}: {reason}", entry.server)),
        }
    }
    if reasons.is_empty() {
        Err("no connected server offers get_run_details".into())
    } else {
        Err(redacted(reasons.join("; ")))
    }
}

/// Calls a tool and returns its structured content; a tool error is an error with its text.
async fn call_structured(
    host: &McpHost,
    policy: &SharedPolicy,
    entry: &CatalogTool,
    arguments: Value,
) -> Result<Value, String> {
    // The console's own reads ask nobody, so they go only where nobody would be asked.
    let standing = Standing::of(host.spec(&entry.server));
    if !runs_without_asking(entry, &arguments, standing) {
        return Err(format!(
            "not read: server '{}' is not trusted, so its {} is not called without approval (mark the server trusted, or name the tool in its alwaysAllow)",
            entry.server,
            entry.server_tool_name()
        ));
    }
    if !policy.with(|p| p.unchanged(entry)) {
        return Err(format!(
            "not read: {} on server '{}' changed its definition since it was first seen this session; it is called again once a person approves a call of the new definition",
            entry.server_tool_name(),
            entry.server
        ));
    }
    let result = host
        .call_tool(entry, arguments.as_object().cloned())
        .await
        .map_err(|e| redacted(e.to_string()))?;
    let text = crate::mcp::result_texts(&result);
    if result.is_error == Some(true) {
        // Redacted before it is clipped: a clip could cut a secret out of its pattern.
        return Err(crate::support::text::clip(
            &redact::text(&text.join(" ")),
            300,
        ));
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
                        crate::support::text::clip(&redact::text(&error), 80),
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
