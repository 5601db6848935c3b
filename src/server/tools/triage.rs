//! `triage_run`: from a failed run to its root cause, with the evidence. The
//! walk is the domain's (`ops::triage`); this is its tool.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::contract::TriageReport;
use crate::ops::triage::{self, TriageTarget};
use crate::server::OpsdeckServer;
use crate::server::reply::{ToolError, ToolResult, respond};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TriageParams {
    /// The failed run to triage.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Or a pipeline: its latest failed run is triaged.
    #[serde(default)]
    pub pipeline: Option<String>,
}

#[tool_router(router = triage_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Triage a failed run: find the failing activity (through child runs), classify the error, follow stale inputs upstream to the real cause, check the secrets and resources behind the failing connections, cluster the run's logs, and list the blast radius and next steps. Give run_id, or pipeline for its latest failed run.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<TriageReport>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn triage_run(&self, Parameters(params): Parameters<TriageParams>) -> ToolResult {
        let target = match (&params.run_id, &params.pipeline) {
            (Some(id), _) => TriageTarget::Run(id),
            (None, Some(pipeline)) => TriageTarget::LatestFailureOf(pipeline),
            (None, None) => {
                return respond::<TriageReport>(Err(ToolError::invalid(
                    "give run_id (from list_pipeline_runs) or pipeline",
                )));
            }
        };
        respond(triage::triage(self.backends(), target).await)
    }
}
