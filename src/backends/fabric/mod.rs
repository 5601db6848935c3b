//! Microsoft Fabric Data Factory as a [`PipelineBackend`]: one workspace's
//! data pipelines, Dataflow Gen2 and copy jobs are the pipelines, their job
//! instances (the job scheduler's) the runs, and a pipeline run's activity
//! runs come from `queryactivityruns` in the same shape as ADF's. Health
//! includes the capacity's state: a paused capacity explains failed runs; the
//! capacity is also a resource for `get_resource_health` ([`capacity`]).
//! The catalogue's dependencies come from the data pipelines' definitions
//! (`catalog`, [`definition`], read as long-running [`operation`]s, kept
//! between loads by `definition_cache`), and runs page with a sealed cursor
//! ([`cursor`]). Names and messages the service sends go into sentences only
//! through `prose` (redacted, control characters shown, clipped).
//!
//! Remediation goes through the job scheduler: a rerun runs the item on
//! demand (the new job instance is named by the 202's `Location`), a cancel
//! cancels the job instance. Both are sent once and never retried.

pub mod api;
pub mod capacity;
mod catalog;
pub mod cursor;
pub mod definition;
mod definition_cache;
pub mod limits;
pub mod operation;
mod prose;
mod reruns;
pub mod schedule;
pub mod settings;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;

use self::api::FabricApi;
use self::capacity::CapacityView;
use self::cursor::{RunCursor, Sealer, newest_first};
use self::definition_cache::DefinitionCache;
use self::limits::FabricLimits;
use self::settings::{FabricSettings, is_guid};
use self::wire::{Item, JobInstance, Workspace, job_status};
use crate::backends::azure::adf::wire::{WireActivityRun, activity_runs};
use crate::backends::cache::TtlCache;
use crate::backends::http::{Authorizer, RestError, RetryPolicy};
use crate::backends::remediation::PlanDescription;
use crate::backends::{
    BackendError, BackendHealth, CancelRequest, LivePlan, PastRerun, PipelineBackend,
    RemediationOutcome, RemediationPlan, RerunRequest, RunPage, RunQuery, cancellable_run,
    latest_failed_run, refuse_unfinished,
};
use crate::model::estate::{EstateCatalog, PipelineInfo};
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, RunError, RunStatus};
use crate::model::time::{SharedClock, TimeWindow};

const ROLE: &str =
    "a Fabric workspace role of Viewer or higher (Contributor to run or cancel items)";
const CATALOG_TTL: StdDuration = StdDuration::from_secs(300);
/// Most job instances read per item for one query; an item with more has
/// its older runs left out, and a warning logged (see [`cursor`]).
pub const RUNS_PER_ITEM: usize = 1_000;
/// Most run-to-item entries remembered for `get_run`.
const MAX_REMEMBERED_RUNS: usize = 20_000;
/// Activity runs are asked for around the run: from an hour before its start
/// to an hour after its end (the service filters by last update).
const ACTIVITY_MARGIN_HOURS: i64 = 1;
/// Longest item description kept.
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Most items whose schedules are read for one catalogue (one call each).
const MAX_SCHEDULE_LOOKUPS: usize = 200;
/// Schedule reads in flight at once.
const SCHEDULE_READS_AT_ONCE: usize = 8;

/// One catalogued item: the name the board shows, and how to reach it.
#[derive(Debug, Clone)]
struct PipelineItem {
    name: String,
    id: String,
    item_type: String,
    /// The item's own description, clipped.
    description: Option<String>,
    /// What the listing said of it ([`listing_of`]).
    listing: u64,
}

#[derive(Debug, Clone)]
struct Estate {
    workspace: Workspace,
    items: Vec<PipelineItem>,
    catalog: EstateCatalog,
}

