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

/// Longest unbroken word an error quotes whole (ARM ids and URLs fit).
const MAX_ERROR_WORD_CHARS: usize = 300;
/// Longest error text; the start and the end (where the advice is) are kept.
pub const MAX_ERROR_CHARS: usize = 4_000;

/// An error as it may be sent back: errors quote what the caller sent, and a
/// caller may send megabytes. Each overlong word is cut to its start, then an
/// overlong text keeps its start and its end (where the advice is).
pub fn clip_error_text(text: &str) -> String {
    let words: Vec<std::borrow::Cow<'_, str>> = text
        .split(' ')
        .map(|word| match word.char_indices().nth(MAX_ERROR_WORD_CHARS) {
            Some((cut, _)) => format!("{}…({} bytes)", &word[..cut], word.len()).into(),
            None => word.into(),
        })
        .collect();
    let joined = words.join(" ");
    let count = joined.chars().count();
    if count <= MAX_ERROR_CHARS {
        return joined;
    }
    let head: String = joined.chars().take(MAX_ERROR_CHARS * 3 / 4).collect();
    let tail: String = joined.chars().skip(count - MAX_ERROR_CHARS / 4).collect();
    format!(
        "{head} …[{} characters cut]… {tail}",
        count - MAX_ERROR_CHARS
    )
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

/// Shortens long text for summaries, on a character boundary.
pub fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_quoted_word_is_cut_and_the_advice_kept() {
        let huge = "x".repeat(10 << 20);
        let text = clip_error_text(&format!("pipeline '{huge}' not found; known: a, b"));
        assert!(text.len() < 1_000, "{} bytes", text.len());
        assert!(text.ends_with("not found; known: a, b"), "{text}");
        assert!(text.contains("10485762 bytes"), "{text}");
    }

    #[test]
    fn a_huge_text_of_short_words_keeps_its_start_and_end() {
        let words = "ab ".repeat(2 << 20);
        let text = clip_error_text(&format!("since: '{words}' is not a time: use 6h"));
        assert!(text.chars().count() < MAX_ERROR_CHARS + 100);
        assert!(text.starts_with("since: 'ab ab"), "{text}");
        assert!(text.ends_with("is not a time: use 6h"), "{text}");
    }

    #[test]
    fn ordinary_errors_are_untouched() {
        let text = "limit 5000 is above the maximum of 2000; page with continuation_token instead";
        assert_eq!(clip_error_text(text), text);
    }
}
