//! The embedded sandbox estate: a realistic Data Factory with Key Vault, ARM
//! resources, Terraform plans and logs, whose runs happen on the wall clock,
//! deterministically from a seed, with an incident scenario in force.

mod changes;
pub mod fixtures;
mod newest;
mod rng;
mod schedule;
mod simulate;
mod view;
mod world;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use fixtures::{FixtureFiles, Scenario, Truth};
use newest::NewestLines;
use simulate::{RunSpec, RunTimeline};
use world::World;

use super::azure::{arm, keyvault};
use super::{
    BackendError, BackendHealth, CancelRequest, InfraSource, LivePlan, LogQuery, LogSource,
    PastRerun, PipelineBackend, PlanDescription, PlanRef, RemediationOutcome, RemediationPlan,
    RerunRequest, RunPage, RunQuery, SecretStore, linked_reruns, remediation::runs_between,
};
use crate::model::estate::EstateCatalog;
use crate::model::log::LogLine;
use crate::model::resource::Resource;
use crate::model::run::{ActivityRun, BackendKind, InvokedBy, PipelineRun, RunStatus};
use crate::model::secret::SecretMeta;
use crate::model::time::{MAX_WINDOW_DAYS, SharedClock};

/// The most days of application logs one query walks: a tool's longest window
/// and a day either side (the recorded day straddles midnight).
const MAX_APP_LOG_DAYS: i64 = MAX_WINDOW_DAYS + 2;

/// How to build a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub files: FixtureFiles,
    /// `None` = the estate's default scenario.
    pub scenario: Option<String>,
    pub seed: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            files: FixtureFiles::Embedded,
            scenario: None,
            seed: 7,
        }
    }
}

pub struct Sandbox {
    world: World,
    clock: SharedClock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every run simulated so far (scheduled, child and manual), by run id.
    runs: HashMap<String, Arc<RunTimeline>>,
    /// Fire times already simulated, up to this instant.
    generated_until: Option<DateTime<Utc>>,
    cancels: HashMap<String, DateTime<Utc>>,
    manual_runs: u64,
}

/// What the sandbox does when a plan is acted on, as its plans decided it.
enum Planned {
    /// A manual run of the pipeline, from the reference run's parameters.
    Start {
        pipeline: String,
        parameters: serde_json::Map<String, serde_json::Value>,
        start_at_activity: Option<String>,
        rerun_of: Option<String>,
    },
    Cancel {
        run_id: String,
    },
}

impl Sandbox {
    pub fn new(options: SandboxOptions, clock: SharedClock) -> Result<Sandbox, String> {
        let world = World::load(
            &options.files,
            options.scenario.as_deref(),
            options.seed,
            clock.now(),
        )?;
        Ok(Sandbox {
            world,
            clock,
            state: Mutex::new(State::default()),
        })
    }

    /// Every scenario the fixtures define.
    pub fn scenarios(files: &FixtureFiles) -> Result<Vec<Scenario>, String> {
        fixtures::load_scenarios(files)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.world.scenario
    }

    pub fn incident_start(&self) -> DateTime<Utc> {
        self.world.incident_start
    }

    pub fn describe(&self) -> String {
        format!(
            "sandbox estate {} ({}), scenario '{}', seed {}",
            self.world.settings.factory,
            self.world.settings.environment,
            self.world.scenario.name,
            self.world.seed
        )
    }

