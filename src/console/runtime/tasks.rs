//! The console's background work, each turning into messages: board refreshes,
//! run details and the servers' connection states. Everything fetched here is redacted before it is returned:
//! runs and details go to the screen and, as board changes, into the trace.

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::agent::policy::{SharedPolicy, Standing, runs_without_asking};
use crate::console::app::update::{Msg, ServerStatus};
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

/// Every server's `list_pipeline_runs`, asked all at once (each bounded by its
/// server's call timeout) and merged in the catalogue's order. Fails only when
/// no server could answer; the reasons name each server.
pub async fn fetch_runs(host: &McpHost, policy: &SharedPolicy) -> Result<Vec<PipelineRun>, String> {
    let catalog = host.catalog().await;
    let sources: Vec<&CatalogTool> = catalog
        .iter()
        .filter(|t| t.server_tool_name() == "list_pipeline_runs")
        .collect();
    if sources.is_empty() {
        return Err("no connected server offers list_pipeline_runs".into());
    }
    let (runs, failures) = all_at_once(&sources, |entry| async move {
        let arguments = json!({"since": BOARD_WINDOW, "limit": BOARD_LIMIT});
        runs_page(call_structured(host, policy, entry, arguments).await)
            .map_err(|reason| format!("{}: {reason}", entry.server))
    })
    .await;
    let runs: Vec<PipelineRun> = runs.into_iter().map(redact::run).collect();
    if runs.is_empty() && !failures.is_empty() {
        return Err(redacted(failures.join("; ")));
    }
    if !failures.is_empty() {
        let failures = redacted(failures.join("; "));
        tracing::warn!(%failures, "some servers did not refresh the board");
    }
    Ok(runs)
}

