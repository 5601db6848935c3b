//! Failures over a window grouped by pipeline, activity and error code: what
//! is failing, how often, since when, with a sample message and example runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::backends::{Backends, RunQuery};
use crate::model::contract::{FailureGroup, FailuresResult};
use crate::model::run::{ActivityRun, PipelineRun, RunStatus};
use crate::model::time::TimeWindow;
use crate::ops::error::{OpsError, Outcome};
use crate::ops::runs::failed_leaf_activities;
use crate::support::text::clip;

/// The most failed runs one summary groups (the newest): bounds the activity
/// lookups and memory of one call, whatever the window.
pub const MAX_FAILED_RUNS_GROUPED: usize = 2_000;

/// Runs whose details are fetched at once (ARM allows bursts, not floods).
const DETAIL_FETCH_CONCURRENCY: usize = 6;

/// The activity runs of many runs, fetched a few at a time: fast against a
/// real service without flooding its request budget. In the order of `runs`.
async fn activities_of(
    backends: &Backends,
    runs: &[PipelineRun],
) -> Result<Vec<Vec<ActivityRun>>, OpsError> {
    let mut all = Vec::with_capacity(runs.len());
    for chunk in runs.chunks(DETAIL_FETCH_CONCURRENCY) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|run| activities_for(backends, &run.run_id))
            .collect();
        all.extend(futures::future::try_join_all(pending).await?);
    }
    Ok(all)
}

async fn activities_for(backends: &Backends, run_id: &str) -> Result<Vec<ActivityRun>, OpsError> {
    let (backend, _) = backends.find_run(run_id).await?;
    Ok(backend.activity_runs(run_id).await?)
}

/// The failed runs in `window` (of `pipeline` only, when given), grouped.
pub async fn failures(
    backends: &Backends,
    window: TimeWindow,
    pipeline: Option<&str>,
) -> Outcome<FailuresResult> {
    if let Some(pipeline) = pipeline {
        backends.backend_for_pipeline(pipeline).await?;
    }
    let query = RunQuery {
        pipelines: pipeline.iter().map(|p| p.to_string()).collect(),
        statuses: vec![RunStatus::Failed],
        window,
        limit: 500,
        continuation: None,
    };
    // A mixed estate groups what answered and names what did not.
    let (runs, missing) = backends
        .runs_in_part(&query, MAX_FAILED_RUNS_GROUPED)
        .await
        .answered(backends.pipelines.len())?;
    let mut groups: BTreeMap<(String, String, String), FailureGroup> = BTreeMap::new();
    let details = activities_of(backends, &runs).await?;
    for (run, activities) in runs.iter().zip(details) {
        for activity in failed_leaf_activities(&activities) {
            let code = activity
                .error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_default();
            let key = (
                run.pipeline.clone(),
                activity.activity_name.clone(),
                code.clone(),
            );
            let group = groups.entry(key).or_insert_with(|| FailureGroup {
                pipeline: run.pipeline.clone(),
                activity: activity.activity_name.clone(),
                activity_type: activity.activity_type.clone(),
                error_code: code,
                count: 0,
                first_seen: None,
                last_seen: None,
                sample_message: activity
                    .error
                    .as_ref()
                    .map(|e| clip(&e.message, 500))
                    .unwrap_or_default(),
                run_ids: Vec::new(),
            });
            group.count += 1;
            group.first_seen = min_opt(group.first_seen, activity.start);
            group.last_seen = max_opt(group.last_seen, activity.start);
            if group.run_ids.len() < 5 {
                group.run_ids.push(run.run_id.clone());
            }
        }
    }
    let mut groups: Vec<FailureGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.pipeline.cmp(&b.pipeline))
    });
    let top: Vec<String> = groups
        .iter()
        .take(5)
        .map(|g| {
            format!(
                "{}/{} {} ×{}",
                g.pipeline, g.activity, g.error_code, g.count
            )
        })
        .collect();
    let summary = if runs.is_empty() {
        format!(
            "[{}] no failed runs between {} and {}",
            backends.label,
            window.since.to_rfc3339(),
            window.until.to_rfc3339()
        )
    } else {
        format!(
            "[{}] {} failed runs in {} groups; top: {}",
            backends.label,
            runs.len(),
            groups.len(),
            top.join("; ")
        )
    };
    Ok((
        summary + &missing,
        FailuresResult {
            window_since: window.since,
            window_until: window.until,
            failed_runs: runs.len(),
            groups,
        },
    ))
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}
