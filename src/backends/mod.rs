//! Where data comes from. Each backend implements the traits for what it knows:
//! pipelines and runs ([`PipelineBackend`]), secret metadata ([`SecretStore`]),
//! cloud resources and Terraform plans ([`InfraSource`]), and logs ([`LogSource`]).
//!
//! The traits follow the operations the real services offer (ADF
//! `queryPipelineRuns` with a continuation token, `createRun` with a reference run
//! and recovery mode, Key Vault secret listing, ARM resource listing), so the
//! sandbox is one implementation among the real ones.

pub mod adf_definitions;
pub mod airflow;
pub mod azure;
pub mod cache;
pub mod databricks;
pub mod fabric;
pub mod http;
pub mod logfiles;
pub mod mixed;
pub mod remediation;
pub mod sandbox;
pub mod unstarted;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::model::change::Change;
use crate::model::estate::EstateCatalog;
use crate::model::log::{LogLevel, LogLine};
use crate::model::resource::Resource;
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, RunStatus, TriggerRun};
use crate::model::secret::SecretMeta;
use crate::model::time::{SharedClock, TimeWindow};

pub use remediation::{
    CancelRequest, LivePlan, Next, PastRerun, PlanDescription, RemediationOutcome, RemediationPlan,
    RerunRequest, cancellable_run, latest_failed_run, linked_reruns, refuse_unfinished,
    require_pipeline,
};

/// Why a backend could not answer. Every variant says what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    #[error("{what} '{name}' not found. {hint}")]
    NotFound {
        what: &'static str,
        name: String,
        /// What exists, or how to find out.
        hint: String,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
}

impl BackendError {
    /// A run id that no backend knows, with where run ids come from.
    pub fn run_not_found(run_id: &str) -> BackendError {
        BackendError::NotFound {
            what: "run",
            name: run_id.to_string(),
            hint: "Run ids come from list_pipeline_runs or get_pipeline_status.".to_string(),
        }
    }

    /// The error with `extra` added to a not-found hint (others unchanged).
    pub fn with_hint(self, extra: &str) -> BackendError {
        match self {
            BackendError::NotFound { what, name, hint } if !extra.is_empty() => {
                BackendError::NotFound {
                    what,
                    name,
                    hint: format!("{hint}{extra}"),
                }
            }
            other => other,
        }
    }

