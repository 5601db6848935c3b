//! `triage_run`: from a failed run to its root cause, with the evidence.
//!
//! The walk: the run's failing activity (descending into child runs started by
//! ExecutePipeline) → its error, classified → if the input was stale, the
//! upstream writer's own failure, recursively → the secrets behind the failing
//! connections → the run's log templates → resources and pending plans → the
//! blast radius downstream → next steps for that kind of failure.
//!
//! Only the triaged run must be readable. Every other read enriches the
//! answer; one that fails (no permission, not found, unreachable) is named in
//! `gaps` and the walk goes on, so a least-privilege identity still gets a
//! triage of what it may see.

mod evidence;
mod gaps;

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use self::gaps::{EvidenceGap, Gaps};
use super::logs::ClusterBrief;
use super::runs::failed_leaf_activities;
use crate::backends::RunQuery;
use crate::model::estate::EstateCatalog;
use crate::model::run::{PipelineRun, RunStatus};
use crate::model::secret::SecretRiskLevel;
use crate::ops::classify::{FailureCategory, classify};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};
use crate::support::text::clip;

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
    /// What could not be read (no permission, not found, unreachable), so the
    /// answer is built without it. Absent when everything was read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<EvidenceGap>,
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
        let mut gaps = Gaps::default();
        let catalog = gaps.read("pipeline definitions", self.backends().catalog().await);
        if let Some(catalog) = &catalog {
            gaps.note_unreadable_definitions(catalog);
        }
        let mut evidence = Vec::new();
        let first = self.diagnose(&run, &mut gaps).await;
        let mut path = first.path.clone();
        if let Some(step) = first.path.last() {
            evidence.push(error_evidence(step, "get_run_details"));
        }
        // Stale inputs: the cause is in the writer upstream; follow it (bounded).
        let mut root = first;
        for _ in 0..4 {
            if root.category != FailureCategory::StaleUpstream {
                break;
            }
            let Some(catalog) = &catalog else {
                break;
            };
            let upstream = self.failing_upstream(catalog, &root.pipeline).await;
            let Some(upstream) = gaps.read("upstream runs", upstream).flatten() else {
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
            let next = self.diagnose(&upstream, &mut gaps).await;
            path.extend(next.path.iter().cloned());
            if let Some(step) = next.path.last() {
                evidence.push(error_evidence(step, "triage_run"));
            }
            root = next;
        }
        let root_step = root.path.last().cloned();
        let secrets = self
            .secret_findings(&root, root_step.as_ref(), catalog.as_ref(), &mut gaps)
            .await;
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
        let history = gaps.read("run history", self.failure_history(&root.pipeline).await);
        let (consecutive, failing_since) = match history {
            Some((consecutive, failing_since, last_success)) => {
                evidence.push(history_evidence(
                    &root.pipeline,
                    consecutive,
                    failing_since,
                    last_success,
                ));
                (consecutive, failing_since)
            }
            None => (0, None),
        };
        let log_clusters = gaps
            .read("logs", self.run_log_clusters(&root.run_id, 6).await)
            .unwrap_or_default();
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
        if let Some(catalog) = &catalog {
            if root.category == FailureCategory::OutOfMemory
                && let Some(volume) = self.volume_evidence(&root.run_id, catalog).await
            {
                evidence.push(volume);
            }
            evidence.extend(
                self.infra_evidence(catalog, &root.pipeline, &mut gaps)
                    .await,
            );
        }
        let critical_secret = secrets
            .iter()
            .find(|s| s.risk == SecretRiskLevel::Critical && s.link.contains("error"))
            .map(|s| s.secret.clone());
        let blast_radius = evidence::blast_radius(
            catalog.as_ref(),
            &root.pipeline,
            critical_secret.as_deref(),
            &run.pipeline,
        );
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
        if !gaps.is_empty() {
            next_steps.push(
                "Some evidence could not be read (see gaps): check it by hand, or grant this server's identity read access to it, before trusting the root cause fully".into(),
            );
        }
        let summary = format!(
            "[{}] {} run {} failed: {} (confidence {confidence}). Category: {}. Blast radius: {} pipeline(s){}. Next: {}{}",
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
            next_steps.first().cloned().unwrap_or_default(),
            gaps.sentence()
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
                gaps: gaps.into_vec(),
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

    /// Follows a failed run down through child runs to the failing leaf
    /// activity. What cannot be read stops the descent where it is, noted in
    /// `gaps`; the run's own message is classified then.
    async fn diagnose(&self, run: &PipelineRun, gaps: &mut Gaps) -> Diagnosis {
        let mut path = Vec::new();
        let mut current = run.clone();
        for _ in 0..8 {
            let activities_of = format!("activity runs of run {}", current.run_id);
            let Some((backend, _)) = gaps.read(
                activities_of.clone(),
                self.backends().find_run(&current.run_id).await,
            ) else {
                break;
            };
            let Some(activities) =
                gaps.read(activities_of, backend.activity_runs(&current.run_id).await)
            else {
                break;
            };
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
                && let Some(Some(child)) = gaps.read(
                    format!("child run {child_id}"),
                    backend.get_run(&child_id).await,
                )
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
                return Diagnosis {
                    path,
                    category,
                    matched,
                    pipeline: current.pipeline,
                    run_id: current.run_id,
                };
            }
            break;
        }
        let (category, matched) = classify("", &current.message);
        Diagnosis {
            path,
            category,
            matched,
            pipeline: current.pipeline,
            run_id: current.run_id,
        }
    }

    /// The nearest upstream pipeline whose latest finished run failed.
    async fn failing_upstream(
        &self,
        catalog: &EstateCatalog,
        pipeline: &str,
    ) -> Result<Option<PipelineRun>, ToolError> {
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
}

fn history_evidence(
    pipeline: &str,
    consecutive: usize,
    failing_since: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
) -> Evidence {
    Evidence {
        kind: "history".into(),
        detail: match (failing_since, last_success) {
            (Some(since), Some(ok)) => format!(
                "{pipeline} has failed {consecutive} times in a row since {}; last success {}",
                since.format("%Y-%m-%d %H:%M UTC"),
                ok.format("%Y-%m-%d %H:%M UTC")
            ),
            (Some(since), None) => format!(
                "{pipeline} has failed {consecutive} times in a row since {}; no success in 7 days",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => format!("{pipeline} has no earlier failures in 7 days"),
        },
        tool: "get_pipeline_status".into(),
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
