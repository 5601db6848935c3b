//! The offline triage agent: no LLM, same tools. It recognises the common on-call
//! questions, makes the tool calls a person would, and answers from the evidence
//! with the ids and numbers it found. It never starts a destructive action: a
//! rerun question gets the dry run.

use serde_json::{Value, json};

use super::events::AgentEvent;
use super::intent::{Intent, Vocabulary, recognise};
use super::policy::{Standing, runs_without_asking};
use super::runner::ToolRunner;

const FOOTER: &str = "\n_Offline mode: answered from tool results, without an LLM._\n";

/// Answers one question. `Err` carries the message when a needed tool failed.
pub async fn answer(runner: &ToolRunner<'_>, question: &str) -> Result<String, String> {
    let vocabulary = vocabulary(runner, question).await;
    let intent = recognise(question, &vocabulary);
    tracing::info!(?intent, "offline agent");
    let body = match intent {
        Intent::WhyFailed { pipeline, run_id } => why_failed(runner, pipeline, run_id).await?,
        Intent::Status { pipeline } => status(runner, &pipeline).await?,
        Intent::WhatIsFailing { since } => what_is_failing(runner, &since).await?,
        Intent::SecretImpact { secret } => secret_impact(runner, &secret).await?,
        Intent::SecretsOverview => secrets_overview(runner).await?,
        Intent::ExplainPlan { plan } => explain_plan(runner, plan).await?,
        Intent::SummarizeErrors { since, pipeline } => {
            summarize_errors(runner, &since, pipeline).await?
        }
        Intent::Rerun { pipeline } => rerun_preview(runner, &pipeline).await?,
        Intent::ListPipelines => list_pipelines(runner).await?,
        Intent::Help => help(&vocabulary),
    };
    Ok(format!("{body}{FOOTER}"))
}

/// Pipeline, secret and plan names to recognise, read from the tools (cheap calls).
async fn vocabulary(runner: &ToolRunner<'_>, question: &str) -> Vocabulary {
    let catalog = runner.host().catalog().await;
    let has = |name: &str| catalog.iter().any(|t| t.exposed_name == name);
    let mut vocabulary = Vocabulary::default();
    if has("list_pipelines")
        && let Some(data) = quiet_call(runner, "list_pipelines").await
    {
        vocabulary.pipelines = names(&data["pipelines"], "name");
    }
    let lower = question.to_lowercase();
    let mentions_secrets = ["secret", "expir", "rotat", "credential", "password", "key"]
        .iter()
        .any(|w| lower.contains(w));
    if mentions_secrets
        && has("list_secrets")
        && let Some(data) = quiet_call(runner, "list_secrets").await
    {
        vocabulary.secrets = names(&data["secrets"], "name");
    }
    if (lower.contains("plan") || lower.contains("terraform"))
        && has("list_terraform_plans")
        && let Some(data) = quiet_call(runner, "list_terraform_plans").await
    {
        vocabulary.plans = names(&data["plans"], "name");
    }
    vocabulary
}

