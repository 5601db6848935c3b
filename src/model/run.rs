//! Pipeline runs and activity (task) runs in one shape shared by every backend.
//!
//! The shape follows Azure Data Factory's `PipelineRun` / `ActivityRun` most closely
//! (it is the richest of the three), while Airflow DAG runs / task instances and
//! Databricks job runs / task runs map onto it without loss of what triage needs.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Lifecycle state of a run or activity run, normalised across backends.
///
/// Unknown vendor states are kept verbatim in `Other` rather than rejected:
/// a new state from a vendor must never make a run disappear from the board.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub enum RunStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    Canceling,
    Cancelled,
    Skipped,
    #[serde(untagged)]
    Other(String),
}

impl RunStatus {
    /// Parses a status name leniently (case-insensitive, ADF / Airflow / Databricks spellings).
    pub fn parse(raw: &str) -> RunStatus {
        match raw.trim().to_ascii_lowercase().as_str() {
            "queued" | "pending" | "scheduled" | "blocked" => RunStatus::Queued,
            "inprogress" | "in_progress" | "running" | "up_for_retry" | "restarting" => {
                RunStatus::InProgress
            }
            "succeeded" | "success" => RunStatus::Succeeded,
            "failed" | "failure" | "upstream_failed" | "timedout" | "internal_error" => {
                RunStatus::Failed
            }
            "canceling" | "cancelling" | "terminating" => RunStatus::Canceling,
            "cancelled" | "canceled" => RunStatus::Cancelled,
            "skipped" | "removed" => RunStatus::Skipped,
            _ => RunStatus::Other(raw.to_string()),
        }
    }

    /// True once the run can no longer change on its own.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Skipped
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::InProgress => "InProgress",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
            RunStatus::Canceling => "Canceling",
            RunStatus::Cancelled => "Cancelled",
            RunStatus::Skipped => "Skipped",
            RunStatus::Other(raw) => raw,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of system a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Sandbox,
    Adf,
    Airflow,
    Databricks,
    Fabric,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sandbox => "sandbox",
            BackendKind::Adf => "adf",
            BackendKind::Airflow => "airflow",
            BackendKind::Databricks => "databricks",
            BackendKind::Fabric => "fabric",
        }
    }
}

/// What started a run (ADF `invokedBy`, Airflow `run_type`, Databricks `trigger`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InvokedBy {
    /// Trigger or parent activity name, or the user who started it.
    pub name: String,
    /// `ScheduleTrigger`, `PipelineActivity` (a parent pipeline), `Manual`, …
    pub kind: String,
    /// Parent pipeline run id when started by another pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// Parent pipeline name when started by another pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_pipeline: Option<String>,
}

/// An error as the backend reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunError {
    /// Vendor error code (ADF `errorCode` such as `2200`, Databricks `result_state`, …).
    pub code: String,
    pub message: String,
    /// `UserError`, `SystemError`, … when the backend says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<String>,
}

/// One execution of a pipeline (an ADF pipeline run, an Airflow DAG run, a Databricks job run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineRun {
    pub run_id: String,
    pub pipeline: String,
    pub backend: BackendKind,
    /// The environment (e.g. `prod`) so nobody confuses dev with prod.
    pub environment: String,
    pub status: RunStatus,
    pub run_start: Option<DateTime<Utc>>,
    pub run_end: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub invoked_by: InvokedBy,
    /// Vendor message (ADF puts the first failed activity's error here).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty", default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Set when this run re-ran an earlier one (ADF recovery run, Airflow clear, Databricks repair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
}

/// One execution (one attempt) of an activity/task inside a pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActivityRun {
    pub activity_run_id: String,
    pub activity_name: String,
    /// Vendor activity type: `Copy`, `DatabricksNotebook`, `ExecutePipeline`, `Lookup`, …
    pub activity_type: String,
    pub status: RunStatus,
    /// 1-based attempt number; retries appear as separate activity runs.
    pub attempt: u32,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// Linked service (connection) the activity used, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_service: Option<String>,
    /// Activity output as the backend reports it (rows read/written, run page URL, …).
    #[serde(skip_serializing_if = "serde_json::Value::is_null", default)]
    pub output: serde_json::Value,
}

/// One firing of a trigger (an ADF schedule, tumbling-window or event trigger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TriggerRun {
    pub trigger: String,
    /// `ScheduleTrigger`, `TumblingWindowTrigger`, `BlobEventsTrigger`, …
    pub trigger_type: String,
    pub fired_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    /// The pipeline run it started, when it started one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_run_id: Option<String>,
}

/// Duration between two optional instants, in milliseconds.
/// Activity runs in the order they ran: by start (not started first), then name.
pub fn sort_by_start(activities: &mut [ActivityRun]) {
    activities.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.activity_name.cmp(&b.activity_name))
    });
}

pub fn duration_ms(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<i64> {
    match (start, end) {
        (Some(s), Some(e)) => Some((e - s).num_milliseconds()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parses_vendor_spellings() {
        assert_eq!(RunStatus::parse("InProgress"), RunStatus::InProgress);
        assert_eq!(RunStatus::parse("running"), RunStatus::InProgress);
        assert_eq!(RunStatus::parse("SUCCESS"), RunStatus::Succeeded);
        assert_eq!(RunStatus::parse("upstream_failed"), RunStatus::Failed);
        assert_eq!(RunStatus::parse("Canceled"), RunStatus::Cancelled);
    }

    #[test]
    fn unknown_status_is_kept_not_rejected() {
        let status = RunStatus::parse("deferred");
        assert_eq!(status, RunStatus::Other("deferred".into()));
        assert_eq!(serde_json::to_value(&status).unwrap(), "deferred");
    }

    #[test]
    fn status_round_trips_through_json() {
        let json = serde_json::to_string(&RunStatus::InProgress).unwrap();
        assert_eq!(json, "\"InProgress\"");
        let back: RunStatus = serde_json::from_str(&json).unwrap();
        assert_eq!(back, RunStatus::InProgress);
    }
}
