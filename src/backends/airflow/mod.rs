//! A real Apache Airflow (REST API v1 for Airflow 2.x, v2 for Airflow 3.x) as
//! a [`PipelineBackend`] and a [`LogSource`]: DAGs are pipelines, DAG runs
//! runs, task instances activity runs (their error read from the task log),
//! task logs the logs.
//! Remediation clears failed task instances (and what runs after them) or
//! marks a DAG run failed.

pub mod api;
pub mod changes;
pub mod logs;
pub mod wire;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;
use reqwest::Url;
use serde_json::{Value, json};

use self::api::{AirflowApi, AirflowAuth, ApiVersion, JwtSource, RunFilter};
use self::logs::{error_from_log, is_missing_log, log_events};
use self::wire::{TaskInstance, split_run_key};
use crate::backends::cache::TtlCache;
use crate::backends::databricks::DatabricksBackend;
use crate::backends::http::{RestClient, RestError, RetryPolicy, checked_endpoint, url_with};
use crate::backends::{
    BackendError, BackendHealth, CancelRequest, LivePlan, LogQuery, LogSource, PastRerun,
    PipelineBackend, PlanDescription, RemediationOutcome, RemediationPlan, RerunRequest, RunPage,
    RunQuery,
};
use crate::config::env::env_value;
use crate::model::estate::{
    ActivityDependency, ActivityInfo, EstateCatalog, LoadError, PipelineInfo,
};
use crate::model::log::LogLine;
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, RunError, RunStatus};
use crate::model::time::SharedClock;

const ROLE: &str = "an Airflow user with the Viewer role (User or Op to clear or stop runs)";
const CATALOG_TTL: StdDuration = StdDuration::from_secs(300);
/// Most runs whose task logs one `fetch_logs` call reads, when it names no run.
const RUNS_PER_LOG_QUERY: usize = 10;
/// Most task logs read for one `fetch_logs` call.
const MAX_LOGS_PER_QUERY: usize = 40;

/// Where the Airflow is and how to sign in.
#[derive(Debug, Clone)]
pub struct AirflowSettings {
    pub url: Url,
    pub environment: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub timeout: StdDuration,
    /// v1 (Airflow 2) or v2 (Airflow 3); `None`: ask the server.
    pub api_version: Option<ApiVersion>,
}

impl AirflowSettings {
    /// From `AIRFLOW_URL` and `AIRFLOW_USERNAME`/`AIRFLOW_PASSWORD` or `AIRFLOW_TOKEN`.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<AirflowSettings, String> {
        let get = |name: &str| env_value(lookup, name);
        let raw = get("AIRFLOW_URL").ok_or(
            "AIRFLOW_URL is not set; the Airflow backend needs the webserver's address (e.g. https://airflow.example.com) and AIRFLOW_USERNAME/AIRFLOW_PASSWORD or AIRFLOW_TOKEN",
        )?;
        let insecure_ok = get("OPSDECK_AIRFLOW_ALLOW_HTTP").is_some_and(|v| v == "1");
        let url = checked_endpoint("AIRFLOW_URL", &raw, insecure_ok).map_err(|e| {
            if e.contains("clear text") {
                format!("{e}, or set OPSDECK_AIRFLOW_ALLOW_HTTP=1 on a network you trust")
            } else {
                e
            }
        })?;
        let settings = AirflowSettings {
            url,
            environment: get("OPSDECK_AIRFLOW_ENVIRONMENT")
                .or_else(|| get("OPSDECK_ENVIRONMENT"))
                .unwrap_or_else(|| "airflow".into()),
            user: get("AIRFLOW_USERNAME"),
            password: get("AIRFLOW_PASSWORD"),
            token: get("AIRFLOW_TOKEN"),
            timeout: StdDuration::from_secs(30),
            api_version: match get("AIRFLOW_API_VERSION").as_deref() {
                None | Some("auto") => None,
                Some("v1" | "1") => Some(ApiVersion::V1),
                Some("v2" | "2") => Some(ApiVersion::V2),
                Some(other) => {
                    return Err(format!(
                        "AIRFLOW_API_VERSION '{other}' is not v1 (Airflow 2), v2 (Airflow 3) or auto"
                    ));
                }
            },
        };
        settings.auth(ApiVersion::V1)?;
        Ok(settings)
    }

    /// Airflow 2 takes basic auth; Airflow 3 wants a JWT, which a user and
    /// password buy at `POST /auth/token`.
    fn auth(&self, version: ApiVersion) -> Result<AirflowAuth, String> {
        match (&self.token, &self.user, &self.password, version) {
            (Some(token), _, _, _) => Ok(AirflowAuth::Bearer(token.clone())),
            (None, Some(user), Some(password), ApiVersion::V1) => Ok(AirflowAuth::Basic {
                user: user.clone(),
                password: password.clone(),
            }),
            (None, Some(user), Some(password), ApiVersion::V2) => Ok(AirflowAuth::Jwt(JwtSource {
                token_url: url_with(&self.url, &["auth", "token"], &[]),
                user: user.clone(),
                password: password.clone(),
                http: reqwest::Client::builder()
                    .timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
                cached: tokio::sync::Mutex::new(None),
            })),
            _ => Err("set AIRFLOW_USERNAME and AIRFLOW_PASSWORD or AIRFLOW_TOKEN for the Airflow backend".into()),
        }
    }

    /// The API version: as configured, else v2 when the server answers
    /// `/api/v2/version` (Airflow 3), else v1.
    pub async fn resolve_version(&self) -> ApiVersion {
        if let Some(version) = self.api_version {
            return version;
        }
        let probe = url_with(&self.url, &["api", "v2", "version"], &[]);
        let answered = reqwest::Client::builder()
            .timeout(StdDuration::from_secs(10))
            .build()
            .ok()
            .map(|client| client.get(probe).send());
        match answered {
            Some(request) => match request.await {
                Ok(response) if response.status().is_success() => ApiVersion::V2,
                _ => ApiVersion::V1,
            },
            None => ApiVersion::V1,
        }
    }
}

