//! One run in depth, failures across runs, and a failed run against a good one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backends::RunQuery;
use crate::model::run::{ActivityRun, PipelineRun, RunStatus};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};
use crate::support::text::clip;

/// Activity types that only wrap others: their errors repeat an inner activity's.
pub(crate) const CONTAINER_TYPES: &[&str] = &[
    "ExecutePipeline",
    "IfCondition",
    "ForEach",
    "Until",
    "Switch",
];

/// The most failed runs get_failed_tasks_summary groups (the newest): bounds
/// the activity lookups and memory of one call, whatever the window.
pub const MAX_FAILED_RUNS_GROUPED: usize = 2_000;

/// Runs whose details are fetched at once (ARM allows bursts, not floods).
const DETAIL_FETCH_CONCURRENCY: usize = 6;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunIdParam {
    /// Run id, as listed by list_pipeline_runs.
    pub run_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunRef {
    pub run_id: String,
    pub pipeline: String,
    pub status: RunStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunDetails {
    pub run: PipelineRun,
    /// Every attempt of every activity, in start order.
    pub activities: Vec<ActivityRun>,
    /// Activities whose last attempt failed (wrappers such as ExecutePipeline excluded).
    pub failed_activities: Vec<String>,
    pub child_runs: Vec<RunRef>,
    pub parent_run: Option<RunRef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FailuresParams {
    /// Start of the window: RFC 3339 or a duration back from now (30m, 6h, 2d). Default 24h. Windows span at most 90 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Only failures of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailureGroup {
    pub pipeline: String,
    pub activity: String,
    pub activity_type: String,
    pub error_code: String,
    pub count: usize,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub sample_message: String,
    /// Up to five runs that failed this way, newest first.
    pub run_ids: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailuresResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub failed_runs: usize,
    pub groups: Vec<FailureGroup>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompareParams {
    /// The run to explain (usually a failed one).
    pub run_id: String,
    /// The run to compare with. Default: the latest successful run of the same pipeline before it.
    #[serde(default)]
    pub baseline_run_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActivityComparison {
    pub activity: String,
    pub status: Option<RunStatus>,
    pub baseline_status: Option<RunStatus>,
    pub duration_ms: Option<i64>,
    pub baseline_duration_ms: Option<i64>,
    pub attempts: usize,
    pub baseline_attempts: usize,
    /// Rows or records the activity reported (Copy rowsCopied, notebook rows_in), when known.
    pub rows: Option<u64>,
    pub baseline_rows: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CompareResult {
    pub run: PipelineRun,
    pub baseline: PipelineRun,
    /// The differences that matter, one sentence each.
    pub differences: Vec<String>,
    pub activities: Vec<ActivityComparison>,
}

#[tool_router(router = run_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Everything about one run: status, timing, parameters, every activity attempt with its error and output, child and parent runs.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<RunDetails>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_run_details(&self, Parameters(params): Parameters<RunIdParam>) -> ToolResult {
        respond(self.run_details_body(&params.run_id).await)
    }

    #[tool(
        description = "Failures over a time window grouped by pipeline, activity and error code, with counts, first/last seen, a sample message and example run ids.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<FailuresResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_failed_tasks_summary(
        &self,
        Parameters(params): Parameters<FailuresParams>,
    ) -> ToolResult {
        respond(self.failures_body(params).await)
    }

    #[tool(
        description = "Compare a run (usually failed) with a good run of the same pipeline: status, duration, attempts, rows and errors per activity, and the differences that matter.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<CompareResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn compare_runs(&self, Parameters(params): Parameters<CompareParams>) -> ToolResult {
        respond(self.compare_body(params).await)
    }
}

/// The activities whose final attempt failed, excluding wrappers.
pub(crate) fn failed_leaf_activities(activities: &[ActivityRun]) -> Vec<&ActivityRun> {
    let mut last: BTreeMap<&str, &ActivityRun> = BTreeMap::new();
    for activity in activities {
        let entry = last
            .entry(activity.activity_name.as_str())
            .or_insert(activity);
        if activity.attempt >= entry.attempt {
            *entry = activity;
        }
    }
    let mut failed: Vec<&ActivityRun> = last
        .into_values()
        .filter(|a| {
            a.status == RunStatus::Failed && !CONTAINER_TYPES.contains(&a.activity_type.as_str())
        })
        .collect();
    failed.sort_by_key(|a| a.start);
    failed
}

/// Rows an activity reports, from the output shapes ADF and Databricks use.
pub(crate) fn rows_of(activity: &ActivityRun) -> Option<u64> {
    let out = &activity.output;
    out.get("rowsCopied")
        .or_else(|| out.pointer("/runOutput/rows_in"))
        .or_else(|| out.get("rowsRead"))
        .and_then(|v| v.as_u64())
}

/// Rows an activity wrote (Copy `rowsCopied`, notebook `runOutput.rows_out`), when known.
pub(crate) fn rows_written(activity: &ActivityRun) -> Option<u64> {
    let out = &activity.output;
    out.get("rowsCopied")
        .or_else(|| out.pointer("/runOutput/rows_out"))
        .and_then(|v| v.as_u64())
}

impl OpsdeckServer {
    pub(crate) async fn run_details_body(&self, run_id: &str) -> Outcome<RunDetails> {
        let (backend, run) = self.backends().find_run(run_id).await?;
        let activities = backend.activity_runs(run_id).await?;
        let failed_activities: Vec<String> = failed_leaf_activities(&activities)
            .iter()
            .map(|a| a.activity_name.clone())
            .collect();
        let mut child_runs = Vec::new();
        for activity in activities
            .iter()
            .filter(|a| a.activity_type == "ExecutePipeline")
        {
            if let Some(child_id) = activity
                .output
                .get("pipelineRunId")
                .and_then(|v| v.as_str())
                && let Some(child) = backend.get_run(child_id).await?
            {
                child_runs.push(RunRef {
                    run_id: child.run_id,
                    pipeline: child.pipeline,
                    status: child.status,
                });
            }
        }
        let parent_run = match &run.invoked_by.parent_run_id {
            Some(parent_id) => backend.get_run(parent_id).await?.map(|p| RunRef {
                run_id: p.run_id,
                pipeline: p.pipeline,
                status: p.status,
            }),
            None => None,
        };
        let mut summary = format!(
            "[{}] run {} of {}: {}, {} activity attempts",
            self.backends().label,
            run.run_id,
            run.pipeline,
            run.status,
            activities.len()
        );
        if !failed_activities.is_empty() {
            summary.push_str(&format!("; failed: {}", failed_activities.join(", ")));
        }
        if !run.message.is_empty() {
            summary.push_str(&format!("; {}", clip(&run.message, 400)));
        }
        if let Some(parent) = &parent_run {
            summary.push_str(&format!(
                "; started by {} run {}",
                parent.pipeline, parent.run_id
            ));
        }
        Ok((
            summary,
            RunDetails {
                run,
                activities,
                failed_activities,
                child_runs,
                parent_run,
            },
        ))
    }

    /// The activity runs of many runs, fetched a few at a time: fast against a
    /// real service without flooding its request budget. In the order of `runs`.
    async fn activities_of(
        &self,
        runs: &[PipelineRun],
    ) -> Result<Vec<Vec<ActivityRun>>, ToolError> {
        let mut all = Vec::with_capacity(runs.len());
        for chunk in runs.chunks(DETAIL_FETCH_CONCURRENCY) {
            let pending: Vec<_> = chunk
                .iter()
                .map(|run| self.activities_for(&run.run_id))
                .collect();
            all.extend(futures::future::try_join_all(pending).await?);
        }
        Ok(all)
    }

    async fn activities_for(&self, run_id: &str) -> Result<Vec<ActivityRun>, ToolError> {
        let (backend, _) = self.backends().find_run(run_id).await?;
        Ok(backend.activity_runs(run_id).await?)
    }

    async fn failures_body(&self, params: FailuresParams) -> Outcome<FailuresResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        if let Some(pipeline) = &params.pipeline {
            self.backends().backend_for_pipeline(pipeline).await?;
        }
        let query = RunQuery {
            pipelines: params.pipeline.iter().cloned().collect(),
            statuses: vec![RunStatus::Failed],
            window,
            limit: 500,
            continuation: None,
        };
        let runs = self.all_runs(query, MAX_FAILED_RUNS_GROUPED).await?;
        let mut groups: BTreeMap<(String, String, String), FailureGroup> = BTreeMap::new();
        let details = self.activities_of(&runs).await?;
        for (run, activities) in runs.iter().zip(details) {
            for activity in failed_leaf_activities(&activities) {
                let code = activity
                    .error
                    .as_ref()
                    .map(|e| e.code.clone())
                    .unwrap_or_default();
                let key = (
                    run.pipeline.clone(),
                    activity.activity_name.clone(),
                    code.clone(),
                );
                let group = groups.entry(key).or_insert_with(|| FailureGroup {
                    pipeline: run.pipeline.clone(),
                    activity: activity.activity_name.clone(),
                    activity_type: activity.activity_type.clone(),
                    error_code: code,
                    count: 0,
                    first_seen: None,
                    last_seen: None,
                    sample_message: activity
                        .error
                        .as_ref()
                        .map(|e| clip(&e.message, 500))
                        .unwrap_or_default(),
                    run_ids: Vec::new(),
                });
                group.count += 1;
                group.first_seen = min_opt(group.first_seen, activity.start);
                group.last_seen = max_opt(group.last_seen, activity.start);
                if group.run_ids.len() < 5 {
                    group.run_ids.push(run.run_id.clone());
                }
            }
        }
        let mut groups: Vec<FailureGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.pipeline.cmp(&b.pipeline))
        });
        let top: Vec<String> = groups
            .iter()
            .take(5)
            .map(|g| {
                format!(
                    "{}/{} {} ×{}",
                    g.pipeline, g.activity, g.error_code, g.count
                )
            })
            .collect();
        let summary = if runs.is_empty() {
            format!(
                "[{}] no failed runs between {} and {}",
                self.backends().label,
                window.since.to_rfc3339(),
                window.until.to_rfc3339()
            )
        } else {
            format!(
                "[{}] {} failed runs in {} groups; top: {}",
                self.backends().label,
                runs.len(),
                groups.len(),
                top.join("; ")
            )
        };
        Ok((
            summary,
            FailuresResult {
                window_since: window.since,
                window_until: window.until,
                failed_runs: runs.len(),
                groups,
            },
        ))
    }

    async fn compare_body(&self, params: CompareParams) -> Outcome<CompareResult> {
        let (backend, run) = self.backends().find_run(&params.run_id).await?;
        let baseline = match &params.baseline_run_id {
            Some(id) => {
                let (_, baseline) = self.backends().find_run(id).await?;
                if baseline.pipeline != run.pipeline {
                    return Err(ToolError::invalid(format!(
                        "baseline run {id} is a run of {}, not {}; compare runs of the same pipeline",
                        baseline.pipeline, run.pipeline
                    )));
                }
                baseline
            }
            None => {
                let until = run.run_start.unwrap_or_else(|| self.now());
                let query = RunQuery::before(
                    &run.pipeline,
                    vec![RunStatus::Succeeded],
                    until,
                    chrono::Duration::days(7),
                    1,
                );
                backend.query_runs(&query).await?.runs.into_iter().next().ok_or_else(|| {
                    ToolError::not_found(format!(
                        "no successful run of {} in the 7 days before {}; pass baseline_run_id to choose one",
                        run.pipeline,
                        until.to_rfc3339()
                    ))
                })?
            }
        };
        let activities = backend.activity_runs(&run.run_id).await?;
        let baseline_activities = backend.activity_runs(&baseline.run_id).await?;
        let comparisons = compare_activities(&activities, &baseline_activities);
        let differences = differences(&run, &baseline, &comparisons);
        let summary = format!(
            "[{}] run {} ({}) vs baseline {} ({}): {}",
            self.backends().label,
            run.run_id,
            run.status,
            baseline.run_id,
            baseline.status,
            if differences.is_empty() {
                "no notable differences".to_string()
            } else {
                differences.join("; ")
            }
        );
        Ok((
            summary,
            CompareResult {
                run,
                baseline,
                differences,
                activities: comparisons,
            },
        ))
    }
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn compare_activities(run: &[ActivityRun], baseline: &[ActivityRun]) -> Vec<ActivityComparison> {
    let mut names: Vec<&str> = Vec::new();
    for a in run.iter().chain(baseline) {
        if !names.contains(&a.activity_name.as_str()) {
            names.push(&a.activity_name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let attempts: Vec<&ActivityRun> =
                run.iter().filter(|a| a.activity_name == name).collect();
            let base: Vec<&ActivityRun> = baseline
                .iter()
                .filter(|a| a.activity_name == name)
                .collect();
            let last = attempts.iter().max_by_key(|a| a.attempt);
            let base_last = base.iter().max_by_key(|a| a.attempt);
            ActivityComparison {
                activity: name.to_string(),
                status: last.map(|a| a.status.clone()),
                baseline_status: base_last.map(|a| a.status.clone()),
                duration_ms: last.and_then(|a| a.duration_ms),
                baseline_duration_ms: base_last.and_then(|a| a.duration_ms),
                attempts: attempts.len(),
                baseline_attempts: base.len(),
                rows: last.and_then(|a| rows_of(a)),
                baseline_rows: base_last.and_then(|a| rows_of(a)),
                error: last
                    .and_then(|a| a.error.as_ref())
                    .map(|e| clip(&format!("{}: {}", e.code, e.message), 400)),
            }
        })
        .collect()
}

fn differences(
    run: &PipelineRun,
    baseline: &PipelineRun,
    activities: &[ActivityComparison],
) -> Vec<String> {
    let mut out = Vec::new();
    for a in activities {
        match (&a.status, &a.baseline_status) {
            (Some(s), Some(b)) if s != b => {
                out.push(format!("{} was {s} (baseline {b})", a.activity))
            }
            (Some(s), None) => out.push(format!("{} ran only in this run ({s})", a.activity)),
            (None, Some(_)) => out.push(format!(
                "{} did not run (it ran in the baseline)",
                a.activity
            )),
            _ => {}
        }
        if a.attempts > a.baseline_attempts && a.attempts > 1 {
            out.push(format!(
                "{} needed {} attempts (baseline {})",
                a.activity, a.attempts, a.baseline_attempts
            ));
        }
        if let (Some(rows), Some(base)) = (a.rows, a.baseline_rows)
            && base > 0
            && (rows as f64 / base as f64 >= 1.5 || (rows as f64) / (base as f64) <= 0.5)
        {
            out.push(format!(
                "{} processed {rows} rows vs {base} in the baseline (x{:.1})",
                a.activity,
                rows as f64 / base as f64
            ));
        }
        if let (Some(d), Some(b)) = (a.duration_ms, a.baseline_duration_ms)
            && b > 0
            && d as f64 / b as f64 >= 2.0
        {
            out.push(format!(
                "{} took {}s vs {}s in the baseline",
                a.activity,
                d / 1000,
                b / 1000
            ));
        }
    }
    if run.parameters != baseline.parameters {
        let changed: Vec<String> = run
            .parameters
            .iter()
            .filter(|(k, v)| {
                baseline.parameters.get(*k) != Some(*v) && k.as_str() != "window_start"
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !changed.is_empty() {
            out.push(format!("parameters differ: {}", changed.join(", ")));
        }
    }
    if run.invoked_by.kind != baseline.invoked_by.kind {
        out.push(format!(
            "started by {} (baseline by {})",
            run.invoked_by.kind, baseline.invoked_by.kind
        ));
    }
    out
}
