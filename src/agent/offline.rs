//! The offline triage agent: no LLM, same tools. It recognises the common on-call
//! questions, makes the tool calls a person would, and answers from the evidence
//! with the ids and numbers it found. It never starts a destructive action: a
//! rerun question gets the dry run.
//!
//! Every result is read as its type in the tool-result contract
//! (`model::contract`). A result that does not read (a field renamed or
//! missing) is an error that says so, never an answer with blanks in it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::events::AgentEvent;
use super::intent::follow_up::{Context, recognise_follow_up};
use super::intent::{Intent, Vocabulary, recognise};
use super::policy::{Standing, runs_without_asking};
use super::runner::{ToolOutcome, ToolRunner};
use crate::model::contract::{
    DependenciesResult, FailuresResult, ListPipelinesResult, ListSecretsResult, PipelineStatus,
    PlansResult, RemediationOutcome, SecretUsage, SummarizeResult, TriageReport, WhatChangedResult,
};
use crate::support::sync::lock;
use crate::support::text::clip;
use std::sync::Mutex;

const FOOTER: &str = "\n_Offline mode: answered from tool results, without an LLM._\n";

/// A call the offline agent made, as the conversation keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeCall {
    pub tool: String,
    /// The arguments as JSON text.
    pub arguments: String,
    /// What the runner gave back for a model to read.
    pub result: String,
}

/// The answer (or why there is none) and the calls made on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub answer: Result<String, String>,
    pub calls: Vec<MadeCall>,
}

/// The runner, keeping what each call returned for the conversation.
struct Recording<'r, 'h> {
    runner: &'r ToolRunner<'h>,
    made: Mutex<Vec<MadeCall>>,
}

impl Recording<'_, '_> {
    fn host(&self) -> &crate::mcp::McpHost {
        self.runner.host()
    }

    async fn call(&self, tool: &str, arguments: Value) -> ToolOutcome {
        let text = arguments.to_string();
        let outcome = self.runner.call(tool, arguments).await;
        lock(&self.made).push(MadeCall {
            tool: tool.to_string(),
            arguments: text,
            result: outcome.for_model.clone(),
        });
        outcome
    }
}

/// Answers one question; `context` is what the conversation so far is about,
/// for a question that refers back to it. `Err` carries the message when a
/// needed tool failed, answered in a shape this agent cannot read, or a
/// follow-up has nothing to refer to.
pub async fn answer(runner: &ToolRunner<'_>, question: &str, context: &Context) -> Answered {
    let recording = Recording {
        runner,
        made: Mutex::new(Vec::new()),
    };
    let answer = answer_with(&recording, question, context).await;
    Answered {
        answer,
        calls: recording
            .made
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
    }
}

async fn answer_with(
    runner: &Recording<'_, '_>,
    question: &str,
    context: &Context,
) -> Result<String, String> {
    let vocabulary = vocabulary(runner, question).await;
    let intent = intent_for(question, &vocabulary, context)?;
    tracing::info!(?intent, "offline agent");
    let body = match intent {
        Intent::WhyFailed { pipeline, run_id } => why_failed(runner, pipeline, run_id).await?,
        Intent::Status { pipeline } => status(runner, &pipeline).await?,
        Intent::WhatIsFailing {
            since,
            until,
            pipeline,
        } => what_is_failing(runner, &since, until, pipeline).await?,
        Intent::SecretImpact { secret } => secret_impact(runner, &secret).await?,
        Intent::SecretsOverview => secrets_overview(runner).await?,
        Intent::ExplainPlan { plan } => explain_plan(runner, plan).await?,
        Intent::SummarizeErrors {
            since,
            until,
            pipeline,
        } => summarize_errors(runner, &since, until, pipeline).await?,
        Intent::Rerun { pipeline } => rerun_preview(runner, &pipeline).await?,
        Intent::Downstream { pipeline } => downstream(runner, &pipeline).await?,
        Intent::WhatChanged {
            since,
            until,
            pipeline,
        } => what_changed(runner, &since, until, pipeline).await?,
        Intent::ListPipelines => list_pipelines(runner).await?,
        Intent::Help => help(&vocabulary),
    };
    Ok(format!("{body}{FOOTER}"))
}