pub struct AirflowBackend {
    api: AirflowApi,
    environment: String,
    clock: SharedClock,
    catalog: TtlCache<EstateCatalog>,
    /// Where the Databricks runs that tasks start can be looked up (the hop).
    databricks: Option<Arc<DatabricksBackend>>,
}

/// What acting on a plan asks of Airflow, as the plan decided it. Runs are
/// named by their key (`dag_id/dag_run_id`).
enum Planned {
    /// Clear the run's tasks (only the failed ones and those after them, or all).
    Clear { run_id: String, only_failed: bool },
    /// Mark the run failed, which stops it.
    MarkFailed { run_id: String },
}

impl AirflowBackend {
    /// A backend speaking `version` of the REST API (see
    /// [`AirflowSettings::resolve_version`]).
    pub fn new(
        settings: &AirflowSettings,
        version: ApiVersion,
        clock: SharedClock,
        retry: RetryPolicy,
    ) -> Result<AirflowBackend, String> {
        let client = Arc::new(RestClient::new(
            "Airflow",
            Arc::new(settings.auth(version)?),
            settings.timeout,
            retry,
        )?);
        Ok(AirflowBackend {
            api: AirflowApi::new(client, &settings.url, version),
            environment: settings.environment.clone(),
            clock,
            catalog: TtlCache::new(CATALOG_TTL),
            databricks: None,
        })
    }

    /// The tries before a task instance's latest, each an activity run of its
    /// own (as ADF reports retries), with the error its log ends with.
    async fn earlier_tries(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        run_id: &str,
        ti: &TaskInstance,
    ) -> Vec<ActivityRun> {
        let current = ti.try_number.unwrap_or(0);
        if current <= 1 || ti.map_index.is_some_and(|i| i >= 0) {
            return Vec::new();
        }
        let tries = match self.api.tries(dag_id, dag_run_id, &ti.task_id).await {
            Ok(tries) => tries,
            Err(e) => {
                tracing::warn!(
                    "tries of {dag_id}/{dag_run_id}/{} unreadable: {e}",
                    ti.task_id
                );
                return Vec::new();
            }
        };
        let mut earlier = Vec::new();
        for mut attempt in tries
            .into_iter()
            .filter(|t| t.try_number.is_some_and(|n| n < current))
        {
            // A try that was retried ended failed, whatever state it was left in.
            if matches!(
                attempt.state.as_deref(),
                Some("up_for_retry" | "restarting")
            ) {
                attempt.state = Some("failed".into());
            }
            let error = if wire::status_of(attempt.state.as_deref()) == RunStatus::Failed {
                self.latest_log(dag_id, dag_run_id, &attempt)
                    .await
                    .and_then(|log| error_from_log(&log))
            } else {
                None
            };
            earlier.push(attempt.into_activity(run_id, error, Value::Null));
        }
        earlier
    }

