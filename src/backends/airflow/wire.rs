//! Airflow's REST shapes (API v1 and v2: Airflow 3 keeps the fields opsdeck
//! reads) and their mapping onto the common model: a DAG is a pipeline, a DAG
//! run a run, a task instance try an activity run. Airflow keeps no error message on a task instance; the error
//! is read from the task's log ([`super::logs::error_from_log`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::run::{ActivityRun, BackendKind, InvokedBy, PipelineRun, RunError, RunStatus};
use crate::model::time::parse_service_instant;

#[derive(Debug, Deserialize)]
pub struct DagCollection {
    #[serde(default)]
    pub dags: Vec<Dag>,
    #[serde(default)]
    pub total_entries: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Dag {
    pub dag_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_paused: Option<bool>,
    #[serde(default)]
    pub fileloc: Option<String>,
    #[serde(default)]
    pub timetable_description: Option<String>,
    #[serde(default)]
    pub schedule_interval: Option<Value>,
    /// Airflow 3's cron or preset (`0 2 * * *`, `@daily`).
    #[serde(default)]
    pub timetable_summary: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<Value>>,
}

impl Dag {
    /// "At 02:00 (0 2 * * *)", or None for unscheduled DAGs.
    pub fn schedule(&self) -> Option<String> {
        let expression = self
            .schedule_interval
            .as_ref()
            .and_then(|s| {
                s.get("value")
                    .and_then(Value::as_str)
                    .or_else(|| s.as_str())
            })
            .or(self.timetable_summary.as_deref())
            .map(str::to_string);
        let paused = if self.is_paused == Some(true) {
            " (paused)"
        } else {
            ""
        };
        match (self.timetable_description.as_deref(), expression) {
            (Some("Never, external triggers only"), _) => None,
            (Some(text), Some(expr)) if !text.contains(&expr) => {
                Some(format!("{text} ({expr}){paused}"))
            }
            (Some(text), _) => Some(format!("{text}{paused}")),
            (None, Some(expr)) => Some(format!("{expr}{paused}")),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TaskCollection {
    #[serde(default)]
    pub tasks: Vec<Task>,
}

#[derive(Debug, Deserialize)]
pub struct Task {
    pub task_id: String,
    #[serde(default)]
    pub operator_name: Option<String>,
    #[serde(default)]
    pub class_ref: Option<Value>,
    #[serde(default)]
    pub downstream_task_ids: Vec<String>,
    #[serde(default)]
    pub retries: Option<f64>,
}

impl Task {
    pub fn operator(&self) -> String {
        self.operator_name
            .clone()
            .or_else(|| {
                self.class_ref
                    .as_ref()
                    .and_then(|c| c.get("class_name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "Task".into())
    }
}

#[derive(Debug, Deserialize)]
pub struct DagRunCollection {
    #[serde(default)]
    pub dag_runs: Vec<DagRun>,
    #[serde(default)]
    pub total_entries: Option<u64>,
    /// Airflow 3's keyset paging; null on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DagRun {
    pub dag_run_id: String,
    pub dag_id: String,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub logical_date: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub run_type: Option<String>,
    #[serde(default)]
    pub conf: Option<Map<String, Value>>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Our id for a DAG run: DAG run ids are unique only within their DAG, and DAG
/// ids cannot contain `/`.
pub fn run_key(dag_id: &str, dag_run_id: &str) -> String {
    format!("{dag_id}/{dag_run_id}")
}

/// `dag/run` back into its parts.
pub fn split_run_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
        .filter(|(dag, run)| !dag.is_empty() && !run.is_empty())
}

/// Airflow states onto ours. `upstream_failed` is not a failure of the task
/// itself (it never ran), so it reads as skipped; `none` is not scheduled yet.
pub fn status_of(state: Option<&str>) -> RunStatus {
    match state.map(str::trim) {
        None | Some("") | Some("none") => RunStatus::Queued,
        Some("upstream_failed") => RunStatus::Skipped,
        Some("deferred") => RunStatus::InProgress,
        Some(other) => RunStatus::parse(other),
    }
}

impl DagRun {
    pub fn into_run(self, environment: &str) -> PipelineRun {
        let run_start = parse_service_instant(self.start_date.as_deref());
        let run_end = parse_service_instant(self.end_date.as_deref());
        let run_type = self.run_type.unwrap_or_else(|| "unknown".into());
        let kind = match run_type.as_str() {
            "scheduled" => "Schedule",
            "manual" => "Manual",
            "backfill" => "Backfill",
            "dataset_triggered" | "asset_triggered" => "Dataset",
            _ => "Unknown",
        };
        PipelineRun {
            run_id: run_key(&self.dag_id, &self.dag_run_id),
            pipeline: self.dag_id,
            backend: BackendKind::Airflow,
            environment: environment.to_string(),
            status: status_of(self.state.as_deref()),
            duration_ms: crate::model::run::duration_ms(run_start, run_end),
            run_start,
            run_end,
            invoked_by: InvokedBy {
                name: run_type,
                kind: kind.to_string(),
                parent_run_id: None,
                parent_pipeline: None,
            },
            message: self.note.unwrap_or_default(),
            parameters: self.conf.unwrap_or_default(),
            rerun_of: None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TaskInstanceCollection {
    #[serde(default)]
    pub task_instances: Vec<TaskInstance>,
    #[serde(default)]
    pub total_entries: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskInstance {
    pub task_id: String,
    #[serde(default)]
    pub dag_id: String,
    #[serde(default)]
    pub dag_run_id: Option<String>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub try_number: Option<u32>,
    #[serde(default)]
    pub max_tries: Option<u32>,
    #[serde(default)]
    pub map_index: Option<i64>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
}

impl TaskInstance {
    /// The task's name on the board: `task` or `task[3]` for a mapped one.
    pub fn name(&self) -> String {
        match self.map_index {
            Some(i) if i >= 0 => format!("{}[{i}]", self.task_id),
            _ => self.task_id.clone(),
        }
    }

    /// One activity run for this task instance's latest try; `error` comes
    /// from its log when it failed.
    pub fn into_activity(
        self,
        run_key: &str,
        error: Option<RunError>,
        log_refs: Value,
    ) -> ActivityRun {
        let start = parse_service_instant(self.start_date.as_deref());
        let end = parse_service_instant(self.end_date.as_deref());
        let status = status_of(self.state.as_deref());
        let attempt = self.try_number.unwrap_or(1).max(1);
        let mut output = json!({});
        if let Some(host) = &self.hostname
            && !host.is_empty()
        {
            output["hostname"] = json!(host);
        }
        if let Some(max) = self.max_tries {
            output["max_tries"] = json!(max);
        }
        if self.state.as_deref() == Some("upstream_failed") {
            output["note"] = json!("not run: an upstream task failed");
        }
        if let Value::Object(refs) = log_refs {
            for (k, v) in refs {
                output[k] = v;
            }
        }
        ActivityRun {
            activity_run_id: format!("{run_key}/{}/{attempt}", self.name()),
            activity_name: self.name(),
            activity_type: self.operator.clone().unwrap_or_else(|| "Task".into()),
            error: if status == RunStatus::Failed {
                Some(error.unwrap_or(RunError {
                    code: "TaskFailed".into(),
                    message: "the task failed; its log could not be read".into(),
                    failure_type: None,
                }))
            } else {
                None
            },
            status,
            attempt,
            duration_ms: self
                .duration
                .map(|secs| (secs * 1000.0).round() as i64)
                .or_else(|| crate::model::run::duration_ms(start, end)),
            start,
            end,
            linked_service: None,
            output: if output.as_object().is_some_and(|o| o.is_empty()) {
                Value::Null
            } else {
                output
            },
        }
    }
}

/// The start of a window as Airflow's filters want it.
pub fn airflow_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_task_instances_map_onto_the_model() {
        let run: DagRun = serde_json::from_value(json!({
            "dag_run_id": "scheduled__2026-11-22T02:00:00+00:00", "dag_id": "nightly_orders",
            "start_date": "2026-11-23T02:00:01.123456+00:00", "end_date": null, "state": "running",
            "run_type": "scheduled", "conf": {}, "note": null, "external_trigger": false
        }))
        .unwrap();
        let mapped = run.into_run("prod");
        assert_eq!(
            mapped.run_id,
            "nightly_orders/scheduled__2026-11-22T02:00:00+00:00"
        );
        assert_eq!(
            split_run_key(&mapped.run_id),
            Some(("nightly_orders", "scheduled__2026-11-22T02:00:00+00:00"))
        );
        assert_eq!(mapped.status, RunStatus::InProgress);
        assert_eq!(mapped.invoked_by.kind, "Schedule");
        let ti: TaskInstance = serde_json::from_value(json!({
            "task_id": "publish", "dag_id": "nightly_orders", "state": "upstream_failed",
            "try_number": 0, "map_index": -1, "operator": "PythonOperator", "duration": null
        }))
        .unwrap();
        let activity = ti.into_activity(&mapped.run_id, None, Value::Null);
        assert_eq!(activity.status, RunStatus::Skipped);
        assert_eq!(activity.error, None);
        assert_eq!(activity.attempt, 1);
        assert_eq!(status_of(None), RunStatus::Queued);
        assert_eq!(status_of(Some("up_for_retry")), RunStatus::InProgress);
    }
}
