//! The Airflow REST API operations opsdeck uses, v1 (Airflow 2.x) and v2
//! (Airflow 3.x), each one request or one paged listing, returning Airflow's
//! own shapes.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::wire::{
    Dag, DagCollection, DagRun, DagRunCollection, Task, TaskCollection, TaskInstance,
    TaskInstanceCollection, airflow_time,
};
use crate::backends::http::{Authorizer, Call, RestClient, RestError, Safety, url_with};

/// Airflow's largest page.
pub const PAGE: usize = 100;
/// Airflow needs no token scope; the client asks for one anyway.
const NO_SCOPE: &str = "";

/// Which REST API the server speaks: v1 (Airflow 2.x) or v2 (Airflow 3.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

impl ApiVersion {
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }
}

/// Basic auth (Airflow 2's `basic_auth` API backend), a bearer token, or
/// Airflow 3's JWT, fetched from `POST /auth/token` with a user and password.
pub enum AirflowAuth {
    Basic { user: String, password: String },
    Bearer(String),
    Jwt(JwtSource),
}

/// Airflow 3 issues JWTs at `POST /auth/token`; one is kept until shortly
/// before the `exp` it carries (or for ten minutes when it names none).
pub struct JwtSource {
    pub token_url: Url,
    pub user: String,
    pub password: String,
    pub http: reqwest::Client,
    pub cached: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
}

impl JwtSource {
    async fn token(&self) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some((until, token)) = cached.as_ref()
            && std::time::Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let answer = self
            .http
            .post(self.token_url.clone())
            .json(&json!({"username": self.user, "password": self.password}))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach Airflow's token endpoint {}: {e}",
                    self.token_url
                )
            })?;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                let why = match status.as_u16() {
                    401 | 403 => format!("did not accept the sign-in of user '{}'", self.user),
                    _ => "did not issue a token".to_string(),
                };
                format!(
                    "Airflow {why} at {} ({status}): check AIRFLOW_USERNAME and AIRFLOW_PASSWORD",
                    self.token_url
                )
            })?;
        let lifetime = jwt_lifetime(token).unwrap_or(std::time::Duration::from_secs(600));
        let keep = lifetime.saturating_sub(std::time::Duration::from_secs(60));
        *cached = Some((std::time::Instant::now() + keep, token.to_string()));
        Ok(token.to_string())
    }
}

/// Seconds until a JWT's `exp`, read from its (unverified) payload.
fn jwt_lifetime(token: &str) -> Option<std::time::Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims["exp"].as_i64()?;
    let left = exp - chrono::Utc::now().timestamp();
    (left > 0).then(|| std::time::Duration::from_secs(left as u64))
}

#[async_trait::async_trait]
impl Authorizer for AirflowAuth {
    async fn authorization(&self, _scope: &str) -> Result<String, String> {
        Ok(match self {
            AirflowAuth::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            AirflowAuth::Bearer(token) => format!("Bearer {token}"),
            AirflowAuth::Jwt(source) => format!("Bearer {}", source.token().await?),
        })
    }

    fn status(&self) -> String {
        match self {
            AirflowAuth::Basic { user, .. } => format!("basic auth as {user}"),
            AirflowAuth::Bearer(_) => "bearer token".into(),
            AirflowAuth::Jwt(source) => format!("JWT from /auth/token as {}", source.user),
        }
    }
}

/// A DAG run filter for `POST /dags/~/dagRuns/list`.
#[derive(Debug, Clone)]
pub struct RunFilter {
    pub dag_ids: Vec<String>,
    pub states: Vec<String>,
    /// Runs that started in this window; `None` for every run (queued runs
    /// have no start, so a window leaves them out).
    pub started: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub offset: usize,
    pub limit: usize,
    /// Keyset paging (Airflow 3): `Some("")` for the first page, then the
    /// answer's `next_cursor`. `None` pages by offset.
    pub cursor: Option<String>,
}

