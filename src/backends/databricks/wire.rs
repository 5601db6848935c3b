//! Databricks Jobs API 2.1 shapes (`Run`, `RunTask`, `RunState`, run output)
//! read leniently, and their mapping onto the common model: a job is a
//! pipeline, a job run a run, a task run an activity run.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::run::{ActivityRun, BackendKind, InvokedBy, PipelineRun, RunError, RunStatus};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunState {
    #[serde(default)]
    pub life_cycle_state: Option<String>,
    #[serde(default)]
    pub result_state: Option<String>,
    #[serde(default)]
    pub state_message: Option<String>,
    #[serde(default)]
    pub user_cancelled_or_timedout: Option<bool>,
}

impl RunState {
    /// Life cycle and result onto our statuses; unknown values are kept.
    pub fn status(&self) -> RunStatus {
        let life = self
            .life_cycle_state
            .as_deref()
            .unwrap_or("")
            .to_ascii_uppercase();
        let result = self.result_state.as_deref().map(str::to_ascii_uppercase);
        match (life.as_str(), result.as_deref()) {
            (_, Some("SUCCESS" | "SUCCESS_WITH_FAILURES")) => RunStatus::Succeeded,
            (_, Some("FAILED" | "TIMEDOUT" | "MAXIMUM_CONCURRENT_RUNS_REACHED")) => {
                RunStatus::Failed
            }
            (_, Some("CANCELED" | "CANCELLED")) => RunStatus::Cancelled,
            // A task that never ran because one before it failed did not fail itself.
            (_, Some("EXCLUDED" | "UPSTREAM_FAILED" | "UPSTREAM_CANCELED")) => RunStatus::Skipped,
            ("PENDING" | "QUEUED" | "BLOCKED" | "WAITING_FOR_RETRY", _) => RunStatus::Queued,
            ("RUNNING", _) => RunStatus::InProgress,
            ("TERMINATING", _) => RunStatus::Canceling,
            ("SKIPPED", _) => RunStatus::Skipped,
            ("INTERNAL_ERROR", _) => RunStatus::Failed,
            ("TERMINATED", None) => RunStatus::Succeeded,
            (_, Some(other)) => RunStatus::Other(other.to_string()),
            (other, None) => RunStatus::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    pub run_id: i64,
    #[serde(default)]
    pub job_id: Option<i64>,
    #[serde(default)]
    pub run_name: Option<String>,
    #[serde(default)]
    pub state: RunState,
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub run_duration: Option<i64>,
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub run_page_url: Option<String>,
    #[serde(default)]
    pub tasks: Vec<RunTask>,
    #[serde(default)]
    pub original_attempt_run_id: Option<i64>,
    #[serde(default)]
    pub repair_history: Vec<Value>,
    #[serde(default)]
    pub overriding_parameters: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunTask {
    pub run_id: i64,
    pub task_key: String,
    #[serde(default)]
    pub state: RunState,
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub notebook_task: Option<Value>,
    #[serde(default)]
    pub spark_python_task: Option<Value>,
    #[serde(default)]
    pub spark_jar_task: Option<Value>,
    #[serde(default)]
    pub python_wheel_task: Option<Value>,
    #[serde(default)]
    pub sql_task: Option<Value>,
    #[serde(default)]
    pub pipeline_task: Option<Value>,
    #[serde(default)]
    pub run_page_url: Option<String>,
}

/// Databricks times are milliseconds since the epoch; 0 means "not yet".
pub fn millis(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.filter(|ms| *ms > 0)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
}

impl RunTask {
    pub fn kind(&self) -> &'static str {
        [
            (self.notebook_task.is_some(), "NotebookTask"),
            (self.spark_python_task.is_some(), "SparkPythonTask"),
            (self.spark_jar_task.is_some(), "SparkJarTask"),
            (self.python_wheel_task.is_some(), "PythonWheelTask"),
            (self.sql_task.is_some(), "SqlTask"),
            (self.pipeline_task.is_some(), "PipelineTask"),
        ]
        .into_iter()
        .find(|(present, _)| *present)
        .map(|(_, name)| name)
        .unwrap_or("Task")
    }

    /// What the task runs: a notebook path, a Python file, a main class…
    pub fn target(&self) -> Option<String> {
        let pick = |v: &Option<Value>, key: &str| {
            v.as_ref()
                .and_then(|t| t.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        pick(&self.notebook_task, "notebook_path")
            .or_else(|| pick(&self.spark_python_task, "python_file"))
            .or_else(|| pick(&self.spark_jar_task, "main_class_name"))
            .or_else(|| pick(&self.python_wheel_task, "entry_point"))
    }

    pub fn into_activity(self, error: Option<RunError>, extra: Value) -> ActivityRun {
        let status = self.state.status();
        let start = millis(self.start_time);
        let end = millis(self.end_time);
        let mut output = json!({ "task_run_id": self.run_id });
        if let Some(url) = &self.run_page_url {
            output["run_page_url"] = json!(url);
        }
        if let Value::Object(map) = extra {
            for (k, v) in map {
                output[k] = v;
            }
        }
        let fallback = || RunError {
            code: self
                .state
                .result_state
                .clone()
                .unwrap_or_else(|| "FAILED".into()),
            message: self.state.state_message.clone().unwrap_or_default(),
            failure_type: None,
        };
        ActivityRun {
            activity_run_id: self.run_id.to_string(),
            activity_name: self.task_key.clone(),
            activity_type: self.kind().to_string(),
            error: (status == RunStatus::Failed).then(|| error.unwrap_or_else(fallback)),
            status,
            attempt: self.attempt_number.unwrap_or(0) + 1,
            duration_ms: crate::model::run::duration_ms(start, end),
            start,
            end,
            linked_service: None,
            output,
        }
    }
}

impl Run {
    /// The job's name, else `job <id>`, else the run's name.
    pub fn pipeline(&self) -> String {
        self.run_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.job_id.map(|id| format!("job {id}")))
            .unwrap_or_else(|| format!("run {}", self.run_id))
    }

    pub fn into_run(self, environment: &str, pipeline: String) -> PipelineRun {
        let start = millis(self.start_time);
        let end = millis(self.end_time);
        let trigger = self.trigger.clone().unwrap_or_else(|| "UNKNOWN".into());
        let kind = match trigger.as_str() {
            "PERIODIC" | "CRON" => "Schedule",
            "ONE_TIME" => "Manual",
            "RETRY" => "Retry",
            "RUN_JOB_TASK" => "PipelineActivity",
            "FILE_ARRIVAL" => "FileArrival",
            _ => "Unknown",
        };
        PipelineRun {
            run_id: self.run_id.to_string(),
            pipeline,
            backend: BackendKind::Databricks,
            environment: environment.to_string(),
            status: self.state.status(),
            duration_ms: self
                .run_duration
                .filter(|d| *d > 0)
                .or_else(|| crate::model::run::duration_ms(start, end)),
            run_start: start,
            run_end: end,
            invoked_by: InvokedBy {
                name: trigger,
                kind: kind.into(),
                parent_run_id: None,
                parent_pipeline: None,
            },
            message: self.state.state_message.clone().unwrap_or_default(),
            parameters: self
                .overriding_parameters
                .as_ref()
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            rerun_of: self
                .original_attempt_run_id
                .filter(|id| *id != self.run_id)
                .map(|id| id.to_string()),
        }
    }

    /// The repairs in the run's `repair_history` that started at or after
    /// `since` (a repair with no start yet counts: it was just asked for),
    /// as (repair id, start). The `ORIGINAL` entry is the run itself.
    pub fn repairs_since(&self, since: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        self.repair_history
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("REPAIR"))
            .filter_map(|r| {
                let at = millis(r.get("start_time").and_then(Value::as_i64)).unwrap_or(since);
                let id = match r.get("id") {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => format!("{}@{}", self.run_id, at.timestamp_millis()),
                };
                (at >= since).then(|| (format!("repair {id}"), at))
            })
            .collect()
    }

    /// The id of the latest repair, which the next repair must name (the
    /// Jobs API refuses a repair that does not, so a repeated request cannot
    /// repair twice).
    pub fn latest_repair_id(&self) -> Option<i64> {
        self.repair_history
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("REPAIR"))
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .max()
    }
}

/// A task's failure from `runs/get-output`: `error` is the message
/// (`AnalysisException: [UNRESOLVED_COLUMN…] …`), `error_trace` the stack.
pub fn failure_from_output(output: &Value) -> Option<(RunError, Option<String>)> {
    let error = output.get("error").and_then(Value::as_str)?.trim();
    if error.is_empty() {
        return None;
    }
    let first_line = error.lines().next().unwrap_or(error);
    let code = match first_line.split_once(':') {
        Some((class, _)) if !class.contains(' ') && !class.is_empty() => {
            class.rsplit('.').next().unwrap_or(class).to_string()
        }
        _ => "FAILED".to_string(),
    };
    let trace = output
        .get("error_trace")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(|t| crate::support::text::clip(t, 4_000));
    Some((
        RunError {
            code,
            message: error.to_string(),
            failure_type: None,
        },
        trace,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_leniently() {
        let state = |life: &str, result: Option<&str>| RunState {
            life_cycle_state: Some(life.into()),
            result_state: result.map(str::to_string),
            ..RunState::default()
        };
        assert_eq!(
            state("TERMINATED", Some("FAILED")).status(),
            RunStatus::Failed
        );
        assert_eq!(state("INTERNAL_ERROR", None).status(), RunStatus::Failed);
        assert_eq!(state("RUNNING", None).status(), RunStatus::InProgress);
        assert_eq!(state("WAITING_FOR_RETRY", None).status(), RunStatus::Queued);
        assert_eq!(
            state("TERMINATED", Some("CANCELED")).status(),
            RunStatus::Cancelled
        );
        assert_eq!(
            state("HIBERNATING", None).status(),
            RunStatus::Other("HIBERNATING".into()),
            "a state from a newer API is kept, not rejected"
        );
    }

    #[test]
    fn the_output_error_becomes_the_tasks_error() {
        let output = json!({
            "error": "AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `order_ts` cannot be resolved.",
            "error_trace": "---------------------------------------------------------------------------\nAnalysisException                         Traceback (most recent call last)\n..."
        });
        let (error, trace) = failure_from_output(&output).unwrap();
        assert_eq!(error.code, "AnalysisException");
        assert!(trace.unwrap().contains("Traceback"));
        assert!(failure_from_output(&json!({"notebook_output": {}})).is_none());
        assert_eq!(millis(Some(0)), None);
    }
}
