//! The run-details view: what `get_run_details` said about one run (activity
//! runs with attempts, errors and durations; parent and child runs).

use serde::Deserialize;
use serde_json::Value;

use crate::model::run::{ActivityRun, PipelineRun, RunStatus};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    pub pipeline: String,
    pub status: RunStatus,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunDetails {
    pub run: PipelineRun,
    #[serde(default)]
    pub activities: Vec<ActivityRun>,
    #[serde(default)]
    pub failed_activities: Vec<String>,
    #[serde(default)]
    pub child_runs: Vec<RunRef>,
    #[serde(default)]
    pub parent_run: Option<RunRef>,
}

/// What the details overlay shows: loading, the details, or why they could not be had.
#[derive(Debug, Clone, PartialEq)]
pub enum DetailsView {
    Loading {
        run_id: String,
        pipeline: String,
    },
    Loaded {
        details: Box<RunDetails>,
        scroll: usize,
    },
    Failed {
        run_id: String,
        reason: String,
    },
}

impl DetailsView {
    pub fn run_id(&self) -> &str {
        match self {
            DetailsView::Loading { run_id, .. } | DetailsView::Failed { run_id, .. } => run_id,
            DetailsView::Loaded { details, .. } => &details.run.run_id,
        }
    }

    /// Reads a `get_run_details` structured result; a shape we do not know is an
    /// error that says what was wrong, not an empty view.
    pub fn from_result(run_id: &str, result: Result<Value, String>) -> DetailsView {
        let parsed = result.and_then(|value| {
            serde_json::from_value::<RunDetails>(value).map_err(|e| {
                format!("the server's get_run_details answer has an unexpected shape: {e}")
            })
        });
        match parsed {
            Ok(details) => DetailsView::Loaded {
                details: Box::new(details),
                scroll: 0,
            },
            Err(reason) => DetailsView::Failed {
                run_id: run_id.to_string(),
                reason,
            },
        }
    }

    pub fn scroll(&mut self, delta: isize) {
        if let DetailsView::Loaded { scroll, details } = self {
            let max = details.activities.len() + details.child_runs.len() + 12;
            *scroll = (*scroll as isize + delta).clamp(0, max as isize) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_parse_from_the_tool_result_and_bad_shapes_say_why() {
        let good = json!({
            "run": {
                "run_id": "r1", "pipeline": "p", "backend": "sandbox", "environment": "prod",
                "status": "Failed", "run_start": null, "run_end": null, "duration_ms": null,
                "invoked_by": {"name": "t", "kind": "ScheduleTrigger"},
                "message": "boom", "parameters": {}
            },
            "activities": [],
            "failed_activities": ["Copy"],
            "child_runs": [{"run_id": "c1", "pipeline": "child", "status": "Succeeded"}],
            "parent_run": null
        });
        let view = DetailsView::from_result("r1", Ok(good));
        assert!(
            matches!(&view, DetailsView::Loaded { details, .. } if details.failed_activities == ["Copy"] && details.child_runs.len() == 1),
            "{view:?}"
        );
        let bad = DetailsView::from_result("r1", Ok(json!({"runs": []})));
        assert!(
            matches!(&bad, DetailsView::Failed { reason, .. } if reason.contains("unexpected shape") && reason.contains("run")),
            "{bad:?}"
        );
        let failed = DetailsView::from_result("r1", Err("server down".into()));
        assert_eq!(failed.run_id(), "r1");
    }
}
