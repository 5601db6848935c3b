//! `triage_run`: from a failed run to its root cause, with the evidence.
//!
//! The walk: the run's failing activity (descending into child runs started by
//! ExecutePipeline) → its error, classified → if the input was stale, the
//! upstream writer's own failure, recursively → the secrets behind the failing
//! connections → the run's log templates → resources and pending plans → the
//! blast radius downstream → next steps for that kind of failure.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::logs::ClusterBrief;
use super::runs::failed_leaf_activities;
use crate::backends::RunQuery;
use crate::model::log::LogLevel;
use crate::model::run::{PipelineRun, RunStatus};
use crate::model::secret::SecretRiskLevel;
use crate::model::time::TimeWindow;
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, clip, respond};
use crate::triage::classify::{FailureCategory, classify};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TriageParams {
    /// The failed run to triage.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Or a pipeline: its latest failed run is triaged.
    #[serde(default)]
    pub pipeline: Option<String>,
}

/// One hop on the way from the triaged run to the failing activity.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailureStep {
    pub pipeline: String,
    pub run_id: String,
    pub activity: String,
    pub activity_type: String,
    pub error_code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Evidence {
    /// `error`, `upstream`, `secret`, `logs`, `history`, `infra`, `volume`.
    pub kind: String,
    pub detail: String,
    /// The tool that shows it in full.
    pub tool: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SecretFinding {
    pub secret: String,
    pub risk: SecretRiskLevel,
    pub reasons: Vec<String>,
    pub expires: Option<DateTime<Utc>>,
    /// Why it is connected to this failure.
    pub link: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TriageReport {
    pub run_id: String,
    pub pipeline: String,
    pub environment: String,
    pub status: RunStatus,
    /// From the triaged run down to the failing activity.
    pub failing_path: Vec<FailureStep>,
    pub category: FailureCategory,
    /// The root cause as best the evidence shows, in one sentence.
    pub root_cause: String,
    /// Where the root cause lives when it is upstream of the triaged run.
    pub root_cause_pipeline: String,
    /// `high` when corroborated by independent evidence, `medium` when the error alone says it, `low` otherwise.
    pub confidence: String,
    pub evidence: Vec<Evidence>,
    pub secrets: Vec<SecretFinding>,
    pub log_clusters: Vec<ClusterBrief>,
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: usize,
    /// Pipelines that depend on the root-cause pipeline and fail or go stale with it.
    pub blast_radius: Vec<String>,
    pub next_steps: Vec<String>,
}

#[tool_router(router = triage_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Triage a failed run: find the failing activity (through child runs), classify the error, follow stale inputs upstream to the real cause, check the secrets and resources behind the failing connections, cluster the run's logs, and list the blast radius and next steps. Give run_id, or pipeline for its latest failed run.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<TriageReport>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn triage_run(&self, Parameters(params): Parameters<TriageParams>) -> ToolResult {
        respond(self.triage_body(params).await)
    }
}

/// What the walk found in one pipeline's failure.
struct Diagnosis {
    path: Vec<FailureStep>,
    category: FailureCategory,
    matched: Option<&'static str>,
    pipeline: String,
    run_id: String,
}

