//! Turning `terraform show -json` output into [`TerraformPlan`].
//!
//! The JSON format grew field by field from 0.1 (Terraform 0.12) to 1.2, so
//! everything that is not essential to a change is optional and unknown
//! fields are ignored. What is essential (an entry's address, type, name and
//! actions) is required: silently skipping a malformed entry could turn a
//! destructive plan into one that looks harmless.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::changes::{declared_sensitive_outputs, output_changes, resource_changes};
use super::error::PlanError;
use super::json::{json_type, typed};
use super::model::TerraformPlan;
use super::state::{checks, prior_resources};

/// Keys only a plan has; a `terraform show -json` of state has none of them.
const PLAN_KEYS: &[&str] = &[
    "planned_values",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "prior_state",
    "relevant_attributes",
    "applyable",
    "complete",
    "errored",
];

/// Parse the output of `terraform show -json PLANFILE`.
pub fn parse_plan(json: &str) -> Result<TerraformPlan, PlanError> {
    let root: Value = serde_json::from_str(json).map_err(|e| PlanError::NotJson {
        detail: e.to_string(),
    })?;
    let Value::Object(doc) = &root else {
        return Err(PlanError::NotAnObject {
            found: json_type(&root),
        });
    };
    let format_version = check_is_plan(doc)?;

    let declared_sensitive = declared_sensitive_outputs(&root);
    Ok(TerraformPlan {
        format_version,
        terraform_version: optional(doc, "terraform_version")?,
        timestamp: optional(doc, "timestamp")?,
        applyable: optional(doc, "applyable")?,
        complete: optional(doc, "complete")?,
        errored: optional(doc, "errored")?,
        resource_changes: resource_changes(doc, "resource_changes")?,
        resource_drift: resource_changes(doc, "resource_drift")?,
        output_changes: output_changes(doc, &declared_sensitive)?,
        prior_resources: prior_resources(&root)?,
        checks: checks(&root),
    })
}

/// Reject anything that is not a plan, and return its format version.
fn check_is_plan(doc: &Map<String, Value>) -> Result<String, PlanError> {
    let has = |key: &str| doc.get(key).is_some_and(|v| !v.is_null());
    if has("lineage") || has("serial") || (has("version") && has("resources")) {
        return Err(PlanError::RawStateFile);
    }
    if !PLAN_KEYS.iter().any(|key| has(key)) {
        if has("values") {
            return Err(PlanError::LooksLikeState);
        }
        let detail = if doc.is_empty() {
            "the object is empty".to_owned()
        } else {
            let keys: Vec<&str> = doc.keys().take(6).map(String::as_str).collect();
            format!(
                "none of `planned_values`, `resource_changes` or `prior_state` is present; \
                 top-level keys: {}",
                keys.join(", ")
            )
        };
        return Err(PlanError::NotAPlan { detail });
    }

    let version = match doc.get("format_version") {
        None | Some(Value::Null) => return Err(PlanError::MissingFormatVersion),
        Some(Value::String(s)) => s.clone(),
        // Terraform always writes a string; a bare number is still readable.
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(PlanError::InvalidFormatVersion {
                found: other.to_string(),
            });
        }
    };
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u64>().ok())
        .ok_or_else(|| PlanError::InvalidFormatVersion {
            found: format!("{version:?}"),
        })?;
    if major > 1 {
        return Err(PlanError::UnsupportedFormatVersion { found: version });
    }
    Ok(version)
}

/// An optional top-level field; `null` counts as absent.
fn optional<T: DeserializeOwned>(
    doc: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, PlanError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => typed(value, || key.to_owned()).map(Some),
    }
}
