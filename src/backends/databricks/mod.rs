//! Databricks (Jobs API 2.1) as a [`PipelineBackend`]: jobs are pipelines,
//! job runs runs, task runs activity runs with the error and stack trace of
//! `runs/get-output`. Also the other side of the hop from Airflow: the
//! failure of the Databricks run a failed Airflow task started
//! ([`DatabricksBackend::failure_of_run`]).

pub mod changes;
pub mod logs;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde_json::{Value, json};

use self::wire::{Run, failure_from_output};
use crate::backends::cache::TtlCache;
use crate::backends::http::{
    Authorizer, Call, RestClient, RestError, RetryPolicy, Safety, checked_endpoint, url_with,
};
use crate::backends::{
    BackendError, BackendHealth, CancelRequest, LivePlan, PastRerun, PipelineBackend,
    PlanDescription, RemediationOutcome, RemediationPlan, RerunRequest, RunPage, RunQuery,
};
use crate::config::env::env_value;
use crate::model::estate::{ActivityDependency, ActivityInfo, EstateCatalog, PipelineInfo};
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, RunError, RunStatus};
use crate::model::time::SharedClock;

/// The Azure Databricks application's token scope (its well-known app id).
pub const AZURE_DATABRICKS_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";
const ROLE: &str = "a token of a user or service principal with Can View on the job (Can Manage Run to repair or cancel)";
const CATALOG_TTL: StdDuration = StdDuration::from_secs(300);
const PAGE: usize = 25;

/// A personal access token.
pub struct PatAuth(pub String);

#[async_trait]
impl Authorizer for PatAuth {
    async fn authorization(&self, _scope: &str) -> Result<String, String> {
        Ok(format!("Bearer {}", self.0))
    }
    fn status(&self) -> String {
        "personal access token".into()
    }
}

#[derive(Debug, Clone)]
pub struct DatabricksSettings {
    pub host: Url,
    pub token: Option<String>,
    pub environment: String,
}

impl DatabricksSettings {
    /// `DATABRICKS_HOST` and `DATABRICKS_TOKEN` (without a token: Entra ID,
    /// through the Azure credential chain, for Azure Databricks).
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<DatabricksSettings, String> {
        let get = |name: &str| env_value(lookup, name);
        let raw = get("DATABRICKS_HOST").ok_or(
            "DATABRICKS_HOST is not set; the Databricks backend needs the workspace URL (e.g. https://adb-1234567890123456.7.azuredatabricks.net) and DATABRICKS_TOKEN, or an Azure sign-in for Azure Databricks",
        )?;
        let raw = if raw.starts_with("http") {
            raw
        } else {
            format!("https://{raw}")
        };
        let host = checked_endpoint("DATABRICKS_HOST", &raw, false)?;
        Ok(DatabricksSettings {
            host,
            token: get("DATABRICKS_TOKEN"),
            environment: get("OPSDECK_DATABRICKS_ENVIRONMENT")
                .or_else(|| get("OPSDECK_ENVIRONMENT"))
                .unwrap_or_else(|| "databricks".into()),
        })
    }
}

pub struct DatabricksBackend {
    client: Arc<RestClient>,
    base: Url,
    environment: String,
    clock: SharedClock,
    /// Jobs, and job ids by name.
    catalog: TtlCache<(EstateCatalog, HashMap<String, i64>)>,
}

/// What acting on a plan posts to the Jobs API, as the plan decided it.
enum Planned {
    /// `runs/repair` of the failed tasks, naming the latest repair if any.
    Repair {
        run_id: String,
        numeric: i64,
        latest_repair: Option<i64>,
    },
    /// `runs/cancel`.
    Cancel { run_id: String, numeric: i64 },
}

/// Where a failed Databricks run failed, for the hop from Airflow.
#[derive(Debug, Clone)]
pub struct RunFailure {
    pub run_id: String,
    pub task: String,
    pub error: RunError,
    pub trace: Option<String>,
    pub run_page_url: Option<String>,
}