/// One page of DAG runs and where the next one starts.
pub struct DagRunPage {
    pub runs: Vec<DagRun>,
    pub total: usize,
    pub next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct AirflowApi {
    client: Arc<RestClient>,
    /// `…/api/v1` or `…/api/v2`
    base: Url,
    pub version: ApiVersion,
}

impl AirflowApi {
    pub fn new(client: Arc<RestClient>, base_url: &Url, version: ApiVersion) -> AirflowApi {
        AirflowApi {
            client,
            base: url_with(base_url, &["api", version.segment()], &[]),
            version,
        }
    }

    pub fn auth_status(&self) -> String {
        self.client.authorizer().status()
    }

    /// `…/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{rest…}`.
    fn task_url(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        task_id: &str,
        rest: &[&str],
        query: &[(&str, &str)],
    ) -> Url {
        let mut segments = vec![
            "dags",
            dag_id,
            "dagRuns",
            dag_run_id,
            "taskInstances",
            task_id,
        ];
        segments.extend_from_slice(rest);
        self.url(&segments, query)
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        url_with(&self.base, segments, query)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, what: &str) -> Result<T, RestError> {
        let body = self.client.send(&Call::get(url, NO_SCOPE)).await?;
        parse(body, what)
    }

    /// `GET /health` (v2: `/monitor/health`) and `GET /version`.
    pub async fn health(&self) -> Result<(Value, String), RestError> {
        let path: &[&str] = match self.version {
            ApiVersion::V1 => &["health"],
            ApiVersion::V2 => &["monitor", "health"],
        };
        let health = self
            .client
            .send(&Call::get(self.url(path, &[]), NO_SCOPE))
            .await?;
        let version: Value = self.get(self.url(&["version"], &[]), "version").await?;
        let version = version["version"].as_str().unwrap_or("unknown").to_string();
        Ok((health, version))
    }

    /// Every DAG (all pages).
    pub async fn dags(&self) -> Result<Vec<Dag>, RestError> {
        let mut all = Vec::new();
        for page in 0..1_000 {
            let offset = (page * PAGE).to_string();
            let limit = PAGE.to_string();
            let collection: DagCollection = self
                .get(
                    self.url(
                        &["dags"],
                        &[
                            ("limit", &limit),
                            ("offset", &offset),
                            ("only_active", "true"),
                        ],
                    ),
                    "DAG list",
                )
                .await?;
            let got = collection.dags.len();
            all.extend(collection.dags);
            let total = collection.total_entries.unwrap_or(0) as usize;
            if got < PAGE || all.len() >= total {
                break;
            }
        }
        Ok(all)
    }

    pub async fn tasks(&self, dag_id: &str) -> Result<Vec<Task>, RestError> {
        let collection: TaskCollection = self
            .get(self.url(&["dags", dag_id, "tasks"], &[]), "task list")
            .await?;
        Ok(collection.tasks)
    }

    /// One page of DAG runs across DAGs, newest start first, and the total.
    pub async fn dag_runs(&self, filter: &RunFilter) -> Result<DagRunPage, RestError> {
        if let Some(cursor) = &filter.cursor {
            return self.dag_runs_by_cursor(filter, cursor).await;
        }
        let mut body = json!({
            "order_by": "-start_date",
            "page_offset": filter.offset,
            "page_limit": filter.limit.min(PAGE),
        });
        if let Some((after, before)) = filter.started {
            body["start_date_gte"] = json!(airflow_time(after));
            body["start_date_lte"] = json!(airflow_time(before));
        }
        if !filter.dag_ids.is_empty() {
            body["dag_ids"] = json!(filter.dag_ids);
        }
        if !filter.states.is_empty() {
            body["states"] = json!(filter.states);
        }
        let answer = self
            .client
            .send(&Call::query(
                self.url(&["dags", "~", "dagRuns", "list"], &[]),
                NO_SCOPE,
                &body,
            ))
            .await?;
        let collection: DagRunCollection = parse(answer, "DAG run list")?;
        Ok(DagRunPage {
            total: collection.total_entries.unwrap_or(0) as usize,
            runs: collection.dag_runs,
            next_cursor: None,
        })
    }