    /// A not-found error that lists what does exist, so the caller can correct itself.
    pub fn not_found_among(what: &'static str, name: &str, known: &[String]) -> BackendError {
        let hint = match known.len() {
            0 => format!("There are no {what}s."),
            n if n <= 40 => format!("Known {what}s: {}.", known.join(", ")),
            n => format!("Known {what}s ({n}): {}, …", known[..40].join(", ")),
        };
        BackendError::NotFound {
            what,
            name: name.to_string(),
            hint,
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunPage {
    pub runs: Vec<PipelineRun>,
    /// Pass back to get the next page (ADF `continuationToken`).
    pub continuation: Option<String>,
}

/// A run filter, modelled on ADF `RunFilterParameters`.
#[derive(Debug, Clone)]
pub struct RunQuery {
    pub pipelines: Vec<String>,
    pub statuses: Vec<RunStatus>,
    /// Runs whose start falls in the window.
    pub window: TimeWindow,
    pub limit: usize,
    pub continuation: Option<String>,
}

impl RunQuery {
    /// One pipeline's runs that started in the `span` before `now` (inclusive of now).
    pub fn recent(
        pipeline: &str,
        statuses: Vec<RunStatus>,
        now: DateTime<Utc>,
        span: Duration,
        limit: usize,
    ) -> RunQuery {
        RunQuery::before(pipeline, statuses, now + Duration::seconds(1), span, limit)
    }

    /// One pipeline's runs that started in the `span` before `until` (exclusive).
    pub fn before(
        pipeline: &str,
        statuses: Vec<RunStatus>,
        until: DateTime<Utc>,
        span: Duration,
        limit: usize,
    ) -> RunQuery {
        RunQuery {
            pipelines: vec![pipeline.to_string()],
            statuses,
            window: TimeWindow {
                since: until
                    .checked_sub_signed(span)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                until,
            },
            limit,
            continuation: None,
        }
    }
}

/// A log filter.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub window: TimeWindow,
    pub pipeline: Option<String>,
    pub run_id: Option<String>,
    pub activity: Option<String>,
    pub source: Option<String>,
    pub min_level: Option<LogLevel>,
    pub contains: Option<String>,
    pub limit: usize,
}

impl LogQuery {
    /// For sources that read logs run by run: the newest `limit` runs of the
    /// query's pipeline (or of all) in its window.
    pub fn runs(&self, limit: usize) -> RunQuery {
        RunQuery {
            pipelines: self.pipeline.iter().cloned().collect(),
            statuses: vec![],
            window: self.window,
            limit,
            continuation: None,
        }
    }

    /// The newest `limit` of `lines`, oldest first: during an incident the
    /// latest lines matter most. Ties in time keep a stable order by message.
    pub fn newest(&self, mut lines: Vec<LogLine>) -> Vec<LogLine> {
        lines.sort_by(|a, b| {
            a.timestamp
                .cmp(&b.timestamp)
                .then_with(|| a.message.cmp(&b.message))
        });
        let excess = lines.len().saturating_sub(self.limit);
        lines.split_off(excess)
    }

    /// Whether a line passes every filter of the query.
    pub fn matches(&self, line: &LogLine) -> bool {
        let contains = |needle: &String| {
            // Case-insensitive without allocating when the needle is ASCII (the usual case).
            let hay = line.message.as_bytes();
            let needle = needle.as_bytes();
            needle.is_empty()
                || hay
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
        };
        self.window.contains(line.timestamp)
            && self
                .pipeline
                .as_ref()
                .is_none_or(|p| line.pipeline.as_ref() == Some(p))
            && self
                .run_id
                .as_ref()
                .is_none_or(|r| line.run_id.as_ref() == Some(r))
            && self
                .activity
                .as_ref()
                .is_none_or(|a| line.activity.as_ref() == Some(a))
            && self
                .source
                .as_ref()
                .is_none_or(|s| line.source.starts_with(s.as_str()))
            && self.min_level.is_none_or(|min| line.level >= min)
            && self.contains.as_ref().is_none_or(contains)
    }
}

/// Whether a backend is reachable, for `/health/ready` and the status bar.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BackendHealth {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[async_trait]
pub trait PipelineBackend: Send + Sync {
    fn kind(&self) -> BackendKind;
    fn environment(&self) -> &str;
    async fn catalog(&self) -> Result<EstateCatalog, BackendError>;
    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError>;
    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError>;
    /// All attempts of all activities of a run, in start order.
    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError>;
    /// How many of the newest runs to list to find the latest failed one: 1
    /// where the service filters by state, more where the backend filters
    /// what it lists (Databricks cannot ask for failed runs only).
    fn failed_run_scan(&self) -> usize {
        1
    }
    /// What re-running `request.pipeline` would do: the reference run found
    /// and checked, the steps described. Reads only; changes nothing.
    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError>;
    /// What cancelling `request.run_id` would do, once the run is found still
    /// queued or running. Reads only; changes nothing.
    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError>;
    /// Carries out a plan this backend made: the only method that changes
    /// anything. It takes a [`LivePlan`], which a dry run never yields.
    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError>;
    /// The reruns of `reference`'s whole rerun chain (back to its first run)
    /// made at or after `since`, read from the service's own run history, so
    /// every server (and every replica) counts the same. A backend that
    /// cannot read it says so: the rerun limit then refuses (fails closed).
    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        _since: DateTime<Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        Err(BackendError::Unavailable(format!(
            "{} {} cannot read the rerun history of {}",
            self.kind().as_str(),
            self.environment(),
            reference.run_id
        )))
    }
    /// The firings of the triggers that start `pipeline` in `window`, newest
    /// first (did the schedule fire at all?). Backends without triggers say none.
    async fn trigger_runs(
        &self,
        _pipeline: &str,
        _window: TimeWindow,
    ) -> Result<Vec<TriggerRun>, BackendError> {
        Ok(Vec::new())
    }
    async fn health(&self) -> BackendHealth;
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    fn vault(&self) -> &str;
    /// Metadata of every secret; never values.
    async fn list_secrets(&self) -> Result<Vec<SecretMeta>, BackendError>;
    /// Metadata of every version of one secret, newest first; never values.
    async fn secret_versions(&self, name: &str) -> Result<Vec<SecretMeta>, BackendError>;
}

/// A Terraform plan the backend knows about.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[async_trait]
pub trait InfraSource: Send + Sync {
    async fn list_resources(&self) -> Result<Vec<Resource>, BackendError>;
    async fn list_plans(&self) -> Result<Vec<PlanRef>, BackendError>;
    /// The `terraform show -json` text of a plan.
    async fn read_plan(&self, name: &str) -> Result<String, BackendError>;
}

/// The changes asked for: those recorded in `[from, to)`, newest first, at most `limit`.
#[derive(Debug, Clone)]
pub struct ChangeWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The most changes one source returns (a source pages until it has these).
    pub limit: usize,
}

