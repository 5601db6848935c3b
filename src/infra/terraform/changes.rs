//! `resource_changes`, `resource_drift` and `output_changes`.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::PlanError;
use super::json::{json_type, list, typed};
use super::model::{AttributeChange, ChangeKind, ChangeValues, OutputChange, ResourceChange};
use super::redact::{self, attribute, child, marks_any};
use super::state::{full_address, infer_mode};

#[derive(Deserialize)]
struct RawResourceChange {
    address: Option<String>,
    module_address: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    index: Option<Value>,
    provider_name: Option<String>,
    deposed: Option<String>,
    action_reason: Option<String>,
    previous_address: Option<String>,
    change: RawChange,
}

#[derive(Deserialize)]
struct RawChange {
    actions: Vec<String>,
    #[serde(default)]
    before: Value,
    #[serde(default)]
    after: Value,
    #[serde(default)]
    after_unknown: Value,
    #[serde(default)]
    before_sensitive: Value,
    #[serde(default)]
    after_sensitive: Value,
    #[serde(default)]
    replace_paths: Value,
    #[serde(default)]
    importing: Value,
}

pub(super) fn resource_changes(
    doc: &Map<String, Value>,
    key: &str,
) -> Result<Vec<ResourceChange>, PlanError> {
    list(doc.get(key), key)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let raw: RawResourceChange = typed(item, || match item.get("address") {
                Some(Value::String(address)) => format!("{key}[{i}] ({address})"),
                _ => format!("{key}[{i}]"),
            })?;
            Ok(resource_change(raw))
        })
        .collect()
}

fn resource_change(raw: RawResourceChange) -> ResourceChange {
    let RawResourceChange {
        address,
        module_address,
        mode,
        resource_type,
        name,
        index,
        provider_name,
        deposed,
        action_reason,
        previous_address,
        change,
    } = raw;
    // Each path is a list of attribute names and indexes; anything else is
    // not a path we can use, so it is dropped rather than rejected.
    let replace_paths: Vec<Vec<Value>> = match &change.replace_paths {
        Value::Array(paths) => paths.iter().filter_map(|p| p.as_array().cloned()).collect(),
        _ => Vec::new(),
    };
    let changed_attributes = changed_attributes(&Diff {
        before: &change.before,
        after: &change.after,
        before_sensitive: &change.before_sensitive,
        after_sensitive: &change.after_sensitive,
        after_unknown: &change.after_unknown,
        replace_paths: &replace_paths,
    });
    let mode = mode.unwrap_or_else(|| infer_mode(address.as_deref()));
    let address = address.unwrap_or_else(|| {
        let module = module_address.as_deref();
        full_address(module, &mode, &resource_type, &name, index.as_ref())
    });
    ResourceChange {
        address,
        module_address,
        mode,
        resource_type,
        name,
        index,
        provider_name,
        deposed,
        kind: ChangeKind::from_actions(&change.actions),
        actions: change.actions,
        action_reason,
        replace_paths,
        previous_address,
        importing: !change.importing.is_null(),
        changed_attributes,
        values: ChangeValues {
            before: change.before,
            after: change.after,
            before_sensitive: change.before_sensitive,
            after_sensitive: change.after_sensitive,
            after_unknown: change.after_unknown,
        },
    }
}

#[derive(Deserialize)]
struct RawOutputChange {
    actions: Vec<String>,
    #[serde(default)]
    after: Value,
    #[serde(default)]
    after_unknown: Value,
    #[serde(default)]
    before_sensitive: Value,
    #[serde(default)]
    after_sensitive: Value,
}

pub(super) fn output_changes(
    doc: &Map<String, Value>,
    declared_sensitive: &BTreeSet<String>,
) -> Result<Vec<OutputChange>, PlanError> {
    let outputs = match doc.get("output_changes") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(outputs)) => outputs,
        Some(other) => {
            return Err(PlanError::Malformed {
                location: "output_changes".to_owned(),
                detail: format!(
                    "expected an object keyed by output name, found {}",
                    json_type(other)
                ),
            });
        }
    };
    let mut changes = outputs
        .iter()
        .map(|(name, item)| {
            let raw: RawOutputChange = typed(item, || format!("output_changes.{name}"))?;
            // Format 0.1 has no per-change sensitivity, so also trust the
            // `sensitive` flag the output carries elsewhere in the document.
            let sensitive = redact::marks_any(&raw.before_sensitive)
                || redact::marks_any(&raw.after_sensitive)
                || declared_sensitive.contains(name);
            let mask = if declared_sensitive.contains(name) {
                Value::Bool(true)
            } else {
                raw.after_sensitive
            };
            let after_redacted = (!raw.after.is_null() || redact::marks_any(&raw.after_unknown))
                .then(|| redact::redact(&raw.after, &mask, &raw.after_unknown));
            Ok(OutputChange {
                name: name.clone(),
                kind: ChangeKind::from_actions(&raw.actions),
                sensitive,
                after_redacted,
            })
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(changes)
}

/// Outputs marked `sensitive` in planned values, prior state or configuration.
pub(super) fn declared_sensitive_outputs(root: &Value) -> BTreeSet<String> {
    let sources = [
        root.pointer("/planned_values/outputs"),
        root.pointer("/prior_state/values/outputs"),
        root.pointer("/configuration/root_module/outputs"),
    ];
    sources
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|outputs| outputs.iter())
        .filter(|(_, output)| output.get("sensitive") == Some(&Value::Bool(true)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Inputs for [`changed_attributes`], borrowed from a raw change.
struct Diff<'a> {
    pub before: &'a Value,
    pub after: &'a Value,
    pub before_sensitive: &'a Value,
    pub after_sensitive: &'a Value,
    pub after_unknown: &'a Value,
    pub replace_paths: &'a [Vec<Value>],
}

/// Top-level attributes whose value differs between before and after,
/// including those unknown until apply and those named in `replace_paths`.
/// A missing attribute counts as `null`, so creating `{"tags": null}` does
/// not report `tags` as changed. Sorted by name for stable output.
fn changed_attributes(diff: &Diff<'_>) -> Vec<AttributeChange> {
    let forcing: BTreeSet<&str> = diff
        .replace_paths
        .iter()
        .filter_map(|path| path.first().and_then(Value::as_str))
        .collect();

    let mut names: BTreeSet<&str> = BTreeSet::new();
    for source in [diff.before, diff.after, diff.after_unknown] {
        if let Value::Object(map) = source {
            names.extend(map.keys().map(String::as_str));
        }
    }
    names.extend(forcing.iter().copied());

    names
        .into_iter()
        .filter_map(|name| {
            let before = attribute(diff.before, name);
            let after = attribute(diff.after, name);
            let unknown_after = marks_any(child(diff.after_unknown, name));
            let forces_replacement = forcing.contains(name);
            if before == after && !unknown_after && !forces_replacement {
                return None;
            }
            let sensitive = marks_any(child(diff.before_sensitive, name))
                || marks_any(child(diff.after_sensitive, name));
            Some(AttributeChange {
                name: name.to_owned(),
                sensitive,
                forces_replacement,
                unknown_after,
            })
        })
        .collect()
}
