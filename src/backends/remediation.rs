//! Remediation as backends offer it: a read-only plan, then a write-only act.
//!
//! A backend's `plan_rerun` / `plan_cancel` resolve the run, check that it can
//! be re-run or cancelled and describe the steps, changing nothing. Its `act`
//! carries a plan out, and takes only a [`LivePlan`]: the one way to get one is
//! [`RemediationPlan::next`] on a plan made for a request that was not a dry
//! run. So a dry run cannot reach `act`, whatever a backend or its caller does
//! with the plan. The fields that decide it are private to this module (not to
//! `backends`, whose submodules would see them), so no backend can forge them.

use std::any::Any;
use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::{BackendError, PipelineBackend, RunQuery};
use crate::model::run::{BackendKind, PipelineRun, RunStatus};

/// A request to run a pipeline again.
#[derive(Debug, Clone)]
pub struct RerunRequest {
    pub pipeline: String,
    /// Re-run this run (same parameters); the latest failed run when absent.
    pub reference_run_id: Option<String>,
    /// Start from the failed activity instead of the beginning (ADF recovery mode).
    pub from_failed_activity: bool,
    pub dry_run: bool,
}

impl RerunRequest {
    /// The run named as the reference, checked: it exists and is of this pipeline.
    pub async fn named_reference(
        &self,
        backend: &(impl PipelineBackend + ?Sized),
    ) -> Result<Option<PipelineRun>, BackendError> {
        let Some(id) = &self.reference_run_id else {
            return Ok(None);
        };
        let run = backend
            .get_run(id)
            .await?
            .ok_or_else(|| BackendError::run_not_found(id))?;
        if run.pipeline != self.pipeline {
            return Err(BackendError::InvalidArgument(format!(
                "run {id} belongs to pipeline {}, not {}",
                run.pipeline, self.pipeline
            )));
        }
        Ok(Some(run))
    }
}

/// A request to cancel a queued or running run.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    pub run_id: String,
    pub dry_run: bool,
}

/// The latest failed run of `pipeline` in the week before `now`, among the
/// newest runs the backend must list to find it
/// ([`PipelineBackend::failed_run_scan`]).
pub async fn latest_failed_run(
    backend: &(impl PipelineBackend + ?Sized),
    pipeline: &str,
    now: DateTime<Utc>,
) -> Result<Option<PipelineRun>, BackendError> {
    let query = RunQuery::recent(
        pipeline,
        vec![RunStatus::Failed],
        now,
        Duration::days(7),
        backend.failed_run_scan(),
    );
    Ok(backend.query_runs(&query).await?.runs.into_iter().next())
}

/// A run may only be re-run once it has finished.
pub fn refuse_unfinished(reference: Option<&PipelineRun>) -> Result<(), BackendError> {
    match reference.filter(|r| !r.status.is_terminal()) {
        Some(run) => Err(BackendError::Refused(format!(
            "run {} of {} is still {}; wait for it to finish or cancel it first",
            run.run_id, run.pipeline, run.status
        ))),
        None => Ok(()),
    }
}

/// A not-found error, listing the known pipelines, unless `backend` has `pipeline`.
pub async fn require_pipeline(
    backend: &(impl PipelineBackend + ?Sized),
    pipeline: &str,
) -> Result<(), BackendError> {
    let catalog = backend.catalog().await?;
    if catalog.pipeline(pipeline).is_none() {
        let known: Vec<String> = catalog.pipelines.iter().map(|p| p.name.clone()).collect();
        return Err(BackendError::not_found_among("pipeline", pipeline, &known)
            .with_hint(&catalog.missing_pipeline_hint(pipeline)));
    }
    Ok(())
}

/// The run to cancel, if it can still be cancelled (queued or running).
pub async fn cancellable_run(
    backend: &(impl PipelineBackend + ?Sized),
    run_id: &str,
) -> Result<PipelineRun, BackendError> {
    let run = backend
        .get_run(run_id)
        .await?
        .ok_or_else(|| BackendError::run_not_found(run_id))?;
    if run.status.is_terminal() || run.status == RunStatus::Canceling {
        return Err(BackendError::Refused(format!(
            "run {run_id} of {} is already {}; there is nothing to cancel",
            run.pipeline, run.status
        )));
    }
    Ok(run)
}

