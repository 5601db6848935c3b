//! A real Azure Data Factory as a [`PipelineBackend`]: definitions, runs and
//! activity runs over ARM, and the two remediations (`createRun`, `cancel`)
//! with the care an action on production deserves.

pub mod api;
mod partial;
pub mod wire;

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use self::api::{AdfApi, RunFilter};
use crate::backends::azure::config::is_guid;
use crate::backends::cache::TtlCache;
use crate::backends::http::RestError;
use crate::backends::{
    BackendError, BackendHealth, CancelRequest, LivePlan, PastRerun, PipelineBackend,
    PlanDescription, RemediationOutcome, RemediationPlan, RerunRequest, RunPage, RunQuery,
};
use crate::model::estate::EstateCatalog;
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, TriggerRun};
use crate::model::time::SharedClock;
use crate::model::time::TimeWindow;

/// Roles named in permission errors.
pub const READ_ROLE: &str =
    "the Data Factory Contributor or Reader role (or Reader) on the factory or its resource group";
pub const WRITE_ROLE: &str =
    "the Data Factory Contributor role on the factory (Reader cannot start or cancel runs)";

/// Definitions change rarely; reading them on every tool call would waste the
/// subscription's request budget.
const CATALOG_TTL: StdDuration = StdDuration::from_secs(300);
/// Most `queryPipelineRuns` pages one tool call reads.
const MAX_RUN_PAGES: usize = 20;

pub struct AdfBackend {
    api: AdfApi,
    environment: String,
    clock: SharedClock,
    catalog: TtlCache<EstateCatalog>,
}

/// What acting on a plan sends to the factory, as the plan decided it.
enum Planned {
    /// `createRun`, as a recovery run of the reference when there is one.
    CreateRun {
        pipeline: String,
        reference_run_id: Option<String>,
        from_failed: bool,
    },
    /// `cancel`, recursively.
    Cancel { run_id: String },
}

/// Our continuation token: ADF's, plus how many runs of that page were
/// already returned (we return exactly `limit` runs, ADF pages hold up to 100).
fn encode_token(skip: usize, adf_token: Option<&str>) -> String {
    format!("{skip}|{}", adf_token.unwrap_or_default())
}

fn decode_token(raw: &str) -> Result<(usize, Option<String>), BackendError> {
    let bad = || {
        BackendError::InvalidArgument(format!(
            "continuation_token '{raw}' was not issued by this server; pass back the token from the previous page unchanged, or omit it for the first page"
        ))
    };
    let (skip, token) = raw.split_once('|').ok_or_else(bad)?;
    let skip = skip.parse().map_err(|_| bad())?;
    Ok((skip, (!token.is_empty()).then(|| token.to_string())))
}

impl AdfBackend {
    pub fn new(api: AdfApi, environment: &str, clock: SharedClock) -> AdfBackend {
        AdfBackend {
            api,
            environment: environment.to_string(),
            clock,
            catalog: TtlCache::new(CATALOG_TTL),
        }
    }

    pub fn factory(&self) -> &str {
        &self.api.factory
    }

    fn error(&self, e: RestError) -> BackendError {
        e.about("data factory", &self.api.factory, READ_ROLE)
    }

    /// The latest failed run of a pipeline in the last week.
    async fn latest_failed(&self, pipeline: &str) -> Result<Option<PipelineRun>, BackendError> {
        crate::backends::latest_failed_run(self, pipeline, self.clock.now()).await
    }

