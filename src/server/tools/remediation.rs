//! Guarded remediation. Both tools are annotated destructive, preview by
//! default (`dry_run` is true unless the caller sets it false), and are refused
//! outright when the server runs `--read-only`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::backends::{RemediationOutcome, RerunRequest};
use crate::server::OpsdeckServer;
use crate::server::policy::Attempt;
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
    /// Who approved this action (the console and `opsdeck ask --approve` fill it in;
    /// required where the server's policy asks for approval).
    #[serde(default)]
    pub approved_by: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CancelParams {
    /// The queued or running run to cancel.
    pub run_id: String,
    /// Only describe what would happen. Default true: set false to really cancel.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Who approved this action (required where the server's policy asks for approval).
    #[serde(default)]
    pub approved_by: Option<String>,
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
        let arguments = serde_json::json!({
            "pipeline": params.pipeline,
            "run_id": params.run_id,
            "from_failed_activity": params.from_failed_activity,
            "dry_run": dry_run,
        });
        let target = match &params.run_id {
            Some(run) => format!("{}/{run}", params.pipeline),
            None => params.pipeline.clone(),
        };
        let backend = self
            .backends()
            .backend_for_pipeline(&params.pipeline)
            .await?;
        let attempt = Attempt {
            tool: "rerun_pipeline",
            target: &target,
            environment: backend.environment(),
            dry_run,
            approved_by: params.approved_by.as_deref(),
            arguments: &arguments,
        };
        self.admit(&attempt)?;
        let request = RerunRequest {
            pipeline: params.pipeline.clone(),
            reference_run_id: params.run_id.clone(),
            from_failed_activity: params.from_failed_activity.unwrap_or(true),
            dry_run,
        };
        let outcome = backend.rerun(&request).await;
        self.record(&attempt, &outcome);
        let outcome = outcome?;
        tracing::info!(pipeline = %params.pipeline, dry_run, new_run = ?outcome.new_run_id, "rerun_pipeline");
        Ok((describe(&outcome), outcome))
    }

    async fn cancel_body(&self, params: CancelParams) -> Outcome<RemediationOutcome> {
        let dry_run = params.dry_run.unwrap_or(true);
        let arguments = serde_json::json!({"run_id": params.run_id, "dry_run": dry_run});
        let (backend, _) = self.backends().find_run(&params.run_id).await?;
        let attempt = Attempt {
            tool: "cancel_run",
            target: &params.run_id,
            environment: backend.environment(),
            dry_run,
            approved_by: params.approved_by.as_deref(),
            arguments: &arguments,
        };
        self.admit(&attempt)?;
        let outcome = backend.cancel(&params.run_id, dry_run).await;
        self.record(&attempt, &outcome);
        let outcome = outcome?;
        tracing::info!(run = %params.run_id, dry_run, "cancel_run");
        Ok((describe(&outcome), outcome))
    }

    /// Read-only mode and the remediation policy, audited when they refuse.
    fn admit(&self, attempt: &Attempt) -> Result<(), ToolError> {
        let now = self.now();
        if let Err(refusal) = self.guard(attempt.tool, attempt.dry_run) {
            self.policy()
                .audit(attempt, "refused_read_only", &refusal.message, now);
            return Err(refusal);
        }
        self.policy().check(attempt, now).map_err(|why| {
            self.policy().audit(attempt, "blocked_by_policy", &why, now);
            ToolError::refused(why)
        })
    }

    fn record(
        &self,
        attempt: &Attempt,
        outcome: &Result<RemediationOutcome, crate::backends::BackendError>,
    ) {
        let (result, detail) = match outcome {
            Ok(o) if o.dry_run => ("previewed", o.steps.join("; ")),
            Ok(o) => ("done", o.steps.join("; ")),
            Err(e) => ("failed", e.to_string()),
        };
        self.policy().audit(attempt, result, &detail, self.now());
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