pub struct FabricBackend {
    api: FabricApi,
    workspace: String,
    environment: String,
    clock: SharedClock,
    estate: TtlCache<Estate>,
    /// The estate with what the pipelines' definitions say (dependencies):
    /// read only for the catalogue, not for runs or remediation.
    catalog: TtlCache<EstateCatalog>,
    /// Run id → item id, learnt from listings, so `get_run` asks once.
    run_items: Mutex<HashMap<String, String>>,
    limits: FabricLimits,
    /// Seals `query_runs` continuation tokens.
    sealer: Sealer,
    /// Data pipeline definitions kept between catalogue loads.
    definitions: DefinitionCache,
}

impl FabricBackend {
    pub fn new(
        settings: &FabricSettings,
        authorizer: Arc<dyn Authorizer>,
        clock: SharedClock,
        retry: RetryPolicy,
    ) -> Result<FabricBackend, String> {
        FabricBackend::with_limits(settings, authorizer, clock, retry, FabricLimits::default())
    }

    /// With waits other than the defaults (tests prove silence is bounded).
    pub fn with_limits(
        settings: &FabricSettings,
        authorizer: Arc<dyn Authorizer>,
        clock: SharedClock,
        retry: RetryPolicy,
        limits: FabricLimits,
    ) -> Result<FabricBackend, String> {
        Ok(FabricBackend {
            api: FabricApi::with_timeout(settings, authorizer, retry, limits.request_timeout)?,
            workspace: settings.workspace.clone(),
            environment: settings.environment.clone(),
            clock,
            estate: TtlCache::new(CATALOG_TTL),
            catalog: TtlCache::new(CATALOG_TTL),
            run_items: Mutex::new(HashMap::new()),
            limits,
            sealer: Sealer::default(),
            definitions: DefinitionCache::default(),
        })
    }

    /// With the catalogue (and the workspace listing under it) kept for
    /// `ttl` instead of five minutes; what was read of the definitions is
    /// kept apart, as ever (see [`definition_cache`]).
    pub fn with_catalog_ttl(mut self, ttl: StdDuration) -> FabricBackend {
        self.estate = TtlCache::new(ttl);
        self.catalog = TtlCache::new(ttl);
        self
    }

    /// The workspace's capacity and its state (see [`capacity`]).
    async fn capacity(&self) -> Result<CapacityView, BackendError> {
        let workspace = self.cached().await?.workspace;
        let listed = if workspace
            .capacity_id
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
        {
            self.api.capacities().await.map_err(|e| e.to_string())
        } else {
            Ok(Vec::new())
        };
        Ok(capacity::view(&workspace, listed))
    }

    fn error(&self, e: RestError, what: &'static str, name: &str) -> BackendError {
        e.about(what, name, ROLE)
    }

    async fn cached(&self) -> Result<Estate, BackendError> {
        self.estate.get_or_load(|| self.load_estate()).await
    }

    /// The configured workspace, by id or by display name.
    async fn resolve_workspace(&self) -> Result<Workspace, BackendError> {
        let wanted = self.workspace.as_str();
        if is_guid(wanted) {
            return self
                .api
                .workspace(wanted)
                .await
                .map_err(|e| self.error(e, "workspace", wanted));
        }
        let all = self
            .api
            .workspaces()
            .await
            .map_err(|e| self.error(e, "workspace", wanted))?;
        if let Some(found) = all.iter().find(|w| w.display_name == wanted) {
            return Ok(found.clone());
        }
        let folded: Vec<&Workspace> = all
            .iter()
            .filter(|w| w.display_name.eq_ignore_ascii_case(wanted))
            .collect();
        if let [only] = folded.as_slice() {
            return Ok((*only).clone());
        }
        let known: Vec<String> = all.iter().map(|w| prose::name(&w.display_name)).collect();
        Err(BackendError::not_found_among("workspace", wanted, &known)
            .with_hint(" Set FABRIC_WORKSPACE to one of them, or to the workspace's id."))
    }

