//! One run in depth, failures across runs, and a failed run against a good one.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::contract::{CompareResult, FailuresResult, RunDetails};
use crate::ops::{compare, failures, runs};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolResult, respond};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunIdParam {
    /// Run id, as listed by list_pipeline_runs.
    pub run_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FailuresParams {
    /// Start of the window: RFC 3339 or a duration back from now (30m, 6h, 2d). Default 24h. Windows span at most 90 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Only failures of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompareParams {
    /// The run to explain (usually a failed one).
    pub run_id: String,
    /// The run to compare with. Default: the latest successful run of the same pipeline before it.
    #[serde(default)]
    pub baseline_run_id: Option<String>,
}

#[tool_router(router = run_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Everything about one run: status, timing, parameters, every activity attempt with its error and output, child and parent runs.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<RunDetails>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_run_details(&self, Parameters(params): Parameters<RunIdParam>) -> ToolResult {
        respond(runs::run_details(self.backends(), &params.run_id).await)
    }

    #[tool(
        description = "Failures over a time window grouped by pipeline, activity and error code, with counts, first/last seen, a sample message and example run ids.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<FailuresResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_failed_tasks_summary(
        &self,
        Parameters(params): Parameters<FailuresParams>,
    ) -> ToolResult {
        respond(self.failures_body(params).await)
    }

    #[tool(
        description = "Compare a run (usually failed) with a good run of the same pipeline: status, duration, attempts, rows and errors per activity, and the differences that matter.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<CompareResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn compare_runs(&self, Parameters(params): Parameters<CompareParams>) -> ToolResult {
        respond(
            compare::compare_runs(
                self.backends(),
                &params.run_id,
                params.baseline_run_id.as_deref(),
            )
            .await,
        )
    }
}

impl OpsdeckServer {
    async fn failures_body(&self, params: FailuresParams) -> Outcome<FailuresResult> {
        let window = self.window(params.since.as_deref(), params.until.as_deref(), 24)?;
        failures::failures(self.backends(), window, params.pipeline.as_deref()).await
    }
}