/// What the question asks, read against the conversation: a follow-up gets
/// the subject it refers to; a question that stands alone is recognised as
/// it is, and "what changed?" is scoped to the pipeline just discussed.
fn intent_for(
    question: &str,
    vocabulary: &Vocabulary,
    context: &Context,
) -> Result<Intent, String> {
    match recognise_follow_up(question, vocabulary, context) {
        // A follow-up keeps the scope it was given ("what about yesterday?"
        // after "what changed everywhere?" is everywhere).
        Some(follow_up) => follow_up,
        None => Ok(scoped_to_the_subject(
            recognise(question, vocabulary),
            question,
            context,
        )),
    }
}

/// Pipeline, secret and plan names to recognise, read from the tools (cheap calls).
async fn vocabulary(runner: &Recording<'_, '_>, question: &str) -> Vocabulary {
    let catalog = runner.host().catalog().await;
    let has = |name: &str| catalog.iter().any(|t| t.exposed_name == name);
    let mut vocabulary = Vocabulary::default();
    if has("list_pipelines")
        && let Some(data) = quiet_call::<ListPipelinesResult>(runner, "list_pipelines").await
    {
        vocabulary.pipelines = data.pipelines.into_iter().map(|p| p.name).collect();
    }
    let lower = question.to_lowercase();
    let mentions_secrets = ["secret", "expir", "rotat", "credential", "password", "key"]
        .iter()
        .any(|w| lower.contains(w));
    if mentions_secrets
        && has("list_secrets")
        && let Some(data) = quiet_call::<ListSecretsResult>(runner, "list_secrets").await
    {
        vocabulary.secrets = data.secrets.into_iter().map(|s| s.meta.name).collect();
    }
    if (lower.contains("plan") || lower.contains("terraform"))
        && has("list_terraform_plans")
        && let Some(data) = quiet_call::<PlansResult>(runner, "list_terraform_plans").await
    {
        vocabulary.plans = data.plans.into_iter().map(|p| p.name).collect();
    }
    vocabulary
}

/// A vocabulary call: made directly on the host so it does not clutter the
/// transcript — and so only where the configuration lets it run unasked. A
/// result that does not read only leaves the names unknown (and is logged).
async fn quiet_call<T: DeserializeOwned>(runner: &Recording<'_, '_>, tool: &str) -> Option<T> {
    let host = runner.host();
    let catalog = host.catalog().await;
    let entry = catalog.iter().find(|t| t.exposed_name == tool)?;
    let arguments = serde_json::Map::new();
    let standing = Standing::of(host.spec(&entry.server));
    if !runs_without_asking(entry, &Value::Object(arguments.clone()), standing) {
        return None;
    }
    let result = host.call_tool(entry, Some(arguments)).await.ok()?;
    if result.is_error == Some(true) {
        return None;
    }
    match read_structured(tool, result.structured_content) {
        Ok(data) => data,
        Err(problem) => {
            tracing::warn!(%problem, "offline agent: names not read");
            None
        }
    }
}

/// Reads a structured result as its contract type. No structured result at
/// all leaves only the summary to answer from; one that does not read is an
/// error naming the tool and what did not fit.
fn read_structured<T: DeserializeOwned>(
    tool: &str,
    structured: Option<Value>,
) -> Result<Option<T>, String> {
    match structured {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value).map(Some).map_err(|e| {
            format!(
                "could not read the result of {tool}: {e}. The server answers in a shape this version of opsdeck does not know, so no answer is made from it"
            )
        }),
    }
}

