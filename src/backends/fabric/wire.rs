//! The Fabric REST API's shapes, read leniently: workspaces, items, capacities
//! and the job scheduler's job instances. Unknown statuses are kept as text.

use serde::Deserialize;
use serde_json::Value;

use super::prose;
use crate::model::run::{InvokedBy, PipelineRun, RunStatus};
use crate::model::time::parse_service_instant;

/// The item types that are pipelines on the board.
pub const PIPELINE_ITEM_TYPES: [&str; 3] = ["DataPipeline", "Dataflow", "CopyJob"];

/// Longest text kept from one field the service sends (ids, names, messages).
const MAX_FIELD_CHARS: usize = 4_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub capacity_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "type")]
    pub item_type: String,
}

impl Item {
    pub fn is_pipeline(&self) -> bool {
        PIPELINE_ITEM_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&self.item_type))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

/// A job instance (`ItemJobInstance`): one run of an item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInstance {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub item_id: String,
    #[serde(default)]
    pub job_type: Option<String>,
    #[serde(default)]
    pub invoke_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub start_time_utc: Option<String>,
    #[serde(default)]
    pub end_time_utc: Option<String>,
    /// An `ErrorResponse` (`errorCode`, `message`) or null.
    #[serde(default)]
    pub failure_reason: Option<Value>,
}

/// The job scheduler's status names (`Status` in job_scheduling.json), mapped
/// to ours; anything else is kept as the service wrote it.
pub fn job_status(raw: Option<&str>) -> RunStatus {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return RunStatus::Other("Unknown".into());
    };
    match raw.to_ascii_lowercase().as_str() {
        "notstarted" => RunStatus::Queued,
        "inprogress" => RunStatus::InProgress,
        "completed" => RunStatus::Succeeded,
        "failed" => RunStatus::Failed,
        "cancelled" | "canceled" => RunStatus::Cancelled,
        // A duplicate request the scheduler folded into another: it never ran.
        "deduped" => RunStatus::Skipped,
        _ => match RunStatus::parse(raw) {
            RunStatus::Other(_) => RunStatus::Other(prose::name(raw)),
            known => known,
        },
    }
}

/// `errorCode: message` of a `failureReason`, empty when there is none.
pub fn failure_text(reason: Option<&Value>) -> String {
    let Some(reason) = reason else {
        return String::new();
    };
    match reason {
        Value::Null => String::new(),
        Value::String(text) => prose::message(text),
        Value::Object(map) => {
            let field = |name: &str| {
                map.get(name)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or("")
            };
            let (code, message) = (field("errorCode"), field("message"));
            prose::message(&match (code.is_empty(), message.is_empty()) {
                (false, false) => format!("{code}: {message}"),
                (true, false) => message.to_string(),
                (false, true) => code.to_string(),
                (true, true) => String::new(),
            })
        }
        other => prose::message(&other.to_string()),
    }
}

impl JobInstance {
    /// The run as the board shows it, named after its item.
    pub fn into_run(self, pipeline: &str, environment: &str) -> PipelineRun {
        let start = parse_service_instant(self.start_time_utc.as_deref());
        let end = parse_service_instant(self.end_time_utc.as_deref());
        let invoke = self
            .invoke_type
            .as_deref()
            .map(prose::name)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Unknown".into());
        PipelineRun {
            run_id: clip(&self.id),
            pipeline: pipeline.to_string(),
            backend: crate::model::run::BackendKind::Fabric,
            environment: environment.to_string(),
            status: job_status(self.status.as_deref()),
            run_start: start,
            run_end: end,
            duration_ms: crate::model::run::duration_ms(start, end),
            invoked_by: InvokedBy {
                name: self
                    .job_type
                    .as_deref()
                    .map(prose::name)
                    .unwrap_or_default(),
                kind: invoke,
                parent_run_id: None,
                parent_pipeline: None,
            },
            message: failure_text(self.failure_reason.as_ref()),
            parameters: serde_json::Map::new(),
            rerun_of: None,
        }
    }
}

