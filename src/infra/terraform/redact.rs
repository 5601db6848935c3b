//! Applying Terraform's sensitivity and unknown-value masks.
//!
//! `before_sensitive`, `after_sensitive`, `after_unknown` and a state
//! resource's `sensitive_values` mirror the shape of the value they describe:
//! `true` marks a leaf or a whole subtree, objects and arrays descend, and
//! anything else (absent, `false`, `{}`) marks nothing. When mask and value
//! disagree about shape we redact rather than guess, because a leaked secret
//! costs far more than a hidden harmless value.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::model::AttributeChange;

pub const SENSITIVE: &str = "(sensitive)";
pub const UNKNOWN: &str = "(known after apply)";

static NULL: Value = Value::Null;
static TRUE: Value = Value::Bool(true);

/// Does the mask mark anything at or below this point?
pub(super) fn marks_any(mask: &Value) -> bool {
    match mask {
        Value::Bool(b) => *b,
        Value::Array(items) => items.iter().any(marks_any),
        Value::Object(map) => map.values().any(marks_any),
        _ => false,
    }
}

/// The part of a mask that applies to attribute or map key `key`.
/// A `true` mask covers everything beneath it.
fn child<'a>(mask: &'a Value, key: &str) -> &'a Value {
    match mask {
        Value::Bool(true) => &TRUE,
        Value::Object(map) => map.get(key).unwrap_or(&NULL),
        _ => &NULL,
    }
}

/// An attribute of an object value; `null` when absent or not an object.
fn attribute<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.get(key).unwrap_or(&NULL)
}

fn element(mask: &Value, index: usize) -> &Value {
    match mask {
        Value::Bool(true) => &TRUE,
        Value::Array(items) => items.get(index).unwrap_or(&NULL),
        _ => &NULL,
    }
}

/// Copy `value`, replacing sensitive parts with [`SENSITIVE`] and unknown
/// parts with [`UNKNOWN`]. Sensitivity wins: an unknown secret is still a
/// secret, and saying so is more useful than "unknown".
pub(super) fn redact(value: &Value, sensitive: &Value, unknown: &Value) -> Value {
    if *sensitive == TRUE {
        return Value::String(SENSITIVE.to_owned());
    }
    if *unknown == TRUE {
        return Value::String(UNKNOWN.to_owned());
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let redacted = redact(item, child(sensitive, key), child(unknown, key));
                out.insert(key.clone(), redacted);
            }
            // Terraform leaves attributes that are unknown until apply out of
            // `after` entirely; put them back so the reader sees they change.
            if let Value::Object(unknown_map) = unknown {
                for (key, mask) in unknown_map {
                    if !out.contains_key(key) && marks_any(mask) {
                        let label = if marks_any(child(sensitive, key)) {
                            SENSITIVE
                        } else {
                            UNKNOWN
                        };
                        out.insert(key.clone(), Value::String(label.to_owned()));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| redact(item, element(sensitive, i), element(unknown, i)))
                .collect(),
        ),
        Value::Null => Value::Null,
        // A scalar under a structured mask means the shapes disagree: fail closed.
        _ if marks_any(sensitive) => Value::String(SENSITIVE.to_owned()),
        _ if marks_any(unknown) => Value::String(UNKNOWN.to_owned()),
        scalar => scalar.clone(),
    }
}

/// Inputs for [`changed_attributes`], borrowed from a raw change.
pub(super) struct Diff<'a> {
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
pub(super) fn changed_attributes(diff: &Diff<'_>) -> Vec<AttributeChange> {
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
