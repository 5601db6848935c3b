//! Databricks run output as a [`LogSource`]: for each task run, what
//! `runs/get-output` keeps — the task's stdout/stderr (`logs`, for Python,
//! JAR and wheel tasks; Databricks keeps the last 5 MB), a notebook's exit
//! value, and a failed task's error with its stack trace. Lines whose header carries a time and level
//! keep them; the rest are stamped with the task's end and read as info.

use async_trait::async_trait;
use serde_json::Value;

use super::DatabricksBackend;
use super::wire::{Run, RunTask, millis};
use crate::backends::{BackendError, LogQuery, LogSource, PipelineBackend};
use crate::logmine::header::split_header;
use crate::model::log::{LogLevel, LogLine};
use crate::model::run::PipelineRun;

pub const SOURCE: &str = "databricks/run-output";
/// Most runs whose output one `fetch_logs` call reads, when it names no run.
const RUNS_PER_LOG_QUERY: usize = 10;
/// Most task outputs read for one `fetch_logs` call.
const MAX_OUTPUTS_PER_QUERY: usize = 40;

#[async_trait]
impl LogSource for DatabricksBackend {
    async fn fetch_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, BackendError> {
        if query.source.as_deref().is_some_and(|s| s != SOURCE) {
            return Ok(Vec::new());
        }
        let run_ids: Vec<String> = match &query.run_id {
            Some(run_id) => vec![run_id.clone()],
            None => self
                .query_runs(&query.runs(RUNS_PER_LOG_QUERY))
                .await?
                .runs
                .into_iter()
                .map(|r| r.run_id)
                .collect(),
        };
        let mut lines = Vec::new();
        let mut outputs_read = 0;
        for run_id in run_ids {
            // The listing has no task runs; one `runs/get` gives both.
            let Some(run) = self.run(&run_id).await? else {
                continue;
            };
            let tasks = tasks_of(&run);
            let summary = self.pipeline_run(run).await?;
            for task in tasks {
                if query.activity.as_ref().is_some_and(|a| *a != task.task_key)
                    || millis(task.start_time).is_none()
                {
                    continue;
                }
                if outputs_read >= MAX_OUTPUTS_PER_QUERY {
                    break;
                }
                outputs_read += 1;
                let id = task.run_id.to_string();
                let output = match self
                    .get(self.url(&["runs", "get-output"], &[("run_id", &id)]))
                    .await
                {
                    Ok(output) => output,
                    Err(e) => {
                        tracing::warn!("output of Databricks task run {id} unreadable: {e}");
                        continue;
                    }
                };
                lines.extend(
                    output_lines(&output, &summary, &task)
                        .into_iter()
                        .filter(|l| query.matches(l)),
                );
            }
        }
        Ok(query.newest(lines))
    }

    fn log_sources(&self) -> Vec<String> {
        vec![SOURCE.into()]
    }
}

/// The task runs of a run; a single-task run without a task list is its own.
fn tasks_of(run: &Run) -> Vec<RunTask> {
    if !run.tasks.is_empty() {
        return run.tasks.clone();
    }
    vec![RunTask {
        run_id: run.run_id,
        task_key: run.pipeline(),
        state: run.state.clone(),
        start_time: run.start_time,
        end_time: run.end_time,
        attempt_number: None,
        notebook_task: None,
        spark_python_task: None,
        spark_jar_task: None,
        python_wheel_task: None,
        sql_task: None,
        pipeline_task: None,
        run_page_url: run.run_page_url.clone(),
    }]
}

/// One task run's output as log events.
fn output_lines(output: &Value, run: &PipelineRun, task: &RunTask) -> Vec<LogLine> {
    let Some(stamp) = millis(task.end_time).or(millis(task.start_time)) else {
        return Vec::new();
    };
    let year = chrono::Datelike::year(&stamp);
    let line = |timestamp, level, message: String| LogLine {
        timestamp,
        level,
        source: SOURCE.into(),
        pipeline: Some(run.pipeline.clone()),
        run_id: Some(run.run_id.clone()),
        activity: Some(task.task_key.clone()),
        message,
    };
    let mut lines = Vec::new();
    for text in output["logs"].as_str().unwrap_or_default().lines() {
        if text.trim().is_empty() {
            continue;
        }
        let header = split_header(text, year);
        lines.push(line(
            header.timestamp.unwrap_or(stamp),
            header.level.unwrap_or(LogLevel::Info),
            text[header.message_start..].trim_end().to_string(),
        ));
    }
    // What a notebook passed to `dbutils.notebook.exit()`; notebooks keep no stdout here.
    if let Some(result) = output["notebook_output"]["result"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
    {
        lines.push(line(
            stamp,
            LogLevel::Info,
            format!(
                "notebook exited with: {}",
                crate::support::text::clip(result.trim(), 4_000)
            ),
        ));
    }
    if output["logs_truncated"].as_bool() == Some(true) {
        lines.push(line(
            stamp,
            LogLevel::Warn,
            "Databricks kept only the end of this task's output (logs_truncated); the full driver log is on the run page".into(),
        ));
    }
    if let Some(error) = output["error"].as_str().filter(|e| !e.trim().is_empty()) {
        let mut message = error.trim().to_string();
        if let Some(trace) = output["error_trace"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
        {
            message.push('\n');
            message.push_str(&crate::support::text::clip(trace.trim_end(), 4_000));
        }
        lines.push(line(stamp, LogLevel::Error, message));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_output_becomes_events_with_the_error_last() {
        let task: RunTask = serde_json::from_value(json!({
            "run_id": 448814, "task_key": "build_order_facts",
            "start_time": 1795399200000_i64, "end_time": 1795399265000_i64,
            "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED"}
        }))
        .unwrap();
        let run: Run = serde_json::from_value(json!({"run_id": 448812, "job_id": 987})).unwrap();
        let run = run.into_run("prod", "order_facts".into());
        let output = json!({
            "logs": "reading 120455 orders\n26/11/23 02:01:04 WARN SparkSession: schema changed\n\n",
            "logs_truncated": true,
            "error": "AnalysisException: [UNRESOLVED_COLUMN] `order_ts` cannot be resolved",
            "error_trace": "Traceback (most recent call last):\n  File \"x.py\", line 3\nAnalysisException: ..."
        });
        let lines = output_lines(&output, &run, &task);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0].message, "reading 120455 orders");
        assert_eq!(lines[0].level, LogLevel::Info);
        assert_eq!(lines[1].level, LogLevel::Warn);
        assert_eq!(lines[1].message, "SparkSession: schema changed");
        assert_eq!(
            lines[1].timestamp.to_rfc3339(),
            "2026-11-23T02:01:04+00:00",
            "the line's own time"
        );
        assert!(lines[2].message.contains("logs_truncated"));
        assert_eq!(lines[3].level, LogLevel::Error);
        assert!(lines[3].message.starts_with("AnalysisException"));
        assert!(lines[3].message.contains("Traceback"));
        assert_eq!(lines[3].activity.as_deref(), Some("build_order_facts"));
        assert_eq!(lines[3].run_id.as_deref(), Some("448812"));
        assert!(output_lines(&json!({}), &run, &task).is_empty());
        let notebook = output_lines(
            &json!({"notebook_output": {"result": "rows=0", "truncated": false}}),
            &run,
            &task,
        );
        assert_eq!(notebook[0].message, "notebook exited with: rows=0");
        assert!(
            output_lines(&json!({"notebook_output": {"result": ""}}), &run, &task).is_empty(),
            "no exit value, no line"
        );
    }
}