/// Asks every source at once (a slow server delays only its own page) and
/// gathers the pages in the sources' order, and the reasons of those that failed.
async fn all_at_once<'a, S, F, Fut>(sources: &'a [S], fetch: F) -> (Vec<PipelineRun>, Vec<String>)
where
    F: Fn(&'a S) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<PipelineRun>, String>>,
{
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for page in futures::future::join_all(sources.iter().map(fetch)).await {
        match page {
            Ok(page) => runs.extend(page),
            Err(reason) => failures.push(reason),
        }
    }
    (runs, failures)
}

/// The runs in one server's answer, or why there are none.
fn runs_page(answer: Result<Value, String>) -> Result<Vec<PipelineRun>, String> {
    match answer?
        .get("runs")
        .cloned()
        .map(serde_json::from_value::<Vec<PipelineRun>>)
    {
        Some(Ok(page)) => Ok(page),
        Some(Err(e)) => Err(format!("runs in an unexpected shape ({e})")),
        None => Err("the answer has no runs".into()),
    }
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

/// Why a look failed, and whether asking again could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookError {
    pub reason: String,
    /// Asking again cannot help (the server may not be read without asking a
    /// person): the follower gives up at once instead of after its retries.
    pub permanent: bool,
}

impl LookError {
    pub fn passing(reason: impl Into<String>) -> LookError {
        LookError {
            reason: reason.into(),
            permanent: false,
        }
    }
}

/// The run as `get_run_details` on `server` shows it now (redacted): what the
/// follower of a run opsdeck started asks. Only the server that started the
/// run is asked: another server's run of the same id is not this run.
pub async fn fetch_run_on(
    host: &McpHost,
    policy: &SharedPolicy,
    server: &str,
    run_id: &str,
) -> Result<PipelineRun, LookError> {
    let catalog = host.catalog().await;
    let Some(entry) = catalog
        .iter()
        .find(|t| t.server == server && t.server_tool_name() == "get_run_details")
    else {
        return Err(LookError::passing(format!(
            "server '{server}' offers no get_run_details now (down, or it has no such tool)"
        )));
    };
    let arguments = json!({"run_id": run_id});
    // A read that would need a person's approval is refused every time: not worth retrying.
    if let Err(reason) = may_read(host, policy, entry, &arguments) {
        return Err(LookError {
            reason,
            permanent: true,
        });
    }
    let details = call_structured(host, policy, entry, arguments)
        .await
        .map_err(LookError::passing)?;
    let run = details
        .get("run")
        .cloned()
        .ok_or_else(|| LookError::passing("the details name no run"))?;
    serde_json::from_value::<PipelineRun>(run)
        .map(redact::run)
        .map_err(|e| LookError::passing(redacted(format!("the run in an unexpected shape ({e})"))))
}

/// The console's own reads ask nobody, so they go only where nobody would be asked.
fn may_read(
    host: &McpHost,
    policy: &SharedPolicy,
    entry: &CatalogTool,
    arguments: &Value,
) -> Result<(), String> {
    let standing = Standing::of(host.spec(&entry.server));
    if !runs_without_asking(entry, arguments, standing) {
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
    Ok(())
}

/// Calls a tool and returns its structured content; a tool error is an error with its text.
async fn call_structured(
    host: &McpHost,
    policy: &SharedPolicy,
    entry: &CatalogTool,
    arguments: Value,
) -> Result<Value, String> {
    may_read(host, policy, entry, &arguments)?;
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
fn statuses(states: Vec<(String, ConnectionState)>) -> Vec<ServerStatus> {
    states
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

/// Sends [`Msg::Servers`] whenever a server's connection state changes, from
/// the host's watch channels (no polling). Ends when the console stops
/// listening or every server's channel is closed (the host is gone).
pub async fn watch_servers(
    mut servers: Vec<(String, watch::Receiver<ConnectionState>)>,
    messages: mpsc::UnboundedSender<Msg>,
) {
    let mut shown: Option<Vec<ServerStatus>> = None;
    // A closed channel keeps its last state on screen but is no longer waited on.
    let mut open = vec![true; servers.len()];
    loop {
        let current = statuses(
            servers
                .iter_mut()
                .map(|(name, state)| (name.clone(), state.borrow_and_update().clone()))
                .collect(),
        );
        if shown.as_ref() != Some(&current) {
            if messages.send(Msg::Servers(current.clone())).is_err() {
                return;
            }
            shown = Some(current);
        }
        let waits: Vec<_> = servers
            .iter_mut()
            .zip(&open)
            .enumerate()
            .filter(|(_, (_, open))| **open)
            .map(|(i, ((_, state), _))| Box::pin(async move { (i, state.changed().await) }))
            .collect();
        if waits.is_empty() {
            return;
        }
        let ((index, outcome), _, _) = futures::future::select_all(waits).await;
        if outcome.is_err() {
            open[index] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_board_asks_every_server_at_once() {
        // Each server answers only once all three have been asked: asked one
        // after another, the first would wait forever.
        let all_asked = tokio::sync::Barrier::new(3);
        let sources = ["a", "b", "c"];
        let fetch = all_at_once(&sources, |name| {
            let all_asked = &all_asked;
            async move {
                all_asked.wait().await;
                if *name == "b" {
                    return Err(format!("{name}: timed out"));
                }
                let run = json!({
                    "run_id": format!("{name}-1"), "pipeline": "p", "backend": "sandbox",
                    "environment": "dev", "status": "Succeeded",
                    "invoked_by": {"name": "t", "kind": "Manual"}, "message": ""
                });
                serde_json::from_value::<PipelineRun>(run)
                    .map(|run| vec![run])
                    .map_err(|e| e.to_string())
            }
        });
        let (runs, failures) = tokio::time::timeout(Duration::from_secs(10), fetch)
            .await
            .expect("the servers are asked together, not one after another");
        let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["a-1", "c-1"], "pages in the servers' order");
        assert_eq!(failures, ["b: timed out"]);
    }

    #[tokio::test]
    async fn a_state_change_reaches_the_status_bar_without_polling() {
        let (set_a, state_a) = watch::channel(ConnectionState::Connecting);
        let (set_b, state_b) = watch::channel(ConnectionState::Ready { tools: 3 });
        let (messages, mut inbox) = mpsc::unbounded_channel();
        let watching = tokio::spawn(watch_servers(
            vec![("a".into(), state_a), ("b".into(), state_b)],
            messages,
        ));
        let Some(Msg::Servers(first)) = inbox.recv().await else {
            panic!("no first status");
        };
        assert_eq!(first[0].detail, "connecting…");
        assert_eq!(first[1].detail, "ready · 3 tools");
        set_a.send(ConnectionState::Ready { tools: 20 }).unwrap();
        let Some(Msg::Servers(next)) = inbox.recv().await else {
            panic!("no change reported");
        };
        assert!(next[0].ready && next[0].detail == "ready · 20 tools");
        // A channel closed does not stop the others' reports.
        drop(set_b);
        set_a.send(ConnectionState::Stopped).unwrap();
        let Some(Msg::Servers(last)) = inbox.recv().await else {
            panic!("no change after a channel closed");
        };
        assert_eq!(last[0].detail, "stopped");
        assert_eq!(
            last[1].detail, "ready · 3 tools",
            "the last state stays shown"
        );
        drop(set_a);
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(5), watching)
                .await
                .is_ok(),
            "the watch ends with its servers"
        );
    }
}