    /// After an action failed without a clear answer: what the factory shows now.
    async fn runs_started_since(&self, pipeline: &str, since: DateTime<Utc>) -> String {
        let query = RunQuery {
            pipelines: vec![pipeline.to_string()],
            statuses: vec![],
            window: TimeWindow {
                since,
                until: self.clock.now() + Duration::minutes(5),
            },
            limit: 5,
            continuation: None,
        };
        match self.query_runs(&query).await {
            Ok(page) if page.runs.is_empty() => {
                "No new run of it shows yet; look again with list_pipeline_runs before starting another".into()
            }
            Ok(page) => format!(
                "Runs of it started since the request: {}. Check these before starting another",
                page.runs
                    .iter()
                    .map(|r| format!("{} ({})", r.run_id, r.status))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("Could not check for a new run either ({e}); look with list_pipeline_runs before starting another"),
        }
    }
}

#[async_trait]
impl PipelineBackend for AdfBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Adf
    }

    fn environment(&self) -> &str {
        &self.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        let loaded = self
            .catalog
            .get_or_load(|| async {
                let (catalog, lasting) = self.load_catalog().await.map_err(CatalogLoad::Failed)?;
                // A gap that may clear (a timeout, a 503) is not kept for the cache's five minutes.
                if lasting {
                    Ok(catalog)
                } else {
                    Err(CatalogLoad::Passing(catalog))
                }
            })
            .await;
        match loaded {
            Ok(catalog) | Err(CatalogLoad::Passing(catalog)) => Ok(catalog),
            Err(CatalogLoad::Failed(e)) => Err(e),
        }
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        let (mut skip, mut adf_token) = match &query.continuation {
            Some(raw) => decode_token(raw)?,
            None => (0, None),
        };
        let now = self.clock.now();
        let limit = query.limit.max(1);
        let mut runs = Vec::new();
        for _ in 0..MAX_RUN_PAGES {
            let filter = RunFilter {
                // A run that started in the window was last updated after its start.
                last_updated_after: query.window.since,
                // …and may have been updated (finished) at any time since.
                last_updated_before: later_by_an_hour(now.max(query.window.until)),
                pipelines: query.pipelines.clone(),
                statuses: query
                    .statuses
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
                run_groups: vec![],
                continuation_token: adf_token.clone(),
            };
            let page = self
                .api
                .query_pipeline_runs(&filter)
                .await
                .map_err(|e| self.error(e))?;
            let next = page.next_token();
            let mut candidates: Vec<PipelineRun> = page
                .value
                .into_iter()
                .map(|w| w.into_run(&self.environment))
                .collect();
            // ADF orders by the filter's orderBy; sorting the page again keeps
            // "newest first" true whatever a page holds (queued runs, no start, first).
            candidates.sort_by(|a, b| {
                b.run_start
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
                    .cmp(&a.run_start.unwrap_or(DateTime::<Utc>::MAX_UTC))
                    .then_with(|| b.run_id.cmp(&a.run_id))
            });
            let mut index = skip;
            while index < candidates.len() && runs.len() < limit {
                let run = &candidates[index];
                // Queued runs have no start yet; they belong to "now".
                if query.window.contains(run.run_start.unwrap_or(now)) {
                    runs.push(run.clone());
                }
                index += 1;
            }
            if runs.len() >= limit {
                let continuation = if index < candidates.len() {
                    Some(encode_token(index, adf_token.as_deref()))
                } else {
                    next.as_deref().map(|t| encode_token(0, Some(t)))
                };
                return Ok(RunPage { runs, continuation });
            }
            match next {
                Some(token) => {
                    adf_token = Some(token);
                    skip = 0;
                }
                None => {
                    return Ok(RunPage {
                        runs,
                        continuation: None,
                    });
                }
            }
        }
        // Many pages of runs outside the window: hand back what we have and where to go on.
        Ok(RunPage {
            runs,
            continuation: adf_token.map(|t| encode_token(0, Some(&t))),
        })
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        // ADF run ids are GUIDs; anything else belongs to another backend (or a typo).
        if !is_guid(run_id) {
            return Ok(None);
        }
        match self.api.get_pipeline_run(run_id).await {
            Ok(wire) => Ok(Some(wire.into_run(&self.environment))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        let run = self
            .get_run(run_id)
            .await?
            .ok_or_else(|| BackendError::run_not_found(run_id))?;
        let now = self.clock.now();
        // Service data could hold any instant: checked arithmetic, never a panic.
        let earliest = now
            .checked_sub_signed(Duration::days(30))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let after = run
            .run_start
            .unwrap_or(earliest)
            .checked_sub_signed(Duration::hours(1))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let before = later_by_an_hour(now.max(run.run_end.unwrap_or(now)));
        let wire = self
            .api
            .query_activity_runs(run_id, after, before)
            .await
            .map_err(|e| self.error(e))?;
        Ok(wire::activity_runs(wire))
    }

    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        crate::backends::require_pipeline(self, &request.pipeline).await?;
        let reference = match request.named_reference(self).await? {
            Some(run) => Some(run),
            None => self.latest_failed(&request.pipeline).await?,
        };
        crate::backends::refuse_unfinished(reference.as_ref())?;
        let from_failed = request.from_failed_activity && reference.is_some();
        let mut steps = vec![match &reference {
            Some(run) => format!(
                "Re-run {} in factory {} ({}) with the parameters of run {} ({} at {})",
                request.pipeline,
                self.api.factory,
                self.environment,
                run.run_id,
                run.status,
                run.run_start.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
            None => format!(
                "Run {} in factory {} ({}) with default parameters (no failed run in the last 7 days)",
                request.pipeline, self.api.factory, self.environment
            ),
        }];
        steps.push(if from_failed {
            "Recovery run: start from the failed activity (ADF startFromFailure); earlier activities keep their results".into()
        } else {
            "Start from the first activity".into()
        });
        let reference_run_id = reference.map(|r| r.run_id);
        let description = PlanDescription {
            backend: BackendKind::Adf,
            environment: self.environment.clone(),
            pipeline: request.pipeline.clone(),
            target_run_id: reference_run_id.clone(),
            steps,
        };
        let work = Planned::CreateRun {
            pipeline: request.pipeline.clone(),
            reference_run_id,
            from_failed,
        };
        Ok(RemediationPlan::rerun(request, description, work))
    }

    /// The recovery runs of the reference's run group (ADF's `runGroupId`
    /// is the first run's id; opsdeck's reruns are recovery runs, so they
    /// join it) that started since `since`, filtered by the service and
    /// checked again here.
    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        let root = reference
            .rerun_of
            .clone()
            .unwrap_or_else(|| reference.run_id.clone());
        let mut filter = RunFilter {
            last_updated_after: since,
            last_updated_before: later_by_an_hour(self.clock.now()),
            pipelines: vec![reference.pipeline.clone()],
            statuses: vec![],
            run_groups: vec![root.clone()],
            continuation_token: None,
        };
        let mut found = Vec::new();
        for _ in 0..MAX_RUN_PAGES {
            let page = self
                .api
                .query_pipeline_runs(&filter)
                .await
                .map_err(|e| self.error(e))?;
            let next = page.next_token();
            for run in page.value {
                let in_group = run.run_group_id.as_deref() == Some(root.as_str());
                if !in_group || run.run_id == root {
                    continue;
                }
                let run = run.into_run(&self.environment);
                // Queued, not started yet: made after `since`, so it counts.
                let at = run.run_start.unwrap_or(since);
                if at >= since {
                    found.push(PastRerun { id: run.run_id, at });
                }
            }
            match next {
                Some(token) if filter.continuation_token.as_ref() != Some(&token) => {
                    filter.continuation_token = Some(token);
                }
                _ => return Ok(found),
            }
        }
        Err(BackendError::Unavailable(format!(
            "the run group of {root} spans more than {MAX_RUN_PAGES} pages of queryPipelineRuns; its reruns cannot be counted"
        )))
    }

    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        let run_id = request.run_id.as_str();
        let run = crate::backends::cancellable_run(self, run_id).await?;
        let steps = vec![
            format!(
                "Cancel run {run_id} of {} in factory {} ({}), {} since {}",
                run.pipeline,
                self.api.factory,
                self.environment,
                run.status,
                run.run_start
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "queued".into())
            ),
            "Child pipeline runs it started are cancelled with it (isRecursive)".into(),
        ];
        let description = PlanDescription {
            backend: BackendKind::Adf,
            environment: self.environment.clone(),
            pipeline: run.pipeline,
            target_run_id: Some(run_id.to_string()),
            steps,
        };
        let work = Planned::Cancel {
            run_id: run_id.to_string(),
        };
        Ok(RemediationPlan::cancel(request, description, work))
    }

    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        let (work, mut outcome) = plan.into_parts::<Planned>()?;
        match work {
            Planned::CreateRun {
                pipeline,
                reference_run_id,
                from_failed,
            } => {
                let asked_at = self.clock.now();
                match self
                    .api
                    .create_run(&pipeline, reference_run_id.as_deref(), from_failed)
                    .await
                {
                    Ok(run_id) => {
                        outcome.steps.push(format!("Started run {run_id}"));
                        outcome.new_run_id = Some(run_id);
                        Ok(outcome)
                    }
                    Err(e) if e.is_ambiguous() => {
                        let found = self
                            .runs_started_since(&pipeline, asked_at - Duration::minutes(1))
                            .await;
                        Err(BackendError::Unavailable(format!(
                            "createRun for {pipeline} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried. {found}"
                        )))
                    }
                    Err(e) => Err(e.about("pipeline", &pipeline, WRITE_ROLE)),
                }
            }
            Planned::Cancel { run_id } => match self.api.cancel_run(&run_id).await {
                Ok(()) => {
                    outcome.steps.push(
                        "Cancellation requested; the run shows Canceling, then Cancelled".into(),
                    );
                    Ok(outcome)
                }
                Err(e) if e.is_ambiguous() => {
                    let now_shows = match self.get_run(&run_id).await {
                        Ok(Some(run)) => format!("the run now shows {}", run.status),
                        Ok(None) => "the run can no longer be found".into(),
                        Err(check) => format!("its state could not be read either ({check})"),
                    };
                    Err(BackendError::Unavailable(format!(
                        "cancel of run {run_id} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried; {now_shows}"
                    )))
                }
                Err(e) => Err(e.about("run", &run_id, WRITE_ROLE)),
            },
        }
    }

    async fn trigger_runs(
        &self,
        pipeline: &str,
        window: TimeWindow,
    ) -> Result<Vec<TriggerRun>, BackendError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_RUN_PAGES {
            let page = self
                .api
                .query_trigger_runs(window.since, window.until, token.as_deref())
                .await
                .map_err(|e| self.error(e))?;
            found.extend(
                page.value
                    .iter()
                    .filter_map(|raw| wire::trigger_run_for(raw, pipeline)),
            );
            token = page.next_token();
            if token.is_none() {
                break;
            }
        }
        found.sort_by_key(|t| std::cmp::Reverse(t.fired_at));
        Ok(found)
    }

    async fn health(&self) -> BackendHealth {
        let name = format!("adf/{}/{}", self.environment, self.api.factory);
        match self.api.get_factory().await {
            Ok(factory) => BackendHealth {
                name,
                ok: true,
                detail: format!(
                    "factory {} ({}) reachable; {}",
                    self.api.factory,
                    factory
                        .get("location")
                        .and_then(|l| l.as_str())
                        .unwrap_or("location unknown"),
                    self.api_credential_status()
                ),
            },
            Err(e) => {
                let error = self.error(e);
                // A sign-in failure already is the credential's story; say it once.
                let detail = match self.api.credential_status() {
                    status if status.starts_with("sign-in failing") => error.to_string(),
                    _ => format!("{error}; {}", self.api_credential_status()),
                };
                BackendHealth {
                    name,
                    ok: false,
                    detail,
                }
            }
        }
    }
}

