//! Logs: the lines themselves, and the templates they collapse into.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backends::{LogQuery, MessageCount};
use crate::logmine::{MinerConfig, TemplateMiner};
use crate::model::log::{LogLevel, LogLine};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, check_limit, respond};
use crate::support::text::clip;

/// The most lines one fetch_logs call returns.
pub const MAX_LOG_LINES: u32 = 2_000;
/// The most templates one summarize_error_logs call returns.
pub const MAX_TOP_TEMPLATES: u32 = 100;
/// The most events summarize_error_logs reads per window (the newest), where
/// the source cannot count them itself: bounds the memory of one call.
pub const MAX_SUMMARIZED_EVENTS: usize = 200_000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FetchLogsParams {
    /// Only lines of this run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Only lines of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only lines of this activity.
    #[serde(default)]
    pub activity: Option<String>,
    /// Only lines from this source (prefix match, e.g. `databricks`).
    #[serde(default)]
    pub source: Option<String>,
    /// Minimum level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
    #[serde(default)]
    pub level: Option<String>,
    /// Only lines containing this text (case-insensitive).
    #[serde(default)]
    pub contains: Option<String>,
    /// Start of the window: RFC 3339 or a duration back from now (30m, 6h, 2d). Default 24h. Windows span at most 90 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Most lines to return (the newest), 1–2000. Default 200.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_LOG_LINES))]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FetchLogsResult {
    pub count: usize,
    /// True when more lines matched than `limit`; the newest are returned.
    pub truncated: bool,
    pub lines: Vec<LogLine>,
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SummarizeParams {
    /// Start of the window: RFC 3339 or a duration back from now. Default 6h. Windows span at most 90 days; the equally long window before it is the baseline.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Only lines of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only lines of this run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Only lines from this source (prefix match).
    #[serde(default)]
    pub source: Option<String>,
    /// Minimum level, default WARN.
    #[serde(default)]
    pub level: Option<String>,
    /// How many templates to return, 1–100. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_TOP_TEMPLATES))]
    pub top: Option<u32>,
}

/// One log template and how it behaves against the baseline.
#[derive(Debug, Clone, Serialize, JsonSchema)]
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

#[derive(Debug, Serialize, JsonSchema)]
pub struct SummarizeResult {
    pub window_since: DateTime<Utc>,
    pub window_until: DateTime<Utc>,
    pub baseline_since: DateTime<Utc>,
    pub events: u64,
    pub baseline_events: u64,
    pub templates: usize,
    pub clusters: Vec<ClusterBrief>,
}

fn parse_level(
    raw: Option<&str>,
    default: Option<LogLevel>,
) -> Result<Option<LogLevel>, ToolError> {
    match raw {
        None => Ok(default),
        Some(text) => LogLevel::parse(text).map(Some).ok_or_else(|| {
            ToolError::invalid(format!(
                "level '{text}' is not a log level; use {}",
                LogLevel::CHOICES
            ))
        }),
    }
}

#[derive(Default)]
struct ClusterStats {
    count: u64,
    baseline: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    level: Option<LogLevel>,
    pipelines: BTreeSet<String>,
    sources: BTreeSet<String>,
    examples: Vec<String>,
}

/// Clusters `current` events into templates, marking which are new or spiking
/// against `baseline` (same-length window before). Events come counted by
/// message (a source that counts where the logs are sends one row per message;
/// other lines count one each). `baseline_covered` says the baseline window had
/// logs at all (a quiet one has no warnings, yet is a baseline; one the source
/// keeps no history for is not). Ranked by what most likely matters.
pub fn cluster(
    current: &[MessageCount],
    baseline: &[MessageCount],
    baseline_covered: bool,
    top: usize,
) -> Vec<ClusterBrief> {
    let mut miner = TemplateMiner::new(MinerConfig::default());
    let mut stats: HashMap<u64, ClusterStats> = HashMap::new();
    for counted in baseline {
        let id = miner.add(&counted.line.message, Some(counted.last)).0;
        stats.entry(id).or_default().baseline += counted.count;
    }
    for counted in current {
        let line = &counted.line;
        let id = miner.add(&line.message, Some(counted.last)).0;
        let s = stats.entry(id).or_default();
        s.count += counted.count;
        s.first = Some(s.first.map_or(counted.first, |f| f.min(counted.first)));
        s.last = Some(s.last.map_or(counted.last, |l| l.max(counted.last)));
        s.level = Some(s.level.map_or(line.level, |l| l.max(line.level)));
        if let Some(p) = &line.pipeline {
            s.pipelines.insert(p.clone());
        }
        s.sources.insert(line.source.clone());
        if s.examples.len() < 2 {
            s.examples.push(clip(&line.message, 1_500));
        }
    }
    let templates: HashMap<u64, String> = miner
        .clusters()
        .into_iter()
        .map(|c| (c.id, c.template))
        .collect();
    let span = |counts: &[MessageCount]| -> f64 {
        let first = counts.iter().map(|c| c.first).min();
        let last = counts.iter().map(|c| c.last).max();
        match (first, last) {
            (Some(f), Some(l)) => ((l - f).num_seconds().max(3_600)) as f64,
            _ => 3_600.0,
        }
    };
    let (current_span, baseline_span) = (span(current), span(baseline).max(span(current)));
    let mut briefs: Vec<(f64, ClusterBrief)> = stats
        .into_iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(id, s)| {
            let rate_ratio = (s.baseline > 0)
                .then(|| (s.count as f64 / current_span) / (s.baseline as f64 / baseline_span));
            let is_new = s.baseline == 0 && baseline_covered;
            let is_spike = s.count >= 5 && rate_ratio.is_some_and(|r| r >= 3.0);
            let level = s.level.unwrap_or(LogLevel::Info);
            let score = match level {
                LogLevel::Fatal | LogLevel::Error => 3.0,
                LogLevel::Warn => 1.5,
                _ => 0.5,
            } + if is_new { 2.0 } else { 0.0 }
                + if is_spike { 1.5 } else { 0.0 }
                + (s.count as f64).ln_1p() / 2.0;
            let brief = ClusterBrief {
                template: templates.get(&id).cloned().unwrap_or_default(),
                count: s.count,
                baseline_count: s.baseline,
                first_seen: s.first,
                last_seen: s.last,
                level,
                pipelines: s.pipelines.into_iter().collect(),
                sources: s.sources.into_iter().collect(),
                examples: s.examples,
                is_new,
                is_spike,
                rate_ratio,
            };
            (score, brief)
        })
        .collect();
    briefs.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| b.1.count.cmp(&a.1.count))
            .then_with(|| a.1.template.cmp(&b.1.template))
    });
    briefs.into_iter().take(top).map(|(_, b)| b).collect()
}

