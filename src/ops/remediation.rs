//! Remediation, written once for every backend: find the backend, check the
//! attempt against read-only mode and the policy, plan, stop at the plan if it
//! is a dry run, else (for a rerun under a limit) count the reruns of the
//! run's chain in the backend's own history, act, and audit what happened.
//!
//! The dry-run rule is spelled out here ([`Next::Describe`]) and enforced by
//! the types: a backend's `act` takes only a [`LivePlan`](crate::backends::LivePlan),
//! which a plan made for a dry run never becomes.

use chrono::Duration;

use crate::backends::{
    BackendError, Backends, CancelRequest, Next, PipelineBackend, RemediationOutcome,
    RemediationPlan, RerunRequest,
};
use crate::ops::policy::{Actor, Attempt, PolicyGuard, RerunTicket};

/// A rerun as the caller asked for it; absent options take their defaults here.
#[derive(Debug, Clone, Default)]
pub struct RerunAsk {
    pub pipeline: String,
    /// The run to re-run; the pipeline's latest failed run when absent.
    pub run_id: Option<String>,
    /// Default true.
    pub from_failed_activity: Option<bool>,
    /// Default true: nothing changes unless the caller says false.
    pub dry_run: Option<bool>,
    /// What the caller says about who approved (kept as a claim when signed in).
    pub approved_by: Option<String>,
    /// The signed-in person, when the transport proved one: the approver.
    pub actor: Option<Actor>,
}

/// A cancel as the caller asked for it.
#[derive(Debug, Clone, Default)]
pub struct CancelAsk {
    pub run_id: String,
    /// Default true: nothing changes unless the caller says false.
    pub dry_run: Option<bool>,
    /// What the caller says about who approved (kept as a claim when signed in).
    pub approved_by: Option<String>,
    /// The signed-in person, when the transport proved one: the approver.
    pub actor: Option<Actor>,
}

/// Why a remediation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemediationError {
    /// Read-only mode or the policy refused it before anything was planned.
    #[error("{0}")]
    Refused(String),
    /// The backend could not plan or act.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What remediation answers to: the backends, the policy with its audit log,
/// and whether real actions are refused outright.
pub struct Remediation<'a> {
    pub backends: &'a Backends,
    pub guard: &'a PolicyGuard,
    /// A read-only server refuses every real action; dry runs still answer.
    pub read_only: bool,
}

/// What a backend is asked to plan.
enum Request {
    Rerun(RerunRequest),
    Cancel(CancelRequest),
}

