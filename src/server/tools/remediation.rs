//! Guarded remediation. Both tools are annotated destructive, preview by
//! default (`dry_run` is true unless the caller sets it false), and are refused
//! outright when the server runs `--read-only`. The sequence (guard, plan, dry
//! run or act, audit) is `ops::remediation`; here are only the tools.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::backends::RemediationOutcome;
use crate::ops::policy::Actor;
use crate::ops::remediation::{CancelAsk, Remediation, RemediationError, RerunAsk};
use crate::server::OpsdeckServer;
use crate::server::http::auth::Caller;
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
    async fn rerun_pipeline(
        &self,
        Parameters(params): Parameters<RerunParams>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        respond(self.rerun_body(params, signed_in(&context)).await)
    }

    #[tool(
        description = "Cancel a queued or running pipeline run (and the child runs it started). DESTRUCTIVE. dry_run defaults to true and only describes what would happen; set dry_run=false to act. Refused on a read-only server.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<RemediationOutcome>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn cancel_run(
        &self,
        Parameters(params): Parameters<CancelParams>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        respond(self.cancel_body(params, signed_in(&context)).await)
    }
}

impl OpsdeckServer {
    fn remediation(&self) -> Remediation<'_> {
        Remediation {
            backends: self.backends(),
            guard: self.policy(),
            read_only: self.read_only(),
        }
    }

    async fn rerun_body(
        &self,
        params: RerunParams,
        caller: Option<&Caller>,
    ) -> Outcome<RemediationOutcome> {
        may_act(caller, "rerun_pipeline", params.dry_run)?;
        let ask = RerunAsk {
            pipeline: params.pipeline,
            run_id: params.run_id,
            from_failed_activity: params.from_failed_activity,
            dry_run: params.dry_run,
            approved_by: params.approved_by,
            actor: caller.map(actor),
        };
        let outcome = self.remediation().rerun(&ask).await?;
        Ok((describe(&outcome), outcome))
    }

    async fn cancel_body(
        &self,
        params: CancelParams,
        caller: Option<&Caller>,
    ) -> Outcome<RemediationOutcome> {
        may_act(caller, "cancel_run", params.dry_run)?;
        let ask = CancelAsk {
            run_id: params.run_id,
            dry_run: params.dry_run,
            approved_by: params.approved_by,
            actor: caller.map(actor),
        };
        let outcome = self.remediation().cancel(&ask).await?;
        Ok((describe(&outcome), outcome))
    }
}

/// The signed-in caller of this request, when it came over HTTP with sign-in
/// on (the HTTP layer put it in the request's extensions after checking the token).
fn signed_in(context: &RequestContext<RoleServer>) -> Option<&Caller> {
    context
        .extensions
        .get::<axum::http::request::Parts>()?
        .extensions
        .get::<Caller>()
}

/// A signed-in reader may preview but not act. The HTTP screening already
/// answers such a request 403; this holds however the call got here.
fn may_act(caller: Option<&Caller>, tool: &str, dry_run: Option<bool>) -> Result<(), ToolError> {
    match caller {
        Some(caller) if !caller.may_remediate && dry_run == Some(false) => {
            Err(ToolError::refused(format!(
                "{} is signed in without the permission to remediate, so a real {tool} is refused; dry_run=true shows what it would do, and an administrator can grant the remediate permission",
                caller.name
            )))
        }
        _ => Ok(()),
    }
}

/// The audit's who: the person the token proved, not the `approved_by` argument.
fn actor(caller: &Caller) -> Actor {
    Actor {
        subject: caller.subject.clone(),
        name: caller.name.clone(),
        issuer: caller.issuer.clone(),
    }
}

impl From<RemediationError> for ToolError {
    fn from(error: RemediationError) -> ToolError {
        match error {
            RemediationError::Refused(why) => ToolError::refused(why),
            RemediationError::Backend(e) => e.into(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(may_remediate: bool) -> Caller {
        Caller {
            subject: "oid-1".into(),
            name: "rita@example.com".into(),
            issuer: "https://issuer.example.com".into(),
            may_read: true,
            may_remediate,
        }
    }

    #[test]
    fn a_signed_in_reader_may_preview_but_not_act() {
        let reader = caller(false);
        let refused = may_act(Some(&reader), "cancel_run", Some(false)).unwrap_err();
        assert!(refused.message.contains("rita@example.com"), "{refused:?}");
        assert!(refused.message.contains("dry_run=true"), "{refused:?}");
        assert!(may_act(Some(&reader), "cancel_run", None).is_ok());
        assert!(may_act(Some(&reader), "cancel_run", Some(true)).is_ok());
        assert!(may_act(Some(&caller(true)), "cancel_run", Some(false)).is_ok());
        // Without sign-in (stdio, shared token) the policy alone decides.
        assert!(may_act(None, "cancel_run", Some(false)).is_ok());
    }

    #[test]
    fn the_actor_is_the_token_not_the_argument() {
        let actor = actor(&caller(true));
        assert_eq!(actor.name, "rita@example.com");
        assert_eq!(actor.subject, "oid-1");
        assert_eq!(actor.issuer, "https://issuer.example.com");
    }
}
