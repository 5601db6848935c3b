//! The Airflow REST API v1 operations opsdeck uses (Airflow 2.x), each one
//! request or one paged listing, returning Airflow's own shapes.

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
use crate::backends::rest::{Authorizer, Call, RestClient, RestError, Safety, url_with};

/// Airflow's largest page.
pub const PAGE: usize = 100;
/// Airflow needs no token scope; the client asks for one anyway.
const NO_SCOPE: &str = "";

/// Basic auth (Airflow's `basic_auth` API backend) or a bearer token.
pub enum AirflowAuth {
    Basic { user: String, password: String },
    Bearer(String),
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
        })
    }

    fn status(&self) -> String {
        match self {
            AirflowAuth::Basic { user, .. } => format!("basic auth as {user}"),
            AirflowAuth::Bearer(_) => "bearer token".into(),
        }
    }
}

/// A DAG run filter for `POST /dags/~/dagRuns/list`.
#[derive(Debug, Clone)]
pub struct RunFilter {
    pub dag_ids: Vec<String>,
    pub states: Vec<String>,
    pub started_after: DateTime<Utc>,
    pub started_before: DateTime<Utc>,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Clone)]
pub struct AirflowApi {
    client: Arc<RestClient>,
    /// `…/api/v1`
    base: Url,
}

impl AirflowApi {
    pub fn new(client: Arc<RestClient>, base_url: &Url) -> AirflowApi {
        AirflowApi {
            client,
            base: url_with(base_url, &["api", "v1"], &[]),
        }
    }

    pub fn auth_status(&self) -> String {
        self.client.authorizer().status()
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        url_with(&self.base, segments, query)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, what: &str) -> Result<T, RestError> {
        let body = self.client.send(&Call::get(url, NO_SCOPE)).await?;
        parse(body, what)
    }

    /// `GET /health` and `GET /version`.
    pub async fn health(&self) -> Result<(Value, String), RestError> {
        let health = self
            .client
            .send(&Call::get(self.url(&["health"], &[]), NO_SCOPE))
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
    pub async fn dag_runs(&self, filter: &RunFilter) -> Result<(Vec<DagRun>, usize), RestError> {
        let mut body = json!({
            "order_by": "-start_date",
            "page_offset": filter.offset,
            "page_limit": filter.limit.min(PAGE),
            "start_date_gte": airflow_time(filter.started_after),
            "start_date_lte": airflow_time(filter.started_before),
        });
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
        let total = collection.total_entries.unwrap_or(0) as usize;
        Ok((collection.dag_runs, total))
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
        let url = self.url(
            &[
                "dags",
                dag_id,
                "dagRuns",
                dag_run_id,
                "taskInstances",
                task_id,
                "logs",
                &try_text,
            ],
            &query,
        );
        self.client.send_text(&Call::get(url, NO_SCOPE)).await
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
