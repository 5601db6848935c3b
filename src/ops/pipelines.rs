//! Pipelines and their runs: what exists, what ran, and how each pipeline is
//! doing.

use chrono::Duration;

use crate::backends::{Backends, RunQuery};
use crate::model::contract::{
    ListPipelinesResult, ListRunsResult, PipelineStatus, PipelineSummary, RunBrief,
};
use crate::model::run::{PipelineRun, RunStatus};
use crate::model::time::TimeWindow;
use crate::ops::error::{OpsError, Outcome};
use crate::ops::runs::all_runs;
use crate::support::text::clip;

/// The pipelines whose name contains `name_contains` (any case) in `folder`.
pub async fn list_pipelines(
    backends: &Backends,
    name_contains: Option<&str>,
    folder: Option<&str>,
) -> Outcome<ListPipelinesResult> {
    let catalog = backends.catalog().await?;
    let needle = name_contains.map(str::to_lowercase);
    let pipelines: Vec<PipelineSummary> = catalog
        .pipelines
        .iter()
        .filter(|p| {
            needle
                .as_ref()
                .is_none_or(|n| p.name.to_lowercase().contains(n))
        })
        .filter(|p| folder.is_none_or(|f| p.folder.as_deref() == Some(f)))
        .map(|p| {
            let mut types: Vec<String> = p
                .activities
                .iter()
                .map(|a| a.activity_type.clone())
                .collect();
            types.sort();
            types.dedup();
            PipelineSummary {
                name: p.name.clone(),
                backend: p.backend.as_str().to_string(),
                environment: p.environment.clone(),
                folder: p.folder.clone(),
                description: p.description.clone(),
                schedule: p.schedule.clone(),
                activity_count: p.activities.len(),
                activity_types: types,
            }
        })
        .collect();
    if pipelines.is_empty() && !catalog.pipelines.is_empty() {
        let mut folders: Vec<String> = catalog
            .pipelines
            .iter()
            .filter_map(|p| p.folder.clone())
            .collect();
        folders.sort();
        folders.dedup();
        return Err(OpsError::not_found(format!(
            "no pipeline matches those filters; there are {} pipelines in folders {}",
            catalog.pipelines.len(),
            folders.join(", ")
        )));
    }
    let summary = format!(
        "[{}] {} pipelines: {}{}",
        backends.label,
        pipelines.len(),
        clip(
            &pipelines
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            600
        ),
        not_included(&catalog.unreadable)
    );
    Ok((
        summary,
        ListPipelinesResult {
            count: pipelines.len(),
            pipelines,
        },
    ))
}

/// What a catalogue lacks because it could not be read (a backend of a mixed
/// estate, a kind of definition), said after the answer; empty when complete.
fn not_included(unreadable: &[crate::model::estate::UnreadableDefinitions]) -> String {
    let parts: Vec<String> = unreadable
        .iter()
        .map(|u| format!("{} ({})", u.what, clip(&u.why, 400)))
        .collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!(". NOT INCLUDED: {}", parts.join("; ")),
    }
}

/// One page of the runs `query` matches, newest first. One backend pages with
/// its own token; several are merged into one page.
pub async fn list_runs(backends: &Backends, query: RunQuery) -> Outcome<ListRunsResult> {
    for pipeline in &query.pipelines {
        backends.backend_for_pipeline(pipeline).await?;
    }
    let (window, limit) = (query.window, query.limit);
    let (runs, continuation, unreached) = match backends.pipelines.as_slice() {
        [single] => {
            let page = single.query_runs(&query).await?;
            (page.runs, page.continuation, String::new())
        }
        // A mixed estate answers with what it has and names what is missing.
        _ => {
            if let Some(token) = &query.continuation {
                return Err(OpsError::invalid(format!(
                    "continuation_token '{}' was not issued by this server: an estate of several backends answers in one page, newest first; narrow the window or raise the limit instead",
                    clip(token, 80)
                )));
            }
            let found = backends.runs_in_part(&query, limit).await;
            let (runs, missing) = found.answered(backends.pipelines.len())?;
            (runs, None, missing)
        }
    };
    let failed = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    let running = runs.iter().filter(|r| !r.status.is_terminal()).count();
    let summary = format!(
        "[{}] {} runs between {} and {}: {failed} failed, {running} queued or running{}",
        backends.label,
        runs.len(),
        window.since.format("%Y-%m-%d %H:%M"),
        window.until.format("%Y-%m-%d %H:%M UTC"),
        if continuation.is_some() {
            "; more pages available"
        } else {
            ""
        }
    ) + &unreached;
    Ok((
        summary,
        ListRunsResult {
            window_since: window.since,
            window_until: window.until,
            count: runs.len(),
            runs,
            continuation_token: continuation,
        },
    ))
}

