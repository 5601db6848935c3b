//! Guarded remediation. Both tools are annotated destructive, preview by
//! default (`dry_run` is true unless the caller sets it false), and are refused
//! outright when the server runs `--read-only`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::backends::{RemediationOutcome, RerunRequest};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RerunParams {
    /// Pipeline to run again.
    pub pipeline: String,
    /// The run to re-run (its parameters are reused). Default: the pipeline's latest failed run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Restart at the failed activity, keeping earlier activities' results. Default true.
    #[serde(default)]
    pub from_failed_activity: Option<bool>,
    /// Only describe what would happen. Default true: set false to really start a run.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CancelParams {
    /// The queued or running run to cancel.
    pub run_id: String,
    /// Only describe what would happen. Default true: set false to really cancel.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[tool_router(router = remediation_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "Re-run a pipeline (by default its latest failed run, from the failed activity). DESTRUCTIVE: starts real work. dry_run defaults to true and only describes what would happen; set dry_run=false to act. Refused on a read-only server.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<RemediationOutcome>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn rerun_pipeline(&self, Parameters(params): Parameters<RerunParams>) -> ToolResult {
        respond(self.rerun_body(params).await)
    }

    #[tool(
        description = "Cancel a queued or running pipeline run (and the child runs it started). DESTRUCTIVE. dry_run defaults to true and only describes what would happen; set dry_run=false to act. Refused on a read-only server.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<RemediationOutcome>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn cancel_run(&self, Parameters(params): Parameters<CancelParams>) -> ToolResult {
        respond(self.cancel_body(params).await)
    }
}

impl OpsdeckServer {
    fn guard(&self, action: &str, dry_run: bool) -> Result<(), ToolError> {
        if self.read_only() && !dry_run {
            return Err(ToolError::refused(format!(
                "this server runs with --read-only, so {action} is refused. Call it with dry_run=true to see what it would do, or ask an operator to act from a server started without --read-only"
            )));
        }
        Ok(())
    }

    async fn rerun_body(&self, params: RerunParams) -> Outcome<RemediationOutcome> {
        let dry_run = params.dry_run.unwrap_or(true);
        self.guard("rerun_pipeline", dry_run)?;
        let backend = self
            .backends()
            .backend_for_pipeline(&params.pipeline)
            .await?;
        let request = RerunRequest {
            pipeline: params.pipeline.clone(),
            reference_run_id: params.run_id.clone(),
            from_failed_activity: params.from_failed_activity.unwrap_or(true),
            dry_run,
        };
        let outcome = backend.rerun(&request).await.inspect_err(|e| {
            tracing::warn!(pipeline = %params.pipeline, dry_run, error = %e, "rerun refused or failed");
        })?;
        tracing::info!(pipeline = %params.pipeline, dry_run, new_run = ?outcome.new_run_id, "rerun_pipeline");
        Ok((describe(&outcome), outcome))
    }

    async fn cancel_body(&self, params: CancelParams) -> Outcome<RemediationOutcome> {
        let dry_run = params.dry_run.unwrap_or(true);
        self.guard("cancel_run", dry_run)?;
        let (backend, _) = self.backends().find_run(&params.run_id).await?;
        let outcome = backend.cancel(&params.run_id, dry_run).await?;
        tracing::info!(run = %params.run_id, dry_run, "cancel_run");
        Ok((describe(&outcome), outcome))
    }
}

fn describe(outcome: &RemediationOutcome) -> String {
    let mode = if outcome.dry_run {
        "DRY RUN — nothing was changed"
    } else {
        "DONE"
    };
    format!(
        "{} on {} [{} {}]: {}",
        mode,
        outcome.pipeline,
        outcome.backend.as_str(),
        outcome.environment,
        outcome.steps.join("; ")
    )
}
