//! Pipelines and their runs: what exists, what ran, how each pipeline is doing,
//! and what depends on what.

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parse_statuses;
use crate::backends::RunQuery;
use crate::model::graph::Reached;
use crate::model::run::{PipelineRun, RunStatus, TriggerRun};
use crate::model::time::TimeWindow;
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, check_limit, respond};
use crate::support::text::clip;

/// The most runs one list_pipeline_runs page holds.
pub const MAX_RUN_PAGE: u32 = 500;
/// The most hops get_pipeline_dependencies follows each way.
pub const MAX_DEPENDENCY_DEPTH: u32 = 10;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListPipelinesParams {
    /// Only pipelines whose name contains this text (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Only pipelines in this folder (e.g. `ingestion`).
    #[serde(default)]
    pub folder: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineSummary {
    pub name: String,
    pub backend: String,
    pub environment: String,
    pub folder: Option<String>,
    pub description: Option<String>,
    pub schedule: Option<String>,
    pub activity_count: usize,
    pub activity_types: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListPipelinesResult {
    pub count: usize,
    pub pipelines: Vec<PipelineSummary>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListRunsParams {
    /// Only runs of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only runs in this status: Queued, InProgress, Succeeded, Failed, Canceling, Cancelled (comma-separated for several).
    #[serde(default)]
    pub status: Option<String>,
    /// Start of the window: RFC 3339 (2026-11-23T02:00:00Z) or a duration back from now (30m, 6h, 2d). Default 24h. Windows span at most 90 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms as `since`. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Page size, 1–500. Default 50.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_RUN_PAGE))]
    pub limit: Option<u32>,
    /// Token from the previous page's `continuation_token`, to get the next page.
    #[serde(default)]
    pub continuation_token: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListRunsResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub count: usize,
    pub runs: Vec<PipelineRun>,
    /// Present when there are more runs: pass it back as `continuation_token`.
    pub continuation_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PipelineParam {
    /// Pipeline name, as listed by list_pipelines.
    pub pipeline: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunBrief {
    pub run_id: String,
    pub status: RunStatus,
    pub run_start: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineStatus {
    pub pipeline: String,
    pub environment: String,
    pub backend: String,
    /// `failing`, `degraded` (recent failures, last run fine), `healthy`, `running`, or `no runs`.
    pub state: String,
    pub schedule: Option<String>,
    pub last_run: Option<PipelineRun>,
    pub last_success: Option<RunBrief>,
    pub last_failure: Option<PipelineRun>,
    pub consecutive_failures: usize,
    pub runs_24h: usize,
    pub failed_24h: usize,
    pub success_rate_24h: Option<f64>,
    pub recent: Vec<RunBrief>,
    /// The latest firings of the triggers that start it, newest first (ADF).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trigger_runs: Vec<TriggerRun>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DependenciesParams {
    /// Pipeline name, as listed by list_pipelines.
    pub pipeline: String,
    /// How many hops to follow up- and downstream, 1–10. Default 3.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_DEPENDENCY_DEPTH))]
    pub depth: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkedServiceBrief {
    pub name: String,
    pub service_type: String,
    pub endpoint: Option<String>,
    pub secrets: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DependenciesResult {
    pub pipeline: String,
    pub upstream: Vec<Reached>,
    pub downstream: Vec<Reached>,
    pub datasets_read: Vec<String>,
    pub datasets_written: Vec<String>,
    pub linked_services: Vec<LinkedServiceBrief>,
    pub secrets: Vec<String>,
    pub schedule: Option<String>,
}

pub(crate) fn brief(run: &PipelineRun) -> RunBrief {
    RunBrief {
        run_id: run.run_id.clone(),
        status: run.status.clone(),
        run_start: run.run_start,
        duration_ms: run.duration_ms,
    }
}

#[tool_router(router = pipeline_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "List the pipelines (ADF pipelines, Airflow DAGs, Databricks jobs) with their folder, schedule and activity types.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ListPipelinesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pipelines(
        &self,
        Parameters(params): Parameters<ListPipelinesParams>,
    ) -> ToolResult {
        respond(self.list_pipelines_body(params).await)
    }

    #[tool(
        description = "List pipeline runs, newest first, with status, start, duration and error message. Filter by pipeline, status and time window; page with continuation_token. This is the feed of the run board.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ListRunsResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pipeline_runs(
        &self,
        Parameters(params): Parameters<ListRunsParams>,
    ) -> ToolResult {
        respond(self.list_runs_body(params).await)
    }

    #[tool(
        description = "How a pipeline is doing: last run, last success, last failure with its error, consecutive failures, 24-hour success rate and recent runs.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PipelineStatus>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_pipeline_status(
        &self,
        Parameters(params): Parameters<PipelineParam>,
    ) -> ToolResult {
        respond(self.pipeline_status_body(&params.pipeline).await)
    }

    #[tool(
        description = "Upstream and downstream pipelines (through shared datasets and ExecutePipeline), datasets read and written, connections (linked services) and the secrets they use.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DependenciesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_pipeline_dependencies(
        &self,
        Parameters(params): Parameters<DependenciesParams>,
    ) -> ToolResult {
        respond(self.dependencies_body(params).await)
    }
}

impl OpsdeckServer {
    async fn list_pipelines_body(
        &self,
        params: ListPipelinesParams,
    ) -> Outcome<ListPipelinesResult> {
        let catalog = self.backends().catalog().await?;
        let needle = params.name_contains.as_deref().map(str::to_lowercase);
        let pipelines: Vec<PipelineSummary> = catalog
            .pipelines
            .iter()
            .filter(|p| {
                needle
                    .as_ref()
                    .is_none_or(|n| p.name.to_lowercase().contains(n))
            })
            .filter(|p| {
                params
                    .folder
                    .as_ref()
                    .is_none_or(|f| p.folder.as_deref() == Some(f.as_str()))
            })
            .map(|p| {
                let mut types: Vec<String> = p
                    .activities
                    .iter()
                    .map(|a| a.activity_type.clone())
                    .collect();
                types.sort();
                types.dedup();
                PipelineSummary {
                    name: p.name.clone(),
                    backend: p.backend.as_str().to_string(),
                    environment: p.environment.clone(),
                    folder: p.folder.clone(),
                    description: p.description.clone(),
                    schedule: p.schedule.clone(),
                    activity_count: p.activities.len(),
                    activity_types: types,
                }
            })
            .collect();
        if pipelines.is_empty() && !catalog.pipelines.is_empty() {
            let mut folders: Vec<String> = catalog
                .pipelines
                .iter()
                .filter_map(|p| p.folder.clone())
                .collect();
            folders.sort();
            folders.dedup();
            return Err(ToolError::not_found(format!(
                "no pipeline matches those filters; there are {} pipelines in folders {}",
                catalog.pipelines.len(),
                folders.join(", ")
            )));
        }
        let summary = format!(
            "[{}] {} pipelines: {}",
            self.backends().label,
            pipelines.len(),
            clip(
                &pipelines
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                600
            )
        );
        Ok((
            summary,
            ListPipelinesResult {
                count: pipelines.len(),
                pipelines,
            },
        ))
    }

    async fn list_runs_body(&self, params: ListRunsParams) -> Outcome<ListRunsResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        let limit = check_limit(params.limit, 50, MAX_RUN_PAGE)?;
        let statuses = parse_statuses(params.status.as_deref())?;
        let pipelines: Vec<String> = params.pipeline.iter().cloned().collect();
        if let Some(pipeline) = &params.pipeline {
            self.backends().backend_for_pipeline(pipeline).await?;
        }
        let query = RunQuery {
            pipelines,
            statuses,
            window,
            limit,
            continuation: params.continuation_token.clone(),
        };
        // One backend pages with its own token; several are merged in one page.
        let (runs, continuation) = match self.backends().pipelines.as_slice() {
            [single] => {
                let page = single.query_runs(&query).await?;
                (page.runs, page.continuation)
            }
            _ => (self.all_runs(query, limit).await?, None),
        };
        let failed = runs
            .iter()
            .filter(|r| r.status == RunStatus::Failed)
            .count();
        let running = runs.iter().filter(|r| !r.status.is_terminal()).count();
        let summary = format!(
            "[{}] {} runs between {} and {}: {failed} failed, {running} queued or running{}",
            self.backends().label,
            runs.len(),
            window.since.format("%Y-%m-%d %H:%M"),
            window.until.format("%Y-%m-%d %H:%M UTC"),
            if continuation.is_some() {
                "; more pages available"
            } else {
                ""
            }
        );
        Ok((
            summary,
            ListRunsResult {
                window_since: window.since,
                window_until: window.until,
                count: runs.len(),
                runs,
                continuation_token: continuation,
            },
        ))
    }

    async fn pipeline_status_body(&self, pipeline: &str) -> Outcome<PipelineStatus> {
        let backend = self.backends().backend_for_pipeline(pipeline).await?;
        let catalog = backend.catalog().await?;
        let now = self.now();
        let query = RunQuery::recent(pipeline, vec![], now, Duration::days(7), 500);
        let runs = self.all_runs(query, 2_000).await?;
        let last_success = runs.iter().find(|r| r.status == RunStatus::Succeeded);
        let last_failure = runs.iter().find(|r| r.status == RunStatus::Failed).cloned();
        let consecutive_failures = runs
            .iter()
            .filter(|r| r.status.is_terminal())
            .take_while(|r| r.status == RunStatus::Failed)
            .count();
        let day: Vec<&PipelineRun> = runs
            .iter()
            .filter(|r| r.run_start.is_some_and(|s| s >= now - Duration::hours(24)))
            .collect();
        let finished_day: Vec<&&PipelineRun> =
            day.iter().filter(|r| r.status.is_terminal()).collect();
        let failed_24h = finished_day
            .iter()
            .filter(|r| r.status == RunStatus::Failed)
            .count();
        let success_rate_24h = (!finished_day.is_empty())
            .then(|| (finished_day.len() - failed_24h) as f64 / finished_day.len() as f64);
        let state = match runs.first() {
            None => "no runs",
            Some(_) if consecutive_failures > 0 => "failing",
            Some(r) if !r.status.is_terminal() && failed_24h == 0 => "running",
            Some(_) if failed_24h > 0 => "degraded",
            Some(_) => "healthy",
        };
        let day_window = TimeWindow {
            since: now - Duration::hours(24),
            until: now + Duration::minutes(1),
        };
        let mut trigger_runs = backend.trigger_runs(pipeline, day_window).await?;
        trigger_runs.truncate(5);
        let mut summary = format!("[{}] {pipeline} is {state}", self.backends().label);
        if let Some(run) = runs.first() {
            summary.push_str(&format!("; last run {} {}", run.run_id, run.status));
        }
        if consecutive_failures > 0 {
            summary.push_str(&format!("; {consecutive_failures} failures in a row"));
        }
        if let Some(failure) = &last_failure {
            summary.push_str(&format!(
                "; last failure at {}: {}",
                failure
                    .run_start
                    .map(|t| t.format("%H:%M UTC").to_string())
                    .unwrap_or_default(),
                clip(&failure.message, 300)
            ));
        }
        if let Some(fired) = trigger_runs.first() {
            summary.push_str(&format!(
                "; trigger {} last fired {} ({}{})",
                fired.trigger,
                fired
                    .fired_at
                    .map(|t| t.format("%H:%M UTC").to_string())
                    .unwrap_or_default(),
                fired.status,
                if fired.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clip(&fired.message, 200))
                }
            ));
        }
        match last_success {
            Some(ok) => summary.push_str(&format!(
                "; last success {}",
                ok.run_start
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            )),
            None => summary.push_str("; no success in the last 7 days"),
        }
        Ok((
            summary,
            PipelineStatus {
                pipeline: pipeline.to_string(),
                environment: backend.environment().to_string(),
                backend: backend.kind().as_str().to_string(),
                state: state.to_string(),
                schedule: catalog.pipeline(pipeline).and_then(|p| p.schedule.clone()),
                last_run: runs.first().cloned(),
                last_success: last_success.map(brief),
                last_failure,
                consecutive_failures,
                runs_24h: day.len(),
                failed_24h,
                success_rate_24h,
                recent: runs.iter().take(10).map(brief).collect(),
                trigger_runs,
            },
        ))
    }

    async fn dependencies_body(&self, params: DependenciesParams) -> Outcome<DependenciesResult> {
        let depth = match params.depth {
            None => 3,
            Some(d @ 1..=MAX_DEPENDENCY_DEPTH) => d,
            Some(d) => {
                return Err(ToolError::invalid(format!(
                    "depth {d} is out of range; use 1 to {MAX_DEPENDENCY_DEPTH}"
                )));
            }
        };
        self.backends()
            .backend_for_pipeline(&params.pipeline)
            .await?;
        let catalog = self.backends().catalog().await?;
        let Some(info) = catalog.pipeline(&params.pipeline) else {
            return Err(ToolError::not_found(format!(
                "pipeline '{}' not found",
                params.pipeline
            )));
        };
        let mut read: Vec<String> = info
            .activities
            .iter()
            .flat_map(|a| a.inputs.clone())
            .collect();
        let mut written: Vec<String> = info
            .activities
            .iter()
            .flat_map(|a| a.outputs.clone())
            .collect();
        read.sort();
        read.dedup();
        written.sort();
        written.dedup();
        let linked_services: Vec<LinkedServiceBrief> = catalog
            .linked_services_of(info)
            .iter()
            .filter_map(|name| catalog.linked_service(name))
            .map(|ls| LinkedServiceBrief {
                name: ls.name.clone(),
                service_type: ls.service_type.clone(),
                endpoint: ls.endpoint.clone(),
                secrets: ls.secrets.iter().map(|s| s.secret_name.clone()).collect(),
            })
            .collect();
        let secrets: Vec<String> = catalog.secrets_of(info).into_iter().collect();
        let upstream = catalog.upstream_of(&params.pipeline, depth);
        let downstream = catalog.downstream_of(&params.pipeline, depth);
        let names = |r: &[Reached]| {
            r.iter()
                .map(|x| x.pipeline.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let summary = format!(
            "[{}] {}: upstream [{}]; downstream [{}]; reads {}; writes {}; uses {} connections and {} secrets",
            self.backends().label,
            params.pipeline,
            names(&upstream),
            names(&downstream),
            read.join(", "),
            written.join(", "),
            linked_services.len(),
            secrets.len()
        );
        Ok((
            summary,
            DependenciesResult {
                pipeline: params.pipeline.clone(),
                upstream,
                downstream,
                datasets_read: read,
                datasets_written: written,
                linked_services,
                secrets,
                schedule: info.schedule.clone(),
            },
        ))
    }
}