impl Remediation<'_> {
    /// Re-runs a pipeline (by default its latest failed run, from the failed activity).
    pub async fn rerun(&self, ask: &RerunAsk) -> Result<RemediationOutcome, RemediationError> {
        let dry_run = ask.dry_run.unwrap_or(true);
        let arguments = serde_json::json!({
            "pipeline": ask.pipeline,
            "run_id": ask.run_id,
            "from_failed_activity": ask.from_failed_activity,
            "dry_run": dry_run,
        });
        let target = match &ask.run_id {
            Some(run) => format!("{}/{run}", ask.pipeline),
            None => ask.pipeline.clone(),
        };
        let backend = self.backends.backend_for_pipeline(&ask.pipeline).await?;
        let attempt = Attempt {
            tool: "rerun_pipeline",
            target: &target,
            environment: backend.environment(),
            dry_run,
            approved_by: ask.approved_by.as_deref(),
            actor: ask.actor.as_ref(),
            arguments: &arguments,
        };
        let request = Request::Rerun(RerunRequest {
            pipeline: ask.pipeline.clone(),
            reference_run_id: ask.run_id.clone(),
            from_failed_activity: ask.from_failed_activity.unwrap_or(true),
            dry_run,
        });
        let outcome = self.remediate(backend.as_ref(), &attempt, &request).await?;
        tracing::info!(pipeline = %ask.pipeline, dry_run, new_run = ?outcome.new_run_id, "rerun_pipeline");
        Ok(outcome)
    }

    /// Cancels a queued or running run (and the child runs it started).
    pub async fn cancel(&self, ask: &CancelAsk) -> Result<RemediationOutcome, RemediationError> {
        let dry_run = ask.dry_run.unwrap_or(true);
        let arguments = serde_json::json!({"run_id": ask.run_id, "dry_run": dry_run});
        let (backend, _) = self.backends.find_run(&ask.run_id).await?;
        let attempt = Attempt {
            tool: "cancel_run",
            target: &ask.run_id,
            environment: backend.environment(),
            dry_run,
            approved_by: ask.approved_by.as_deref(),
            actor: ask.actor.as_ref(),
            arguments: &arguments,
        };
        let request = Request::Cancel(CancelRequest {
            run_id: ask.run_id.clone(),
            dry_run,
        });
        let outcome = self.remediate(backend.as_ref(), &attempt, &request).await?;
        tracing::info!(run = %ask.run_id, dry_run, "cancel_run");
        Ok(outcome)
    }

    /// The one sequence: admit, plan, stop at the plan for a dry run, hold a
    /// rerun to the limit, act, audit.
    async fn remediate(
        &self,
        backend: &dyn PipelineBackend,
        attempt: &Attempt<'_>,
        request: &Request,
    ) -> Result<RemediationOutcome, RemediationError> {
        self.admit(attempt)?;
        let plan = match plan(backend, request).await {
            Ok(plan) => plan,
            Err(e) => return self.finish(attempt, Err(e)),
        };
        let reference = plan.target_run_id().map(str::to_string);
        let live = match plan.next(attempt.dry_run) {
            Next::Describe(preview) => return self.finish(attempt, Ok(preview)),
            Next::Act(live) => live,
        };
        // A fresh start (no run to re-run) belongs to no chain: not limited.
        let limited = match (request, &reference) {
            (Request::Rerun(_), Some(reference)) => Some(
                self.hold_to_rerun_limit(backend, attempt, reference)
                    .await?,
            ),
            _ => None,
        };
        let outcome = backend.act(live).await;
        if let Some(ticket) = limited {
            // A new run is remembered until the history lists it; a rerun in
            // place (Databricks, Airflow) is in the history at once.
            let new_run = outcome
                .as_ref()
                .ok()
                .and_then(|done| done.new_run_id.as_deref())
                .filter(|id| Some(*id) != reference.as_deref());
            self.guard.rerun_finished(ticket, new_run);
        }
        self.finish(attempt, outcome)
    }

    /// The rerun limit, counted from `backend`'s own history of the rerun
    /// chain of `reference` (shared by every server that reads it); refused
    /// and audited when over it, or when the history cannot be read.
    async fn hold_to_rerun_limit(
        &self,
        backend: &dyn PipelineBackend,
        attempt: &Attempt<'_>,
        reference: &str,
    ) -> Result<RerunTicket, RemediationError> {
        if self.guard.rerun_limit().is_none() {
            return Ok(RerunTicket::unlimited());
        }
        let now = self.backends.clock.now();
        let since = now - Duration::hours(1);
        let history = match backend.get_run(reference).await {
            Ok(Some(run)) => backend
                .reruns_since(&run, since)
                .await
                .map_err(|e| e.to_string()),
            Ok(None) => Err(format!("run {reference} is no longer listed")),
            Err(e) => Err(e.to_string()),
        };
        self.guard
            .check_reruns(
                attempt,
                reference,
                history.as_deref().map_err(String::as_str),
                now,
            )
            .map_err(|why| {
                self.guard.audit(attempt, "blocked_by_policy", &why, now);
                RemediationError::Refused(why)
            })
    }

    fn finish(
        &self,
        attempt: &Attempt,
        outcome: Result<RemediationOutcome, BackendError>,
    ) -> Result<RemediationOutcome, RemediationError> {
        self.record(attempt, &outcome);
        Ok(outcome?)
    }

    /// Read-only mode and the remediation policy, audited when they refuse.
    fn admit(&self, attempt: &Attempt) -> Result<(), RemediationError> {
        let now = self.backends.clock.now();
        if self.read_only && !attempt.dry_run {
            let refusal = format!(
                "this server runs with --read-only, so {} is refused. Call it with dry_run=true to see what it would do, or ask an operator to act from a server started without --read-only",
                attempt.tool
            );
            self.guard
                .audit(attempt, "refused_read_only", &refusal, now);
            return Err(RemediationError::Refused(refusal));
        }
        self.guard.check(attempt, now).map_err(|why| {
            self.guard.audit(attempt, "blocked_by_policy", &why, now);
            RemediationError::Refused(why)
        })
    }

    fn record(&self, attempt: &Attempt, outcome: &Result<RemediationOutcome, BackendError>) {
        let (result, detail) = match outcome {
            // What was asked decides, not what the backend wrote back.
            Ok(o) if attempt.dry_run => ("previewed", o.steps.join("; ")),
            Ok(o) => ("done", o.steps.join("; ")),
            Err(e) => ("failed", e.to_string()),
        };
        let now = self.backends.clock.now();
        if result == "previewed" {
            self.guard.previewed(attempt, now);
        }
        self.guard.audit(attempt, result, &detail, now);
    }
}