    async fn load_estate(&self) -> Result<Estate, BackendError> {
        let workspace = self.resolve_workspace().await?;
        let listed = self
            .api
            .items(&workspace.id)
            .await
            .map_err(|e| self.error(e, "workspace", &workspace.display_name))?;
        let items = board_items(listed);
        let schedules = self.schedules_of(&workspace.id, &items).await;
        let catalog = EstateCatalog {
            pipelines: items
                .iter()
                .zip(schedules)
                .map(|(item, schedule)| PipelineInfo {
                    name: item.name.clone(),
                    backend: BackendKind::Fabric,
                    environment: self.environment.clone(),
                    folder: Some(item.item_type.clone()),
                    description: item.description.clone(),
                    schedule,
                    parameters: Vec::new(),
                    activities: Vec::new(),
                })
                .collect(),
            ..EstateCatalog::default()
        };
        Ok(Estate {
            workspace,
            items,
            catalog,
        })
    }

    /// Each item's schedule, in the items' order: read a few at a time, the
    /// first [`MAX_SCHEDULE_LOOKUPS`] items only, all within
    /// [`SCHEDULE_READS_DEADLINE`]; whatever is not read by then is `None`.
    async fn schedules_of(&self, workspace: &str, items: &[PipelineItem]) -> Vec<Option<String>> {
        // Futures built in a loop, not a closure: a closure over borrowed
        // items is not `Send` enough for the trait's boxed futures.
        let mut pending = Vec::new();
        for item in items.iter().take(MAX_SCHEDULE_LOOKUPS) {
            pending.push(self.schedule_of(workspace, item));
        }
        let read = catalog::within(
            pending,
            SCHEDULE_READS_AT_ONCE,
            self.limits.schedule_reads,
            "schedules",
        )
        .await;
        let mut schedules: Vec<Option<String>> = read.into_iter().map(Option::flatten).collect();
        schedules.resize(items.len(), None);
        schedules
    }

    /// The item's schedules in words, or `None` when it has none or they
    /// cannot be read (no access, or an item type without schedules): the
    /// catalogue stands without them.
    async fn schedule_of(&self, workspace: &str, item: &PipelineItem) -> Option<String> {
        let job_type = default_job_type(&item.item_type);
        match self.api.item_schedules(workspace, &item.id, job_type).await {
            Ok(listed) => schedule::describe(&listed),
            Err(e) => {
                tracing::warn!(
                    "could not read {}'s schedules: {}",
                    item.name,
                    prose::message(&e.to_string())
                );
                None
            }
        }
    }

    fn remember(&self, run_id: &str, item_id: &str) {
        if let Ok(mut known) = self.run_items.lock() {
            if known.len() >= MAX_REMEMBERED_RUNS {
                known.clear();
            }
            known.insert(run_id.to_string(), item_id.to_string());
        }
    }

    fn remembered(&self, run_id: &str) -> Option<String> {
        self.run_items.lock().ok()?.get(run_id).cloned()
    }