/// At most [`MAX_FIELD_CHARS`] characters of a service-sent text.
fn clip(text: &str) -> String {
    text.chars().take(MAX_FIELD_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_status_maps_and_unknown_ones_are_kept() {
        let cases = [
            ("NotStarted", RunStatus::Queued),
            ("InProgress", RunStatus::InProgress),
            ("Completed", RunStatus::Succeeded),
            ("Failed", RunStatus::Failed),
            ("Cancelled", RunStatus::Cancelled),
            ("Deduped", RunStatus::Skipped),
            ("completed", RunStatus::Succeeded),
            (" Failed ", RunStatus::Failed),
        ];
        for (raw, want) in cases {
            assert_eq!(job_status(Some(raw)), want, "{raw}");
        }
        assert_eq!(
            job_status(Some("Throttled")),
            RunStatus::Other("Throttled".into())
        );
        assert_eq!(job_status(None), RunStatus::Other("Unknown".into()));
        assert_eq!(job_status(Some("  ")), RunStatus::Other("Unknown".into()));
    }

    #[test]
    fn hostile_values_are_bounded_and_never_panic() {
        let huge = "x".repeat(100_000);
        match job_status(Some(&huge)) {
            RunStatus::Other(kept) => {
                assert_eq!(kept.chars().count(), prose::MAX_NAME_CHARS + 1)
            }
            other => panic!("{other:?}"),
        }
        match job_status(Some("Odd\u{1b}[2J")) {
            RunStatus::Other(kept) => assert_eq!(kept, "Odd\\x1b[2J"),
            other => panic!("{other:?}"),
        }
        let hostile = json!({"errorCode": "E\u{9b}1", "message": format!("boom\u{1b}]0;x\u{7}{}", "m".repeat(9_000))});
        let told = failure_text(Some(&hostile));
        assert!(!told.chars().any(|c| c.is_control()), "{told:?}");
        assert!(told.chars().count() <= prose::MAX_MESSAGE_CHARS + 1);
        let wire: JobInstance =
            serde_json::from_value(json!({"id": huge, "status": "Failed"})).unwrap();
        let run = wire.into_run("p", "prod");
        assert!(run.run_id.chars().count() <= MAX_FIELD_CHARS);
        let odd: JobInstance = serde_json::from_value(json!({
            "id": "r1", "startTimeUtc": "not a time", "endTimeUtc": "9999999-01-01",
            "failureReason": [1, 2]
        }))
        .unwrap();
        let run = odd.into_run("p", "prod");
        assert_eq!(run.run_start, None);
        assert_eq!(run.duration_ms, None);
        assert_eq!(run.message, "[1,2]");
        assert_eq!(run.invoked_by.kind, "Unknown");
    }

    #[test]
    fn failure_reason_gives_code_and_message() {
        let reason = json!({"errorCode": "RequestExecutionFailed", "message": "Copy failed: timeout", "requestId": "r"});
        assert_eq!(
            failure_text(Some(&reason)),
            "RequestExecutionFailed: Copy failed: timeout"
        );
        assert_eq!(failure_text(Some(&Value::Null)), "");
        assert_eq!(failure_text(None), "");
        assert_eq!(failure_text(Some(&json!({"message": "m"}))), "m");
    }

    #[test]
    fn a_job_instance_becomes_a_run_with_its_invoke_type() {
        let wire: JobInstance = serde_json::from_value(json!({
            "id": "f2d65699", "itemId": "431e", "jobType": "Pipeline", "invokeType": "Scheduled",
            "status": "Failed", "startTimeUtc": "2024-06-22T06:35:00.7812154",
            "endTimeUtc": "2024-06-22T06:36:00.7812154",
            "failureReason": {"errorCode": "E1", "message": "boom"}
        }))
        .unwrap();
        let run = wire.into_run("ingest", "prod");
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.invoked_by.kind, "Scheduled");
        assert_eq!(run.duration_ms, Some(60_000));
        assert_eq!(run.message, "E1: boom");
        assert_eq!(run.backend, crate::model::run::BackendKind::Fabric);
    }
}