    /// `GET /dags/{dag_id|~}/dagRuns?cursor=…` (Airflow 3): one DAG or all.
    async fn dag_runs_by_cursor(
        &self,
        filter: &RunFilter,
        cursor: &str,
    ) -> Result<DagRunPage, RestError> {
        let dag = filter.dag_ids.first().map(String::as_str).unwrap_or("~");
        let limit = filter.limit.min(PAGE).to_string();
        let window = filter
            .started
            .map(|(after, before)| (airflow_time(after), airflow_time(before)));
        let mut query = vec![
            ("cursor", cursor),
            ("limit", limit.as_str()),
            ("order_by", "-start_date"),
        ];
        if let Some((after, before)) = &window {
            query.push(("start_date_gte", after));
            query.push(("start_date_lte", before));
        }
        for state in &filter.states {
            query.push(("state", state.as_str()));
        }
        let collection: DagRunCollection = self
            .get(self.url(&["dags", dag, "dagRuns"], &query), "DAG run list")
            .await?;
        Ok(DagRunPage {
            total: collection.total_entries.unwrap_or(0) as usize,
            runs: collection.dag_runs,
            next_cursor: collection.next_cursor.filter(|c| !c.is_empty()),
        })
    }

    pub async fn dag_run(&self, dag_id: &str, dag_run_id: &str) -> Result<DagRun, RestError> {
        self.get(
            self.url(&["dags", dag_id, "dagRuns", dag_run_id], &[]),
            "DAG run",
        )
        .await
    }

    /// Every task instance of a DAG run (all pages).
    pub async fn task_instances(
        &self,
        dag_id: &str,
        dag_run_id: &str,
    ) -> Result<Vec<TaskInstance>, RestError> {
        let mut all = Vec::new();
        for page in 0..100 {
            let offset = (page * PAGE).to_string();
            let limit = PAGE.to_string();
            let collection: TaskInstanceCollection = self
                .get(
                    self.url(
                        &["dags", dag_id, "dagRuns", dag_run_id, "taskInstances"],
                        &[("limit", &limit), ("offset", &offset)],
                    ),
                    "task instance list",
                )
                .await?;
            let got = collection.task_instances.len();
            all.extend(collection.task_instances);
            if got < PAGE || all.len() >= collection.total_entries.unwrap_or(0) as usize {
                break;
            }
        }
        Ok(all)
    }