impl OpsdeckServer {
    async fn triage_body(&self, params: TriageParams) -> Outcome<TriageReport> {
        let run = match (&params.run_id, &params.pipeline) {
            (Some(id), _) => self.backends().find_run(id).await?.1,
            (None, Some(pipeline)) => self.latest_failed_run(pipeline).await?,
            (None, None) => {
                return Err(ToolError::invalid(
                    "give run_id (from list_pipeline_runs) or pipeline",
                ));
            }
        };
        if run.status != RunStatus::Failed {
            return Err(ToolError::invalid(format!(
                "run {} of {} is {}, not Failed; triage_run explains failures (get_run_details shows any run)",
                run.run_id, run.pipeline, run.status
            )));
        }
        let mut evidence = Vec::new();
        let first = self.diagnose(&run).await?;
        let mut path = first.path.clone();
        let first_step = first.path.last().cloned();
        if let Some(step) = &first_step {
            evidence.push(error_evidence(step, "get_run_details"));
        }
        // Stale inputs: the cause is in the writer upstream; follow it (bounded).
        let mut root = first;
        for _ in 0..4 {
            if root.category != FailureCategory::StaleUpstream {
                break;
            }
            let Some(upstream) = self.failing_upstream(&root.pipeline).await? else {
                break;
            };
            evidence.push(Evidence {
                kind: "upstream".into(),
                detail: format!(
                    "input of {} is stale because upstream {} is failing (run {} {})",
                    root.pipeline,
                    upstream.pipeline,
                    upstream.run_id,
                    upstream
                        .run_start
                        .map(|t| t.format("%H:%M UTC").to_string())
                        .unwrap_or_default()
                ),
                tool: "get_pipeline_dependencies".into(),
            });
            let next = self.diagnose(&upstream).await?;
            path.extend(next.path.iter().cloned());
            if let Some(step) = next.path.last() {
                evidence.push(error_evidence(step, "triage_run"));
            }
            root = next;
        }
        let root_step = root.path.last().cloned();
        let secrets = self.secret_findings(&root, root_step.as_ref()).await?;
        for finding in secrets.iter().filter(|s| s.risk >= SecretRiskLevel::High) {
            evidence.push(Evidence {
                kind: "secret".into(),
                detail: format!(
                    "secret {} is {:?}: {} ({})",
                    finding.secret,
                    finding.risk,
                    finding.reasons.join("; "),
                    finding.link
                ),
                tool: "get_secret_usage".into(),
            });
        }
        let (consecutive, failing_since, last_success) =
            self.failure_history(&root.pipeline).await?;
        evidence.push(Evidence {
            kind: "history".into(),
            detail: match (failing_since, last_success) {
                (Some(since), Some(ok)) => format!(
                    "{} has failed {consecutive} times in a row since {}; last success {}",
                    root.pipeline,
                    since.format("%Y-%m-%d %H:%M UTC"),
                    ok.format("%Y-%m-%d %H:%M UTC")
                ),
                (Some(since), None) => format!(
                    "{} has failed {consecutive} times in a row since {}; no success in 7 days",
                    root.pipeline,
                    since.format("%Y-%m-%d %H:%M UTC")
                ),
                _ => format!("{} has no earlier failures in 7 days", root.pipeline),
            },
            tool: "get_pipeline_status".into(),
        });
        let log_clusters = self.run_log_clusters(&root.run_id, 6).await?;
        if let Some(top) = log_clusters.first() {
            evidence.push(Evidence {
                kind: "logs".into(),
                detail: format!(
                    "top log template in run {} (×{}): {}",
                    root.run_id,
                    top.count,
                    clip(&top.template, 300)
                ),
                tool: "summarize_error_logs".into(),
            });
        }
        if root.category == FailureCategory::OutOfMemory
            && let Some(volume) = self.volume_evidence(&root.run_id).await
        {
            evidence.push(volume);
        }
        evidence.extend(self.infra_evidence(&root.pipeline).await);
        let critical_secret = secrets
            .iter()
            .find(|s| s.risk == SecretRiskLevel::Critical && s.link.contains("error"))
            .map(|s| s.secret.clone());
        let blast_radius = self
            .blast_radius(&root.pipeline, critical_secret.as_deref(), &run.pipeline)
            .await?;
        let corroborated = match root.category {
            FailureCategory::ExpiredCredential | FailureCategory::AuthFailure => {
                secrets.iter().any(|s| s.risk >= SecretRiskLevel::High)
            }
            FailureCategory::OutOfMemory => evidence.iter().any(|e| e.kind == "volume"),
            FailureCategory::Unknown => false,
            _ => !log_clusters.is_empty(),
        };
        let confidence = match (root.category, corroborated) {
            (FailureCategory::Unknown, _) => "low",
            (_, true) => "high",
            (_, false) => "medium",
        };
        let root_cause = root_cause_sentence(&root, root_step.as_ref(), &secrets);
        let mut next_steps: Vec<String> = root
            .category
            .next_steps()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if root.pipeline != run.pipeline {
            next_steps.push(format!(
                "Then re-run {} (it failed only because of {})",
                run.pipeline, root.pipeline
            ));
        }
        let summary = format!(
            "[{}] {} run {} failed: {} (confidence {confidence}). Category: {}. Blast radius: {} pipeline(s){}. Next: {}",
            self.backends().label,
            run.pipeline,
            run.run_id,
            root_cause,
            root.category.label(),
            blast_radius.len(),
            if blast_radius.is_empty() {
                String::new()
            } else {
                format!(" [{}]", blast_radius.join(", "))
            },
            next_steps.first().cloned().unwrap_or_default()
        );
        Ok((
            summary,
            TriageReport {
                run_id: run.run_id.clone(),
                pipeline: run.pipeline.clone(),
                environment: run.environment.clone(),
                status: run.status.clone(),
                failing_path: path,
                category: root.category,
                root_cause,
                root_cause_pipeline: root.pipeline.clone(),
                confidence: confidence.to_string(),
                evidence,
                secrets,
                log_clusters,
                failing_since,
                consecutive_failures: consecutive,
                blast_radius,
                next_steps,
            },
        ))
    }