    /// The Databricks operators also push the run to XCom (`run_id`,
    /// `run_page_url`): the second place to look when the log names none.
    async fn databricks_refs_from_xcom(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        task_id: &str,
        refs: &mut Value,
    ) {
        match self.api.xcom(dag_id, dag_run_id, task_id, "run_id").await {
            Ok(Some(run_id))
                if run_id.chars().all(|c| c.is_ascii_digit()) && !run_id.is_empty() =>
            {
                refs["databricks_run_id"] = json!(run_id);
                refs["databricks_run_source"] = json!("xcom");
                if let Ok(Some(url)) = self
                    .api
                    .xcom(dag_id, dag_run_id, task_id, "run_page_url")
                    .await
                {
                    refs["databricks_run_page_url"] = json!(url);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("XCom of {dag_id}/{dag_run_id}/{task_id} unreadable: {e}"),
        }
    }

    /// Follows failed tasks into the Databricks runs they started.
    pub fn with_databricks(mut self, databricks: Arc<DatabricksBackend>) -> AirflowBackend {
        self.databricks = Some(databricks);
        self
    }

    /// The hop: when a failed task's log names a Databricks run, that run's
    /// failing task and error become the task's error (the root cause), and
    /// Airflow's own error is kept beside it.
    async fn follow_databricks(
        &self,
        error: Option<RunError>,
        mut refs: Value,
    ) -> (Option<RunError>, Value) {
        let (Some(databricks), Some(run_id)) = (
            &self.databricks,
            refs.get("databricks_run_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) else {
            return (error, refs);
        };
        match databricks.failure_of_run(&run_id).await {
            Ok(Some(failure)) => {
                if let Some(airflow_error) = &error {
                    refs["airflow_error"] =
                        json!(format!("{}: {}", airflow_error.code, airflow_error.message));
                }
                refs["databricks_task"] = json!(failure.task);
                if let Some(trace) = failure.trace {
                    refs["databricks_error_trace"] = json!(trace);
                }
                if let Some(url) = failure.run_page_url {
                    refs["databricks_run_page_url"] = json!(url);
                }
                let cause = RunError {
                    code: failure.error.code,
                    message: format!(
                        "Databricks run {run_id}, task {}: {}",
                        refs["databricks_task"].as_str().unwrap_or("?"),
                        failure.error.message
                    ),
                    failure_type: failure.error.failure_type,
                };
                (Some(cause), refs)
            }
            Ok(None) => (error, refs),
            Err(e) => {
                refs["databricks_lookup_error"] = json!(e.to_string());
                (error, refs)
            }
        }
    }

    fn error(&self, e: RestError, what: &'static str, name: &str) -> BackendError {
        e.about(what, name, ROLE)
    }

    fn parts<'a>(&self, run_id: &'a str) -> Result<(&'a str, &'a str), BackendError> {
        split_run_key(run_id).ok_or_else(|| BackendError::run_not_found(run_id))
    }

    /// The latest try's log of a task instance: `None` when Airflow has none.
    async fn latest_log(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        ti: &TaskInstance,
    ) -> Option<String> {
        let try_number = ti.try_number.unwrap_or(1).max(1);
        match self
            .api
            .task_log(dag_id, dag_run_id, &ti.task_id, ti.map_index, try_number)
            .await
        {
            Ok(text) if !is_missing_log(&text) => Some(text),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "log of {dag_id}/{dag_run_id}/{} unreadable: {e}",
                    ti.task_id
                );
                None
            }
        }
    }
}

/// An import error as the catalogue keeps it: the file and the trace's last line.
fn load_error(error: &Value) -> LoadError {
    let trace = error["stack_trace"].as_str().unwrap_or_default();
    LoadError {
        file: error["filename"].as_str().unwrap_or("?").to_string(),
        error: trace
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("import error (no trace)")
            .to_string(),
    }
}

