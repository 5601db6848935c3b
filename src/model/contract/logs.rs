//! Logs: the lines themselves, and the templates they collapse into.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::log::{LogLevel, LogLine};

// `fetch_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FetchLogsResult {
    pub count: usize,
    /// True when more lines matched than `limit`; the newest are returned.
    pub truncated: bool,
    pub lines: Vec<LogLine>,
    pub sources: Vec<String>,
}

/// One log template and how it behaves against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterBrief {
    /// The message with variable parts as `<*>`.
    pub template: String,
    pub count: u64,
    pub baseline_count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub level: LogLevel,
    pub pipelines: Vec<String>,
    pub sources: Vec<String>,
    pub examples: Vec<String>,
    /// Not seen at all in the baseline window.
    pub is_new: bool,
    /// At least 3× the baseline rate (and 5 events).
    pub is_spike: bool,
    /// Current rate over baseline rate, when the baseline has any.
    pub rate_ratio: Option<f64>,
}

// `summarize_error_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummarizeResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub baseline_since: DateTime<Utc>,
    pub events: u64,
    pub baseline_events: u64,
    pub templates: usize,
    pub clusters: Vec<ClusterBrief>,
}
