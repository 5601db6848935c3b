//! How every tool answers: a one-paragraph summary for people and models, the
//! same data as JSON text for hosts that only read text, and `structuredContent`
//! matching the tool's output schema. Errors are tool results with
//! `isError: true` that say what was wrong and what to do, so a model can
//! correct itself; they never carry structured content (which would have to
//! match the success schema).

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::backends::BackendError;
pub use crate::support::text::{MAX_ERROR_CHARS, clip_error_text};

pub type ToolResult = Result<CallToolResult, McpError>;

/// A tool failure the caller can act on.
#[derive(Debug, Clone)]
pub struct ToolError {
    pub kind: &'static str,
    pub message: String,
}

impl ToolError {
    pub fn invalid(message: impl Into<String>) -> ToolError {
        ToolError {
            kind: "invalid argument",
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> ToolError {
        ToolError {
            kind: "refused",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ToolError {
        ToolError {
            kind: "not found",
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> ToolError {
        ToolError {
            kind: "backend unavailable",
            message: message.into(),
        }
    }
}

impl From<BackendError> for ToolError {
    fn from(error: BackendError) -> ToolError {
        let kind = match &error {
            BackendError::NotFound { .. } => "not found",
            BackendError::InvalidArgument(_) => "invalid argument",
            BackendError::Unavailable(_) => "backend unavailable",
            BackendError::Refused(_) => "refused",
        };
        ToolError {
            kind,
            message: error.to_string(),
        }
    }
}

/// What a tool body returns: a summary line and the structured result.
pub type Outcome<T> = Result<(String, T), ToolError>;

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