/// References to the Databricks run a task started, as the Databricks
/// operators print them (`run_id: 123`, a run page URL `…#job/7/run/123`).
pub fn databricks_refs(log: &str) -> Value {
    let mut refs = json!({});
    for line in log.lines() {
        if let Some(start) = line.find("https://")
            && line.contains("/run/")
        {
            let url: String = line[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            if let Some(run) = url
                .rsplit("/run/")
                .next()
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                && !run.is_empty()
            {
                refs["databricks_run_page_url"] = json!(url);
                refs["databricks_run_id"] = json!(run);
            }
        }
        if refs.get("databricks_run_id").is_none()
            && let Some((_, rest)) = line.split_once("run_id: ")
        {
            let id: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !id.is_empty() {
                refs["databricks_run_id"] = json!(id);
            }
        }
    }
    refs
}

#[async_trait]
impl PipelineBackend for AirflowBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Airflow
    }

    fn environment(&self) -> &str {
        &self.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        self.catalog.get_or_load(|| self.load_catalog()).await
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        // Our token: `o:N` (offset) or `c:…` (Airflow 3's cursor). Airflow 3
        // pages one DAG's (or all DAGs') runs by cursor; several DAGs, and
        // Airflow 2, by offset.
        let bad = || {
            BackendError::InvalidArgument(format!(
                "continuation_token '{}' was not issued by this server; pass back the token from the previous page unchanged, or omit it for the first page",
                query.continuation.as_deref().unwrap_or_default()
            ))
        };
        let by_cursor = self.api.version == ApiVersion::V2 && query.pipelines.len() <= 1;
        let (offset, cursor) = match query.continuation.as_deref() {
            None => (0, by_cursor.then(String::new)),
            Some(raw) => match raw.split_once(':') {
                Some(("o", n)) => (n.parse().map_err(|_| bad())?, None),
                Some(("c", c)) if !c.is_empty() => (0, Some(c.to_string())),
                _ => return Err(bad()),
            },
        };
        let limit = query.limit.clamp(1, api::PAGE);
        let states: Vec<String> = query
            .statuses
            .iter()
            .flat_map(|s| match s {
                RunStatus::Queued => vec!["queued"],
                RunStatus::InProgress => vec!["running"],
                RunStatus::Succeeded => vec!["success"],
                RunStatus::Failed => vec!["failed"],
                _ => vec![],
            })
            .map(str::to_string)
            .collect();
        // A queued run has not started, so no start-time window holds it; the
        // first page of a window that reaches now leads with them.
        let queued = if query.continuation.is_none()
            && (states.is_empty() || states.iter().any(|s| s == "queued"))
            && query.window.until >= self.clock.now() - Duration::minutes(1)
        {
            self.queued_runs(&query.pipelines).await?
        } else {
            Vec::new()
        };
        let filter = RunFilter {
            dag_ids: query.pipelines.clone(),
            states,
            started: Some((query.window.since, query.window.until)),
            offset,
            limit: limit.saturating_sub(queued.len()).max(1),
            cursor: cursor.clone(),
        };
        let page = self
            .api
            .dag_runs(&filter)
            .await
            .map_err(|e| self.error(e, "airflow", self.api_base()))?;
        let next = offset + page.runs.len();
        let continuation = match (cursor, page.next_cursor) {
            (Some(_), Some(next_cursor)) => Some(format!("c:{next_cursor}")),
            (Some(_), None) => None,
            (None, _) => (next < page.total && !page.runs.is_empty()).then(|| format!("o:{next}")),
        };
        let mut runs: Vec<PipelineRun> = queued;
        for run in page.runs {
            let run = run.into_run(&self.environment);
            if !runs.iter().any(|r| r.run_id == run.run_id) {
                runs.push(run);
            }
        }
        Ok(RunPage { continuation, runs })
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        let Some((dag_id, dag_run_id)) = split_run_key(run_id) else {
            return Ok(None);
        };
        match self.api.dag_run(dag_id, dag_run_id).await {
            Ok(run) => Ok(Some(run.into_run(&self.environment))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(self.error(e, "run", run_id)),
        }
    }

    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        let (dag_id, dag_run_id) = self.parts(run_id)?;
        let instances = match self.api.task_instances(dag_id, dag_run_id).await {
            Err(e) if e.status() == Some(404) => return Err(BackendError::run_not_found(run_id)),
            other => other.map_err(|e| self.error(e, "run", run_id))?,
        };
        let mut activities = Vec::with_capacity(instances.len());
        for ti in instances {
            let (error, refs) = if wire::status_of(ti.state.as_deref()) == RunStatus::Failed {
                let (error, mut refs) = match self.latest_log(dag_id, dag_run_id, &ti).await {
                    Some(log) => (error_from_log(&log), databricks_refs(&log)),
                    None => (None, json!({})),
                };
                if self.databricks.is_some() && refs.get("databricks_run_id").is_none() {
                    self.databricks_refs_from_xcom(dag_id, dag_run_id, &ti.task_id, &mut refs)
                        .await;
                }
                self.follow_databricks(error, refs).await
            } else {
                (None, Value::Null)
            };
            activities.extend(self.earlier_tries(dag_id, dag_run_id, run_id, &ti).await);
            activities.push(ti.into_activity(run_id, error, refs));
        }
        crate::model::run::sort_by_start(&mut activities);
        Ok(activities)
    }

    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        crate::backends::require_pipeline(self, &request.pipeline).await?;
        let reference = match request.named_reference(self).await? {
            Some(run) => run,
            None => {
                crate::backends::latest_failed_run(self, &request.pipeline, self.clock.now())
                    .await?
                    .ok_or_else(|| {
                    BackendError::Refused(format!(
                        "{} has no failed run in the last 7 days to re-run; Airflow re-runs by clearing a run's tasks, so name the run with run_id",
                        request.pipeline
                    ))
                })?
            }
        };
        crate::backends::refuse_unfinished(Some(&reference))?;
        let (dag_id, dag_run_id) = self.parts(&reference.run_id)?;
        let only_failed = request.from_failed_activity;
        // Airflow's own dry run of the clear: it lists what would be cleared, clearing nothing.
        let to_clear = self
            .api
            .clear(dag_id, dag_run_id, only_failed, true)
            .await
            .map_err(|e| self.error(e, "run", &reference.run_id))?;
        let steps = vec![
            format!(
                "Clear {} task(s) of run {} ({}), so the scheduler runs them again: {}",
                to_clear.len(),
                reference.run_id,
                self.environment,
                to_clear.join(", ")
            ),
            if only_failed {
                "Only the failed tasks and those downstream of them; tasks that succeeded keep their results".into()
            } else {
                "Every task of the run, from the start".into()
            },
            "Airflow re-runs in place: the run keeps its id and goes back to queued".into(),
        ];
        let description = PlanDescription {
            backend: BackendKind::Airflow,
            environment: self.environment.clone(),
            pipeline: request.pipeline.clone(),
            target_run_id: Some(reference.run_id.clone()),
            steps,
        };
        let work = Planned::Clear {
            run_id: reference.run_id,
            only_failed,
        };
        Ok(RemediationPlan::rerun(request, description, work))
    }

    /// Airflow re-runs in place by clearing a run's tasks: the clears of the
    /// run (or of its DAG) in the audit log (`GET /eventLogs`) since `since`.
    async fn reruns_since(
        &self,
        reference: &PipelineRun,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PastRerun>, BackendError> {
        let (dag_id, dag_run_id) = self.parts(&reference.run_id)?;
        Ok(self
            .clears_since(dag_id, dag_run_id, since)
            .await?
            .into_iter()
            .map(|(id, at)| PastRerun { id, at })
            .collect())
    }

    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        let run_id = request.run_id.as_str();
        let run = crate::backends::cancellable_run(self, run_id).await?;
        self.parts(run_id)?;
        let steps = vec![
            format!(
                "Mark run {run_id} ({}) failed: Airflow stops scheduling its tasks",
                self.environment
            ),
            "Running task instances are marked failed too and their processes stopped".into(),
        ];
        let description = PlanDescription {
            backend: BackendKind::Airflow,
            environment: self.environment.clone(),
            pipeline: run.pipeline,
            target_run_id: Some(run_id.to_string()),
            steps,
        };
        let work = Planned::MarkFailed {
            run_id: run_id.to_string(),
        };
        Ok(RemediationPlan::cancel(request, description, work))
    }

    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        let (work, mut outcome) = plan.into_parts::<Planned>()?;
        match work {
            Planned::Clear {
                run_id,
                only_failed,
            } => {
                let (dag_id, dag_run_id) = self.parts(&run_id)?;
                match self.api.clear(dag_id, dag_run_id, only_failed, false).await {
                    Ok(cleared) => {
                        outcome
                            .steps
                            .push(format!("Cleared {}", cleared.join(", ")));
                        outcome.new_run_id = Some(run_id);
                        Ok(outcome)
                    }
                    Err(e) if e.is_ambiguous() => {
                        let now_shows = match self.get_run(&run_id).await {
                            Ok(Some(run)) => format!("the run now shows {}", run.status),
                            _ => "its state could not be read".into(),
                        };
                        Err(BackendError::Unavailable(format!(
                            "clearing the tasks of {run_id} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried; {now_shows}"
                        )))
                    }
                    Err(e) => Err(self.error(e, "run", &run_id)),
                }
            }
            Planned::MarkFailed { run_id } => {
                let (dag_id, dag_run_id) = self.parts(&run_id)?;
                match self.api.fail_run(dag_id, dag_run_id).await {
                    Ok(()) => {
                        outcome.steps.push("Run marked failed".into());
                        Ok(outcome)
                    }
                    Err(e) if e.is_ambiguous() => Err(BackendError::Unavailable(format!(
                        "stopping run {run_id} got no clear answer ({e}); it MAY HAVE EXECUTED and was not retried"
                    ))),
                    Err(e) => Err(self.error(e, "run", &run_id)),
                }
            }
        }
    }

    async fn health(&self) -> BackendHealth {
        let name = format!("airflow/{}", self.environment);
        match self.api.health().await {
            Ok((health, version)) => {
                let scheduler = health["scheduler"]["status"].as_str().unwrap_or("unknown");
                // Unreadable is not "none": the user may lack the permission.
                let import_errors = match self.api.import_errors().await {
                    Ok(errors) => format!("{} DAG import error(s)", errors.len()),
                    Err(e) => format!("DAG import errors unreadable ({e})"),
                };
                BackendHealth {
                    name,
                    ok: scheduler == "healthy",
                    detail: format!(
                        "Airflow {version} (REST API {}) at {}; scheduler {scheduler}; {import_errors}; {}",
                        self.api.version.segment(),
                        self.api_base(),
                        self.api.auth_status()
                    ),
                }
            }
            Err(e) => BackendHealth {
                name,
                ok: false,
                detail: self.error(e, "airflow", self.api_base()).to_string(),
            },
        }
    }
}