    // A poisoned lock only means another request panicked mid-update; the data is
    // still consistent enough to read, so keep serving rather than failing forever.
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::support::sync::lock(&self.state)
    }

    /// Simulates every scheduled run queued up to `now` that is not simulated yet.
    fn ensure_generated(&self, now: DateTime<Utc>) {
        let history_start = self.world.anchor - Duration::hours(self.world.settings.history_hours);
        let from = match self.lock().generated_until {
            Some(until) if until >= now => return,
            Some(until) => until + Duration::seconds(1),
            None => history_start,
        };
        let mut fresh = Vec::new();
        for trigger in &self.world.factory.triggers {
            if trigger.properties.runtime_state.as_deref() == Some("Stopped") {
                continue;
            }
            let Some(recurrence) = trigger.properties.recurrence() else {
                continue;
            };
            for fire in schedule::fire_times(&recurrence, from, now) {
                for pipeline in trigger.properties.pipeline_names() {
                    let spec = RunSpec {
                        key: format!("{}/{}/{}", trigger.name, pipeline, fire.timestamp()),
                        pipeline,
                        queued_at: fire,
                        invoked_by: InvokedBy {
                            name: trigger.name.clone(),
                            kind: trigger.properties.trigger_type.clone(),
                            parent_run_id: None,
                            parent_pipeline: None,
                        },
                        parameters: serde_json::Map::from_iter([(
                            "window_start".to_string(),
                            serde_json::Value::String(fire.to_rfc3339()),
                        )]),
                        start_at_activity: None,
                        rerun_of: None,
                    };
                    fresh.push(self.world.simulate(&spec));
                }
            }
        }
        let mut state = self.lock();
        for timeline in fresh {
            insert_with_children(&mut state.runs, Arc::new(timeline));
        }
        // A console left open for days must not grow without bound: forget runs that
        // ended before the history window (manual runs and their cancellations too).
        let horizon = now - Duration::hours(self.world.settings.history_hours) - Duration::hours(3);
        state.runs.retain(|_, t| t.end >= horizon);
        let State { runs, cancels, .. } = &mut *state;
        cancels.retain(|id, _| runs.contains_key(id));
        state.generated_until = Some(state.generated_until.map_or(now, |u| u.max(now)));
    }

    /// When a run was cancelled: directly, or through the parent that started it.
    fn cancelled_at(state: &State, timeline: &RunTimeline) -> Option<DateTime<Utc>> {
        let own = state.cancels.get(&timeline.run_id).copied();
        let parent = timeline
            .invoked_by
            .parent_run_id
            .as_ref()
            .and_then(|id| state.runs.get(id))
            .and_then(|p| Self::cancelled_at(state, p));
        match (own, parent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn visible_runs(&self, now: DateTime<Utc>) -> Vec<(Arc<RunTimeline>, PipelineRun)> {
        self.ensure_generated(now);
        let state = self.lock();
        let env = &self.world.settings.environment;
        state
            .runs
            .values()
            .filter_map(|t| {
                view::run_at(t, now, Self::cancelled_at(&state, t), env).map(|run| (t.clone(), run))
            })
            .collect()
    }

    fn timeline(&self, run_id: &str) -> Option<(Arc<RunTimeline>, Option<DateTime<Utc>>)> {
        self.ensure_generated(self.clock.now());
        let state = self.lock();
        let timeline = state.runs.get(run_id)?.clone();
        let cancelled = Self::cancelled_at(&state, &timeline);
        Some((timeline, cancelled))
    }

    fn known_pipelines(&self) -> Vec<String> {
        self.world
            .catalog
            .pipelines
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    fn check_pipeline(&self, name: &str) -> Result<(), BackendError> {
        if self.world.catalog.pipeline(name).is_some() {
            Ok(())
        } else {
            Err(BackendError::not_found_among(
                "pipeline",
                name,
                &self.known_pipelines(),
            ))
        }
    }
}

fn insert_with_children(runs: &mut HashMap<String, Arc<RunTimeline>>, timeline: Arc<RunTimeline>) {
    for child in &timeline.children {
        insert_with_children(runs, child.clone());
    }
    runs.insert(timeline.run_id.clone(), timeline);
}

/// A stable cursor: the sort key (planned start, run id) of the last run of a page.
fn encode_cursor(run_id: &str, start: DateTime<Utc>) -> String {
    format!("{}:{run_id}", start.timestamp_millis())
}

fn decode_cursor(token: &str) -> Result<(i64, String), BackendError> {
    let bad = || {
        // Quote only the start: the token is whatever the caller sent.
        let shown: String = token.chars().take(64).collect();
        let more = if shown.len() < token.len() { "…" } else { "" };
        BackendError::InvalidArgument(format!(
            "continuation_token '{shown}{more}' was not issued by this server; pass back the token from the previous page unchanged, or omit it for the first page"
        ))
    };
    let (millis, run_id) = token.split_once(':').ok_or_else(bad)?;
    Ok((millis.parse().map_err(|_| bad())?, run_id.to_string()))
}

#[async_trait]
impl PipelineBackend for Sandbox {
    fn kind(&self) -> BackendKind {
        BackendKind::Sandbox
    }

    fn environment(&self) -> &str {
        &self.world.settings.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        Ok(self.world.catalog.clone())
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        for pipeline in &query.pipelines {
            self.check_pipeline(pipeline)?;
        }
        let cursor = query
            .continuation
            .as_deref()
            .map(decode_cursor)
            .transpose()?;
        let now = self.clock.now();
        self.ensure_generated(now);
        let state = self.lock();
        // Filter and sort on the timelines; build full runs only for the page.
        let mut matching: Vec<(&Arc<RunTimeline>, Option<DateTime<Utc>>)> = state
            .runs
            .values()
            .filter(|t| {
                t.queued_at <= now
                    && query.window.contains(t.queued_at)
                    && (query.pipelines.is_empty() || query.pipelines.contains(&t.pipeline))
            })
            .map(|t| (t, Self::cancelled_at(&state, t)))
            .filter(|(t, cancelled)| {
                query.statuses.is_empty()
                    || view::status_at(t, now, *cancelled)
                        .is_some_and(|s| query.statuses.contains(&s))
            })
            .collect();
        // Newest (planned) start first; run id breaks ties so pages never overlap or skip.
        matching.sort_by(|a, b| {
            b.0.start
                .cmp(&a.0.start)
                .then_with(|| b.0.run_id.cmp(&a.0.run_id))
        });
        if let Some((millis, run_id)) = cursor {
            matching.retain(|(t, _)| {
                let key = t.start.timestamp_millis();
                key < millis || (key == millis && t.run_id < run_id)
            });
        }
        let limit = query.limit.max(1);
        let more = matching.len() > limit;
        matching.truncate(limit);
        let continuation = if more {
            matching
                .last()
                .map(|(t, _)| encode_cursor(&t.run_id, t.start))
        } else {
            None
        };
        let env = &self.world.settings.environment;
        let runs = matching
            .iter()
            .filter_map(|(t, cancelled)| view::run_at(t, now, *cancelled, env))
            .collect();
        Ok(RunPage { runs, continuation })
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        let now = self.clock.now();
        Ok(self.timeline(run_id).and_then(|(t, cancelled)| {
            view::run_at(&t, now, cancelled, &self.world.settings.environment)
        }))
    }

    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        let now = self.clock.now();
        match self.timeline(run_id) {
            Some((t, cancelled)) if now >= t.queued_at => {
                Ok(view::activities_at(&t, now, cancelled))
            }
            _ => Err(BackendError::run_not_found(run_id)),
        }
    }

    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        self.check_pipeline(&request.pipeline)?;
        let now = self.clock.now();
        let reference = match request.named_reference(self).await? {
            Some(run) => Some(run),
            None => {
                let mut runs: Vec<_> = self
                    .visible_runs(now)
                    .into_iter()
                    .filter(|(_, r)| {
                        r.pipeline == request.pipeline && r.status == RunStatus::Failed
                    })
                    .collect();
                runs.sort_by_key(|(t, _)| t.queued_at);
                runs.pop().map(|(_, r)| r)
            }
        };
        crate::backends::refuse_unfinished(reference.as_ref())?;
        let start_at = match (&reference, request.from_failed_activity) {
            (Some(run), true) => self
                .activity_runs(&run.run_id)
                .await?
                .into_iter()
                .filter(|a| a.status == RunStatus::Failed)
                .map(|a| a.activity_name)
                .find(|name| {
                    self.world
                        .activities(&request.pipeline)
                        .iter()
                        .any(|a| &a.name == name)
                }),
            _ => None,
        };
        let mut steps = vec![match &reference {
            Some(run) => format!(
                "Re-run {} with the parameters of run {} ({} at {})",
                request.pipeline,
                run.run_id,
                run.status,
                run.run_start.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
            None => format!(
                "Run {} with default parameters (no earlier failed run found)",
                request.pipeline
            ),
        }];
        steps.push(match &start_at {
            Some(activity) => format!(
                "Start at the failed activity {activity}; earlier activities keep their results"
            ),
            None => "Start from the first activity".to_string(),
        });
        let still_failing: Vec<String> = self
            .world
            .catalog
            .pipeline(&request.pipeline)
            .map(|p| {
                p.activities
                    .iter()
                    .filter(|a| {
                        self.world
                            .forced_failure(&request.pipeline, &a.name, now)
                            .is_some()
                    })
                    .map(|a| a.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if !still_failing.is_empty() {
            steps.push(format!(
                "Warning: the cause of the failure is still present ({}); a rerun now is likely to fail the same way",
                still_failing.join(", ")
            ));
        }
        let description = PlanDescription {
            backend: BackendKind::Sandbox,
            environment: self.world.settings.environment.clone(),
            pipeline: request.pipeline.clone(),
            target_run_id: reference.as_ref().map(|r| r.run_id.clone()),
            steps,
        };
        let work = Planned::Start {
            pipeline: request.pipeline.clone(),
            parameters: reference
                .as_ref()
                .map(|r| r.parameters.clone())
                .unwrap_or_default(),
            start_at_activity: start_at,
            rerun_of: reference.map(|r| r.run_id),
        };
        Ok(RemediationPlan::rerun(request, description, work))
    }

    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        // Runs are listed by when they were queued; a second past now takes in a rerun just made.
        let until = self.clock.now() + Duration::seconds(1);
        let runs = runs_between(self, &reference.pipeline, since, until).await?;
        linked_reruns(self, reference, &runs, since).await
    }

    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        let run_id = request.run_id.as_str();
        let run = crate::backends::cancellable_run(self, run_id).await?;
        let running: Vec<String> = self
            .activity_runs(run_id)
            .await?
            .into_iter()
            .filter(|a| a.status == RunStatus::InProgress)
            .map(|a| format!("{} ({})", a.activity_name, a.activity_type))
            .collect();
        let mut steps = vec![format!(
            "Cancel run {run_id} of {} ({} since {})",
            run.pipeline,
            run.status,
            run.run_start
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "queued".into())
        )];
        if !running.is_empty() {
            steps.push(format!(
                "Stop the running activities: {}",
                running.join(", ")
            ));
        }
        steps.push("Child pipeline runs it started are cancelled with it".into());
        let description = PlanDescription {
            backend: BackendKind::Sandbox,
            environment: self.world.settings.environment.clone(),
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
        let now = self.clock.now();
        match work {
            Planned::Start {
                pipeline,
                parameters,
                start_at_activity,
                rerun_of,
            } => {
                let sequence = {
                    let mut state = self.lock();
                    state.manual_runs += 1;
                    state.manual_runs
                };
                let spec = RunSpec {
                    key: format!("manual/{sequence}/{pipeline}/{}", now.timestamp_millis()),
                    pipeline,
                    queued_at: now,
                    invoked_by: InvokedBy {
                        name: "Manual".into(),
                        kind: "Manual".into(),
                        parent_run_id: None,
                        parent_pipeline: None,
                    },
                    parameters,
                    start_at_activity,
                    rerun_of,
                };
                let timeline = Arc::new(self.world.simulate(&spec));
                outcome.new_run_id = Some(timeline.run_id.clone());
                outcome
                    .steps
                    .push(format!("Started run {}", timeline.run_id));
                insert_with_children(&mut self.lock().runs, timeline);
            }
            Planned::Cancel { run_id } => {
                self.lock().cancels.insert(run_id, now);
                outcome
                    .steps
                    .push("Cancellation requested; the run shows Canceling, then Cancelled".into());
            }
        }
        Ok(outcome)
    }

    async fn health(&self) -> BackendHealth {
        BackendHealth {
            name: "sandbox".into(),
            ok: true,
            detail: self.describe(),
        }
    }
}

#[async_trait]
impl SecretStore for Sandbox {
    fn vault(&self) -> &str {
        &self.world.settings.key_vault
    }

    async fn list_secrets(&self) -> Result<Vec<SecretMeta>, BackendError> {
        let body = self.files_read("keyvault/secrets.json")?;
        let (mut secrets, _) =
            keyvault::parse_secret_list(&body).map_err(BackendError::Unavailable)?;
        for secret in &mut secrets {
            secret.created = secret.created.map(|t| self.world.shift(t));
            secret.updated = secret.updated.map(|t| self.world.shift(t));
            secret.expires = secret.expires.map(|t| self.world.shift(t));
            secret.not_before = secret.not_before.map(|t| self.world.shift(t));
            for effect in &self.world.scenario.effects {
                if let fixtures::Effect::SecretExpired { secret: name, .. } = effect
                    && *name == secret.name
                {
                    secret.expires = Some(self.world.incident_start - Duration::minutes(7));
                }
            }
        }
        Ok(secrets)
    }

    /// The sandbox keeps one version of each secret: the current one.
    async fn secret_versions(&self, name: &str) -> Result<Vec<SecretMeta>, BackendError> {
        let secrets = self.list_secrets().await?;
        let known: Vec<String> = secrets.iter().map(|s| s.name.clone()).collect();
        match secrets.into_iter().find(|s| s.name == name) {
            Some(current) => Ok(vec![current]),
            None => Err(BackendError::not_found_among("secret", name, &known)),
        }
    }
}

impl Sandbox {
    /// Application log lines matching `query` before `until`, into `newest`:
    /// the recorded day repeats daily, so the services keep logging for as long
    /// as the sandbox runs. Walks back from the newest day and stops as soon as
    /// no earlier day can make the cut, so a wide window costs no memory; it
    /// never walks more than [`MAX_APP_LOG_DAYS`] days.
    fn collect_app_logs(&self, query: &LogQuery, until: DateTime<Utc>, newest: &mut NewestLines) {
        let since = query.window.since;
        let anchor = self.world.anchor;
        // A difference of two instants always fits; day counts are far from i64's ends.
        let last_day = until.signed_duration_since(anchor).num_days() + 1;
        let first_day = (since.signed_duration_since(anchor).num_days().min(0) - 1)
            .max(last_day - MAX_APP_LOG_DAYS);
        let latest_recorded = self.world.app_logs.iter().map(|l| l.timestamp).max();
        for day in (first_day..=last_day).rev() {
            let Some(shift) = Duration::try_days(day) else {
                continue;
            };
            if let (Some(cutoff), Some(latest)) = (newest.cutoff(), latest_recorded)
                && latest.checked_add_signed(shift).is_none_or(|t| t < cutoff)
            {
                break;
            }
            for line in &self.world.app_logs {
                let Some(t) = line.timestamp.checked_add_signed(shift) else {
                    continue;
                };
                if t < since || t >= until {
                    continue;
                }
                let shifted = LogLine {
                    timestamp: t,
                    ..line.clone()
                };
                if query.matches(&shifted) {
                    newest.push(shifted);
                }
            }
        }
    }

    fn files_read(&self, path: &str) -> Result<String, BackendError> {
        self.world_files()
            .read(path)
            .map_err(BackendError::Unavailable)
    }

    fn world_files(&self) -> &FixtureFiles {
        &self.world.files
    }
}

#[async_trait]
impl InfraSource for Sandbox {
    async fn list_resources(&self) -> Result<Vec<Resource>, BackendError> {
        let body = self.files_read("resources/resources.json")?;
        let (resources, _) = arm::parse_resource_list(&body).map_err(BackendError::Unavailable)?;
        Ok(resources
            .into_iter()
            .map(|mut r| {
                r.availability = Some("Available".into());
                r
            })
            .collect())
    }

    async fn list_plans(&self) -> Result<Vec<PlanRef>, BackendError> {
        let descriptions: std::collections::BTreeMap<String, String> = self
            .world_files()
            .read_json("terraform/index.json")
            .unwrap_or_default();
        Ok(self
            .world
            .scenario
            .plans
            .iter()
            .map(|name| PlanRef {
                name: name.clone(),
                description: descriptions.get(name).cloned(),
            })
            .collect())
    }

    async fn read_plan(&self, name: &str) -> Result<String, BackendError> {
        if !self.world.scenario.plans.iter().any(|p| p == name) {
            return Err(BackendError::not_found_among(
                "plan",
                name,
                &self.world.scenario.plans,
            ));
        }
        self.files_read(&format!("terraform/{name}.plan.json"))
    }
}

#[async_trait]
impl LogSource for Sandbox {
    async fn fetch_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, BackendError> {
        if let Some(pipeline) = &query.pipeline {
            self.check_pipeline(pipeline)?;
        }
        let now = self.clock.now();
        let runs = self.visible_runs(now);
        // Pick the runs first (cheap), then re-simulate only those with their logs.
        let chosen: Vec<(Arc<RunTimeline>, Option<DateTime<Utc>>)> = {
            let state = self.lock();
            runs.iter()
                .map(|(t, _)| t)
                .filter(|t| query.run_id.as_ref().is_none_or(|id| &t.run_id == id))
                .filter(|t| query.pipeline.as_ref().is_none_or(|p| &t.pipeline == p))
                .filter(|t| t.queued_at < query.window.until && t.end >= query.window.since)
                .map(|t| (t.clone(), Self::cancelled_at(&state, t)))
                .collect()
        };
        // Memory is bounded by the limit, not by the window.
        let mut newest = NewestLines::new(query.limit);
        if query.run_id.is_none() && query.pipeline.is_none() {
            self.collect_app_logs(query, query.window.until.min(now), &mut newest);
        }
        for (timeline, cancelled) in chosen {
            let full = self.world.simulate_with_logs(&timeline.spec);
            for line in view::logs_at(&full, now, cancelled).filter(|l| query.matches(l)) {
                newest.push(line.clone());
            }
        }
        Ok(query.newest(newest.into_oldest_first()))
    }

    fn log_sources(&self) -> Vec<String> {
        let mut sources = vec!["adf/activity".to_string(), "databricks/driver".to_string()];
        sources.extend(self.world.app_logs.iter().map(|l| l.source.clone()));
        for effect in &self.world.scenario.effects {
            let logs = match effect {
                fixtures::Effect::SecretExpired { logs, .. }
                | fixtures::Effect::ActivityFails { logs, .. }
                | fixtures::Effect::LogOnly { logs, .. }
                | fixtures::Effect::VolumeChange { logs, .. } => logs,
            };
            sources.extend(logs.iter().map(|l| l.source.clone()));
        }
        sources.sort();
        sources.dedup();
        sources
    }
}