/// A vocabulary call: made directly on the host so it does not clutter the
/// transcript — and so only where the configuration lets it run unasked.
async fn quiet_call(runner: &ToolRunner<'_>, tool: &str) -> Option<Value> {
    let host = runner.host();
    let catalog = host.catalog().await;
    let entry = catalog.iter().find(|t| t.exposed_name == tool)?;
    let arguments = serde_json::Map::new();
    let standing = Standing::of(host.spec(&entry.server));
    if !runs_without_asking(entry, &Value::Object(arguments.clone()), standing) {
        return None;
    }
    let result = host.call_tool(entry, Some(arguments)).await.ok()?;
    (result.is_error != Some(true))
        .then_some(result.structured_content)
        .flatten()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Calls a tool; a tool error becomes `Err` with the tool's own message.
async fn need(
    runner: &ToolRunner<'_>,
    tool: &str,
    arguments: Value,
) -> Result<(String, Value), String> {
    let outcome = runner.call(tool, arguments).await;
    if outcome.is_error {
        return Err(format!("{tool} failed: {}", outcome.summary));
    }
    Ok((outcome.summary, outcome.structured.unwrap_or(Value::Null)))
}

fn list(values: &Value) -> String {
    values
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn why_failed(
    runner: &ToolRunner<'_>,
    pipeline: Option<String>,
    run_id: Option<String>,
) -> Result<String, String> {
    let args = match (&run_id, &pipeline) {
        (Some(id), _) => json!({"run_id": id}),
        (None, Some(p)) => json!({"pipeline": p}),
        (None, None) => json!({}),
    };
    let (summary, report) = need(runner, "triage_run", args).await?;
    if report.is_null() {
        return Ok(summary);
    }
    let mut out = format!(
        "## Why {} failed\n\n**Root cause** ({} confidence): {}\n\n",
        report["pipeline"].as_str().unwrap_or("the run"),
        report["confidence"].as_str().unwrap_or("?"),
        report["root_cause"].as_str().unwrap_or("unknown")
    );
    out.push_str(&format!(
        "Run `{}` ({}), category: {}.\n",
        report["run_id"].as_str().unwrap_or(""),
        report["environment"].as_str().unwrap_or(""),
        report["category"].as_str().unwrap_or("")
    ));
    if let (Some(since), Some(n)) = (
        report["failing_since"].as_str(),
        report["consecutive_failures"].as_u64(),
    ) {
        out.push_str(&format!(
            "{} has failed {n} times in a row since {since}.\n",
            report["root_cause_pipeline"].as_str().unwrap_or("")
        ));
    }
    out.push_str("\n**Evidence**\n");
    for item in report["evidence"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "- {} (from `{}`)\n",
            item["detail"].as_str().unwrap_or(""),
            item["tool"].as_str().unwrap_or("")
        ));
    }
    let clusters: Vec<&Value> = report["log_clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
        .collect();
    if !clusters.is_empty() {
        out.push_str("\n**Logs of the failing run**\n");
        for c in clusters {
            let example = c["examples"].get(0).and_then(Value::as_str).unwrap_or("");
            let first_line = example.lines().next().unwrap_or("");
            out.push_str(&format!(
                "- ×{} {}: {}\n",
                c["count"],
                c["level"].as_str().unwrap_or(""),
                crate::support::text::clip(first_line, 300)
            ));
            if let Some(cause) = example
                .lines()
                .find(|l| l.trim_start().starts_with("Caused by:"))
            {
                out.push_str(&format!("  {}\n", cause.trim()));
            }
        }
    }
    let radius = report["blast_radius"].as_array().map_or(0, Vec::len);
    out.push_str(&format!(
        "\n**Blast radius** ({radius} pipelines): {}\n",
        list(&report["blast_radius"])
    ));
    out.push_str("\n**Next steps**\n");
    for (i, step) in report["next_steps"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push_str(&format!("{}. {}\n", i + 1, step.as_str().unwrap_or("")));
    }
    Ok(out)
}

async fn status(runner: &ToolRunner<'_>, pipeline: &str) -> Result<String, String> {
    let (summary, status) =
        need(runner, "get_pipeline_status", json!({"pipeline": pipeline})).await?;
    let mut out = format!("## {pipeline}\n\n{summary}\n");
    if let Some(rate) = status["success_rate_24h"].as_f64() {
        out.push_str(&format!(
            "\nLast 24 hours: {} runs, {} failed ({:.0}% succeeded).\n",
            status["runs_24h"],
            status["failed_24h"],
            rate * 100.0
        ));
    }
    if status["state"] == "failing" {
        out.push_str(&format!(
            "\nAsk \"why did {pipeline} fail?\" for the root cause.\n"
        ));
    }
    Ok(out)
}

async fn what_is_failing(runner: &ToolRunner<'_>, since: &str) -> Result<String, String> {
    let (summary, data) = need(runner, "get_failed_tasks_summary", json!({"since": since})).await?;
    let mut out = format!("## What is failing (last {since})\n\n{summary}\n\n");
    for group in data["groups"].as_array().into_iter().flatten().take(10) {
        out.push_str(&format!(
            "- **{}/{}** ×{} (error {}), last at {}: {}\n",
            group["pipeline"].as_str().unwrap_or(""),
            group["activity"].as_str().unwrap_or(""),
            group["count"],
            group["error_code"].as_str().unwrap_or(""),
            group["last_seen"].as_str().unwrap_or(""),
            crate::support::text::clip(group["sample_message"].as_str().unwrap_or(""), 200)
        ));
    }
    if let Some(top) = data["groups"].get(0) {
        out.push_str(&format!(
            "\nAsk \"why did {} fail?\" for the root cause.\n",
            top["pipeline"].as_str().unwrap_or("")
        ));
    }
    Ok(out)
}

async fn secret_impact(runner: &ToolRunner<'_>, secret: &str) -> Result<String, String> {
    let (summary, usage) = need(runner, "get_secret_usage", json!({"secret": secret})).await?;
    let mut out = format!("## What depends on {secret}\n\n{summary}\n\n");
    for reason in usage["secret"]["risk"]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("- risk: {}\n", reason.as_str().unwrap_or("")));
    }
    out.push_str(&format!(
        "- read by connections: {}\n- pipelines that authenticate with it: {}\n- failing now: {}\n",
        usage["linked_services"]
            .as_array()
            .map_or(String::new(), |ls| ls
                .iter()
                .map(|l| format!(
                    "{} ({})",
                    l["linked_service"].as_str().unwrap_or(""),
                    l["property"].as_str().unwrap_or("")
                ))
                .collect::<Vec<_>>()
                .join(", ")),
        list(&usage["pipelines_direct"]),
        list(&usage["failing_now"])
    ));
    let downstream: Vec<&str> = usage["pipelines_downstream"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["pipeline"].as_str())
        .collect();
    out.push_str(&format!(
        "- downstream that go stale next: {}\n",
        downstream.join(", ")
    ));
    out.push_str("\nRotate it by adding a new version in Key Vault (never paste values here), then re-run the failed pipelines upstream first.\n");
    Ok(out)
}