impl AirflowBackend {
    /// Every queued DAG run of these DAGs (all DAGs when none are named).
    async fn queued_runs(&self, dag_ids: &[String]) -> Result<Vec<PipelineRun>, BackendError> {
        let filter = RunFilter {
            dag_ids: dag_ids.to_vec(),
            states: vec!["queued".into()],
            started: None,
            offset: 0,
            limit: api::PAGE,
            cursor: None,
        };
        let page = self
            .api
            .dag_runs(&filter)
            .await
            .map_err(|e| self.error(e, "airflow", self.api_base()))?;
        Ok(page
            .runs
            .into_iter()
            .map(|r| r.into_run(&self.environment))
            .collect())
    }

    async fn load_catalog(&self) -> Result<EstateCatalog, BackendError> {
        let dags = self
            .api
            .dags()
            .await
            .map_err(|e| self.error(e, "airflow", self.api_base()))?;
        let mut catalog = EstateCatalog::default();
        for dag in dags {
            let tasks = self
                .api
                .tasks(&dag.dag_id)
                .await
                .map_err(|e| self.error(e, "DAG", &dag.dag_id))?;
            let activities = tasks
                .iter()
                .map(|task| ActivityInfo {
                    name: task.task_id.clone(),
                    activity_type: task.operator(),
                    depends_on: tasks
                        .iter()
                        .filter(|up| up.downstream_task_ids.contains(&task.task_id))
                        .map(|up| ActivityDependency {
                            activity: up.task_id.clone(),
                            conditions: vec!["Succeeded".into()],
                        })
                        .collect(),
                    linked_services: vec![],
                    inputs: vec![],
                    outputs: vec![],
                    executes_pipeline: None,
                    retries: task.retries.unwrap_or(0.0).max(0.0) as u32,
                    target: None,
                })
                .collect();
            catalog.pipelines.push(PipelineInfo {
                schedule: dag.schedule(),
                name: dag.dag_id,
                backend: BackendKind::Airflow,
                environment: self.environment.clone(),
                folder: dag.fileloc,
                description: dag.description,
                parameters: vec![],
                activities,
            });
        }
        // A DAG whose file fails to import is simply absent from /dags; its
        // import error is what explains a "not found" for it.
        match self.api.import_errors().await {
            Ok(errors) => catalog.load_errors = errors.iter().map(load_error).collect(),
            Err(e) => tracing::warn!("Airflow import errors unreadable: {e}"),
        }
        Ok(catalog)
    }

