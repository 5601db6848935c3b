//! What changed in Airflow: its audit log (`GET /eventLogs`: clears,
//! triggers, pauses, variable, connection and pool changes, by whom, from
//! where) and, on Airflow 3, new DAG versions (`GET /dags/{dag_id}/dagVersions`:
//! a DAG's code changed). Read-only; every read is bounded in pages.

pub mod event;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
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
        changes.sort_by_key(|c| std::cmp::Reverse(c.at));
        changes.truncate(window.limit);
        Ok(changes)
    }
}

impl AirflowBackend {
    /// The audit log's change-like records in the window, newest first.
    async fn audit_log(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        let (changes, complete) = self.audit_log_of(window, None).await?;
        if !complete {
            tracing::warn!(
                "Airflow's audit log has more than {} records in {}..{}; the oldest were not read",
                MAX_PAGES * PAGE,
                window.from,
                window.to
            );
        }
        Ok(changes)
    }

    /// The clears of run `dag_id/dag_run_id` (or of its whole DAG, which may
    /// have cleared it) recorded in the audit log since `since`: Airflow
    /// re-runs in place, so a clear is a rerun. Dry runs of a clear are not
    /// counted. A log too long to read whole is an error, never a short count.
    pub(super) async fn clears_since(
        &self,
        dag_id: &str,
        dag_run_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, BackendError> {
        let window = ChangeWindow {
            from: since,
            to: self.clock.now() + Duration::seconds(1),
            limit: MAX_PAGES * PAGE,
        };
        let (changes, complete) = self.audit_log_of(&window, Some(dag_id)).await?;
        if !complete {
            return Err(BackendError::Unavailable(format!(
                "Airflow's audit log holds more than {} records of DAG {dag_id} since {since}; its clears cannot be counted",
                MAX_PAGES * PAGE
            )));
        }
        let run = event::run_resource_id(dag_id, dag_run_id);
        Ok(changes
            .into_iter()
            .filter(|c| event::is_clear(&c.operation))
            .filter(|c| match &c.resource_id {
                Some(id) => *id == run,
                // A clear of the DAG without a run named may have cleared this one.
                None => c.resource == event::dag_resource(dag_id),
            })
            .map(|c| (format!("{} at {}", c.operation, c.at.to_rfc3339()), c.at))
            .collect())
    }

    /// The audit log's change-like records in the window (of one DAG, when
    /// named), newest first, and whether it was read whole.
    async fn audit_log_of(
        &self,
        window: &ChangeWindow,
        dag_id: Option<&str>,
    ) -> Result<(Vec<Change>, bool), BackendError> {
        // Whole seconds on the wire (every release parses them); a second
        // either side, and the window is applied exactly below.
        let after = airflow_time(window.from - Duration::seconds(1));
        let before = airflow_time(window.to + Duration::seconds(1));
        let airflow3 = self.api.version == ApiVersion::V2;
        let mut changes = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let answer = self
                .api
                .event_logs(&after, &before, dag_id, offset, PAGE)
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
            let oldest = take_page(records, airflow3, window, &mut seen, &mut changes);
            // Newest first: a page reaching before the window ends the reading
            // (also where a server ignores `after`).
            let past_window = oldest.is_some_and(|t| t < window.from);
            if records.len() < PAGE || changes.len() >= window.limit || past_window {
                return Ok((changes, true));
            }
        }
        Ok((changes, false))
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

/// The changes of one page of records in the window, each record once;
/// returns the page's oldest time.
fn take_page(
    records: &[Value],
    airflow3: bool,
    window: &ChangeWindow,
    seen: &mut HashSet<i64>,
    changes: &mut Vec<Change>,
) -> Option<DateTime<Utc>> {
    let mut oldest: Option<DateTime<Utc>> = None;
    let mut unreadable = 0;
    for record in records {
        let Ok(record) = serde_json::from_value::<EventLog>(record.clone()) else {
            unreadable += 1;
            continue;
        };
        // Records logged while paging push older ones onto the next page.
        if record.event_log_id.is_some_and(|id| !seen.insert(id)) {
            continue;
        }
        if let Some(at) = parse_service_instant(record.when.as_deref()) {
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
        }
        changes.extend(change_of(&record, airflow3).filter(|c| window.contains(c.at)));
    }
    if unreadable > 0 {
        tracing::warn!("{unreadable} Airflow event log record(s) of unexpected shape skipped");
    }
    oldest
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_page_is_read_once_per_record_within_the_window() {
        let record = |id: i64, when: &str| {
            json!({"event_log_id": id, "when": when, "event": "api.patch_dag", "dag_id": "d",
                   "owner": "ops", "extra": "{\"is_paused\": true}"})
        };
        let window = ChangeWindow {
            from: at("2026-11-23T01:00:00Z"),
            to: at("2026-11-23T02:00:00Z"),
            limit: 10,
        };
        let page = vec![
            record(3, "2026-11-23T02:30:00Z"),
            record(2, "2026-11-23T01:30:00Z"),
            record(2, "2026-11-23T01:30:00Z"),
            json!("not a record"),
            record(1, "2026-11-23T00:30:00Z"),
        ];
        let mut seen = HashSet::new();
        let mut changes = Vec::new();
        let oldest = take_page(&page, false, &window, &mut seen, &mut changes);
        assert_eq!(oldest, Some(at("2026-11-23T00:30:00Z")));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].at, at("2026-11-23T01:30:00Z"));
        // The same record on the next page (pushed down by a newer one) is not counted again.
        take_page(&page[1..2], false, &window, &mut seen, &mut changes);
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn dag_versions_are_deployments() {
        let path = format!(
            "{}/fixtures/airflow/dagversions.airflow-3.1.3.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let answer: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let first = version_change(&answer["dag_versions"][0]).unwrap();
        assert_eq!(first.kind, ChangeKind::Deployment);
        assert_eq!(first.resource, "nightly_orders");
        assert_eq!(first.resource_id.as_deref(), Some("nightly_orders@v1"));
        assert_eq!(
            first.summary,
            "first version of DAG nightly_orders parsed from bundle dags-folder"
        );
        assert_eq!(first.actor, "unknown");
        let git = version_change(&json!({
            "dag_id": "nightly_orders", "version_number": 3, "created_at": "2026-11-23T01:05:00Z",
            "bundle_name": "repo", "bundle_version": "9f2c1ab",
            "bundle_url": "https://git.example.com/dags/commit/9f2c1ab"
        }))
        .unwrap();
        assert_eq!(
            git.summary,
            "DAG nightly_orders changed: version 3 parsed from bundle repo at 9f2c1ab"
        );
        assert_eq!(
            git.origin.as_deref(),
            Some("https://git.example.com/dags/commit/9f2c1ab")
        );
        for broken in [
            json!({"dag_id": "d", "version_number": 2}),
            json!({"dag_id": " ", "version_number": 2, "created_at": "2026-11-23T01:05:00Z"}),
            json!({"dag_id": "d", "created_at": "2026-11-23T01:05:00Z"}),
        ] {
            assert_eq!(version_change(&broken), None, "{broken}");
        }
    }
}