impl DatabricksBackend {
    pub fn new(
        settings: &DatabricksSettings,
        authorizer: Arc<dyn Authorizer>,
        clock: SharedClock,
        retry: RetryPolicy,
    ) -> Result<DatabricksBackend, String> {
        let client = Arc::new(RestClient::new(
            "Databricks",
            authorizer,
            StdDuration::from_secs(30),
            retry,
        )?);
        Ok(DatabricksBackend {
            client,
            base: url_with(&settings.host, &["api", "2.1", "jobs"], &[]),
            environment: settings.environment.clone(),
            clock,
            catalog: TtlCache::new(CATALOG_TTL),
        })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        url_with(&self.base, segments, query)
    }

    async fn get(&self, url: Url) -> Result<Value, RestError> {
        self.client
            .send(&Call::get(url, AZURE_DATABRICKS_SCOPE))
            .await
    }

    fn error(&self, e: RestError, what: &'static str, name: &str) -> BackendError {
        e.about(what, name, ROLE)
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, BackendError> {
        if run_id.is_empty() || !run_id.chars().all(|c| c.is_ascii_digit()) {
            return Ok(None);
        }
        match self
            .get(self.url(&["runs", "get"], &[("run_id", run_id)]))
            .await
        {
            Ok(body) => serde_json::from_value(body).map(Some).map_err(|e| {
                BackendError::Unavailable(format!(
                    "Databricks run {run_id} has an unexpected shape: {e}"
                ))
            }),
            Err(e) if matches!(e.status(), Some(400 | 404)) => Ok(None),
            Err(e) => Err(self.error(e, "run", run_id)),
        }
    }

    /// The error and stack trace of one task run (`runs/get-output`).
    async fn task_failure(&self, task_run_id: i64) -> Option<(RunError, Option<String>)> {
        let id = task_run_id.to_string();
        match self
            .get(self.url(&["runs", "get-output"], &[("run_id", &id)]))
            .await
        {
            Ok(output) => failure_from_output(&output),
            Err(e) => {
                tracing::warn!("output of Databricks task run {id} unreadable: {e}");
                None
            }
        }
    }

    /// Why a Databricks run failed: its first failed task and that task's error.
    pub async fn failure_of_run(&self, run_id: &str) -> Result<Option<RunFailure>, BackendError> {
        let Some(run) = self.run(run_id).await? else {
            return Ok(None);
        };
        let failed = run
            .tasks
            .iter()
            .filter(|t| t.state.status() == RunStatus::Failed)
            .min_by_key(|t| t.start_time.unwrap_or(i64::MAX));
        let Some(task) = failed else {
            return Ok(None);
        };
        let (error, trace) = match self.task_failure(task.run_id).await {
            Some(found) => found,
            None => (
                RunError {
                    code: task
                        .state
                        .result_state
                        .clone()
                        .unwrap_or_else(|| "FAILED".into()),
                    message: task.state.state_message.clone().unwrap_or_default(),
                    failure_type: None,
                },
                None,
            ),
        };
        Ok(Some(RunFailure {
            run_id: run_id.to_string(),
            task: task.task_key.clone(),
            error,
            trace,
            run_page_url: task.run_page_url.clone().or(run.run_page_url.clone()),
        }))
    }

    async fn cached(&self) -> Result<(EstateCatalog, HashMap<String, i64>), BackendError> {
        self.catalog.get_or_load(|| self.load_jobs()).await
    }

    /// A run in the common model, named after its job.
    async fn pipeline_run(&self, run: Run) -> Result<PipelineRun, BackendError> {
        let (_, job_ids) = self.cached().await?;
        let pipeline = job_name(&run, &job_ids);
        Ok(run.into_run(&self.environment, pipeline))
    }

    async fn load_jobs(&self) -> Result<(EstateCatalog, HashMap<String, i64>), BackendError> {
        let mut catalog = EstateCatalog::default();
        let mut job_ids = HashMap::new();
        let mut offset = 0usize;
        for _ in 0..200 {
            let offset_text = offset.to_string();
            let page = self
                .get(self.url(
                    &["list"],
                    &[
                        ("limit", "25"),
                        ("offset", &offset_text),
                        ("expand_tasks", "true"),
                    ],
                ))
                .await
                .map_err(|e| self.error(e, "workspace", self.base.as_str()))?;
            let jobs = page["jobs"].as_array().cloned().unwrap_or_default();
            for job in &jobs {
                let Some(id) = job["job_id"].as_i64() else {
                    continue;
                };
                let name = job["settings"]["name"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("job {id}"));
                job_ids.insert(name.clone(), id);
                catalog
                    .pipelines
                    .push(pipeline_of(&name, job, &self.environment));
            }
            offset += jobs.len();
            if !page["has_more"].as_bool().unwrap_or(false) || jobs.is_empty() {
                break;
            }
        }
        Ok((catalog, job_ids))
    }

    fn description(&self, pipeline: &str, run_id: &str, steps: Vec<String>) -> PlanDescription {
        PlanDescription {
            backend: BackendKind::Databricks,
            environment: self.environment.clone(),
            pipeline: pipeline.to_string(),
            target_run_id: Some(run_id.to_string()),
            steps,
        }
    }

    async fn post_action(&self, segment: &str, body: &Value) -> Result<Value, RestError> {
        self.client
            .send(&Call {
                method: Method::POST,
                url: self.url(&["runs", segment], &[]),
                scope: AZURE_DATABRICKS_SCOPE,
                body: Some(body),
                safety: Safety::Action,
            })
            .await
    }
}

/// The name of the job a run belongs to, else what the run says of itself.
fn job_name(run: &Run, job_ids: &HashMap<String, i64>) -> String {
    run.job_id
        .and_then(|id| {
            job_ids
                .iter()
                .find(|(_, j)| **j == id)
                .map(|(name, _)| name.clone())
        })
        .unwrap_or_else(|| run.pipeline())
}

fn pipeline_of(name: &str, job: &Value, environment: &str) -> PipelineInfo {
    let tasks = job["settings"]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    PipelineInfo {
        name: name.to_string(),
        backend: BackendKind::Databricks,
        environment: environment.to_string(),
        folder: None,
        description: job["settings"]["description"].as_str().map(str::to_string),
        schedule: job["settings"]["schedule"]["quartz_cron_expression"]
            .as_str()
            .map(|cron| format!("cron {cron}")),
        parameters: vec![],
        activities: tasks
            .iter()
            .map(|t| ActivityInfo {
                name: t["task_key"].as_str().unwrap_or("?").to_string(),
                activity_type: [
                    "notebook_task",
                    "spark_python_task",
                    "spark_jar_task",
                    "python_wheel_task",
                    "sql_task",
                    "pipeline_task",
                ]
                .iter()
                .find(|k| t.get(**k).is_some())
                .map(|k| k.to_string())
                .unwrap_or_else(|| "task".into()),
                depends_on: t["depends_on"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["task_key"].as_str())
                    .map(|k| ActivityDependency {
                        activity: k.to_string(),
                        conditions: vec!["Succeeded".into()],
                    })
                    .collect(),
                linked_services: vec![],
                inputs: vec![],
                outputs: vec![],
                executes_pipeline: None,
                retries: t["max_retries"].as_i64().unwrap_or(0).max(0) as u32,
                target: t["notebook_task"]["notebook_path"]
                    .as_str()
                    .map(str::to_string),
            })
            .collect(),
    }
}

#[async_trait]
impl PipelineBackend for DatabricksBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Databricks
    }

    /// `runs/list` cannot filter by result: a page is listed and filtered here.
    fn failed_run_scan(&self) -> usize {
        PAGE
    }

    fn environment(&self) -> &str {
        &self.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        Ok(self.cached().await?.0)
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        // Our token: `o:N` to go on by offset (`has_more`), `t:…` by the
        // API's own `next_page_token` (Jobs API 2.2 pages that way).
        let bad = || {
            BackendError::InvalidArgument(format!(
                "continuation_token '{}' was not issued by this server; pass back the token from the previous page unchanged",
                query.continuation.as_deref().unwrap_or_default()
            ))
        };
        let (offset, page_token): (usize, Option<String>) = match query.continuation.as_deref() {
            None => (0, None),
            Some(raw) => match raw.split_once(':') {
                Some(("o", n)) => (n.parse().map_err(|_| bad())?, None),
                Some(("t", token)) if !token.is_empty() => (0, Some(token.to_string())),
                _ => return Err(bad()),
            },
        };
        let (_, job_ids) = self.cached().await?;
        let job_filter: Vec<i64> = query
            .pipelines
            .iter()
            .filter_map(|p| job_ids.get(p).copied())
            .collect();
        // Pipelines of other backends (an Airflow DAG) simply have no runs here.
        if !query.pipelines.is_empty() && job_filter.is_empty() {
            return Ok(RunPage::default());
        }
        let from = query.window.since.timestamp_millis().to_string();
        let to = query.window.until.timestamp_millis().to_string();
        let limit = query.limit.clamp(1, PAGE).to_string();
        let offset_text = offset.to_string();
        let job_text = job_filter.first().map(|id| id.to_string());
        let mut params = vec![
            ("limit", limit.as_str()),
            ("start_time_from", from.as_str()),
            ("start_time_to", to.as_str()),
        ];
        match &page_token {
            Some(token) => params.push(("page_token", token.as_str())),
            None => params.push(("offset", offset_text.as_str())),
        }
        if let (Some(id), 1) = (&job_text, job_filter.len()) {
            params.push(("job_id", id));
        }
        let page = self
            .get(self.url(&["runs", "list"], &params))
            .await
            .map_err(|e| self.error(e, "workspace", self.base.as_str()))?;
        let raw_runs = page["runs"].as_array().cloned().unwrap_or_default();
        let count = raw_runs.len();
        let runs = raw_runs
            .into_iter()
            .filter_map(|r| {
                serde_json::from_value::<Run>(r)
                    .inspect_err(|e| tracing::warn!("a Databricks run could not be read: {e}"))
                    .ok()
            })
            .filter(|r| {
                job_filter.is_empty() || r.job_id.is_some_and(|id| job_filter.contains(&id))
            })
            .map(|r| {
                let pipeline = job_name(&r, &job_ids);
                r.into_run(&self.environment, pipeline)
            })
            .filter(|r| query.statuses.is_empty() || query.statuses.contains(&r.status))
            .collect();
        let next_token = page["next_page_token"].as_str().filter(|t| !t.is_empty());
        let more = page["has_more"].as_bool().unwrap_or(false) && count > 0;
        let continuation = match next_token {
            Some(token) => Some(format!("t:{token}")),
            None if more => Some(format!("o:{}", offset + count)),
            None => None,
        };
        Ok(RunPage { runs, continuation })
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        match self.run(run_id).await? {
            Some(run) => Ok(Some(self.pipeline_run(run).await?)),
            None => Ok(None),
        }
    }

    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        let run = self
            .run(run_id)
            .await?
            .ok_or_else(|| BackendError::run_not_found(run_id))?;
        let mut activities = Vec::with_capacity(run.tasks.len());
        for task in run.tasks {
            let (error, extra) = if task.state.status() == RunStatus::Failed {
                match self.task_failure(task.run_id).await {
                    Some((error, trace)) => (Some(error), json!({ "error_trace": trace })),
                    None => (None, json!({})),
                }
            } else {
                (None, json!({}))
            };
            activities.push(task.into_activity(error, extra));
        }
        crate::model::run::sort_by_start(&mut activities);
        Ok(activities)
    }

    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        let reference = match request.named_reference(self).await? {
            Some(run) => run,
            None => crate::backends::latest_failed_run(self, &request.pipeline, self.clock.now())
                .await?
                .ok_or_else(|| {
                    BackendError::Refused(format!(
                        "{} has no failed run in the last 7 days to repair",
                        request.pipeline
                    ))
                })?,
        };
        crate::backends::refuse_unfinished(Some(&reference))?;
        let run = self
            .run(&reference.run_id)
            .await?
            .ok_or_else(|| BackendError::run_not_found(&reference.run_id))?;
        let failed: Vec<String> = run
            .tasks
            .iter()
            .filter(|t| t.state.status() == RunStatus::Failed)
            .map(|t| t.task_key.clone())
            .collect();
        let latest_repair = run.latest_repair_id();
        let steps = vec![
            format!(
                "Repair run {} of {} ({}): re-run only its failed tasks ({}) and the tasks after them",
                reference.run_id,
                request.pipeline,
                self.environment,
                failed.join(", ")
            ),
            match latest_repair {
                Some(id) => format!("Names the latest repair ({id}), so Databricks refuses a repeated request instead of repairing twice"),
                None => "First repair of this run; a repeated request is refused by Databricks once this one exists".into(),
            },
        ];
        let description = self.description(&request.pipeline, &reference.run_id, steps);
        let work = Planned::Repair {
            run_id: reference.run_id,
            numeric: run.run_id,
            latest_repair,
        };
        Ok(RemediationPlan::rerun(request, description, work))
    }

    /// Databricks re-runs by repairing in place: the repairs in the run's
    /// `repair_history` (and, for an automatic retry, in the history of the
    /// run it retried) since `since`.
    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        let mut ids = vec![reference.run_id.as_str()];
        ids.extend(reference.rerun_of.as_deref());
        let mut found = Vec::new();
        for id in ids {
            let run = self
                .run(id)
                .await?
                .ok_or_else(|| BackendError::run_not_found(id))?;
            found.extend(
                run.repairs_since(since)
                    .into_iter()
                    .map(|(id, at)| PastRerun { id, at }),
            );
        }
        Ok(found)
    }

    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        let run_id = request.run_id.as_str();
        let run = crate::backends::cancellable_run(self, run_id).await?;
        // Found, so numeric: `run` reads only digit-only ids.
        let numeric: i64 = run_id
            .parse()
            .map_err(|_| BackendError::run_not_found(run_id))?;
        let steps = vec![format!(
            "Cancel run {run_id} of {} ({}); its cluster is released",
            run.pipeline, self.environment
        )];
        let description = self.description(&run.pipeline, run_id, steps);
        let work = Planned::Cancel {
            run_id: run_id.to_string(),
            numeric,
        };
        Ok(RemediationPlan::cancel(request, description, work))
    }

    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        let (work, mut outcome) = plan.into_parts::<Planned>()?;
        match work {
            Planned::Repair {
                run_id,
                numeric,
                latest_repair,
            } => {
                let mut body = json!({"run_id": numeric, "rerun_all_failed_tasks": true});
                if let Some(id) = latest_repair {
                    body["latest_repair_id"] = json!(id);
                }
                match self.post_action("repair", &body).await {
                    Ok(answer) => outcome.steps.push(format!(
                        "Repair {} started",
                        answer["repair_id"]
                            .as_i64()
                            .map(|i| i.to_string())
                            .unwrap_or_default()
                    )),
                    Err(e) if e.is_ambiguous() => {
                        return Err(BackendError::Unavailable(format!(
                            "repair of run {run_id} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried; check the run's repair history before repairing again"
                        )));
                    }
                    Err(e) => return Err(self.error(e, "run", &run_id)),
                }
                outcome.new_run_id = Some(run_id);
            }
            Planned::Cancel { run_id, numeric } => {
                match self
                    .post_action("cancel", &json!({ "run_id": numeric }))
                    .await
                {
                    Ok(_) => outcome.steps.push("Cancellation requested".into()),
                    Err(e) if e.is_ambiguous() => {
                        return Err(BackendError::Unavailable(format!(
                            "cancel of run {run_id} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried"
                        )));
                    }
                    Err(e) => return Err(self.error(e, "run", &run_id)),
                }
            }
        }
        Ok(outcome)
    }

    async fn health(&self) -> BackendHealth {
        let name = format!("databricks/{}", self.environment);
        match self.get(self.url(&["list"], &[("limit", "1")])).await {
            Ok(_) => BackendHealth {
                name,
                ok: true,
                detail: format!(
                    "workspace {} reachable; {}",
                    self.base.host_str().unwrap_or(""),
                    self.client.authorizer().status()
                ),
            },
            Err(e) => BackendHealth {
                name,
                ok: false,
                detail: self.error(e, "workspace", self.base.as_str()).to_string(),
            },
        }
    }
}