    fn api_base(&self) -> &str {
        "the Airflow webserver"
    }
}

#[async_trait]
impl LogSource for AirflowBackend {
    /// Task logs of the runs the query names (a run, or a pipeline's runs in
    /// the window), split into events by Airflow's line header.
    async fn fetch_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, BackendError> {
        let runs: Vec<PipelineRun> = match &query.run_id {
            Some(run_id) => self.get_run(run_id).await?.into_iter().collect(),
            None => self.query_runs(&query.runs(RUNS_PER_LOG_QUERY)).await?.runs,
        };
        let mut lines = Vec::new();
        let mut logs_read = 0;
        for run in runs {
            let Some((dag_id, dag_run_id)) = split_run_key(&run.run_id) else {
                continue;
            };
            let instances = self
                .api
                .task_instances(dag_id, dag_run_id)
                .await
                .map_err(|e| self.error(e, "run", &run.run_id))?;
            for ti in instances {
                if query.activity.as_ref().is_some_and(|a| *a != ti.name())
                    || ti.try_number.unwrap_or(0) == 0
                {
                    continue;
                }
                if logs_read >= MAX_LOGS_PER_QUERY {
                    break;
                }
                logs_read += 1;
                let Some(text) = self.latest_log(dag_id, dag_run_id, &ti).await else {
                    continue;
                };
                lines.extend(
                    log_events(&text, &run, &ti.name())
                        .into_iter()
                        .filter(|l| query.matches(l)),
                );
            }
        }
        Ok(query.newest(lines))
    }

