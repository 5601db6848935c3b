//! Checks tool arguments against the tool's input schema before dispatch, so a
//! model that sends a wrong type, forgets a required parameter or invents one
//! gets told exactly which, and what the tool takes.

use serde_json::{Map, Value};

/// `Ok(())`, or a message naming each problem and listing the parameters.
pub fn check_arguments(
    schema: &Map<String, Value>,
    args: Option<&Map<String, Value>>,
) -> Result<(), String> {
    let empty = Map::new();
    let args = args.unwrap_or(&empty);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for name in &required {
        if args.get(*name).is_none_or(Value::is_null) {
            problems.push(format!("missing required parameter '{name}'"));
        }
    }
    for (name, value) in args {
        match properties.get(name) {
            None => problems.push(format!("unknown parameter '{}'", quoted_name(name))),
            Some(spec) => {
                let allowed = allowed_types(spec);
                if !allowed.is_empty() && !allowed.iter().any(|t| matches_type(t, value)) {
                    problems.push(format!(
                        "'{}' must be {} (got {})",
                        quoted_name(name),
                        allowed.join(" or "),
                        describe(value)
                    ));
                } else if let Some(problem) = unrepresentable_integer(name, spec, value) {
                    problems.push(problem);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}. {}",
            problems.join("; "),
            describe_parameters(schema)
        ))
    }
}

/// A parameter name as an error quotes it: a caller may invent any key.
fn quoted_name(name: &str) -> String {
    const MAX_NAME_CHARS: usize = 64;
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_string(),
    }
}

/// An integer the tool's parameter type cannot hold (a negative or a too-large
/// `limit`) would fail deserialisation as a protocol error the model never
/// reads; say so here, with the range the schema documents.
fn unrepresentable_integer(name: &str, spec: &Value, value: &Value) -> Option<String> {
    let (lowest, highest) = match spec.get("format").and_then(Value::as_str)? {
        "uint8" => (0, i128::from(u8::MAX)),
        "uint16" => (0, i128::from(u16::MAX)),
        "uint32" | "uint" => (0, i128::from(u32::MAX)),
        "uint64" => (0, i128::from(u64::MAX)),
        "int8" => (i128::from(i8::MIN), i128::from(i8::MAX)),
        "int16" => (i128::from(i16::MIN), i128::from(i16::MAX)),
        "int32" | "int" => (i128::from(i32::MIN), i128::from(i32::MAX)),
        "int64" => (i128::from(i64::MIN), i128::from(i64::MAX)),
        _ => return None,
    };
    let n = value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from))?;
    if (lowest..=highest).contains(&n) {
        return None;
    }
    let bound = |key: &str, fallback: i128| {
        spec.get(key)
            .and_then(Value::as_i64)
            .map_or(fallback, i128::from)
    };
    Some(format!(
        "'{name}' must be a whole number from {} to {} (got {n})",
        bound("minimum", lowest),
        bound("maximum", highest)
    ))
}

fn allowed_types(spec: &Value) -> Vec<String> {
    let mut out: Vec<String> = match spec.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    // Optional fields are nullable; a null is always fine for them.
    out.retain(|t| t != "null");
    out
}

fn matches_type(kind: &str, value: &Value) -> bool {
    if value.is_null() {
        return true;
    }
    match kind {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.len() > 40 => format!("a string of {} characters", s.len()),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// "Parameters: pipeline (string, required), limit (integer)…" from an input schema.
pub fn describe_parameters(schema: &Map<String, Value>) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema
        .get("properties")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty())
    else {
        return "This tool takes no parameters.".to_string();
    };
    let parts: Vec<String> = properties
        .iter()
        .map(|(name, spec)| {
            let kinds = allowed_types(spec);
            let kind = if kinds.is_empty() {
                "value".to_string()
            } else {
                kinds.join("|")
            };
            let flag = if required.contains(&name.as_str()) {
                ", required"
            } else {
                ""
            };
            format!("{name} ({kind}{flag})")
        })
        .collect();
    format!("Parameters: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        json!({
            "type": "object",
            "properties": {"pipeline": {"type": "string"}, "limit": {"type": ["integer", "null"], "format": "uint32"}},
            "required": ["pipeline"]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn good_arguments_pass() {
        let args = json!({"pipeline": "p", "limit": 5});
        assert!(check_arguments(&schema(), args.as_object()).is_ok());
        let args = json!({"pipeline": "p", "limit": null});
        assert!(check_arguments(&schema(), args.as_object()).is_ok());
    }

    #[test]
    fn integers_the_parameter_cannot_hold_are_named_with_the_range() {
        let mut schema = schema();
        schema["properties"]["limit"]["minimum"] = json!(1);
        schema["properties"]["limit"]["maximum"] = json!(2000);
        for bad in [json!(-1), json!(10_000_000_000_i64), json!(u64::MAX)] {
            let args = json!({"pipeline": "p", "limit": bad});
            let err = check_arguments(&schema, args.as_object()).unwrap_err();
            assert!(
                err.contains("'limit' must be a whole number from 1 to 2000"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_invented_huge_parameter_name_is_quoted_short() {
        let name = "p".repeat(1 << 20);
        let args = json!({"pipeline": "p", name: 1});
        let err = check_arguments(&schema(), args.as_object()).unwrap_err();
        assert!(err.len() < 300, "{} bytes", err.len());
    }

    #[test]
    fn each_problem_is_named_with_the_parameter_list() {
        let args = json!({"limit": "lots", "pipline": "x"});
        let err = check_arguments(&schema(), args.as_object()).unwrap_err();
        assert!(
            err.contains("missing required parameter 'pipeline'"),
            "{err}"
        );
        assert!(
            err.contains("'limit' must be integer (got string \"lots\")"),
            "{err}"
        );
        assert!(err.contains("unknown parameter 'pipline'"), "{err}");
        assert!(
            err.contains("Parameters: limit (integer), pipeline (string, required)."),
            "{err}"
        );
    }
}