    async fn latest_failed_run(&self, pipeline: &str) -> Result<PipelineRun, ToolError> {
        let backend = self.backends().backend_for_pipeline(pipeline).await?;
        let now = self.now();
        let query = RunQuery::recent(pipeline, vec![RunStatus::Failed], now, Duration::days(7), 1);
        backend.query_runs(&query).await?.runs.into_iter().next().ok_or_else(|| {
            ToolError::not_found(format!(
                "{pipeline} has no failed run in the last 7 days; get_pipeline_status shows how it is doing"
            ))
        })
    }

    /// Follows a failed run down through child runs to the failing leaf activity.
    async fn diagnose(&self, run: &PipelineRun) -> Result<Diagnosis, ToolError> {
        let mut path = Vec::new();
        let mut current = run.clone();
        for _ in 0..8 {
            let (backend, _) = self.backends().find_run(&current.run_id).await?;
            let activities = backend.activity_runs(&current.run_id).await?;
            let failed_child = activities
                .iter()
                .filter(|a| a.activity_type == "ExecutePipeline" && a.status == RunStatus::Failed)
                .find_map(|a| {
                    a.output
                        .get("pipelineRunId")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
            if let Some(child_id) = failed_child
                && let Some(child) = backend.get_run(&child_id).await?
            {
                current = child;
                continue;
            }
            if let Some(leaf) = failed_leaf_activities(&activities).first() {
                let error = leaf.error.clone().unwrap_or(crate::model::run::RunError {
                    code: String::new(),
                    message: current.message.clone(),
                    failure_type: None,
                });
                path.push(FailureStep {
                    pipeline: current.pipeline.clone(),
                    run_id: current.run_id.clone(),
                    activity: leaf.activity_name.clone(),
                    activity_type: leaf.activity_type.clone(),
                    error_code: error.code.clone(),
                    message: error.message.clone(),
                });
                let (category, matched) = classify(&error.code, &error.message);
                return Ok(Diagnosis {
                    path,
                    category,
                    matched,
                    pipeline: current.pipeline,
                    run_id: current.run_id,
                });
            }
            break;
        }
        let (category, matched) = classify("", &current.message);
        Ok(Diagnosis {
            path,
            category,
            matched,
            pipeline: current.pipeline,
            run_id: current.run_id,
        })
    }

    /// The nearest upstream pipeline whose latest finished run failed.
    async fn failing_upstream(&self, pipeline: &str) -> Result<Option<PipelineRun>, ToolError> {
        let catalog = self.backends().catalog().await?;
        for reached in catalog.upstream_of(pipeline, 6) {
            if let Ok(run) = self.latest_failed_run(&reached.pipeline).await {
                let status = self.pipeline_latest_terminal(&reached.pipeline).await?;
                if status == Some(RunStatus::Failed) {
                    return Ok(Some(run));
                }
            }
        }
        Ok(None)
    }

    async fn pipeline_latest_terminal(
        &self,
        pipeline: &str,
    ) -> Result<Option<RunStatus>, ToolError> {
        let backend = self.backends().backend_for_pipeline(pipeline).await?;
        let now = self.now();
        let query = RunQuery::recent(pipeline, vec![], now, Duration::days(2), 20);
        Ok(backend
            .query_runs(&query)
            .await?
            .runs
            .into_iter()
            .map(|r| r.status)
            .find(RunStatus::is_terminal))
    }

    /// Secrets behind the failing connections (or named in the error through their tags).
    async fn secret_findings(
        &self,
        root: &Diagnosis,
        step: Option<&FailureStep>,
    ) -> Result<Vec<SecretFinding>, ToolError> {
        if self.backends().secrets.is_empty() {
            return Ok(Vec::new());
        }
        let catalog = self.backends().catalog().await?;
        let Some(info) = catalog.pipeline(&root.pipeline) else {
            return Ok(Vec::new());
        };
        let activity_secrets: BTreeSet<String> =
            match step.and_then(|s| info.activities.iter().find(|a| a.name == s.activity)) {
                Some(activity) => {
                    let mut connections: BTreeSet<String> =
                        activity.linked_services.iter().cloned().collect();
                    for dataset in activity.inputs.iter().chain(&activity.outputs) {
                        if let Some(ds) = catalog.dataset(dataset) {
                            connections.insert(ds.linked_service.clone());
                        }
                    }
                    connections
                        .iter()
                        .filter_map(|c| catalog.linked_service(c))
                        .flat_map(|ls| ls.secrets.iter().map(|s| s.secret_name.clone()))
                        .collect()
                }
                None => catalog.secrets_of(info),
            };
        let message = step.map(|s| s.message.to_lowercase()).unwrap_or_default();
        let now = self.now();
        let mut findings = Vec::new();
        for store in &self.backends().secrets {
            for meta in store.list_secrets().await? {
                let named_in_error = meta
                    .tags
                    .values()
                    .any(|v| v.len() >= 8 && message.contains(&v.to_lowercase()))
                    || message.contains(&meta.name.to_lowercase());
                let used = activity_secrets.contains(&meta.name);
                if !named_in_error && !used {
                    continue;
                }
                let risk = meta.risk(now);
                let link = match (named_in_error, used) {
                    (true, true) => {
                        "named in the error and used by the failing connection".to_string()
                    }
                    (true, false) => "named in the error (through its tags)".to_string(),
                    _ => "used by the failing activity's connections".to_string(),
                };
                findings.push(SecretFinding {
                    secret: meta.name.clone(),
                    risk: risk.level,
                    reasons: risk.reasons,
                    expires: meta.expires,
                    link,
                });
            }
        }
        findings.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.secret.cmp(&b.secret)));
        Ok(findings)
    }

