//! Logs: the lines a filter matches, and the error templates of a window
//! against the window of equal length before it.

use crate::backends::{Backends, LogQuery, MessageCount};
use crate::model::contract::{FetchLogsResult, SummarizeResult};
use crate::model::log::{LogLevel, LogLine};
use crate::model::time::TimeWindow;
use crate::ops::error::{OpsError, Outcome};
use crate::ops::log_clusters::cluster;
use crate::support::text::clip;

/// The most events one summary reads per window (the newest), where the source
/// cannot count them itself: bounds the memory of one call.
pub const MAX_SUMMARIZED_EVENTS: usize = 200_000;

/// Whose logs a summary reads.
#[derive(Debug, Clone, Default)]
pub struct LogScope {
    pub pipeline: Option<String>,
    pub run_id: Option<String>,
    /// Prefix of the log source, e.g. `databricks`.
    pub source: Option<String>,
}

fn no_log_source() -> OpsError {
    OpsError::unavailable("no log source is configured for this server")
}

async fn logs_matching(backends: &Backends, query: &LogQuery) -> Result<Vec<LogLine>, OpsError> {
    if backends.logs.is_empty() {
        return Err(no_log_source());
    }
    if let Some(run_id) = &query.run_id {
        backends.find_run(run_id).await?;
    }
    let mut lines = Vec::new();
    for source in &backends.logs {
        lines.extend(source.fetch_logs(query).await?);
    }
    lines.sort_by_key(|l| l.timestamp);
    Ok(lines)
}

/// Matching events counted by message: counted where the logs are when the
/// source can (Log Analytics), else fetched and counted one by one.
async fn counted_matching(
    backends: &Backends,
    query: &LogQuery,
) -> Result<Vec<MessageCount>, OpsError> {
    if backends.logs.is_empty() {
        return Err(no_log_source());
    }
    if let Some(run_id) = &query.run_id {
        backends.find_run(run_id).await?;
    }
    Ok(backends.counted_logs(query).await?)
}

/// The newest `query.limit` lines the query matches, oldest first, saying
/// whether more matched.
pub async fn fetch_logs(backends: &Backends, query: LogQuery) -> Outcome<FetchLogsResult> {
    let limit = query.limit;
    let query = LogQuery {
        limit: limit + 1,
        ..query
    };
    let mut lines = logs_matching(backends, &query).await?;
    let truncated = lines.len() > limit;
    if truncated {
        lines.drain(..lines.len() - limit);
    }
    let sources: Vec<String> = backends.logs.iter().flat_map(|s| s.log_sources()).collect();
    let errors = lines.iter().filter(|l| l.level >= LogLevel::Error).count();
    let summary = format!(
        "[{}] {} log lines{} ({errors} at ERROR or above){}",
        backends.label,
        lines.len(),
        if truncated {
            " (newest shown; more matched)"
        } else {
            ""
        },
        lines
            .last()
            .map(|l| format!("; latest: {}", clip(&l.message, 200)))
            .unwrap_or_default()
    );
    Ok((
        summary,
        FetchLogsResult {
            count: lines.len(),
            truncated,
            lines,
            sources,
        },
    ))
}

/// The `top` templates of the events at `min_level` or above in `window`,
/// each marked new or spiking against the window of equal length before.
pub async fn summarize_errors(
    backends: &Backends,
    window: TimeWindow,
    scope: &LogScope,
    min_level: Option<LogLevel>,
    top: usize,
) -> Outcome<SummarizeResult> {
    let baseline_window = window.previous();
    let query = |w| LogQuery {
        window: w,
        pipeline: scope.pipeline.clone(),
        run_id: scope.run_id.clone(),
        activity: None,
        source: scope.source.clone(),
        min_level,
        contains: None,
        limit: MAX_SUMMARIZED_EVENTS,
    };
    let current = counted_matching(backends, &query(window)).await?;
    let baseline = counted_matching(backends, &query(baseline_window)).await?;
    let events: u64 = current.iter().map(|c| c.count).sum();
    let baseline_events: u64 = baseline.iter().map(|c| c.count).sum();
    // A quiet baseline is still a baseline; one with no logs at all is not.
    let covered = !baseline.is_empty()
        || !logs_matching(
            backends,
            &LogQuery {
                min_level: None,
                limit: 1,
                ..query(baseline_window)
            },
        )
        .await?
        .is_empty();
    let clusters = cluster(&current, &baseline, covered, top);
    let templates = clusters.len();
    let lines: Vec<String> = clusters
        .iter()
        .take(5)
        .map(|c| {
            let flag = match (c.is_new, c.is_spike) {
                (true, _) => " NEW",
                (_, true) => " SPIKE",
                _ => "",
            };
            format!("×{}{flag} {}", c.count, clip(&c.template, 200))
        })
        .collect();
    let summary = format!(
        "[{}] {} events at {} or above in {} → {} templates (baseline {} events); top:\n{}",
        backends.label,
        events,
        min_level
            .map(|l| l.as_str().to_string())
            .unwrap_or_else(|| "any level".into()),
        crate::model::secret::human_duration(window.span()),
        templates,
        baseline_events,
        lines.join("\n")
    );
    Ok((
        summary,
        SummarizeResult {
            window_since: window.since,
            window_until: window.until,
            baseline_since: baseline_window.since,
            events,
            baseline_events,
            templates,
            clusters,
        },
    ))
}
