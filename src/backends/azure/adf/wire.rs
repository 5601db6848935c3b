//! Data Factory's run shapes (`PipelineRun`, `ActivityRun`, `TriggerRun`) as the
//! service really sends them, read leniently: parameters as JSON-encoded
//! strings, 7-digit fractions of a second, `runEnd`/`durationInMs` null while a
//! run is going or after a cancel, succeeded activities with an empty `error`
//! object, and fields the service added after this code was written.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::run::{
    ActivityRun, BackendKind, InvokedBy, PipelineRun, RunError, RunStatus, TriggerRun,
};
use crate::model::time::parse_service_instant;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePipelineRun {
    pub run_id: String,
    #[serde(default)]
    pub pipeline_name: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default)]
    pub invoked_by: Option<WireInvokedBy>,
    #[serde(default)]
    pub run_start: Option<String>,
    #[serde(default)]
    pub run_end: Option<String>,
    #[serde(default)]
    pub duration_in_ms: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub is_latest: Option<bool>,
    #[serde(default)]
    pub run_group_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireInvokedBy {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub invoked_by_type: Option<String>,
    #[serde(default)]
    pub pipeline_name: Option<String>,
    #[serde(default)]
    pub pipeline_run_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireActivityRun {
    #[serde(default)]
    pub activity_run_id: String,
    #[serde(default)]
    pub activity_name: String,
    #[serde(default)]
    pub activity_type: String,
    #[serde(default)]
    pub pipeline_run_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub activity_run_start: Option<String>,
    #[serde(default)]
    pub activity_run_end: Option<String>,
    #[serde(default)]
    pub duration_in_ms: Option<i64>,
    #[serde(default)]
    pub retry_attempt: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub linked_service_name: Option<String>,
    #[serde(default)]
    pub output: Option<Value>,
}

/// ADF sends parameter values as JSON-encoded strings (`"[\"a.csv\"]"`); a string
/// that decodes to a list or an object is shown decoded, anything else as sent.
fn decode_parameters(raw: Option<Map<String, Value>>) -> Map<String, Value> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let decoded = match &value {
                Value::String(text) if text.starts_with('[') || text.starts_with('{') => {
                    serde_json::from_str::<Value>(text)
                        .ok()
                        .filter(|v| v.is_array() || v.is_object())
                        .unwrap_or(value)
                }
                _ => value,
            };
            (name, decoded)
        })
        .collect()
}

impl WirePipelineRun {
    pub fn into_run(self, environment: &str) -> PipelineRun {
        let run_start = parse_service_instant(self.run_start.as_deref());
        let run_end = parse_service_instant(self.run_end.as_deref());
        let invoked = self.invoked_by.unwrap_or(WireInvokedBy {
            name: None,
            id: None,
            invoked_by_type: None,
            pipeline_name: None,
            pipeline_run_id: None,
        });
        let kind = invoked.invoked_by_type.clone().unwrap_or_else(|| {
            // Older answers leave the type out; "Manual" is the one name that says it.
            match invoked.name.as_deref() {
                Some("Manual") => "Manual".to_string(),
                _ => "Unknown".to_string(),
            }
        });
        // A recovery run shares its run group with the run it re-ran.
        let rerun_of = self
            .run_group_id
            .filter(|group| !group.is_empty() && *group != self.run_id);
        PipelineRun {
            duration_ms: self
                .duration_in_ms
                .or_else(|| crate::model::run::duration_ms(run_start, run_end)),
            run_id: self.run_id,
            pipeline: self.pipeline_name,
            backend: BackendKind::Adf,
            environment: environment.to_string(),
            status: RunStatus::parse(self.status.as_deref().unwrap_or("Unknown")),
            run_start,
            run_end,
            invoked_by: InvokedBy {
                name: invoked.name.unwrap_or_else(|| "Unknown".into()),
                kind,
                parent_run_id: invoked.pipeline_run_id.filter(|s| !s.is_empty()),
                parent_pipeline: invoked.pipeline_name.filter(|s| !s.is_empty()),
            },
            message: self.message.unwrap_or_default(),
            parameters: decode_parameters(self.parameters),
            rerun_of,
        }
    }
}