    fn log_sources(&self) -> Vec<String> {
        vec!["airflow/task".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databricks_runs_are_found_in_task_logs() {
        let log = "[t] {databricks.py:1} INFO - Run submitted with run_id: 448812\n[t] {databricks.py:2} INFO - View run status, Spark UI, and logs at https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#job/987/run/448812";
        let refs = databricks_refs(log);
        assert_eq!(refs["databricks_run_id"], "448812");
        assert!(
            refs["databricks_run_page_url"]
                .as_str()
                .unwrap()
                .ends_with("#job/987/run/448812")
        );
        assert_eq!(databricks_refs("nothing here"), json!({}));
    }

    #[test]
    fn settings_refuse_clear_text_to_other_machines() {
        let env = crate::test_support::fake_env(&[
            ("AIRFLOW_URL", "http://airflow.internal:8080"),
            ("AIRFLOW_USERNAME", "u"),
            ("AIRFLOW_PASSWORD", "p"),
        ]);
        assert!(
            AirflowSettings::from_env(&env)
                .unwrap_err()
                .contains("clear text")
        );
        let local = crate::test_support::fake_env(&[("AIRFLOW_URL", "http://127.0.0.1:8080")]);
        assert!(
            AirflowSettings::from_env(&local)
                .unwrap_err()
                .contains("AIRFLOW_USERNAME")
        );
        assert!(
            AirflowSettings::from_env(&crate::test_support::fake_env(&[]))
                .unwrap_err()
                .contains("AIRFLOW_URL")
        );
    }
}