/// What a remediation did, or would do in a dry run: the tool result.
pub use crate::model::contract::RemediationOutcome;

/// One rerun found in a backend's own history: a run (or, where the service
/// re-runs in place, a repair or clear) that re-ran a run of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastRerun {
    /// The new run's id, or the id the service gave the repair or clear.
    pub id: String,
    pub at: DateTime<Utc>,
}

/// Most links followed from a run back to the root of its rerun chain, and
/// most runs of a pipeline read to find its chain: bounds on what a
/// service's answers can make this walk do.
pub const MAX_CHAIN_LINKS: usize = 64;
pub const MAX_HISTORY_RUNS: usize = 2_000;

/// Every run of `pipeline` that started in `[since, until)`, page by page,
/// at most [`MAX_HISTORY_RUNS`]: more is an error (the count would be a
/// guess), never a silent cut.
pub async fn runs_between(
    backend: &(impl PipelineBackend + ?Sized),
    pipeline: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<PipelineRun>, BackendError> {
    let mut query = RunQuery::before(pipeline, vec![], until, until - since, 200);
    let mut runs = Vec::new();
    loop {
        let page = backend.query_runs(&query).await?;
        runs.extend(page.runs);
        if runs.len() > MAX_HISTORY_RUNS {
            return Err(BackendError::Unavailable(format!(
                "{pipeline} has more than {MAX_HISTORY_RUNS} runs since {since}; its reruns cannot be counted"
            )));
        }
        match page.continuation {
            Some(token) if query.continuation.as_ref() != Some(&token) => {
                query.continuation = Some(token)
            }
            _ => return Ok(runs),
        }
    }
}

/// The reruns in the chain of `reference` (every run linked to it through
/// `rerun_of`, back to the root) among `runs`, started at or after `since`.
/// `lookup` finds a run outside `runs` (an ancestor older than the window).
/// A chain longer than [`MAX_CHAIN_LINKS`] is an error, never a guess.
pub async fn linked_reruns(
    backend: &(impl PipelineBackend + ?Sized),
    reference: &PipelineRun,
    runs: &[PipelineRun],
    since: DateTime<Utc>,
) -> Result<Vec<PastRerun>, BackendError> {
    let mut parents: std::collections::HashMap<String, Option<String>> = runs
        .iter()
        .map(|r| (r.run_id.clone(), r.rerun_of.clone()))
        .collect();
    parents.insert(reference.run_id.clone(), reference.rerun_of.clone());
    let mut roots = std::collections::HashMap::new();
    let reference_root = root_of(backend, &reference.run_id, &mut parents, &mut roots).await?;
    let mut found = Vec::new();
    for run in runs.iter().filter(|r| r.rerun_of.is_some()) {
        // Listed without a start: queued since the window opened, so it counts.
        let at = run.run_start.unwrap_or(since);
        if at < since {
            continue;
        }
        if root_of(backend, &run.run_id, &mut parents, &mut roots).await? == reference_root {
            found.push(PastRerun {
                id: run.run_id.clone(),
                at,
            });
        }
    }
    Ok(found)
}

/// The first run of the chain `run_id` belongs to.
async fn root_of(
    backend: &(impl PipelineBackend + ?Sized),
    run_id: &str,
    parents: &mut std::collections::HashMap<String, Option<String>>,
    roots: &mut std::collections::HashMap<String, String>,
) -> Result<String, BackendError> {
    let mut walked = vec![run_id.to_string()];
    let mut current = run_id.to_string();
    let root = loop {
        if let Some(root) = roots.get(&current) {
            break root.clone();
        }
        if walked.len() > MAX_CHAIN_LINKS {
            return Err(BackendError::Unavailable(format!(
                "run {run_id} is more than {MAX_CHAIN_LINKS} reruns away from its first run, or its history loops; its reruns cannot be counted"
            )));
        }
        let parent = match parents.get(&current) {
            Some(parent) => parent.clone(),
            None => {
                let parent = backend.get_run(&current).await?.and_then(|r| r.rerun_of);
                parents.insert(current.clone(), parent.clone());
                parent
            }
        };
        match parent {
            Some(parent) if parent != current => {
                walked.push(parent.clone());
                current = parent;
            }
            _ => break current,
        }
    };
    for id in walked {
        roots.insert(id, root.clone());
    }
    Ok(root)
}

/// What a backend found while planning, in the words the caller reads.
#[derive(Debug, Clone)]
pub struct PlanDescription {
    pub backend: BackendKind,
    pub environment: String,
    pub pipeline: String,
    /// The run acted on (the reference run of a rerun, the run to cancel).
    pub target_run_id: Option<String>,
    /// What acting on the plan does, step by step.
    pub steps: Vec<String>,
}

/// What the backend itself needs to act, kept opaque: each backend stores its
/// own type and reads it back in `act`.
type Work = Box<dyn Any + Send + Sync>;

/// A remediation worked out and not yet done: its description, and what the
/// backend needs to carry it out.
pub struct RemediationPlan {
    /// What a dry run answers; `act` adds what happened.
    outcome: RemediationOutcome,
    work: Work,
}

/// Where a plan goes next: a dry run ends in its description, anything else
/// is handed to the backend's `act`.
#[derive(Debug)]
pub enum Next {
    Describe(RemediationOutcome),
    Act(LivePlan),
}

/// A plan made for a request that was not a dry run: the only thing a
/// backend's `act` accepts. It has no public constructor; it comes only from
/// [`RemediationPlan::next`]. Nothing outside this module can make one:
///
/// ```compile_fail
/// use opsdeck::backends::{LivePlan, RemediationOutcome};
/// fn forge(outcome: RemediationOutcome) -> LivePlan {
///     LivePlan { outcome, work: Box::new(()) }
/// }
/// ```
pub struct LivePlan {
    outcome: RemediationOutcome,
    work: Work,
}

impl RemediationPlan {
    /// The plan for `request`, which alone decides whether it is a dry run.
    pub fn rerun(
        request: &RerunRequest,
        description: PlanDescription,
        work: impl Any + Send + Sync,
    ) -> RemediationPlan {
        RemediationPlan::of(
            "rerun_pipeline",
            request.dry_run,
            description,
            Box::new(work),
        )
    }

    /// The plan for `request`, which alone decides whether it is a dry run.
    pub fn cancel(
        request: &CancelRequest,
        description: PlanDescription,
        work: impl Any + Send + Sync,
    ) -> RemediationPlan {
        RemediationPlan::of("cancel_run", request.dry_run, description, Box::new(work))
    }

    fn of(action: &str, dry_run: bool, d: PlanDescription, work: Work) -> RemediationPlan {
        RemediationPlan {
            outcome: RemediationOutcome {
                action: action.to_string(),
                dry_run,
                backend: d.backend,
                environment: d.environment,
                pipeline: d.pipeline,
                target_run_id: d.target_run_id,
                new_run_id: None,
                steps: d.steps,
            },
            work,
        }
    }

    /// What the plan would do, as a dry run answers it.
    pub fn preview(&self) -> &RemediationOutcome {
        &self.outcome
    }

    /// The run the plan acts on: a rerun's reference run (`None` for a fresh
    /// start), the run to cancel.
    pub fn target_run_id(&self) -> Option<&str> {
        self.outcome.target_run_id.as_deref()
    }

    /// The dry-run rule, decided by the caller that owns the policy (`ops`),
    /// not by the backend that made the plan: when the caller asks for a dry
    /// run — or the request the plan was made for was one — the plan goes no
    /// further than its description; only otherwise does it become a
    /// [`LivePlan`]. A backend that planned a dry run as a real one still
    /// cannot act.
    pub fn next(mut self, dry_run: bool) -> Next {
        if dry_run || self.outcome.dry_run {
            self.outcome.dry_run = true;
            Next::Describe(self.outcome)
        } else {
            Next::Act(LivePlan {
                outcome: self.outcome,
                work: self.work,
            })
        }
    }
}

impl LivePlan {
    /// The backend's own record of what to do, with the description that the
    /// outcome starts from. A plan made by another kind of backend is refused.
    pub fn into_parts<W: Any>(self) -> Result<(W, RemediationOutcome), BackendError> {
        match self.work.downcast::<W>() {
            Ok(work) => Ok((*work, self.outcome)),
            Err(_) => Err(BackendError::InvalidArgument(format!(
                "this {} plan was made by another backend ({} {}); plan and act with the same one",
                self.outcome.action,
                self.outcome.backend.as_str(),
                self.outcome.environment
            ))),
        }
    }

    /// What the plan does, as it was described.
    pub fn preview(&self) -> &RemediationOutcome {
        &self.outcome
    }
}

impl fmt::Debug for RemediationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemediationPlan")
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LivePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LivePlan")
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Planned(&'static str);

    fn description() -> PlanDescription {
        PlanDescription {
            backend: BackendKind::Sandbox,
            environment: "dev".into(),
            pipeline: "ingest".into(),
            target_run_id: Some("run-1".into()),
            steps: vec!["Re-run ingest".into()],
        }
    }

    fn rerun(dry_run: bool) -> RerunRequest {
        RerunRequest {
            pipeline: "ingest".into(),
            reference_run_id: None,
            from_failed_activity: true,
            dry_run,
        }
    }

    #[test]
    fn a_plan_for_a_dry_run_only_describes() {
        let plan = RemediationPlan::rerun(&rerun(true), description(), Planned("start"));
        match plan.next(true) {
            Next::Describe(outcome) => {
                assert!(outcome.dry_run);
                assert_eq!(outcome.action, "rerun_pipeline");
                assert_eq!(outcome.steps, ["Re-run ingest"]);
                assert_eq!(outcome.new_run_id, None);
            }
            Next::Act(live) => panic!("a dry run became live: {live:?}"),
        }
        let cancel = CancelRequest {
            run_id: "run-1".into(),
            dry_run: true,
        };
        let plan = RemediationPlan::cancel(&cancel, description(), Planned("stop"));
        assert!(
            matches!(plan.next(true), Next::Describe(o) if o.dry_run && o.action == "cancel_run")
        );
    }

    #[test]
    fn a_plan_for_a_real_request_goes_to_act_with_its_work() {
        let plan = RemediationPlan::rerun(&rerun(false), description(), Planned("start"));
        assert!(!plan.preview().dry_run);
        let Next::Act(live) = plan.next(false) else {
            panic!("a real request must reach act");
        };
        let (work, outcome) = live.into_parts::<Planned>().unwrap();
        assert_eq!(work, Planned("start"));
        assert!(!outcome.dry_run);
        assert_eq!(outcome.target_run_id.as_deref(), Some("run-1"));
    }

    #[test]
    fn a_plan_is_refused_by_a_backend_that_did_not_make_it() {
        let plan = RemediationPlan::rerun(&rerun(false), description(), Planned("start"));
        let Next::Act(live) = plan.next(false) else {
            panic!("a real request must reach act");
        };
        let err = live.into_parts::<String>().unwrap_err();
        assert!(err.to_string().contains("another backend"), "{err}");
    }

    #[test]
    fn the_callers_dry_run_wins_over_a_plan_made_as_real() {
        // A backend that (wrongly) planned a dry run as a real request.
        let plan = RemediationPlan::rerun(&rerun(false), description(), Planned("start"));
        match plan.next(true) {
            Next::Describe(outcome) => assert!(outcome.dry_run),
            Next::Act(live) => panic!("the caller asked for a dry run: {live:?}"),
        }
    }
}