/// A catalogue load that did not give a value worth caching.
enum CatalogLoad {
    Failed(BackendError),
    /// Usable now, but missing a kind for a reason that may soon be gone.
    Passing(EstateCatalog),
}

impl AdfBackend {
    /// The catalogue, and whether it may be cached (complete, or missing only
    /// what a refusal or an absence keeps out). Pipelines are required; the
    /// other kinds are named in `unreadable` when they cannot be listed.
    async fn load_catalog(&self) -> Result<(EstateCatalog, bool), BackendError> {
        let definitions = self.api.definitions().await.map_err(|e| self.error(e))?;
        if !definitions.skipped.is_empty() {
            tracing::warn!(
                "factory {}: {} definitions could not be read: {}",
                self.api.factory,
                definitions.skipped.len(),
                definitions.skipped.join("; ")
            );
        }
        let mut catalog = definitions
            .factory
            .catalog(BackendKind::Adf, &self.environment);
        for (what, error) in &definitions.unreadable {
            tracing::warn!(
                "factory {}: {what} could not be listed, answers go on without them: {error}",
                self.api.factory
            );
            catalog.unreadable.push(partial::unreadable(what, error));
        }
        let lasting = definitions
            .unreadable
            .iter()
            .all(|(_, error)| partial::is_lasting(error));
        Ok((catalog, lasting))
    }

    fn api_credential_status(&self) -> String {
        format!("credential: {}", self.api.credential_status())
    }
}

/// An hour after `t`, or the last instant chrono holds (never a panic).
fn later_by_an_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_add_signed(Duration::hours(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(
            decode_token(&encode_token(3, Some("a|b"))).unwrap(),
            (3, Some("a|b".into()))
        );
        assert_eq!(decode_token(&encode_token(0, None)).unwrap(), (0, None));
        assert!(decode_token("opaque").is_err());
        assert!(decode_token("x|y").is_err());
    }
}