    fn item_named(&self, estate: &Estate, name: &str) -> Result<PipelineItem, BackendError> {
        estate
            .items
            .iter()
            .find(|i| i.name == name)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<String> = estate.items.iter().map(|i| i.name.clone()).collect();
                BackendError::not_found_among("pipeline", name, &known)
            })
    }

    /// The ids of the item's job instances, or `None` if they cannot be read.
    async fn job_ids(&self, workspace: &str, item: &PipelineItem) -> Option<Vec<String>> {
        match self
            .api
            .job_instances(workspace, &item.id, RUNS_PER_ITEM)
            .await
        {
            Ok(instances) => Some(instances.into_iter().map(|i| i.id).collect()),
            Err(e) => {
                tracing::warn!(
                    "could not list {}'s job instances: {}",
                    item.name,
                    prose::message(&e.to_string())
                );
                None
            }
        }
    }

    /// What the service shows after an unclear run request: the job instances
    /// that were not there before it.
    async fn started_since(
        &self,
        workspace: &str,
        item: &PipelineItem,
        before: Option<Vec<String>>,
    ) -> String {
        let (Some(before), Some(after)) = (before, self.job_ids(workspace, item).await) else {
            return format!(
                "its job instances could not be read back; look for a new run of {} in the Monitor hub",
                item.name
            );
        };
        let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
        if new.is_empty() {
            format!(
                "Fabric shows no new job instance of {} yet (it may still appear)",
                item.name
            )
        } else {
            let ids: Vec<String> = new.iter().take(20).map(|s| prose::name(s)).collect();
            format!(
                "Fabric now shows new job instance(s) of {}: {}",
                item.name,
                ids.join(", ")
            )
        }
    }

    /// A job instance and the item it belongs to, or `None` if no item has it.
    async fn find_run(
        &self,
        run_id: &str,
    ) -> Result<Option<(PipelineItem, JobInstance)>, BackendError> {
        if !is_guid(run_id) {
            return Ok(None);
        }
        let estate = self.cached().await?;
        let hint = self.remembered(run_id);
        let mut order: Vec<&PipelineItem> = estate.items.iter().collect();
        order.sort_by_key(|item| Some(&item.id) != hint.as_ref());
        for item in order {
            match self
                .api
                .job_instance(&estate.workspace.id, &item.id, run_id)
                .await
            {
                Ok(instance) => {
                    self.remember(run_id, &item.id);
                    return Ok(Some((item.clone(), instance)));
                }
                Err(e) if matches!(e.status(), Some(400 | 404)) => continue,
                Err(e) => return Err(self.error(e, "run", run_id)),
            }
        }
        Ok(None)
    }
}

/// What `act` carries out, worked out by the plan.
enum Planned {
    Rerun {
        workspace: String,
        item: PipelineItem,
        job_type: String,
    },
    Cancel {
        workspace: String,
        item: PipelineItem,
        run_id: String,
    },
}

/// The job type an item runs on demand as, when no earlier run names it:
/// the job scheduler's `Pipeline` for data pipelines, `Execute` for Dataflow
/// Gen2 (the vendor's RunOnDemandDataflowExecuteJob example) and `CopyJob`
/// for copy jobs.
fn default_job_type(item_type: &str) -> &'static str {
    if item_type.eq_ignore_ascii_case("Dataflow") {
        "Execute"
    } else if item_type.eq_ignore_ascii_case("CopyJob") {
        "CopyJob"
    } else {
        "Pipeline"
    }
}

/// The items that are pipelines, named by display name made safe to show
/// ([`prose::name`]: the board name is what users read and type back); a
/// name two items share gets its type added, and then its id if still
/// shared, so every name on the board is one item.
fn board_items(listed: Vec<Item>) -> Vec<PipelineItem> {
    let pipelines: Vec<Item> = listed.into_iter().filter(Item::is_pipeline).collect();
    let shown: Vec<String> = pipelines
        .iter()
        .map(|item| prose::name(&item.display_name))
        .collect();
    let typed: Vec<String> = pipelines
        .iter()
        .zip(&shown)
        .map(|(item, name)| format!("{name} ({})", prose::name(&item.item_type)))
        .collect();
    let counts = |names: &[String]| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for name in names {
            *counts.entry(name.clone()).or_default() += 1;
        }
        counts
    };
    let (plain_counts, typed_counts) = (counts(&shown), counts(&typed));
    let mut items: Vec<PipelineItem> = pipelines
        .iter()
        .zip(shown.iter().zip(&typed))
        .map(|(item, (plain, with_type))| PipelineItem {
            name: if plain_counts.get(plain).copied().unwrap_or(0) <= 1 {
                plain.clone()
            } else if typed_counts.get(with_type).copied().unwrap_or(0) <= 1 {
                with_type.clone()
            } else {
                format!("{with_type} [{}]", prose::name(&item.id))
            },
            id: item.id.clone(),
            item_type: item.item_type.clone(),
            description: item
                .description
                .as_deref()
                .map(|d| prose::shown(d, MAX_DESCRIPTION_CHARS))
                .filter(|d| !d.trim().is_empty()),
            listing: listing_of(item),
        })
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    items
}