    /// (consecutive failures, first of them, last success) over the last 7 days.
    async fn failure_history(
        &self,
        pipeline: &str,
    ) -> Result<(usize, Option<DateTime<Utc>>, Option<DateTime<Utc>>), ToolError> {
        let now = self.now();
        let query = RunQuery::recent(pipeline, vec![], now, Duration::days(7), 500);
        let runs = self.all_runs(query, 2_000).await?;
        let finished: Vec<&PipelineRun> = runs.iter().filter(|r| r.status.is_terminal()).collect();
        let streak: Vec<&&PipelineRun> = finished
            .iter()
            .take_while(|r| r.status == RunStatus::Failed)
            .collect();
        let since = streak.last().and_then(|r| r.run_start);
        let last_success = finished
            .iter()
            .find(|r| r.status == RunStatus::Succeeded)
            .and_then(|r| r.run_start);
        Ok((streak.len(), since, last_success))
    }

    async fn run_log_clusters(
        &self,
        run_id: &str,
        top: usize,
    ) -> Result<Vec<ClusterBrief>, ToolError> {
        let now = self.now();
        let query = crate::backends::LogQuery {
            window: TimeWindow {
                since: now - Duration::days(7),
                until: now + Duration::seconds(1),
            },
            pipeline: None,
            run_id: Some(run_id.to_string()),
            activity: None,
            source: None,
            min_level: Some(LogLevel::Warn),
            contains: None,
            limit: 5_000,
        };
        let counts = self.backends().counted_logs(&query).await?;
        Ok(super::logs::cluster(&counts, &[], false, top))
    }

