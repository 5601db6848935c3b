//! The approval dialog: a destructive call waits here for a person's `y` or `n`.
//! It shows the tool, the server, the full arguments, the target the call would
//! touch, and the dry-run preview when the tool can produce one.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub tool: String,
    pub server: String,
    pub arguments: Value,
    /// Why the policy asks (e.g. "rerun_pipeline changes the estate").
    pub reason: String,
    /// What the tool's own dry run said it would do, or why there is none.
    pub preview: Option<String>,
}

impl ApprovalRequest {
    /// The target in words: pipeline, run and environment as far as the arguments
    /// (and the preview's JSON) name them, so the user sees what is touched.
    pub fn target(&self) -> Vec<(&'static str, String)> {
        const FIELDS: [(&str, &str); 4] = [
            ("pipeline", "pipeline"),
            ("run", "run_id"),
            ("environment", "environment"),
            ("from failed activity", "from_failed_activity"),
        ];
        FIELDS
            .iter()
            .filter_map(|(label, key)| {
                let value = self.arguments.get(key)?;
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((*label, text))
            })
            .collect()
    }

    pub fn arguments_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.arguments).unwrap_or_else(|_| self.arguments.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_target_names_what_the_arguments_touch() {
        let request = ApprovalRequest {
            tool: "rerun_pipeline".into(),
            server: "opsdeck".into(),
            arguments: json!({"pipeline": "ingest_sales", "run_id": "r-42", "from_failed_activity": true, "dry_run": false}),
            reason: "changes the estate".into(),
            preview: None,
        };
        assert_eq!(
            request.target(),
            vec![
                ("pipeline", "ingest_sales".to_string()),
                ("run", "r-42".to_string()),
                ("from failed activity", "true".to_string())
            ]
        );
        assert!(request.arguments_pretty().contains("\"dry_run\": false"));
    }
}