#[tool_router(router = log_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Fetch log lines (run and activity logs, driver and application logs) filtered by run, pipeline, activity, source, level, text and time window; the newest lines when more match than the limit.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<FetchLogsResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn fetch_logs(&self, Parameters(params): Parameters<FetchLogsParams>) -> ToolResult {
        respond(self.fetch_logs_body(params).await)
    }

    #[tool(
        description = "Collapse warning and error logs into templates (variables as <*>) with counts, first/last seen and examples, marking templates that are new or spiking against the preceding window of equal length. Ranked by how much they likely matter.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<SummarizeResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn summarize_error_logs(
        &self,
        Parameters(params): Parameters<SummarizeParams>,
    ) -> ToolResult {
        respond(self.summarize_body(params).await)
    }
}

impl OpsdeckServer {
    async fn logs_matching(&self, query: &LogQuery) -> Result<Vec<LogLine>, ToolError> {
        if self.backends().logs.is_empty() {
            return Err(ToolError::unavailable(
                "no log source is configured for this server",
            ));
        }
        if let Some(run_id) = &query.run_id {
            self.backends().find_run(run_id).await?;
        }
        let mut lines = Vec::new();
        for source in &self.backends().logs {
            lines.extend(source.fetch_logs(query).await?);
        }
        lines.sort_by_key(|l| l.timestamp);
        Ok(lines)
    }

    /// Matching events counted by message: counted where the logs are when the
    /// source can (Log Analytics), else fetched and counted one by one.
    async fn counted_matching(&self, query: &LogQuery) -> Result<Vec<MessageCount>, ToolError> {
        if self.backends().logs.is_empty() {
            return Err(ToolError::unavailable(
                "no log source is configured for this server",
            ));
        }
        if let Some(run_id) = &query.run_id {
            self.backends().find_run(run_id).await?;
        }
        Ok(self.backends().counted_logs(query).await?)
    }

    async fn fetch_logs_body(&self, params: FetchLogsParams) -> Outcome<FetchLogsResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        let limit = check_limit(params.limit, 200, MAX_LOG_LINES)?;
        let query = LogQuery {
            window,
            pipeline: params.pipeline.clone(),
            run_id: params.run_id.clone(),
            activity: params.activity.clone(),
            source: params.source.clone(),
            min_level: parse_level(params.level.as_deref(), None)?,
            contains: params.contains.clone(),
            limit: limit + 1,
        };
        let mut lines = self.logs_matching(&query).await?;
        let truncated = lines.len() > limit;
        if truncated {
            lines.drain(..lines.len() - limit);
        }
        let sources: Vec<String> = self
            .backends()
            .logs
            .iter()
            .flat_map(|s| s.log_sources())
            .collect();
        let errors = lines.iter().filter(|l| l.level >= LogLevel::Error).count();
        let summary = format!(
            "[{}] {} log lines{} ({errors} at ERROR or above){}",
            self.backends().label,
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

    async fn summarize_body(&self, params: SummarizeParams) -> Outcome<SummarizeResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 6)?;
        let top = match params.top {
            None => 10,
            Some(n @ 1..=MAX_TOP_TEMPLATES) => n as usize,
            Some(n) => {
                return Err(ToolError::invalid(format!(
                    "top {n} is out of range; use 1 to {MAX_TOP_TEMPLATES}"
                )));
            }
        };
        let min_level = parse_level(params.level.as_deref(), Some(LogLevel::Warn))?;
        let baseline_window = window.previous();
        let query = |w| LogQuery {
            window: w,
            pipeline: params.pipeline.clone(),
            run_id: params.run_id.clone(),
            activity: None,
            source: params.source.clone(),
            min_level,
            contains: None,
            limit: MAX_SUMMARIZED_EVENTS,
        };
        let current = self.counted_matching(&query(window)).await?;
        let baseline = self.counted_matching(&query(baseline_window)).await?;
        let events: u64 = current.iter().map(|c| c.count).sum();
        let baseline_events: u64 = baseline.iter().map(|c| c.count).sum();
        let covered = !baseline.is_empty()
            || !self
                .logs_matching(&LogQuery {
                    min_level: None,
                    limit: 1,
                    ..query(baseline_window)
                })
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
            self.backends().label,
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
}