    /// A jump in data volume, for memory failures: the rows each direct upstream
    /// writer produced in its latest successful run against the run that fed the
    /// failing pipeline's last good run.
    async fn volume_evidence(&self, run_id: &str) -> Option<Evidence> {
        let (_, run) = self.backends().find_run(run_id).await.ok()?;
        let until = run.run_start?;
        let good = self
            .latest_run_with(&run.pipeline, RunStatus::Succeeded, until)
            .await?;
        let good_start = good.run_start?;
        let catalog = self.backends().catalog().await.ok()?;
        let mut best: Option<(f64, String)> = None;
        for reached in catalog.upstream_of(&run.pipeline, 1) {
            let now_run = self
                .latest_run_with(&reached.pipeline, RunStatus::Succeeded, until)
                .await?;
            let then_run = self
                .latest_run_with(&reached.pipeline, RunStatus::Succeeded, good_start)
                .await?;
            let rows_now = self.rows_written_by(&now_run.run_id).await?;
            let rows_then = self.rows_written_by(&then_run.run_id).await?;
            if rows_then == 0 {
                continue;
            }
            let ratio = rows_now as f64 / rows_then as f64;
            if ratio >= 1.5 && best.as_ref().is_none_or(|(r, _)| ratio > *r) {
                best = Some((
                    ratio,
                    format!(
                        "input from {} grew x{ratio:.1}: {rows_now} rows in run {} vs {rows_then} before the last good run {} of {}",
                        reached.pipeline, now_run.run_id, good.run_id, run.pipeline
                    ),
                ));
            }
        }
        best.map(|(_, detail)| Evidence {
            kind: "volume".into(),
            detail,
            tool: "compare_runs".into(),
        })
    }

    async fn latest_run_with(
        &self,
        pipeline: &str,
        status: RunStatus,
        before: DateTime<Utc>,
    ) -> Option<PipelineRun> {
        let backend = self.backends().backend_for_pipeline(pipeline).await.ok()?;
        let query = RunQuery::before(pipeline, vec![status], before, Duration::days(7), 1);
        backend
            .query_runs(&query)
            .await
            .ok()?
            .runs
            .into_iter()
            .next()
    }

    async fn rows_written_by(&self, run_id: &str) -> Option<u64> {
        let (backend, _) = self.backends().find_run(run_id).await.ok()?;
        let activities = backend.activity_runs(run_id).await.ok()?;
        Some(
            activities
                .iter()
                .filter_map(super::runs::rows_written)
                .sum(),
        )
    }