/// A tool's outcome as its summary and its result; a tool error, or a result
/// that does not read, is `Err` with a message saying which.
fn typed<T: DeserializeOwned>(
    tool: &str,
    outcome: ToolOutcome,
) -> Result<(String, Option<T>), String> {
    if outcome.is_error {
        return Err(format!("{tool} failed: {}", outcome.summary));
    }
    let data = read_structured(tool, outcome.structured)
        .map_err(|problem| format!("{problem}; its summary said: {}", outcome.summary))?;
    Ok((outcome.summary, data))
}

/// Calls a tool and reads its result as `T`.
async fn need<T: DeserializeOwned>(
    runner: &Recording<'_, '_>,
    tool: &str,
    arguments: Value,
) -> Result<(String, Option<T>), String> {
    typed(tool, runner.call(tool, arguments).await)
}

/// How a value is written in the result (`expired_credential`, `ERROR`, `high`).
fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

/// An instant as the result writes it; `absent` when there is none.
fn instant(at: Option<DateTime<Utc>>, absent: &str) -> String {
    at.map_or_else(
        || absent.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

async fn why_failed(
    runner: &Recording<'_, '_>,
    pipeline: Option<String>,
    run_id: Option<String>,
) -> Result<String, String> {
    let args = match (&run_id, &pipeline) {
        (Some(id), _) => json!({"run_id": id}),
        (None, Some(p)) => json!({"pipeline": p}),
        (None, None) => json!({}),
    };
    let (summary, report) = need::<TriageReport>(runner, "triage_run", args).await?;
    Ok(match report {
        Some(report) => triage_answer(&report),
        None => summary,
    })
}

fn triage_answer(report: &TriageReport) -> String {
    let mut out = format!(
        "## Why {} failed\n\n**Root cause** ({} confidence): {}\n\n",
        report.pipeline, report.confidence, report.root_cause
    );
    out.push_str(&format!(
        "Run `{}` ({}), category: {}.\n",
        report.run_id,
        report.environment,
        wire_name(&report.category)
    ));
    if let Some(since) = report.failing_since {
        out.push_str(&format!(
            "{} has failed {} times in a row since {}.\n",
            report.root_cause_pipeline,
            report.consecutive_failures,
            instant(Some(since), "")
        ));
    }
    out.push_str("\n**Evidence**\n");
    for item in &report.evidence {
        out.push_str(&format!("- {} (from `{}`)\n", item.detail, item.tool));
    }
    if !report.log_clusters.is_empty() {
        out.push_str("\n**Logs of the failing run**\n");
        for c in report.log_clusters.iter().take(3) {
            let example = c.examples.first().map_or("", String::as_str);
            let first_line = example.lines().next().unwrap_or("");
            out.push_str(&format!(
                "- ×{} {}: {}\n",
                c.count,
                wire_name(&c.level),
                clip(first_line, 300)
            ));
            if let Some(cause) = example
                .lines()
                .find(|l| l.trim_start().starts_with("Caused by:"))
            {
                out.push_str(&format!("  {}\n", cause.trim()));
            }
        }
    }
    out.push_str(&format!(
        "\n**Blast radius** ({} pipelines): {}\n",
        report.blast_radius.len(),
        report.blast_radius.join(", ")
    ));
    out.push_str("\n**Next steps**\n");
    for (i, step) in report.next_steps.iter().enumerate() {
        out.push_str(&format!("{}. {step}\n", i + 1));
    }
    out
}

async fn status(runner: &Recording<'_, '_>, pipeline: &str) -> Result<String, String> {
    let (summary, status) =
        need::<PipelineStatus>(runner, "get_pipeline_status", json!({"pipeline": pipeline}))
            .await?;
    let mut out = format!("## {pipeline}\n\n{summary}\n");
    let Some(status) = status else {
        return Ok(out);
    };
    if let Some(rate) = status.success_rate_24h {
        out.push_str(&format!(
            "\nLast 24 hours: {} runs, {} failed ({:.0}% succeeded).\n",
            status.runs_24h,
            status.failed_24h,
            rate * 100.0
        ));
    }
    if status.state == "failing" {
        out.push_str(&format!(
            "\nAsk \"why did {pipeline} fail?\" for the root cause.\n"
        ));
    }
    Ok(out)
}

async fn what_is_failing(
    runner: &Recording<'_, '_>,
    since: &str,
    until: Option<String>,
    pipeline: Option<String>,
) -> Result<String, String> {
    let args = window_arguments(since, until.as_deref(), pipeline.as_deref());
    let title = window_title(since, until.as_deref(), pipeline.as_deref());
    let (summary, data) = need::<FailuresResult>(runner, "get_failed_tasks_summary", args).await?;
    let mut out = format!("## What is failing ({title})\n\n{summary}\n\n");
    let groups = data.map(|d| d.groups).unwrap_or_default();
    for group in groups.iter().take(10) {
        out.push_str(&format!(
            "- **{}/{}** ×{} (error {}), last at {}: {}\n",
            group.pipeline,
            group.activity,
            group.count,
            group.error_code,
            instant(group.last_seen, ""),
            clip(&group.sample_message, 200)
        ));
    }
    if let Some(top) = groups.first() {
        out.push_str(&format!(
            "\nAsk \"why did {} fail?\" for the root cause.\n",
            top.pipeline
        ));
    }
    Ok(out)
}

async fn secret_impact(runner: &Recording<'_, '_>, secret: &str) -> Result<String, String> {
    let (summary, usage) =
        need::<SecretUsage>(runner, "get_secret_usage", json!({"secret": secret})).await?;
    let mut out = format!("## What depends on {secret}\n\n{summary}\n\n");
    if let Some(usage) = usage {
        out.push_str(&secret_usage_lines(&usage));
    }
    out.push_str("\nRotate it by adding a new version in Key Vault (never paste values here), then re-run the failed pipelines upstream first.\n");
    Ok(out)
}

fn secret_usage_lines(usage: &SecretUsage) -> String {
    let mut out = String::new();
    for reason in &usage.secret.risk.reasons {
        out.push_str(&format!("- risk: {reason}\n"));
    }
    let connections: Vec<String> = usage
        .linked_services
        .iter()
        .map(|l| format!("{} ({})", l.linked_service, l.property))
        .collect();
    out.push_str(&format!(
        "- read by connections: {}\n- pipelines that authenticate with it: {}\n- failing now: {}\n",
        connections.join(", "),
        usage.pipelines_direct.join(", "),
        usage.failing_now.join(", ")
    ));
    let downstream: Vec<&str> = usage
        .pipelines_downstream
        .iter()
        .map(|r| r.pipeline.as_str())
        .collect();
    out.push_str(&format!(
        "- downstream that go stale next: {}\n",
        downstream.join(", ")
    ));
    out
}

async fn secrets_overview(runner: &Recording<'_, '_>) -> Result<String, String> {
    let (summary, data) =
        need::<ListSecretsResult>(runner, "list_secrets", json!({"min_risk": "medium"})).await?;
    let mut out = format!("## Secrets that need attention\n\n{summary}\n\n");
    for secret in data.map(|d| d.secrets).unwrap_or_default() {
        out.push_str(&format!(
            "- **{}** ({}): {}; used by {}\n",
            secret.meta.name,
            wire_name(&secret.risk.level),
            secret.risk.reasons.join(", "),
            secret.used_by.join(", ")
        ));
    }
    Ok(out)
}

async fn explain_plan(runner: &Recording<'_, '_>, plan: Option<String>) -> Result<String, String> {
    let args = plan.map_or_else(|| json!({}), |p| json!({"plan": p}));
    // Only the summary is read: the plan review is written there in full.
    let outcome = runner.call("explain_plan_diff", args).await;
    if outcome.is_error {
        // Several plans and none named: the tool lists them; say so plainly.
        return Ok(format!(
            "## Terraform plans\n\n{}\n\nName one: \"explain the terraform plan <name>\".\n",
            outcome.summary
        ));
    }
    Ok(format!("## Terraform plan review\n\n{}\n", outcome.summary))
}

async fn summarize_errors(
    runner: &Recording<'_, '_>,
    since: &str,
    until: Option<String>,
    pipeline: Option<String>,
) -> Result<String, String> {
    let args = window_arguments(since, until.as_deref(), pipeline.as_deref());
    let (summary, data) = need::<SummarizeResult>(runner, "summarize_error_logs", args).await?;
    let mut out = format!(
        "## Errors ({})\n\n{}\n\n",
        window_title(since, until.as_deref(), pipeline.as_deref()),
        summary.lines().next().unwrap_or("")
    );
    for c in data.map(|d| d.clusters).unwrap_or_default() {
        let flag = match (c.is_new, c.is_spike) {
            (true, _) => " **new**",
            (_, true) => " **spike**",
            _ => "",
        };
        out.push_str(&format!(
            "- ×{}{flag} `{}` (first {}, last {}; {})\n",
            c.count,
            clip(&c.template, 240),
            instant(c.first_seen, "?"),
            instant(c.last_seen, "?"),
            c.pipelines.join(", ")
        ));
    }
    Ok(out)
}

async fn rerun_preview(runner: &Recording<'_, '_>, pipeline: &str) -> Result<String, String> {
    let (summary, outcome) = need::<RemediationOutcome>(
        runner,
        "rerun_pipeline",
        json!({"pipeline": pipeline, "dry_run": true}),
    )
    .await?;
    let mut out = format!("## Rerun {pipeline}: dry run only\n\n{summary}\n\n");
    for step in outcome.map(|o| o.steps).unwrap_or_default() {
        out.push_str(&format!("- {step}\n"));
    }
    out.push_str("\nNothing was started. The offline agent never runs a destructive action on its own; to really rerun, approve `rerun_pipeline` with `dry_run: false` in the console, or call it from your MCP host.\n");
    Ok(out)
}

async fn downstream(runner: &Recording<'_, '_>, pipeline: &str) -> Result<String, String> {
    let (summary, data) = need::<DependenciesResult>(
        runner,
        "get_pipeline_dependencies",
        json!({"pipeline": pipeline}),
    )
    .await?;
    let mut out = format!("## Downstream of {pipeline}\n\n{summary}\n\n");
    let Some(data) = data else {
        return Ok(out);
    };
    if data.downstream.is_empty() {
        out.push_str("Nothing downstream reads what it writes.\n");
    }
    for reached in &data.downstream {
        let hops = if reached.distance == 1 {
            "direct".to_string()
        } else {
            format!("{} hops", reached.distance)
        };
        out.push_str(&format!("- **{}** ({hops})\n", reached.pipeline));
    }
    if !data.downstream.is_empty() && !data.datasets_written.is_empty() {
        out.push_str(&format!(
            "\nIt writes: {}. Those readers go stale until it succeeds again.\n",
            data.datasets_written.join(", ")
        ));
    }
    Ok(out)
}

/// "what changed?" right after a question about a pipeline means what that
/// pipeline touches; "what changed everywhere?" (or no subject yet) means all.
fn scoped_to_the_subject(intent: Intent, question: &str, context: &Context) -> Intent {
    let everywhere = [
        "everywhere",
        "anywhere",
        "estate",
        "all ",
        "anything",
        "overall",
    ]
    .iter()
    .any(|w| question.to_lowercase().contains(w));
    match intent {
        Intent::WhatChanged {
            since,
            until,
            pipeline: None,
        } if !everywhere => Intent::WhatChanged {
            since,
            until,
            pipeline: context.pipeline.clone(),
        },
        other => other,
    }
}

/// A window's arguments for `what_changed` and `summarize_error_logs`:
/// `since`/`until` (durations back from now, as their schemas take them)
/// and the pipeline it is scoped to.
fn window_arguments(since: &str, until: Option<&str>, pipeline: Option<&str>) -> Value {
    let mut args = json!({"since": since});
    if let Some(until) = until {
        args["until"] = json!(until);
    }
    if let Some(p) = pipeline {
        args["pipeline"] = json!(p);
    }
    args
}

/// "last 6h", "from 48h to 24h ago", with the pipeline first when there is one.
fn window_title(since: &str, until: Option<&str>, pipeline: Option<&str>) -> String {
    let window = match until {
        Some(until) => format!("from {since} to {until} ago"),
        None => format!("last {since}"),
    };
    match pipeline {
        Some(pipeline) => format!("{pipeline}, {window}"),
        None => window,
    }
}

async fn what_changed(
    runner: &Recording<'_, '_>,
    since: &str,
    until: Option<String>,
    pipeline: Option<String>,
) -> Result<String, String> {
    let args = window_arguments(since, until.as_deref(), pipeline.as_deref());
    let (summary, data) = need::<WhatChangedResult>(runner, "what_changed", args).await?;
    let scope = pipeline
        .as_deref()
        .map(|p| format!(" to what {p} touches"))
        .unwrap_or_default();
    let window = window_title(since, until.as_deref(), None);
    let mut out = format!("## What changed ({window}){scope}\n\n{summary}\n\n");
    let Some(data) = data else {
        return Ok(out);
    };
    for change in &data.changes {
        out.push_str(&format!(
            "- {} **{}** by {}: {} ({}{})\n",
            instant(Some(change.at), ""),
            change.resource,
            change.actor,
            clip(&change.summary, 240),
            change.source,
            change
                .origin
                .as_deref()
                .map(|o| format!(", from {o}"))
                .unwrap_or_default()
        ));
    }
    if data.more > 0 {
        out.push_str(&format!("- … and {} more\n", data.more));
    }
    for gap in &data.gaps {
        out.push_str(&format!("\nNot read: {} ({})\n", gap.what, gap.why));
    }
    if pipeline.is_some() {
        out.push_str(
            "\nAsk \"what changed everywhere?\" for changes outside this pipeline's resources.\n",
        );
    }
    Ok(out)
}

async fn list_pipelines(runner: &Recording<'_, '_>) -> Result<String, String> {
    let (summary, data) = need::<ListPipelinesResult>(runner, "list_pipelines", json!({})).await?;
    let mut out = format!("## Pipelines\n\n{summary}\n\n");
    for p in data.map(|d| d.pipelines).unwrap_or_default() {
        out.push_str(&format!(
            "- **{}** ({}): {}; {}\n",
            p.name,
            p.folder.as_deref().unwrap_or("-"),
            p.description.as_deref().unwrap_or(""),
            p.schedule.as_deref().unwrap_or("no schedule")
        ));
    }
    Ok(out)
}

fn help(vocabulary: &Vocabulary) -> String {
    let example = vocabulary
        .pipelines
        .first()
        .map_or("transform_sales", String::as_str);
    format!(
        "I am the offline agent (no LLM is configured), so I answer these questions:\n\
         - why did {example} fail?  (or: why did run <run id> fail?)\n\
         - status of {example}\n\
         - what is failing?  (in the last 6 hours, overnight…)\n\
         - what breaks if <secret> expires?  /  which secrets expire soon?\n\
         - explain the terraform plan\n\
         - summarise errors in the last 3 hours\n\
         - rerun {example}  (a dry run only)\n\
         - follow-ups on the last pipeline, run or secret: and downstream? · rerun it · what about yesterday?\n\
         - list pipelines\n\
         {}Set OPENAI_API_KEY (or the AZURE_OPENAI_* variables) for free-form questions.\n",
        if vocabulary.pipelines.is_empty() {
            String::new()
        } else {
            format!("Known pipelines: {}.\n", vocabulary.pipelines.join(", "))
        }
    )
}

/// Streams an answer as text deltas, a line at a time.
pub fn stream_answer(answer: &str, events: &tokio::sync::mpsc::UnboundedSender<AgentEvent>) {
    for line in answer.split_inclusive('\n') {
        let _ = events.send(AgentEvent::TextDelta {
            text: line.to_string(),
        });
    }
}

#[cfg(test)]
mod tests;