/// The error of an activity run, if it failed: ADF sends an `error` object on
/// every activity run, empty (`errorCode: ""`) when it succeeded.
fn activity_error(raw: Option<&Value>, status: &RunStatus) -> Option<RunError> {
    let text = |name: &str| {
        raw.and_then(|e| e.get(name))
            .map(|v| match v {
                Value::String(s) => s.trim().to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let (code, message, failure_type) = (text("errorCode"), text("message"), text("failureType"));
    if code.is_empty() && message.is_empty() && *status != RunStatus::Failed {
        return None;
    }
    Some(RunError {
        code: if code.is_empty() {
            "Unknown".into()
        } else {
            code
        },
        message,
        failure_type: (!failure_type.is_empty()).then_some(failure_type),
    })
}

/// Activity runs of one pipeline run, numbered by attempt: ADF reports each
/// retry as its own activity run with the same activity name.
pub fn activity_runs(mut wire: Vec<WireActivityRun>) -> Vec<ActivityRun> {
    wire.sort_by_key(|a| {
        (
            parse_service_instant(a.activity_run_start.as_deref()),
            a.activity_run_id.clone(),
        )
    });
    let mut attempts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    wire.into_iter()
        .map(|a| {
            let status = RunStatus::parse(a.status.as_deref().unwrap_or("Unknown"));
            let start = parse_service_instant(a.activity_run_start.as_deref());
            let end = parse_service_instant(a.activity_run_end.as_deref());
            let counted = attempts.entry(a.activity_name.clone()).or_insert(0);
            *counted += 1;
            // `retryAttempt` is null on first attempts; when present it is 1-based retries.
            let attempt = a
                .retry_attempt
                .as_ref()
                .and_then(Value::as_u64)
                .map(|r| r as u32 + 1)
                .unwrap_or(*counted);
            ActivityRun {
                error: activity_error(a.error.as_ref(), &status),
                activity_run_id: a.activity_run_id,
                activity_name: a.activity_name,
                activity_type: a.activity_type,
                status,
                attempt,
                start,
                end,
                duration_ms: a
                    .duration_in_ms
                    .or_else(|| crate::model::run::duration_ms(start, end)),
                linked_service: a.linked_service_name.filter(|s| !s.is_empty()),
                output: match a.output {
                    Some(Value::Object(map)) if map.is_empty() => Value::Null,
                    Some(other) => other,
                    None => Value::Null,
                },
            }
        })
        .collect()
}

/// A trigger run as `queryTriggerRuns` returns it, if it started `pipeline`.
pub fn trigger_run_for(raw: &Value, pipeline: &str) -> Option<TriggerRun> {
    let started = raw.get("triggeredPipelines")?.as_object()?;
    let run_id = started.get(pipeline)?;
    let text = |name: &str| {
        raw.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(TriggerRun {
        trigger: text("triggerName"),
        trigger_type: text("triggerType"),
        fired_at: parse_service_instant(raw.get("triggerRunTimestamp").and_then(Value::as_str)),
        status: RunStatus::parse(&text("status")),
        message: text("message"),
        pipeline_run_id: run_id
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string),
    })
}

/// A page of `queryPipelineRuns` / `queryActivityruns`: values and the token for the next.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default)]
    pub continuation_token: Option<String>,
}

impl<T> QueryPage<T> {
    pub fn next_token(&self) -> Option<String> {
        self.continuation_token
            .clone()
            .filter(|t| !t.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_runs_are_matched_to_the_pipelines_they_started() {
        let raw = json!({"triggerName": "nightly", "triggerRunId": "0858", "triggerType": "ScheduleTrigger",
            "triggerRunTimestamp": "2026-11-23T02:00:00.0012345Z", "status": "Failed",
            "message": "Pipeline not found", "triggeredPipelines": {"ingest_orders": ""}});
        let run = trigger_run_for(&raw, "ingest_orders").unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.pipeline_run_id, None);
        assert_eq!(run.message, "Pipeline not found");
        assert!(trigger_run_for(&raw, "transform_orders").is_none());
    }

    #[test]
    fn seven_digit_fractions_and_missing_offsets_parse() {
        let t = parse_service_instant(Some("2018-06-16T00:37:44.6257014Z")).unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 625_701_400);
        let naive = parse_service_instant(Some("2018-06-16T00:37:44.6257014")).unwrap();
        assert_eq!(naive, t);
        assert_eq!(parse_service_instant(Some("")), None);
        assert_eq!(parse_service_instant(Some("yesterday")), None);
    }

    #[test]
    fn a_cancelled_run_without_end_and_with_encoded_parameters() {
        let wire: WirePipelineRun = serde_json::from_value(json!({
            "runId": "16ac5348-ff82-4f95-a80d-638c1d47b721",
            "pipelineName": "examplePipeline",
            "parameters": {"OutputBlobNameList": "[\"exampleoutput.csv\"]", "Plain": "[not json"},
            "invokedBy": {"id": "7c5f", "name": "Manual"},
            "runStart": "2018-06-16T00:39:49.2745128Z",
            "runEnd": null,
            "durationInMs": null,
            "status": "Cancelled",
            "message": "",
            "brandNewField": {"added": "later"}
        }))
        .unwrap();
        let run = wire.into_run("prod");
        assert_eq!(run.status, RunStatus::Cancelled);
        assert_eq!(run.run_end, None);
        assert_eq!(run.duration_ms, None);
        assert_eq!(
            run.parameters["OutputBlobNameList"],
            json!(["exampleoutput.csv"])
        );
        assert_eq!(run.parameters["Plain"], json!("[not json"));
        assert_eq!(run.invoked_by.kind, "Manual");
        assert_eq!(run.environment, "prod");
    }

    #[test]
    fn a_child_run_names_its_parent() {
        let wire: WirePipelineRun = serde_json::from_value(json!({
            "runId": "r2", "pipelineName": "child", "status": "InProgress",
            "invokedBy": {"name": "Execute child", "id": "x", "invokedByType": "PipelineActivity",
                          "pipelineName": "parent", "pipelineRunId": "r1"},
            "runGroupId": "r2"
        }))
        .unwrap();
        let run = wire.into_run("dev");
        assert_eq!(run.status, RunStatus::InProgress);
        assert_eq!(run.invoked_by.parent_pipeline.as_deref(), Some("parent"));
        assert_eq!(run.invoked_by.parent_run_id.as_deref(), Some("r1"));
        assert_eq!(run.rerun_of, None, "a run's own group is not a rerun");
    }

    #[test]
    fn empty_errors_are_no_errors_and_retries_are_attempts() {
        let wire: Vec<WireActivityRun> = serde_json::from_value(json!([
            {"activityRunId": "b", "activityName": "Copy", "activityType": "Copy", "status": "Failed",
             "activityRunStart": "2024-01-01T00:05:00Z", "retryAttempt": 1,
             "error": {"errorCode": "2200", "message": "Login failed", "failureType": "UserError", "target": "Copy"}},
            {"activityRunId": "a", "activityName": "Copy", "activityType": "Copy", "status": "Failed",
             "activityRunStart": "2024-01-01T00:00:00Z", "retryAttempt": null,
             "error": {"errorCode": "2200", "message": "Login failed", "failureType": "UserError", "target": "Copy"}},
            {"activityRunId": "c", "activityName": "Lookup", "activityType": "Lookup", "status": "Succeeded",
             "activityRunStart": "2024-01-01T00:10:00Z", "activityRunEnd": "2024-01-01T00:10:02Z",
             "error": {"errorCode": "", "message": "", "failureType": "", "target": "Lookup"}, "output": {}},
            {"activityRunId": "d", "activityName": "Notebook", "activityType": "DatabricksNotebook",
             "status": "Failed", "activityRunStart": "2024-01-01T00:11:00Z", "error": {}}
        ]))
        .unwrap();
        let runs = activity_runs(wire);
        assert_eq!(runs[0].activity_run_id, "a");
        assert_eq!((runs[0].attempt, runs[1].attempt), (1, 2));
        assert_eq!(
            runs[0].error.as_ref().unwrap().failure_type.as_deref(),
            Some("UserError")
        );
        assert_eq!(runs[2].error, None);
        assert_eq!(runs[2].duration_ms, Some(2_000));
        assert!(runs[2].output.is_null());
        // Failed with an empty error object: still a failure, with an unknown code.
        assert_eq!(runs[3].error.as_ref().unwrap().code, "Unknown");
    }
}
