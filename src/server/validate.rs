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
            None => problems.push(format!("unknown parameter '{name}'")),
            Some(spec) => {
                let allowed = allowed_types(spec);
                if !allowed.is_empty() && !allowed.iter().any(|t| matches_type(t, value)) {
                    problems.push(format!(
                        "'{name}' must be {} (got {})",
                        allowed.join(" or "),
                        describe(value)
                    ));
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