/// What the item listing says of an item, condensed: when it changes (a
/// rename, a new description), what was read of the item is read again.
fn listing_of(item: &Item) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    (&item.display_name, &item.description, &item.item_type).hash(&mut hasher);
    hasher.finish()
}

/// What a continuation token is bound to: the pipelines and statuses asked
/// for. Not the window: a window like "the last 24 h" moves between pages,
/// and the cursor (the last run shown) keeps the pages apart anyway.
fn query_scope(query: &RunQuery) -> String {
    let mut pipelines: Vec<&str> = query.pipelines.iter().map(String::as_str).collect();
    pipelines.sort_unstable();
    let mut statuses: Vec<String> = query.statuses.iter().map(|s| s.to_string()).collect();
    statuses.sort_unstable();
    serde_json::json!([pipelines, statuses]).to_string()
}

/// Whether a run belongs in a query's window: by its start, or, not started
/// yet, while it is still waiting.
fn in_window(run: &PipelineRun, window: &TimeWindow) -> bool {
    match run.run_start {
        Some(start) => window.contains(start),
        None => !run.status.is_terminal(),
    }
}

/// A dataflow or copy job has no activity runs: the job instance is its one step.
fn single_step(item: &PipelineItem, instance: &JobInstance, run: &PipelineRun) -> ActivityRun {
    let failed = run.status == RunStatus::Failed;
    ActivityRun {
        activity_run_id: run.run_id.clone(),
        activity_name: item.name.clone(),
        activity_type: item.item_type.clone(),
        status: job_status(instance.status.as_deref()),
        attempt: 1,
        start: run.run_start,
        end: run.run_end,
        duration_ms: run.duration_ms,
        error: (failed || !run.message.is_empty()).then(|| RunError {
            code: instance
                .failure_reason
                .as_ref()
                .and_then(|r| r.get("errorCode"))
                .and_then(|c| c.as_str())
                .map(prose::name)
                .unwrap_or_else(|| "Failed".into()),
            message: run.message.clone(),
            failure_type: None,
        }),
        linked_service: None,
        output: serde_json::Value::Null,
    }
}

