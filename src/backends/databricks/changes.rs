//! What changed in a Databricks workspace: the events of the clusters its
//! jobs run on and of its all-purpose clusters (`POST /api/2.1/clusters/events`:
//! edits, resizes, starts, restarts, terminations with their reason), and
//! jobs created in the window (`jobs/list`: `created_time`,
//! `creator_user_name`). The Jobs API keeps no history of job settings, so
//! an edit of a job's settings is not seen here (it is in the workspace's
//! audit logs, `system.access.audit`, which this backend does not read).

pub mod event;

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::{Value, json};

use self::event::{CHANGE_TYPES, ClusterRef, change_of};
use super::wire::millis;
use super::{AZURE_DATABRICKS_SCOPE, DatabricksBackend};
use crate::backends::http::{Call, url_with};
use crate::backends::{BackendError, ChangeSource, ChangeWindow};
use crate::model::change::{Change, ChangeKind};
use crate::support::terminal::for_screen;
use crate::support::text::clip;

pub const JOBS_SOURCE: &str = "databricks jobs";
/// Most clusters whose events are read for one question.
const MAX_CLUSTERS: usize = 20;
/// Most event pages read per cluster.
const MAX_EVENT_PAGES: usize = 5;
/// Events per page (the API allows up to 500).
const EVENT_PAGE: usize = 100;
/// Who may read a cluster's events.
const CLUSTER_ROLE: &str = "a token of a user or service principal that can see the cluster (Can Attach To or better) to read its events";
/// Most `jobs/list` pages (of 25) read.
const MAX_JOB_PAGES: usize = 40;

#[async_trait]
impl ChangeSource for DatabricksBackend {
    fn change_source(&self) -> String {
        format!("databricks/{} cluster events", self.environment)
    }

    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        if window.limit == 0 || window.from >= window.to {
            return Ok(Vec::new());
        }
        let (jobs, mut clusters) = self.jobs_and_their_clusters().await?;
        let mut changes: Vec<Change> = jobs
            .iter()
            .filter_map(job_created)
            .filter(|c| window.contains(c.at))
            .collect();
        self.add_workspace_clusters(&mut clusters).await;
        if clusters.len() > MAX_CLUSTERS {
            tracing::warn!(
                "{} Databricks clusters; events are read for {MAX_CLUSTERS}, those jobs use first",
                clusters.len()
            );
        }
        for cluster in clusters.values().take(MAX_CLUSTERS) {
            changes.extend(self.cluster_changes(cluster, window).await?);
        }
        changes.sort_by_key(|c| std::cmp::Reverse(c.at));
        changes.truncate(window.limit);
        if let Some(host) = self.base.host_str() {
            in_workspace(&mut changes, host);
        }
        Ok(changes)
    }
}

/// Names the workspace in every change: a cluster known only by its id is
/// still in the workspace a pipeline's Databricks connection points at, and
/// shares its quota and capacity.
fn in_workspace(changes: &mut [Change], host: &str) {
    let host = host.to_ascii_lowercase();
    for change in changes {
        if !change.touches.iter().any(|t| t.eq_ignore_ascii_case(&host)) {
            change.touches.push(host.clone());
        }
    }
}

impl DatabricksBackend {
    /// `…/api/2.1/{segments}`: the Jobs API base without its `jobs`.
    fn api_url(&self, segments: &[&str]) -> Url {
        let mut api = self.base.clone();
        if let Ok(mut path) = api.path_segments_mut() {
            path.pop();
        }
        url_with(&api, segments, &[])
    }

    /// Every job (bounded) and the existing clusters their tasks run on,
    /// keyed so that clusters jobs use come first.
    async fn jobs_and_their_clusters(
        &self,
    ) -> Result<(Vec<Value>, BTreeMap<(u8, String), ClusterRef>), BackendError> {
        let mut jobs = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_JOB_PAGES {
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
            let got = page["jobs"].as_array().cloned().unwrap_or_default();
            offset += got.len();
            // An empty page that claims more would page forever.
            let more = page["has_more"].as_bool().unwrap_or(false) && !got.is_empty();
            jobs.extend(got);
            if !more {
                break;
            }
        }
        let mut clusters: BTreeMap<(u8, String), ClusterRef> = BTreeMap::new();
        for job in &jobs {
            let job_name = job["settings"]["name"].as_str().map(str::to_string);
            let job_id = job["job_id"].as_i64().map(|id| id.to_string());
            let tasks = job["settings"]["tasks"].as_array().into_iter().flatten();
            for id in tasks.filter_map(|t| t["existing_cluster_id"].as_str()) {
                let entry = clusters
                    .entry((0, id.to_string()))
                    .or_insert_with(|| ClusterRef {
                        cluster_id: id.to_string(),
                        ..ClusterRef::default()
                    });
                for name in job_name.iter().chain(job_id.iter()) {
                    if !entry.jobs.contains(name) {
                        entry.jobs.push(name.clone());
                    }
                }
            }
        }
        Ok((jobs, clusters))
    }

