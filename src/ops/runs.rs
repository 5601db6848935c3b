//! Runs across the backends: every run a query matches, one run in depth, and
//! what an activity run's attempts and output say.

use std::collections::BTreeMap;

use crate::backends::{Backends, RunQuery};
use crate::model::contract::{RunDetails, RunRef};
use crate::model::run::{ActivityRun, PipelineRun, RunStatus};
use crate::ops::error::{OpsError, Outcome};
use crate::support::text::clip;

/// Activity types that only wrap others: their errors repeat an inner activity's.
pub const CONTAINER_TYPES: &[&str] = &[
    "ExecutePipeline",
    "IfCondition",
    "ForEach",
    "Until",
    "Switch",
];

/// Every run matching `query` across all backends, newest first, following
/// pages; an error when any backend that should answer cannot.
pub async fn all_runs(
    backends: &Backends,
    query: RunQuery,
    max: usize,
) -> Result<Vec<PipelineRun>, OpsError> {
    let found = backends.runs_in_part(&query, max).await;
    if !found.unreached.is_empty() {
        let of = backends.pipelines.len();
        return Err(crate::backends::mixed::unanswered(found.unreached, of).into());
    }
    Ok(found.runs)
}

/// The activities whose final attempt failed, excluding wrappers.
pub fn failed_leaf_activities(activities: &[ActivityRun]) -> Vec<&ActivityRun> {
    let mut last: BTreeMap<&str, &ActivityRun> = BTreeMap::new();
    for activity in activities {
        let entry = last
            .entry(activity.activity_name.as_str())
            .or_insert(activity);
        if activity.attempt >= entry.attempt {
            *entry = activity;
        }
    }
    let mut failed: Vec<&ActivityRun> = last
        .into_values()
        .filter(|a| {
            a.status == RunStatus::Failed && !CONTAINER_TYPES.contains(&a.activity_type.as_str())
        })
        .collect();
    failed.sort_by_key(|a| a.start);
    failed
}

/// Rows an activity reports, from the output shapes ADF and Databricks use.
pub fn rows_of(activity: &ActivityRun) -> Option<u64> {
    let out = &activity.output;
    out.get("rowsCopied")
        .or_else(|| out.pointer("/runOutput/rows_in"))
        .or_else(|| out.get("rowsRead"))
        .and_then(|v| v.as_u64())
}

/// Rows an activity wrote (Copy `rowsCopied`, notebook `runOutput.rows_out`), when known.
pub fn rows_written(activity: &ActivityRun) -> Option<u64> {
    let out = &activity.output;
    out.get("rowsCopied")
        .or_else(|| out.pointer("/runOutput/rows_out"))
        .and_then(|v| v.as_u64())
}

fn run_ref(run: PipelineRun) -> RunRef {
    RunRef {
        run_id: run.run_id,
        pipeline: run.pipeline,
        status: run.status,
    }
}

/// One run in depth: every activity attempt, the failed ones, the child runs
/// its ExecutePipeline activities started and the run that started it.
pub async fn run_details(backends: &Backends, run_id: &str) -> Outcome<RunDetails> {
    let (backend, run) = backends.find_run(run_id).await?;
    let activities = backend.activity_runs(run_id).await?;
    let failed_activities: Vec<String> = failed_leaf_activities(&activities)
        .iter()
        .map(|a| a.activity_name.clone())
        .collect();
    let mut child_runs = Vec::new();
    for activity in activities
        .iter()
        .filter(|a| a.activity_type == "ExecutePipeline")
    {
        if let Some(child_id) = activity
            .output
            .get("pipelineRunId")
            .and_then(|v| v.as_str())
            && let Some(child) = backend.get_run(child_id).await?
        {
            child_runs.push(run_ref(child));
        }
    }
    let parent_run = match &run.invoked_by.parent_run_id {
        Some(parent_id) => backend.get_run(parent_id).await?.map(run_ref),
        None => None,
    };
    let mut summary = format!(
        "[{}] run {} of {}: {}, {} activity attempts",
        backends.label,
        run.run_id,
        run.pipeline,
        run.status,
        activities.len()
    );
    if !failed_activities.is_empty() {
        summary.push_str(&format!("; failed: {}", failed_activities.join(", ")));
    }
    if !run.message.is_empty() {
        summary.push_str(&format!("; {}", clip(&run.message, 400)));
    }
    if let Some(parent) = &parent_run {
        summary.push_str(&format!(
            "; started by {} run {}",
            parent.pipeline, parent.run_id
        ));
    }
    Ok((
        summary,
        RunDetails {
            run,
            activities,
            failed_activities,
            child_runs,
            parent_run,
        },
    ))
}
