//! Reading plan JSON: typed fields whose errors name where they were.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::PlanError;

pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserialize `value`, naming `location` in the error.
pub(super) fn typed<T: DeserializeOwned>(
    value: &Value,
    location: impl Fn() -> String,
) -> Result<T, PlanError> {
    T::deserialize(value).map_err(|e| PlanError::Malformed {
        location: location(),
        detail: e.to_string(),
    })
}

/// The items of an optional list field.
pub(super) fn list<'a>(value: Option<&'a Value>, location: &str) -> Result<&'a [Value], PlanError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(PlanError::Malformed {
            location: location.to_owned(),
            detail: format!("expected a list, found {}", json_type(other)),
        }),
    }
}
