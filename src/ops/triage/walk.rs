//! The walk itself: from a failed run down through the child runs its
//! ExecutePipeline activities started to the failing leaf activity, and from a
//! pipeline to the nearest failing one upstream.

use chrono::Duration;

use super::Diagnosis;
use super::gaps::Gaps;
use crate::backends::{Backends, RunQuery};
use crate::model::contract::FailureStep;
use crate::model::estate::EstateCatalog;
use crate::model::run::{PipelineRun, RunError, RunStatus};
use crate::ops::classify::classify;
use crate::ops::error::OpsError;
use crate::ops::runs::failed_leaf_activities;

pub(super) async fn latest_failed_run(
    backends: &Backends,
    pipeline: &str,
) -> Result<PipelineRun, OpsError> {
    let backend = backends.backend_for_pipeline(pipeline).await?;
    let now = backends.clock.now();
    crate::backends::latest_failed_run(backend.as_ref(), pipeline, now)
        .await?
        .ok_or_else(|| {
            OpsError::not_found(format!(
                "{pipeline} has no failed run in the last 7 days; get_pipeline_status shows how it is doing"
            ))
        })
}

/// Follows a failed run down through child runs to the failing leaf
/// activity. What cannot be read stops the descent where it is, noted in
/// `gaps`; the run's own message is classified then.
pub(super) async fn diagnose(backends: &Backends, run: &PipelineRun, gaps: &mut Gaps) -> Diagnosis {
    let mut path = Vec::new();
    let mut current = run.clone();
    for _ in 0..8 {
        let activities_of = format!("activity runs of run {}", current.run_id);
        let Some((backend, _)) = gaps.read(
            activities_of.clone(),
            backends.find_run(&current.run_id).await,
        ) else {
            break;
        };
        let Some(activities) =
            gaps.read(activities_of, backend.activity_runs(&current.run_id).await)
        else {
            break;
        };
        let failed_child = activities
            .iter()
            .filter(|a| a.activity_type == "ExecutePipeline" && a.status == RunStatus::Failed)
            .find_map(|a| {
                a.output
                    .get("pipelineRunId")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
        if let Some(child_id) = failed_child
            && let Some(Some(child)) = gaps.read(
                format!("child run {child_id}"),
                backend.get_run(&child_id).await,
            )
        {
            current = child;
            continue;
        }
        if let Some(leaf) = failed_leaf_activities(&activities).first() {
            let error = leaf.error.clone().unwrap_or(RunError {
                code: String::new(),
                message: current.message.clone(),
                failure_type: None,
            });
            path.push(FailureStep {
                pipeline: current.pipeline.clone(),
                run_id: current.run_id.clone(),
                activity: leaf.activity_name.clone(),
                activity_type: leaf.activity_type.clone(),
                error_code: error.code.clone(),
                message: error.message.clone(),
            });
            let finding = classify(&error.code, &error.message);
            return Diagnosis {
                path,
                category: finding.category,
                finding,
                pipeline: current.pipeline,
                run_id: current.run_id,
            };
        }
        break;
    }
    let finding = classify("", &current.message);
    Diagnosis {
        path,
        category: finding.category,
        finding,
        pipeline: current.pipeline,
        run_id: current.run_id,
    }
}

/// The nearest upstream pipeline whose latest finished run failed.
pub(super) async fn failing_upstream(
    backends: &Backends,
    catalog: &EstateCatalog,
    pipeline: &str,
) -> Result<Option<PipelineRun>, OpsError> {
    for reached in catalog.upstream_of(pipeline, 6) {
        if let Ok(run) = latest_failed_run(backends, &reached.pipeline).await {
            let status = pipeline_latest_terminal(backends, &reached.pipeline).await?;
            if status == Some(RunStatus::Failed) {
                return Ok(Some(run));
            }
        }
    }
    Ok(None)
}

async fn pipeline_latest_terminal(
    backends: &Backends,
    pipeline: &str,
) -> Result<Option<RunStatus>, OpsError> {
    let backend = backends.backend_for_pipeline(pipeline).await?;
    let now = backends.clock.now();
    let query = RunQuery::recent(pipeline, vec![], now, Duration::days(2), 20);
    Ok(backend
        .query_runs(&query)
        .await?
        .runs
        .into_iter()
        .map(|r| r.status)
        .find(RunStatus::is_terminal))
}
