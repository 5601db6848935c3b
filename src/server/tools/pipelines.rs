//! Pipelines and their runs: what exists, what ran, how each pipeline is doing,
//! and what depends on what.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::parse_statuses;
use crate::backends::RunQuery;
use crate::model::contract::{
    DependenciesResult, ListPipelinesResult, ListRunsResult, PipelineStatus,
};
use crate::ops::{dependencies, pipelines};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, check_limit, respond};

/// The most runs one list_pipeline_runs page holds.
pub const MAX_RUN_PAGE: u32 = 500;
/// The most hops get_pipeline_dependencies follows each way.
pub const MAX_DEPENDENCY_DEPTH: u32 = 10;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListPipelinesParams {
    /// Only pipelines whose name contains this text (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Only pipelines in this folder (e.g. `ingestion`).
    #[serde(default)]
    pub folder: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListRunsParams {
    /// Only runs of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only runs in this status: Queued, InProgress, Succeeded, Failed, Canceling, Cancelled (comma-separated for several).
    #[serde(default)]
    pub status: Option<String>,
    /// Start of the window: RFC 3339 (2026-11-23T02:00:00Z) or a duration back from now (30m, 6h, 2d). Default 24h. Windows span at most 90 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms as `since`. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Page size, 1–500. Default 50.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_RUN_PAGE))]
    pub limit: Option<u32>,
    /// Token from the previous page's `continuation_token`, to get the next page.
    #[serde(default)]
    pub continuation_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PipelineParam {
    /// Pipeline name, as listed by list_pipelines.
    pub pipeline: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DependenciesParams {
    /// Pipeline name, as listed by list_pipelines.
    pub pipeline: String,
    /// How many hops to follow up- and downstream, 1–10. Default 3.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_DEPENDENCY_DEPTH))]
    pub depth: Option<u32>,
}

#[tool_router(router = pipeline_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "List the pipelines (ADF pipelines, Airflow DAGs, Databricks jobs) with their folder, schedule and activity types.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ListPipelinesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pipelines(
        &self,
        Parameters(params): Parameters<ListPipelinesParams>,
    ) -> ToolResult {
        respond(
            pipelines::list_pipelines(
                self.backends(),
                params.name_contains.as_deref(),
                params.folder.as_deref(),
            )
            .await,
        )
    }

    #[tool(
        description = "List pipeline runs, newest first, with status, start, duration and error message. Filter by pipeline, status and time window; page with continuation_token. This is the feed of the run board.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ListRunsResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pipeline_runs(
        &self,
        Parameters(params): Parameters<ListRunsParams>,
    ) -> ToolResult {
        respond(self.list_runs_body(params).await)
    }

    #[tool(
        description = "How a pipeline is doing: last run, last success, last failure with its error, consecutive failures, 24-hour success rate and recent runs.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PipelineStatus>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_pipeline_status(
        &self,
        Parameters(params): Parameters<PipelineParam>,
    ) -> ToolResult {
        respond(pipelines::pipeline_status(self.backends(), &params.pipeline).await)
    }

    #[tool(
        description = "Upstream and downstream pipelines (through shared datasets and ExecutePipeline), datasets read and written, connections (linked services) and the secrets they use.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DependenciesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_pipeline_dependencies(
        &self,
        Parameters(params): Parameters<DependenciesParams>,
    ) -> ToolResult {
        respond(self.dependencies_body(params).await)
    }
}

impl OpsdeckServer {
    async fn list_runs_body(&self, params: ListRunsParams) -> Outcome<ListRunsResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        let limit = check_limit(params.limit, 50, MAX_RUN_PAGE)?;
        let statuses = parse_statuses(params.status.as_deref())?;
        let query = RunQuery {
            pipelines: params.pipeline.into_iter().collect(),
            statuses,
            window,
            limit,
            continuation: params.continuation_token,
        };
        pipelines::list_runs(self.backends(), query).await
    }

    async fn dependencies_body(&self, params: DependenciesParams) -> Outcome<DependenciesResult> {
        let depth = match params.depth {
            None => 3,
            Some(d @ 1..=MAX_DEPENDENCY_DEPTH) => d,
            Some(d) => {
                return Err(ToolError::invalid(format!(
                    "depth {d} is out of range; use 1 to {MAX_DEPENDENCY_DEPTH}"
                )));
            }
        };
        dependencies::dependencies(self.backends(), &params.pipeline, depth).await
    }
}
