//! The records as JSON.

use serde_json::Value;

use crate::trace::reader::Trace;

pub(super) fn json(trace: &Trace) -> String {
    let skipped: Vec<Value> = trace
        .skipped
        .iter()
        .map(|s| serde_json::json!({"line": s.line, "reason": s.reason}))
        .collect();
    let document = serde_json::json!({
        "header": trace.header,
        "records": trace.records,
        "skipped": skipped,
        "warnings": trace.warnings,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}