    /// Unhealthy resources behind the pipeline's connections, and pending plans
    /// with risky changes to what it uses.
    async fn infra_evidence(&self, pipeline: &str) -> Vec<Evidence> {
        let Ok(catalog) = self.backends().catalog().await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for source in &self.backends().infra {
            for resource in source.list_resources().await.unwrap_or_default() {
                let used = super::infra::pipelines_touching(
                    &catalog,
                    std::slice::from_ref(&resource.name),
                )
                .iter()
                .any(|p| p == pipeline);
                if used && !resource.is_healthy() {
                    out.push(Evidence {
                        kind: "infra".into(),
                        detail: format!(
                            "resource {} used by {pipeline} is {} ({})",
                            resource.name,
                            resource.provisioning_state,
                            resource.availability_text()
                        ),
                        tool: "get_resource_health".into(),
                    });
                }
            }
            for plan_ref in source.list_plans().await.unwrap_or_default() {
                let Ok(text) = source.read_plan(&plan_ref.name).await else {
                    continue;
                };
                let Ok(plan) = crate::infra::terraform::parse_plan(&text) else {
                    continue;
                };
                for risk in crate::infra::terraform::summarize(&plan).risky {
                    let identifiers = plan
                        .resource_changes
                        .iter()
                        .find(|c| c.address == risk.address)
                        .map(|c| super::infra::resource_identifiers(c.before_redacted().as_ref()))
                        .unwrap_or_default();
                    if super::infra::pipelines_touching(&catalog, &identifiers)
                        .iter()
                        .any(|p| p == pipeline)
                    {
                        out.push(Evidence {
                            kind: "infra".into(),
                            detail: format!("pending plan {} {}", plan_ref.name, risk.why),
                            tool: "explain_plan_diff".into(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Pipelines that fail or go stale with the root cause: those sharing a broken
    /// secret, everything downstream of them, and parents that run them as children.
    async fn blast_radius(
        &self,
        root_pipeline: &str,
        broken_secret: Option<&str>,
        triaged: &str,
    ) -> Result<Vec<String>, ToolError> {
        let catalog = self.backends().catalog().await?;
        let mut sources = vec![root_pipeline.to_string()];
        if let Some(secret) = broken_secret {
            for ls in catalog.linked_services_using_secret(secret) {
                for pipeline in catalog.pipelines_using_linked_service(&ls) {
                    if !sources.contains(&pipeline) {
                        sources.push(pipeline);
                    }
                }
            }
        }
        let mut out: Vec<String> = sources
            .iter()
            .filter(|p| p.as_str() != root_pipeline)
            .cloned()
            .collect();
        for source in &sources {
            let parents = catalog.upstream_of(source, 3).into_iter().filter(|r| {
                matches!(
                    r.edge.via,
                    crate::model::graph::DependencyVia::ExecutePipeline { .. }
                )
            });
            for reached in catalog.downstream_of(source, 10).into_iter().chain(parents) {
                if reached.pipeline != root_pipeline && !out.contains(&reached.pipeline) {
                    out.push(reached.pipeline);
                }
            }
        }
        if triaged != root_pipeline && !out.iter().any(|p| p == triaged) {
            out.push(triaged.to_string());
        }
        Ok(out)
    }
}

fn error_evidence(step: &FailureStep, tool: &str) -> Evidence {
    Evidence {
        kind: "error".into(),
        detail: format!(
            "{}/{} failed with {}: {}",
            step.pipeline,
            step.activity,
            step.error_code,
            clip(&step.message, 400)
        ),
        tool: tool.into(),
    }
}

/// The part of a long message around what matched: vendor messages put the
/// telling words deep inside wrappers ("Job execution failed. Run page: … Error: …").
fn excerpt(message: &str, needle: Option<&str>, max_chars: usize) -> String {
    let lower = message.to_lowercase();
    let start = needle
        .and_then(|n| lower.find(n))
        .filter(|byte| lower.len() == message.len() && message.is_char_boundary(*byte))
        .and_then(|byte| message.get(..byte))
        .map(|before| before.rfind(' ').map_or(0, |i| i + 1))
        .unwrap_or(0);
    let tail = message.get(start..).unwrap_or(message);
    clip(tail, max_chars)
}

fn root_cause_sentence(
    root: &Diagnosis,
    step: Option<&FailureStep>,
    secrets: &[SecretFinding],
) -> String {
    let at = step
        .map(|s| format!("{}/{}", s.pipeline, s.activity))
        .unwrap_or_else(|| root.pipeline.clone());
    match root.category {
        FailureCategory::ExpiredCredential | FailureCategory::AuthFailure => {
            match secrets.iter().find(|s| s.risk == SecretRiskLevel::Critical) {
                Some(secret) => format!(
                    "Key Vault secret {} {} — {} cannot authenticate ({})",
                    secret.secret,
                    secret
                        .reasons
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "is unusable".into()),
                    at,
                    root.matched.unwrap_or("auth error")
                ),
                None => format!(
                    "{} at {at}: {}",
                    root.category.label(),
                    step.map(|s| clip(&s.message, 200)).unwrap_or_default()
                ),
            }
        }
        FailureCategory::StaleUpstream => {
            format!("stale input at {at}, but no failing upstream run was found to explain it")
        }
        category => format!(
            "{} at {at} ({}): {}",
            category.label(),
            root.matched.unwrap_or("no rule matched"),
            step.map(|s| excerpt(&s.message, root.matched, 300))
                .unwrap_or_default()
        ),
    }
}