#[async_trait]
impl PipelineBackend for FabricBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Fabric
    }

    fn environment(&self) -> &str {
        &self.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        self.catalog.get_or_load(|| self.load_catalog()).await
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        let scope = query_scope(query);
        let after = match &query.continuation {
            Some(token) => Some(
                self.sealer
                    .open(&scope, token)
                    .map_err(BackendError::InvalidArgument)?,
            ),
            None => None,
        };
        let estate = self.cached().await?;
        let mut chosen: Vec<&PipelineItem> = Vec::new();
        for name in &query.pipelines {
            match estate.items.iter().find(|i| &i.name == name) {
                Some(item) => chosen.push(item),
                None => {
                    let known: Vec<String> = estate.items.iter().map(|i| i.name.clone()).collect();
                    return Err(BackendError::not_found_among("pipeline", name, &known));
                }
            }
        }
        if query.pipelines.is_empty() {
            chosen = estate.items.iter().collect();
        }
        let mut runs = Vec::new();
        let mut capped: Vec<&str> = Vec::new();
        for item in chosen {
            // One more than is read: whether the item has more is then known.
            let mut instances = self
                .api
                .job_instances(&estate.workspace.id, &item.id, RUNS_PER_ITEM + 1)
                .await
                .map_err(|e| self.error(e, "pipeline", &item.name))?;
            if instances.len() > RUNS_PER_ITEM {
                instances.truncate(RUNS_PER_ITEM);
                capped.push(&item.name);
            }
            for instance in instances {
                self.remember(&instance.id, &item.id);
                let run = instance.into_run(&item.name, &self.environment);
                if in_window(&run, &query.window)
                    && (query.statuses.is_empty() || query.statuses.contains(&run.status))
                    && after.as_ref().is_none_or(|cursor| cursor.precedes(&run))
                {
                    runs.push(run);
                }
            }
        }
        if !capped.is_empty() {
            // RunPage has no note: the log says the answer is not complete.
            tracing::warn!(
                items = %capped.join(", "),
                most = RUNS_PER_ITEM,
                "Fabric run listing cut: only the first {RUNS_PER_ITEM} job instances of each named item were read; its older runs were not read and are on no page"
            );
        }
        runs.sort_by(newest_first);
        let more = runs.len() > query.limit;
        runs.truncate(query.limit);
        let continuation = match runs.last() {
            Some(last) if more => Some(self.sealer.seal(&scope, &RunCursor::after(last))),
            _ => None,
        };
        Ok(RunPage { runs, continuation })
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        Ok(self
            .find_run(run_id)
            .await?
            .map(|(item, instance)| instance.into_run(&item.name, &self.environment)))
    }

    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        let Some((item, instance)) = self.find_run(run_id).await? else {
            return Err(BackendError::run_not_found(run_id));
        };
        let run = instance.clone().into_run(&item.name, &self.environment);
        if !item.item_type.eq_ignore_ascii_case("DataPipeline") {
            return Ok(vec![single_step(&item, &instance, &run)]);
        }
        let now = self.clock.now();
        let margin = Duration::hours(ACTIVITY_MARGIN_HOURS);
        let start = run.run_start.unwrap_or(now);
        let window = TimeWindow {
            since: start.checked_sub_signed(margin).unwrap_or(start),
            until: run
                .run_end
                .unwrap_or(now)
                .checked_add_signed(margin)
                .unwrap_or(now),
        };
        let workspace = self.cached().await?.workspace.id;
        let entries = self
            .api
            .activity_runs(&workspace, run_id, window)
            .await
            .map_err(|e| self.error(e, "run", run_id))?;
        let wire = entries
            .into_iter()
            .map(serde_json::from_value::<WireActivityRun>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                BackendError::Unavailable(format!(
                    "Fabric's activity runs of run {run_id} have an unexpected shape: {e}"
                ))
            })?;
        let mut steps = activity_runs(wire);
        if steps.is_empty() && run.status == RunStatus::Failed {
            // No activity ran (a validation or capacity failure): the run's own error stands in.
            steps.push(single_step(&item, &instance, &run));
        }
        Ok(steps)
    }

    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        let estate = self.cached().await?;
        let item = self.item_named(&estate, &request.pipeline)?;
        let reference = match request.named_reference(self).await? {
            Some(run) => Some(run),
            None => latest_failed_run(self, &request.pipeline, self.clock.now()).await?,
        };
        refuse_unfinished(reference.as_ref())?;
        let reference_job_type = match &reference {
            Some(run) => self
                .find_run(&run.run_id)
                .await?
                .and_then(|(_, instance)| instance.job_type),
            None => None,
        };
        let job_type = reference_job_type
            .filter(|t| {
                !t.is_empty() && t.len() <= 64 && t.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or_else(|| default_job_type(&item.item_type).to_string());
        let mut steps = vec![match &reference {
            Some(run) => format!(
                "Run {} ({}, {}) on demand again as job type {job_type}, after its {} run {}; Fabric starts a new job instance with the item's saved definition and default parameters",
                item.name, item.item_type, self.environment, run.status, run.run_id
            ),
            None => format!(
                "Run {} ({}, {}) on demand as job type {job_type} (no failed run in the last 7 days to refer to); Fabric starts a new job instance",
                item.name, item.item_type, self.environment
            ),
        }];
        if request.from_failed_activity {
            steps.push("Fabric's job scheduler cannot resume from the failed activity: the new run starts from the beginning".into());
        }
        steps.push("The request is sent once and never retried; if the answer is unclear, the item's newest job instances are read back and named".into());
        let description = PlanDescription {
            backend: BackendKind::Fabric,
            environment: self.environment.clone(),
            pipeline: item.name.clone(),
            target_run_id: reference.map(|r| r.run_id),
            steps,
        };
        let work = Planned::Rerun {
            workspace: estate.workspace.id,
            item,
            job_type,
        };
        Ok(RemediationPlan::rerun(request, description, work))
    }

    /// Fabric links no run to the one it re-ran: every manual job instance
    /// of the item since `since` counts ([`reruns::manual_since`]).
    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        let estate = self.cached().await?;
        let item = self.item_named(&estate, &reference.pipeline)?;
        let instances = self
            .api
            .job_instances(&estate.workspace.id, &item.id, RUNS_PER_ITEM)
            .await
            .map_err(|e| self.error(e, "pipeline", &item.name))?;
        let cut = instances.len() >= RUNS_PER_ITEM;
        reruns::manual_since(&instances, since, cut)
    }

    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        let run_id = request.run_id.as_str();
        let run = cancellable_run(self, run_id).await?;
        let (item, _) = self
            .find_run(run_id)
            .await?
            .ok_or_else(|| BackendError::run_not_found(run_id))?;
        let workspace = self.cached().await?.workspace.id;
        let description = PlanDescription {
            backend: BackendKind::Fabric,
            environment: self.environment.clone(),
            pipeline: run.pipeline.clone(),
            target_run_id: Some(run_id.to_string()),
            steps: vec![format!(
                "Cancel job instance {run_id} of {} ({}, {}), now {}; the request is sent once and never retried",
                run.pipeline, item.item_type, self.environment, run.status
            )],
        };
        let work = Planned::Cancel {
            workspace,
            item,
            run_id: run_id.to_string(),
        };
        Ok(RemediationPlan::cancel(request, description, work))
    }

    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        let (work, mut outcome) = plan.into_parts::<Planned>()?;
        match work {
            Planned::Rerun {
                workspace,
                item,
                job_type,
            } => {
                let before = self.job_ids(&workspace, &item).await;
                match self.api.run_on_demand(&workspace, &item.id, &job_type).await {
                    Ok(Some(id)) => {
                        self.remember(&id, &item.id);
                        outcome
                            .steps
                            .push(format!("Fabric accepted the run: new job instance {id}"));
                        outcome.new_run_id = Some(id);
                    }
                    Ok(None) => outcome.steps.push(format!(
                        "Fabric accepted the run but named no job instance; look for the newest run of {} in the Monitor hub",
                        item.name
                    )),
                    Err(e) if e.is_ambiguous() => {
                        let shown = self.started_since(&workspace, &item, before).await;
                        return Err(BackendError::Unavailable(format!(
                            "running {} on demand got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried; {shown}. Check before running it again",
                            item.name
                        )));
                    }
                    Err(e) => return Err(self.error(e, "pipeline", &item.name)),
                }
            }
            Planned::Cancel {
                workspace,
                item,
                run_id,
            } => match self.api.cancel_job(&workspace, &item.id, &run_id).await {
                Ok(()) => outcome.steps.push(
                    "Fabric accepted the cancellation; the run turns Cancelled once it stops"
                        .into(),
                ),
                Err(e) if e.is_ambiguous() => {
                    return Err(BackendError::Unavailable(format!(
                        "cancelling run {run_id} of {} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried; read the run's status before cancelling again",
                        item.name
                    )));
                }
                Err(e) => return Err(self.error(e, "run", &run_id)),
            },
        }
        Ok(outcome)
    }

    async fn health(&self) -> BackendHealth {
        let name = format!("fabric/{}", self.environment);
        let credential = format!("credential: {}", self.api.credential_status());
        let workspace = match self.cached().await {
            Ok(estate) => estate.workspace,
            Err(e) => {
                return BackendHealth {
                    name,
                    ok: false,
                    detail: format!("{e}; {credential}"),
                };
            }
        };
        let (ok, capacity) = match self.capacity().await {
            // Unknown is not unhealthy: the identity may simply not see the capacity.
            Ok(view) => (view.active != Some(false), view.summary),
            Err(e) => (true, format!("capacity state unreadable: {e}")),
        };
        BackendHealth {
            name,
            ok,
            detail: format!(
                "workspace '{}' reachable; {capacity}; {credential}",
                prose::name(&workspace.display_name)
            ),
        }
    }
}
