//! Logs: the lines themselves, and the templates they collapse into.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::backends::LogQuery;
use crate::model::contract::{FetchLogsResult, SummarizeResult};
use crate::model::log::LogLevel;
use crate::ops::logs::{self, LogScope};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, check_limit, respond};

/// The most lines one fetch_logs call returns.
pub const MAX_LOG_LINES: u32 = 2_000;
/// The most templates one summarize_error_logs call returns.
pub const MAX_TOP_TEMPLATES: u32 = 100;

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
    async fn fetch_logs_body(&self, params: FetchLogsParams) -> Outcome<FetchLogsResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        let limit = check_limit(params.limit, 200, MAX_LOG_LINES)?;
        let query = LogQuery {
            window,
            min_level: parse_level(params.level.as_deref(), None)?,
            pipeline: params.pipeline,
            run_id: params.run_id,
            activity: params.activity,
            source: params.source,
            contains: params.contains,
            limit,
        };
        logs::fetch_logs(self.backends(), query).await
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
        let scope = LogScope {
            pipeline: params.pipeline,
            run_id: params.run_id,
            source: params.source,
        };
        logs::summarize_errors(self.backends(), window, &scope, min_level, top).await
    }
}