    /// Names the clusters jobs use and adds the all-purpose ones
    /// (`GET /api/2.1/clusters/list`, one page). Job clusters live for one run
    /// and are left out. A workspace that refuses the list keeps the jobs' clusters.
    async fn add_workspace_clusters(&self, clusters: &mut BTreeMap<(u8, String), ClusterRef>) {
        let url = url_with(
            &self.api_url(&["clusters", "list"]),
            &[],
            &[("page_size", "100")],
        );
        let listed = match self.get(url).await {
            Ok(answer) => answer["clusters"].as_array().cloned().unwrap_or_default(),
            Err(e) => {
                tracing::warn!(
                    "Databricks clusters/list unreadable, reading only the jobs' clusters: {e}"
                );
                return;
            }
        };
        for cluster in listed {
            let Some(id) = cluster["cluster_id"].as_str() else {
                continue;
            };
            let name = cluster["cluster_name"].as_str().map(str::to_string);
            if let Some(used) = clusters.get_mut(&(0, id.to_string())) {
                used.name = name;
            } else if cluster["cluster_source"].as_str() != Some("JOB") {
                clusters.insert(
                    (1, id.to_string()),
                    ClusterRef {
                        cluster_id: id.to_string(),
                        name,
                        jobs: Vec::new(),
                    },
                );
            }
        }
    }

    /// The change events of one cluster in the window, newest first, paged
    /// by `next_page_token` (or, from servers before it, the `next_page` request).
    async fn cluster_changes(
        &self,
        cluster: &ClusterRef,
        window: &ChangeWindow,
    ) -> Result<Vec<Change>, BackendError> {
        let url = self.api_url(&["clusters", "events"]);
        let mut body = json!({
            "cluster_id": cluster.cluster_id,
            "start_time": window.from.timestamp_millis(),
            "end_time": window.to.timestamp_millis(),
            "order": "DESC",
            "event_types": CHANGE_TYPES,
            "page_size": EVENT_PAGE,
        });
        let mut changes = Vec::new();
        for _ in 0..MAX_EVENT_PAGES {
            let answer = match self
                .client
                .send(&Call::query(url.clone(), AZURE_DATABRICKS_SCOPE, &body))
                .await
            {
                Ok(answer) => answer,
                // A cluster deleted, or terminated more than 30 days ago, has no events.
                Err(e) if matches!(e.status(), Some(400 | 404)) => {
                    tracing::warn!(
                        "events of Databricks cluster {} unreadable: {e}",
                        cluster.cluster_id
                    );
                    return Ok(changes);
                }
                Err(e) => return Err(e.about("cluster", &cluster.cluster_id, CLUSTER_ROLE)),
            };
            let events = answer["events"].as_array().cloned().unwrap_or_default();
            changes.extend(
                events
                    .iter()
                    .filter_map(|e| change_of(e, cluster))
                    .filter(|c| window.contains(c.at)),
            );
            if changes.len() >= window.limit || events.is_empty() {
                break;
            }
            match next_page(&answer, &body) {
                Some(next) => body = next,
                None => break,
            }
        }
        Ok(changes)
    }
}

/// The request for the page after `answer`, if there is one.
fn next_page(answer: &Value, asked: &Value) -> Option<Value> {
    if let Some(token) = answer["next_page_token"].as_str().filter(|t| !t.is_empty()) {
        let mut next = asked.clone();
        next["page_token"] = json!(token);
        return Some(next);
    }
    // The deprecated form: the whole next request, offset included.
    let legacy = answer.get("next_page")?.as_object()?;
    let mut next = asked.clone();
    for (key, value) in legacy {
        next[key] = value.clone();
    }
    (next != *asked).then_some(next)
}

/// A job created in the window, by whom (`created_time`, `creator_user_name`).
fn job_created(job: &Value) -> Option<Change> {
    let at = millis(job["created_time"].as_i64())?;
    let id = job["job_id"].as_i64()?.to_string();
    let name = job["settings"]["name"]
        .as_str()
        .map(|n| clip(&for_screen(n.trim()), 200))
        .unwrap_or_else(|| format!("job {id}"));
    let actor = job["creator_user_name"]
        .as_str()
        .filter(|c| !c.trim().is_empty())
        .map(|c| clip(&for_screen(c.trim()), 200))
        .unwrap_or_else(|| "unknown".into());
    Some(Change {
        at,
        actor,
        operation: "jobs/create".into(),
        kind: ChangeKind::Lifecycle,
        summary: format!("job {name} created"),
        resource_type: "job".into(),
        touches: vec![id.clone()],
        resource_id: Some(id),
        resource: name,
        origin: None,
        status: None,
        source: JOBS_SOURCE.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_token_then_the_legacy_request() {
        let asked = json!({"cluster_id": "c", "page_size": 100});
        let next = next_page(&json!({"next_page_token": "abc"}), &asked).unwrap();
        assert_eq!(next["page_token"], "abc");
        assert_eq!(next["cluster_id"], "c");
        assert_eq!(next_page(&json!({"next_page_token": ""}), &asked), None);
        let legacy = next_page(
            &json!({"next_page": {"cluster_id": "c", "end_time": 5, "offset": 50}}),
            &asked,
        )
        .unwrap();
        assert_eq!(legacy["offset"], 50);
        assert_eq!(next_page(&json!({"events": []}), &asked), None);
        // A server repeating the request it was sent ends the paging.
        assert_eq!(
            next_page(&json!({"next_page": {"cluster_id": "c"}}), &asked),
            None
        );
    }

    #[test]
    fn a_job_is_created_by_its_creator() {
        let job = json!({"job_id": 987, "creator_user_name": "etl@contoso.com",
                         "created_time": 1740823200000_i64, "settings": {"name": "order_facts"}});
        let change = job_created(&job).unwrap();
        assert_eq!(change.actor, "etl@contoso.com");
        assert_eq!(change.resource, "order_facts");
        assert_eq!(change.resource_id.as_deref(), Some("987"));
        assert_eq!(change.kind, ChangeKind::Lifecycle);
        assert_eq!(change.at.to_rfc3339(), "2025-03-01T10:00:00+00:00");
        assert_eq!(job_created(&json!({"job_id": 1})), None);
        assert_eq!(job_created(&json!({"created_time": 1})), None);
    }
}
