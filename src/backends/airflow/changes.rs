//! What changed in Airflow: its audit log (`GET /eventLogs`: clears,
//! triggers, pauses, variable, connection and pool changes, by whom, from
//! where) and, on Airflow 3, new DAG versions (`GET /dags/{dag_id}/dagVersions`:
//! a DAG's code changed). Read-only; every read is bounded in pages.

pub mod event;

use async_trait::async_trait;
use chrono::Duration;
use serde_json::Value;

use self::event::{EventLog, change_of};
use super::AirflowBackend;
use super::api::{ApiVersion, PAGE};
use super::wire::airflow_time;
use crate::backends::{BackendError, ChangeSource, ChangeWindow};
use crate::model::change::{Change, ChangeKind};
use crate::model::time::parse_service_instant;
use crate::support::terminal::for_screen;
use crate::support::text::clip;

/// Most audit log pages read for one question (of 100 records each).
const MAX_PAGES: usize = 10;
/// Most DAGs whose versions are read for one question.
const MAX_DAGS_FOR_VERSIONS: usize = 50;
/// Newest versions read per DAG.
const VERSIONS_PER_DAG: usize = 10;
pub const VERSIONS_SOURCE: &str = "airflow dag versions";

#[async_trait]
impl ChangeSource for AirflowBackend {
    fn change_source(&self) -> String {
        format!("airflow/{} audit log", self.environment)
    }

    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        if window.limit == 0 || window.from >= window.to {
            return Ok(Vec::new());
        }
        let mut changes = self.audit_log(window).await?;
        if self.api.version == ApiVersion::V2 {
            match self.dag_versions(window).await {
                Ok(versions) => changes.extend(versions),
                // The audit log stands on its own; the gap is in the log file.
                Err(e) => tracing::warn!("Airflow DAG versions unreadable: {e}"),
            }
        }
        changes.sort_by(|a, b| b.at.cmp(&a.at));
        changes.truncate(window.limit);
        Ok(changes)
    }
}

impl AirflowBackend {
    /// The audit log's change-like records in the window, newest first.
    async fn audit_log(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        // Whole seconds on the wire (every release parses them); a second
        // either side, and the window is applied exactly below.
        let after = airflow_time(window.from - Duration::seconds(1));
        let before = airflow_time(window.to + Duration::seconds(1));
        let airflow3 = self.api.version == ApiVersion::V2;
        let mut changes = Vec::new();
        let mut offset = 0;
        for page in 0..MAX_PAGES {
            let answer = self
                .api
                .event_logs(&after, &before, offset, PAGE)
                .await
                .map_err(|e| self.error(e, "airflow", "the audit log (event logs)"))?;
            let records = answer
                .get("event_logs")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    BackendError::Unavailable(
                        "Airflow's event log answer has no event_logs list: is AIRFLOW_URL the Airflow webserver?"
                            .into(),
                    )
                })?;
            offset += records.len();
            let mut unreadable = 0;
            for record in records {
                match serde_json::from_value::<EventLog>(record.clone()) {
                    Ok(record) => changes
                        .extend(change_of(&record, airflow3).filter(|c| window.contains(c.at))),
                    Err(_) => unreadable += 1,
                }
            }
            if unreadable > 0 {
                tracing::warn!(
                    "{unreadable} Airflow event log record(s) of unexpected shape skipped"
                );
            }
            if records.len() < PAGE || changes.len() >= window.limit {
                break;
            }
            if page + 1 == MAX_PAGES {
                tracing::warn!(
                    "Airflow's audit log has more than {} records in {}..{}; the oldest were not read",
                    MAX_PAGES * PAGE,
                    window.from,
                    window.to
                );
            }
        }
        Ok(changes)
    }

    /// New versions of the DAGs Airflow lists (Airflow 3), in the window.
    async fn dag_versions(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        let dags = self
            .api
            .dags()
            .await
            .map_err(|e| self.error(e, "airflow", self.api_base()))?;
        if dags.len() > MAX_DAGS_FOR_VERSIONS {
            tracing::warn!(
                "Airflow lists {} DAGs; versions are read for the first {MAX_DAGS_FOR_VERSIONS}",
                dags.len()
            );
        }
        let mut changes = Vec::new();
        for dag in dags.iter().take(MAX_DAGS_FOR_VERSIONS) {
            let answer = self
                .api
                .dag_versions(&dag.dag_id, VERSIONS_PER_DAG)
                .await
                .map_err(|e| self.error(e, "DAG", &dag.dag_id))?;
            let versions = answer
                .get("dag_versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            changes.extend(
                versions
                    .filter_map(version_change)
                    .filter(|c| window.contains(c.at)),
            );
        }
        Ok(changes)
    }
}

/// A DAG version (`DagVersionResponse`) as a deployment: the DAG's code, as
/// the DAG processor parsed it, changed then. Who changed it Airflow does not
/// know; the bundle's version (a git commit for git bundles) says what.
pub fn version_change(version: &Value) -> Option<Change> {
    let at = parse_service_instant(version.get("created_at").and_then(Value::as_str))?;
    let dag = version.get("dag_id").and_then(Value::as_str)?.trim();
    if dag.is_empty() {
        return None;
    }
    let dag = clip(&for_screen(dag), 200);
    let number = version.get("version_number").and_then(Value::as_i64)?;
    let text = |key: &str| {
        version
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| clip(&for_screen(s.trim()), 200))
    };
    let bundle = text("bundle_name");
    let bundle_version = text("bundle_version");
    let what = if number <= 1 {
        format!("first version of DAG {dag} parsed")
    } else {
        format!("DAG {dag} changed: version {number} parsed")
    };
    let from = match (&bundle, &bundle_version) {
        (Some(b), Some(v)) => format!(" from bundle {b} at {v}"),
        (Some(b), None) => format!(" from bundle {b}"),
        (None, Some(v)) => format!(" at bundle version {v}"),
        (None, None) => String::new(),
    };
    Some(Change {
        at,
        actor: "unknown".into(),
        operation: "dag_version".into(),
        kind: ChangeKind::Deployment,
        resource_id: Some(format!("{dag}@v{number}")),
        summary: format!("{what}{from}"),
        origin: text("bundle_url").or(bundle),
        status: None,
        source: VERSIONS_SOURCE.into(),
        touches: Vec::new(),
        resource: dag,
        resource_type: "dag".into(),
    })
}