async fn secrets_overview(runner: &ToolRunner<'_>) -> Result<String, String> {
    let (summary, data) = need(runner, "list_secrets", json!({"min_risk": "medium"})).await?;
    let mut out = format!("## Secrets that need attention\n\n{summary}\n\n");
    for secret in data["secrets"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "- **{}** ({}): {}; used by {}\n",
            secret["name"].as_str().unwrap_or(""),
            secret["risk"]["level"].as_str().unwrap_or(""),
            list(&secret["risk"]["reasons"]),
            list(&secret["used_by"])
        ));
    }
    Ok(out)
}

async fn explain_plan(runner: &ToolRunner<'_>, plan: Option<String>) -> Result<String, String> {
    let args = plan.map_or_else(|| json!({}), |p| json!({"plan": p}));
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
    runner: &ToolRunner<'_>,
    since: &str,
    pipeline: Option<String>,
) -> Result<String, String> {
    let mut args = json!({"since": since});
    if let Some(p) = &pipeline {
        args["pipeline"] = json!(p);
    }
    let (summary, data) = need(runner, "summarize_error_logs", args).await?;
    let mut out = format!(
        "## Errors in the last {since}\n\n{}\n\n",
        summary.lines().next().unwrap_or("")
    );
    for c in data["clusters"].as_array().into_iter().flatten() {
        let flag = match (c["is_new"].as_bool(), c["is_spike"].as_bool()) {
            (Some(true), _) => " **new**",
            (_, Some(true)) => " **spike**",
            _ => "",
        };
        out.push_str(&format!(
            "- ×{}{flag} `{}` (first {}, last {}; {})\n",
            c["count"],
            crate::support::text::clip(c["template"].as_str().unwrap_or(""), 240),
            c["first_seen"].as_str().unwrap_or("?"),
            c["last_seen"].as_str().unwrap_or("?"),
            list(&c["pipelines"])
        ));
    }
    Ok(out)
}

async fn rerun_preview(runner: &ToolRunner<'_>, pipeline: &str) -> Result<String, String> {
    let (summary, outcome) = need(
        runner,
        "rerun_pipeline",
        json!({"pipeline": pipeline, "dry_run": true}),
    )
    .await?;
    let mut out = format!("## Rerun {pipeline}: dry run only\n\n{summary}\n\n");
    for step in outcome["steps"].as_array().into_iter().flatten() {
        out.push_str(&format!("- {}\n", step.as_str().unwrap_or("")));
    }
    out.push_str("\nNothing was started. The offline agent never runs a destructive action on its own; to really rerun, approve `rerun_pipeline` with `dry_run: false` in the console, or call it from your MCP host.\n");
    Ok(out)
}

async fn list_pipelines(runner: &ToolRunner<'_>) -> Result<String, String> {
    let (summary, data) = need(runner, "list_pipelines", json!({})).await?;
    let mut out = format!("## Pipelines\n\n{summary}\n\n");
    for p in data["pipelines"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "- **{}** ({}): {}; {}\n",
            p["name"].as_str().unwrap_or(""),
            p["folder"].as_str().unwrap_or("-"),
            p["description"].as_str().unwrap_or(""),
            p["schedule"].as_str().unwrap_or("no schedule")
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