/// How a pipeline is doing: its last runs, its failure streak, its 24-hour
/// success rate and its triggers' latest firings.
pub async fn pipeline_status(backends: &Backends, pipeline: &str) -> Outcome<PipelineStatus> {
    let backend = backends.backend_for_pipeline(pipeline).await?;
    let catalog = backend.catalog().await?;
    let now = backends.clock.now();
    let query = RunQuery::recent(pipeline, vec![], now, Duration::days(7), 500);
    let runs = all_runs(backends, query, 2_000).await?;
    let last_success = runs.iter().find(|r| r.status == RunStatus::Succeeded);
    let last_failure = runs.iter().find(|r| r.status == RunStatus::Failed).cloned();
    let consecutive_failures = runs
        .iter()
        .filter(|r| r.status.is_terminal())
        .take_while(|r| r.status == RunStatus::Failed)
        .count();
    let day: Vec<&PipelineRun> = runs
        .iter()
        .filter(|r| r.run_start.is_some_and(|s| s >= now - Duration::hours(24)))
        .collect();
    let finished_day: Vec<&&PipelineRun> = day.iter().filter(|r| r.status.is_terminal()).collect();
    let failed_24h = finished_day
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    let success_rate_24h = (!finished_day.is_empty())
        .then(|| (finished_day.len() - failed_24h) as f64 / finished_day.len() as f64);
    let state = match runs.first() {
        None => "no runs",
        Some(_) if consecutive_failures > 0 => "failing",
        Some(r) if !r.status.is_terminal() && failed_24h == 0 => "running",
        Some(_) if failed_24h > 0 => "degraded",
        Some(_) => "healthy",
    };
    let day_window = TimeWindow {
        since: now - Duration::hours(24),
        until: now + Duration::minutes(1),
    };
    let mut trigger_runs = backend.trigger_runs(pipeline, day_window).await?;
    trigger_runs.truncate(5);
    let mut summary = format!("[{}] {pipeline} is {state}", backends.label);
    if let Some(run) = runs.first() {
        summary.push_str(&format!("; last run {} {}", run.run_id, run.status));
    }
    if consecutive_failures > 0 {
        summary.push_str(&format!("; {consecutive_failures} failures in a row"));
    }
    if let Some(failure) = &last_failure {
        summary.push_str(&format!(
            "; last failure at {}: {}",
            failure
                .run_start
                .map(|t| t.format("%H:%M UTC").to_string())
                .unwrap_or_default(),
            clip(&failure.message, 300)
        ));
    }
    if let Some(fired) = trigger_runs.first() {
        summary.push_str(&format!(
            "; trigger {} last fired {} ({}{})",
            fired.trigger,
            fired
                .fired_at
                .map(|t| t.format("%H:%M UTC").to_string())
                .unwrap_or_default(),
            fired.status,
            if fired.message.is_empty() {
                String::new()
            } else {
                format!(": {}", clip(&fired.message, 200))
            }
        ));
    }
    match last_success {
        Some(ok) => summary.push_str(&format!(
            "; last success {}",
            ok.run_start
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        )),
        None => summary.push_str("; no success in the last 7 days"),
    }
    Ok((
        summary,
        PipelineStatus {
            pipeline: pipeline.to_string(),
            environment: backend.environment().to_string(),
            backend: backend.kind().as_str().to_string(),
            state: state.to_string(),
            schedule: catalog.pipeline(pipeline).and_then(|p| p.schedule.clone()),
            last_run: runs.first().cloned(),
            last_success: last_success.map(RunBrief::from),
            last_failure,
            consecutive_failures,
            runs_24h: day.len(),
            failed_24h,
            success_rate_24h,
            recent: runs.iter().take(10).map(RunBrief::from).collect(),
            trigger_runs,
        },
    ))
}
