//! Runs: one run in depth, runs listed, failures grouped, a run against a
//! baseline, and how a pipeline is doing.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::run::{ActivityRun, PipelineRun, RunStatus, TriggerRun};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRef {
    pub run_id: String,
    pub pipeline: String,
    pub status: RunStatus,
}

// `get_run_details`. The lists may be absent when read (a shorter answer
// still shows the run); the server always writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunDetails {
    pub run: PipelineRun,
    /// Every attempt of every activity, in start order.
    #[serde(default)]
    #[schemars(!default)]
    pub activities: Vec<ActivityRun>,
    /// Activities whose last attempt failed (wrappers such as ExecutePipeline excluded).
    #[serde(default)]
    #[schemars(!default)]
    pub failed_activities: Vec<String>,
    #[serde(default)]
    #[schemars(!default)]
    pub child_runs: Vec<RunRef>,
    pub parent_run: Option<RunRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

// `get_failed_tasks_summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailuresResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub failed_runs: usize,
    pub groups: Vec<FailureGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

// `compare_runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompareResult {
    pub run: PipelineRun,
    pub baseline: PipelineRun,
    /// The differences that matter, one sentence each.
    pub differences: Vec<String>,
    pub activities: Vec<ActivityComparison>,
}

// `list_pipeline_runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListRunsResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub count: usize,
    pub runs: Vec<PipelineRun>,
    /// Present when there are more runs: pass it back as `continuation_token`.
    pub continuation_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunBrief {
    pub run_id: String,
    pub status: RunStatus,
    pub run_start: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl From<&PipelineRun> for RunBrief {
    fn from(run: &PipelineRun) -> RunBrief {
        RunBrief {
            run_id: run.run_id.clone(),
            status: run.status.clone(),
            run_start: run.run_start,
            duration_ms: run.duration_ms,
        }
    }
}

// `get_pipeline_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_runs: Vec<TriggerRun>,
}