impl ChangeWindow {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.from && at < self.to
    }
}

/// A record of changes: the Azure Activity Log, Key Vault versions, Airflow's
/// audit log, Databricks cluster events, the sandbox's own.
#[async_trait]
pub trait ChangeSource: Send + Sync {
    /// The source's name, as a change's `source` and in errors (`azure activity log`).
    fn change_source(&self) -> String;
    /// The changes in the window, newest first, at most `window.limit`.
    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError>;
    /// The changes, and the parts of the record that could not be read while
    /// the rest could, as (what, why); by default the record is read whole or not at all.
    async fn changes_in_part(
        &self,
        window: &ChangeWindow,
    ) -> Result<(Vec<Change>, Vec<(String, String)>), BackendError> {
        Ok((self.changes(window).await?, Vec::new()))
    }
}

/// Events with one message, counted where the logs are.
#[derive(Debug, Clone)]
pub struct MessageCount {
    /// One of the events (the latest), with the message and its context.
    pub line: LogLine,
    pub count: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl MessageCount {
    /// A single event as a count of one.
    pub fn single(line: LogLine) -> MessageCount {
        MessageCount {
            first: line.timestamp,
            last: line.timestamp,
            line,
            count: 1,
        }
    }
}

#[async_trait]
pub trait LogSource: Send + Sync {
    /// Matching log events, oldest first, at most `query.limit`.
    async fn fetch_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, BackendError>;
    /// Matching events counted by message where the logs are stored, for
    /// sources too large to download (Log Analytics); `None` when the source
    /// cannot count, and the caller fetches the lines instead.
    async fn count_messages(
        &self,
        _query: &LogQuery,
    ) -> Result<Option<Vec<MessageCount>>, BackendError> {
        Ok(None)
    }
    /// Names of the sources this backend can read.
    fn log_sources(&self) -> Vec<String>;
}

/// Everything the tools can reach, plus the clock they read.
#[derive(Clone)]
pub struct Backends {
    pub pipelines: Vec<Arc<dyn PipelineBackend>>,
    pub secrets: Vec<Arc<dyn SecretStore>>,
    pub infra: Vec<Arc<dyn InfraSource>>,
    pub logs: Vec<Arc<dyn LogSource>>,
    /// Where changes are recorded (may be empty: the tools then say so).
    pub changes: Vec<Arc<dyn ChangeSource>>,
    pub clock: SharedClock,
    /// Shown in every answer so nobody mistakes the sandbox for production.
    pub label: String,
}

impl Backends {
    /// The merged catalogue of every pipeline backend. Of several, one that
    /// cannot be read is named in `unreadable` and the others still answer.
    pub async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        self.catalog_in_part().await
    }

