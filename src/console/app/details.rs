//! The run-details view: what `get_run_details` said about one run (activity
//! runs with attempts, errors and durations; parent and child runs), read as
//! the tool-result contract's [`RunDetails`], the type the server writes.

use serde_json::Value;

pub use crate::model::contract::RunDetails;
use crate::trace::redact;

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
    /// error that says what was wrong, not an empty view. What a server said
    /// is redacted here too, whoever fetched it: the view is on screen.
    pub fn from_result(run_id: &str, result: Result<Value, String>) -> DetailsView {
        let parsed = result.and_then(|value| {
            serde_json::from_value::<RunDetails>(redact::value(&value)).map_err(|e| {
                format!("the server's get_run_details answer has an unexpected shape: {e}")
            })
        });
        let parsed = parsed.map_err(|reason| redact::text(&reason).into_owned());
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

    #[test]
    fn details_on_screen_carry_no_secret() {
        let answer = json!({
            "run": {
                "run_id": "r1", "pipeline": "p", "backend": "adf", "environment": "prod",
                "status": "Failed", "run_start": null, "run_end": null, "duration_ms": null,
                "invoked_by": {"name": "t", "kind": "Manual"},
                "message": "copy failed: DefaultEndpointsProtocol=https;AccountName=st;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4;",
                "parameters": {"conn": "Server=db;User=etl;password=hunter2pass", "storageKey": "c3RvcmFnZWtleQ"}
            },
            "activities": [{
                "activity_run_id": "a1", "activity_name": "Copy", "activity_type": "Copy",
                "status": "Failed", "attempt": 1, "start": null, "end": null, "duration_ms": null,
                "error": {"code": "2200", "message": "GET https://st.blob.core.windows.net/c/f failed, token sv=2022 sig=c2lnbmF0dXJl"},
                "output": {"sas": "https://st.blob.core.windows.net/c?sv=1&sig=b3V0cHV0c2ln"}
            }]
        });
        let view = DetailsView::from_result("r1", Ok(answer));
        let shown = format!("{view:?}");
        for secret in [
            "Zm9vYmFy",
            "hunter2pass",
            "c3RvcmFnZWtleQ",
            "c2lnbmF0dXJl",
            "b3V0cHV0c2ln",
        ] {
            assert!(!shown.contains(secret), "{secret} is on screen: {shown}");
        }
        assert!(matches!(view, DetailsView::Loaded { .. }), "{shown}");
        let failed = DetailsView::from_result("r1", Err("bad answer: password=hunter2pass".into()));
        assert!(!format!("{failed:?}").contains("hunter2pass"));
    }
}
