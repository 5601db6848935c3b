//! How every tool answers: a one-paragraph summary for people and models, the
//! same data as JSON text for hosts that only read text, and `structuredContent`
//! matching the tool's output schema. Errors are tool results with
//! `isError: true` that say what was wrong and what to do, so a model can
//! correct itself; they never carry structured content (which would have to
//! match the success schema). The domain's [`ToolError`] (`ops::OpsError`)
//! says what kind of failure it was; here it becomes that text.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

pub use crate::ops::error::{OpsError as ToolError, Outcome};
pub use crate::support::text::{MAX_ERROR_CHARS, clip_error_text};

pub type ToolResult = Result<CallToolResult, McpError>;

/// Turns a tool body's outcome into the MCP result.
pub fn respond<T: Serialize>(outcome: Outcome<T>) -> ToolResult {
    match outcome {
        Ok((summary, data)) => {
            let value = serde_json::to_value(&data).map_err(|e| {
                McpError::internal_error(format!("result not serialisable: {e}"), None)
            })?;
            let json_text = serde_json::to_string(&value).map_err(|e| {
                McpError::internal_error(format!("result not serialisable: {e}"), None)
            })?;
            let mut result = CallToolResult::success(vec![
                ContentBlock::text(summary),
                ContentBlock::text(json_text),
            ]);
            result.structured_content = Some(value);
            Ok(result)
        }
        Err(error) => Ok(error_result(&error)),
    }
}

pub fn error_result(error: &ToolError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        error.kind,
        clip_error_text(&error.message)
    ))])
}

/// Clamps a caller's `limit`, saying so in the error when it is out of range.
pub fn check_limit(limit: Option<u32>, default: u32, max: u32) -> Result<usize, ToolError> {
    match limit {
        None => Ok(default as usize),
        Some(0) => Err(ToolError::invalid(format!(
            "limit must be between 1 and {max}"
        ))),
        Some(n) if n > max => Err(ToolError::invalid(format!(
            "limit {n} is above the maximum of {max}; page with continuation_token instead"
        ))),
        Some(n) => Ok(n as usize),
    }
}