    /// The backend that owns `pipeline`, or a not-found error listing the known
    /// ones. A name that several environments share is refused rather than
    /// guessed: acting on prod when dev was meant is the worst outcome.
    pub async fn backend_for_pipeline(
        &self,
        pipeline: &str,
    ) -> Result<Arc<dyn PipelineBackend>, BackendError> {
        let mut known = Vec::new();
        let mut load_errors = String::new();
        let mut owners: Vec<Arc<dyn PipelineBackend>> = Vec::new();
        let mut unreached = Vec::new();
        for (backend, catalog) in self.catalogs().await {
            let catalog = match catalog {
                Ok(catalog) => catalog,
                Err(error) => {
                    unreached.push(mixed::Unreached {
                        backend: mixed::backend_name(backend.as_ref()),
                        error,
                    });
                    continue;
                }
            };
            if catalog.pipeline(pipeline).is_some() {
                owners.push(backend.clone());
            }
            load_errors.push_str(&catalog.missing_pipeline_hint(pipeline));
            known.extend(catalog.pipelines.into_iter().map(|p| p.name));
        }
        match owners.len() {
            // Not in any backend that answered: it may be in one that did not.
            0 if !unreached.is_empty() && unreached.len() == self.pipelines.len() => {
                Err(mixed::unanswered(unreached, self.pipelines.len()))
            }
            0 if !unreached.is_empty() => Err(BackendError::Unavailable(format!(
                "pipeline {pipeline} is not in the backends that answered, but {}; it may be there. Known pipelines: {}. Retry once that backend answers",
                mixed::describe(&unreached),
                crate::support::text::clip(&known.join(", "), 600)
            ))),
            0 => {
                Err(BackendError::not_found_among("pipeline", pipeline, &known)
                    .with_hint(&load_errors))
            }
            1 => Ok(owners.remove(0)),
            _ => Err(BackendError::InvalidArgument(format!(
                "pipeline {pipeline} exists in more than one place ({}); this server cannot tell which is meant. Serve one environment per server (opsdeck serve --environment NAME) and name them apart in mcp.json",
                owners
                    .iter()
                    .map(|b| format!("{} {}", b.kind().as_str(), b.environment()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Finds a run in whichever backend has it.
    pub async fn find_run(
        &self,
        run_id: &str,
    ) -> Result<(Arc<dyn PipelineBackend>, PipelineRun), BackendError> {
        let mut unreached = Vec::new();
        for backend in &self.pipelines {
            match backend.get_run(run_id).await {
                Ok(Some(run)) => return Ok((backend.clone(), run)),
                Ok(None) => {}
                Err(error) => unreached.push(mixed::Unreached {
                    backend: mixed::backend_name(backend.as_ref()),
                    error,
                }),
            }
        }
        match unreached.len() {
            0 => Err(BackendError::run_not_found(run_id)),
            n if n == self.pipelines.len() => {
                Err(mixed::unanswered(unreached, self.pipelines.len()))
            }
            // It may be in a backend that could not be searched.
            _ => Err(BackendError::Unavailable(format!(
                "run {run_id} is not in the backends that answered, but {}; it may be there. Retry once that backend answers",
                mixed::describe(&unreached)
            ))),
        }
    }

    /// Events matching `query` from every log source, counted by message:
    /// where the logs are when the source can, else fetched and counted here.
    pub async fn counted_logs(&self, query: &LogQuery) -> Result<Vec<MessageCount>, BackendError> {
        let mut counts = Vec::new();
        for source in &self.logs {
            match source.count_messages(query).await? {
                Some(counted) => counts.extend(counted),
                None => counts.extend(
                    source
                        .fetch_logs(query)
                        .await?
                        .into_iter()
                        .map(MessageCount::single),
                ),
            }
        }
        Ok(counts)
    }

    pub async fn health(&self) -> Vec<BackendHealth> {
        let mut out = Vec::new();
        for backend in &self.pipelines {
            out.push(backend.health().await);
        }
        out
    }
}
