//! Applying Terraform's sensitivity and unknown-value masks.
//!
//! `before_sensitive`, `after_sensitive`, `after_unknown` and a state
//! resource's `sensitive_values` mirror the shape of the value they describe:
//! `true` marks a leaf or a whole subtree, objects and arrays descend, and
//! anything else (absent, `false`, `{}`) marks nothing. When mask and value
//! disagree about shape we redact rather than guess, because a leaked secret
//! costs far more than a hidden harmless value.

use serde_json::{Map, Value};

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
pub(super) fn child<'a>(mask: &'a Value, key: &str) -> &'a Value {
    match mask {
        Value::Bool(true) => &TRUE,
        Value::Object(map) => map.get(key).unwrap_or(&NULL),
        _ => &NULL,
    }
}

/// An attribute of an object value; `null` when absent or not an object.
pub(super) fn attribute<'a>(value: &'a Value, key: &str) -> &'a Value {
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