/// The backend's plan for the request; reads only.
async fn plan(
    backend: &dyn PipelineBackend,
    request: &Request,
) -> Result<RemediationPlan, BackendError> {
    match request {
        Request::Rerun(rerun) => backend.plan_rerun(rerun).await,
        Request::Cancel(cancel) => backend.plan_cancel(cancel).await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::backends::sandbox::{Sandbox, SandboxOptions};
    use crate::model::time::FixedClock;
    use crate::ops::policy::{EnvironmentRule, RemediationPolicy};

    fn sandbox_backends() -> Backends {
        let at = DateTime::parse_from_rfc3339("2026-11-23T03:42:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock: crate::model::time::SharedClock = Arc::new(FixedClock(at));
        let options = SandboxOptions {
            scenario: Some("expired-secret".into()),
            ..SandboxOptions::default()
        };
        let sandbox = Arc::new(Sandbox::new(options, clock.clone()).unwrap());
        Backends {
            pipelines: vec![sandbox.clone()],
            secrets: vec![sandbox.clone()],
            infra: vec![sandbox.clone()],
            logs: vec![sandbox],
            changes: Vec::new(),
            clock,
            label: "sandbox".into(),
        }
    }

    /// A guard that forbids every real action, auditing to a fresh file.
    fn forbidding_guard(tag: &str) -> (PolicyGuard, std::path::PathBuf) {
        let audit = std::env::temp_dir().join(format!(
            "opsdeck-ops-remediation-{tag}-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&audit);
        let policy = RemediationPolicy {
            default: EnvironmentRule::Forbidden,
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        };
        (PolicyGuard::new(policy, &std::env::temp_dir()), audit)
    }

    fn audited_outcomes(audit: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(audit)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["outcome"].to_string())
            .collect()
    }

    #[tokio::test]
    async fn the_guard_refuses_before_anything_is_planned_and_every_attempt_is_audited() {
        let backends = sandbox_backends();
        let (guard, audit) = forbidding_guard("order");
        let remediation = Remediation {
            backends: &backends,
            guard: &guard,
            read_only: false,
        };
        let preview = remediation
            .rerun(&RerunAsk {
                pipeline: "ingest_crm_customers".into(),
                ..RerunAsk::default()
            })
            .await
            .unwrap();
        assert!(
            preview.dry_run && preview.new_run_id.is_none(),
            "{preview:?}"
        );
        // A run that does not exist would fail the plan; the policy answers first.
        let refused = remediation
            .rerun(&RerunAsk {
                pipeline: "ingest_crm_customers".into(),
                run_id: Some("no-such-run".into()),
                dry_run: Some(false),
                ..RerunAsk::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, RemediationError::Refused(why) if why.contains("forbids")),
            "{refused:?}"
        );
        let missing = remediation
            .rerun(&RerunAsk {
                pipeline: "ingest_crm_customers".into(),
                run_id: Some("no-such-run".into()),
                ..RerunAsk::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                &missing,
                RemediationError::Backend(BackendError::NotFound { .. })
            ),
            "{missing:?}"
        );
        assert_eq!(
            audited_outcomes(&audit),
            ["\"previewed\"", "\"blocked_by_policy\"", "\"failed\""]
        );
        let _ = std::fs::remove_file(&audit);
    }

    #[tokio::test]
    async fn read_only_refuses_a_real_cancel_and_audits_the_refusal() {
        let backends = sandbox_backends();
        let (guard, audit) = forbidding_guard("read-only");
        let remediation = Remediation {
            backends: &backends,
            guard: &guard,
            read_only: true,
        };
        let run = backends.pipelines[0]
            .query_runs(&crate::backends::RunQuery::recent(
                "ingest_crm_customers",
                vec![],
                backends.clock.now(),
                chrono::Duration::days(1),
                1,
            ))
            .await
            .unwrap()
            .runs
            .remove(0);
        let real = CancelAsk {
            run_id: run.run_id.clone(),
            dry_run: Some(false),
            approved_by: Some("dana".into()),
            actor: None,
        };
        let err = remediation.cancel(&real).await.unwrap_err();
        assert!(
            matches!(&err, RemediationError::Refused(why) if why.contains("--read-only")),
            "{err:?}"
        );
        assert_eq!(audited_outcomes(&audit), ["\"refused_read_only\""]);
        let _ = std::fs::remove_file(&audit);
    }

    #[tokio::test]
    async fn only_a_dry_run_that_showed_its_plan_counts_as_the_preview() {
        let backends = sandbox_backends();
        let audit = std::env::temp_dir().join(format!(
            "opsdeck-ops-remediation-preview-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&audit);
        let policy = RemediationPolicy {
            default: EnvironmentRule::Allowed,
            require_preview: true,
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        };
        let guard = PolicyGuard::new(policy, &std::env::temp_dir());
        let remediation = Remediation {
            backends: &backends,
            guard: &guard,
            read_only: false,
        };
        let ask = |dry_run| RerunAsk {
            pipeline: "ingest_crm_customers".into(),
            run_id: Some("no-such-run".into()),
            dry_run: Some(dry_run),
            ..RerunAsk::default()
        };
        // The dry run fails to plan (no such run): it previewed nothing.
        assert!(remediation.rerun(&ask(true)).await.is_err());
        let refused = remediation.rerun(&ask(false)).await.unwrap_err();
        assert!(
            matches!(&refused, RemediationError::Refused(why) if why.contains("preview first")),
            "{refused:?}"
        );
        let _ = std::fs::remove_file(&audit);
    }

    #[tokio::test]
    async fn a_signed_in_actor_approves_and_the_callers_claim_is_kept_apart() {
        let backends = sandbox_backends();
        let audit = std::env::temp_dir().join(format!(
            "opsdeck-ops-remediation-actor-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&audit);
        let policy = RemediationPolicy {
            default: EnvironmentRule::Approval,
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        };
        let guard = PolicyGuard::new(policy, &std::env::temp_dir());
        let remediation = Remediation {
            backends: &backends,
            guard: &guard,
            read_only: false,
        };
        let actor = Actor {
            subject: "00000000-0000-0000-0000-0000000000d1".into(),
            name: "dana@contoso.com".into(),
            issuer: "https://login.microsoftonline.com/t/v2.0".into(),
        };
        remediation
            .rerun(&RerunAsk {
                pipeline: "ingest_crm_customers".into(),
                dry_run: Some(false),
                approved_by: Some("the CEO".into()),
                actor: Some(actor),
                ..RerunAsk::default()
            })
            .await
            .unwrap();
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&audit).unwrap().trim()).unwrap();
        assert_eq!(line["outcome"], "done");
        assert_eq!(line["who"]["approved_by"], "dana@contoso.com");
        assert_eq!(line["who"]["claimed_approved_by"], "the CEO");
        assert_eq!(
            line["who"]["subject"],
            "00000000-0000-0000-0000-0000000000d1"
        );
        assert_eq!(
            line["who"]["issuer"],
            "https://login.microsoftonline.com/t/v2.0"
        );
        let _ = std::fs::remove_file(&audit);
    }
}
