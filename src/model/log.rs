//! Log lines from any source, with the context triage needs to filter them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    /// The levels to name in an error message about a bad one.
    pub const CHOICES: &str = "TRACE, DEBUG, INFO, WARN, ERROR or FATAL";

    /// The canonical upper-case name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// Parses a level name leniently (`warning`, `ERR`, `E`…); `None` when it is not one.
    pub fn parse(raw: &str) -> Option<LogLevel> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "TRACE" | "T" => Some(LogLevel::Trace),
            "DEBUG" | "D" => Some(LogLevel::Debug),
            "INFO" | "I" | "INFORMATION" | "NOTICE" => Some(LogLevel::Info),
            "WARN" | "WARNING" | "W" => Some(LogLevel::Warn),
            "ERROR" | "ERR" | "E" | "SEVERE" => Some(LogLevel::Error),
            "FATAL" | "CRITICAL" | "CRIT" | "F" | "EMERG" | "ALERT" | "PANIC" => {
                Some(LogLevel::Fatal)
            }
            _ => None,
        }
    }
}

/// One log event (a stack trace stays one event: its frames are in `message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    pub timestamp: DateTime<Utc>,
    pub level: LogLevel,
    /// Where it came from: `adf/activity`, `databricks/driver`, an application name…
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    pub message: String,
}