    /// Every try of a task instance (Airflow 2.10+ and 3), oldest first;
    /// empty where the server keeps no try history.
    pub async fn tries(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        task_id: &str,
    ) -> Result<Vec<TaskInstance>, RestError> {
        let url = self.task_url(dag_id, dag_run_id, task_id, &["tries"], &[]);
        match self.client.send(&Call::get(url, NO_SCOPE)).await {
            Ok(answer) => {
                let collection: TaskInstanceCollection = parse(answer, "task try list")?;
                let mut tries = collection.task_instances;
                tries.sort_by_key(|t| t.try_number.unwrap_or(0));
                Ok(tries)
            }
            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The plain-text log of one try of a task instance.
    pub async fn task_log(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        task_id: &str,
        map_index: Option<i64>,
        try_number: u32,
    ) -> Result<String, RestError> {
        let try_text = try_number.to_string();
        let index_text = map_index.filter(|i| *i >= 0).map(|i| i.to_string());
        let mut query = vec![("full_content", "true")];
        if let Some(index) = &index_text {
            query.push(("map_index", index));
        }
        let url = self.task_url(dag_id, dag_run_id, task_id, &["logs", &try_text], &query);
        // Airflow 2 answers in text (or, behind some proxies, JSON with a
        // stringified list); Airflow 3 with structured events as JSON or
        // NDJSON. All are laid out as Airflow 2's text lines.
        let accept = match self.version {
            ApiVersion::V1 => "text/plain",
            ApiVersion::V2 => "application/json",
        };
        let body = self
            .client
            .send_accepting(&Call::get(url, NO_SCOPE), accept)
            .await?;
        Ok(super::logs::log_answer_text(&body))
    }

    /// `clearTaskInstances` for one DAG run: with `dry_run` it only lists what
    /// would be cleared. Returns the task ids. A real clear is never retried.
    pub async fn clear(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        only_failed: bool,
        dry_run: bool,
    ) -> Result<Vec<String>, RestError> {
        let body = json!({
            "dry_run": dry_run,
            "dag_run_id": dag_run_id,
            "only_failed": only_failed,
            "include_downstream": true,
            "include_upstream": false,
            "reset_dag_runs": true,
        });
        let call = Call {
            method: Method::POST,
            url: self.url(&["dags", dag_id, "clearTaskInstances"], &[]),
            scope: NO_SCOPE,
            body: Some(&body),
            safety: if dry_run {
                Safety::Read
            } else {
                Safety::Action
            },
        };
        let answer = self.client.send(&call).await?;
        Ok(answer["task_instances"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["task_id"].as_str().map(str::to_string))
            .collect())
    }

    /// Marks a DAG run failed (Airflow's way to stop one). Never retried.
    pub async fn fail_run(&self, dag_id: &str, dag_run_id: &str) -> Result<(), RestError> {
        let body = json!({"state": "failed"});
        let call = Call {
            method: Method::PATCH,
            url: self.url(&["dags", dag_id, "dagRuns", dag_run_id], &[]),
            scope: NO_SCOPE,
            body: Some(&body),
            safety: Safety::Action,
        };
        self.client.send(&call).await.map(|_| ())
    }

    /// One XCom value of a task instance (`None` when it pushed none). The
    /// Databricks operators push `run_id` and `run_page_url`.
    pub async fn xcom(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        task_id: &str,
        key: &str,
    ) -> Result<Option<String>, RestError> {
        let url = self.task_url(dag_id, dag_run_id, task_id, &["xcomEntries", key], &[]);
        match self.client.send(&Call::get(url, NO_SCOPE)).await {
            Ok(entry) => Ok(match &entry["value"] {
                Value::String(text) => Some(text.trim_matches('"').to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of the audit log (`GET /eventLogs`), newest first, of the
    /// events recorded in `[after, before]` (both as Airflow reads them), of
    /// one DAG when `dag_id` is given (both API versions filter on it).
    pub async fn event_logs(
        &self,
        after: &str,
        before: &str,
        dag_id: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Value, RestError> {
        let offset = offset.to_string();
        let limit = limit.min(PAGE).to_string();
        let mut query = vec![
            ("after", after),
            ("before", before),
            ("order_by", "-when"),
            ("offset", offset.as_str()),
            ("limit", limit.as_str()),
        ];
        query.extend(dag_id.map(|dag| ("dag_id", dag)));
        self.get(self.url(&["eventLogs"], &query), "event log list")
            .await
    }

    /// The newest versions of a DAG (Airflow 3: `GET /dags/{dag_id}/dagVersions`).
    pub async fn dag_versions(&self, dag_id: &str, limit: usize) -> Result<Value, RestError> {
        let limit = limit.min(PAGE).to_string();
        let query = [("order_by", "-version_number"), ("limit", limit.as_str())];
        self.get(
            self.url(&["dags", dag_id, "dagVersions"], &query),
            "DAG version list",
        )
        .await
    }

    /// DAG files that failed to import (a DAG missing from the list is often here).
    pub async fn import_errors(&self) -> Result<Vec<Value>, RestError> {
        let answer: Value = self
            .get(
                self.url(&["importErrors"], &[("limit", "100")]),
                "import errors",
            )
            .await?;
        Ok(answer["import_errors"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

fn parse<T: DeserializeOwned>(body: Value, what: &str) -> Result<T, RestError> {
    serde_json::from_value(body)
        .map_err(|e| RestError::Unreadable(format!("the {what} has an unexpected shape: {e}")))
}
