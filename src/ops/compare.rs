//! A run (usually failed) against a good run of the same pipeline: status,
//! duration, attempts, rows and errors per activity, and the differences that
//! matter, one sentence each.

use crate::backends::{Backends, RunQuery};
use crate::model::contract::{ActivityComparison, CompareResult};
use crate::model::run::{ActivityRun, PipelineRun, RunStatus};
use crate::ops::error::{OpsError, Outcome};
use crate::ops::runs::rows_of;
use crate::support::text::clip;

/// Compares `run_id` with `baseline_run_id`, or by default with the latest
/// successful run of the same pipeline in the 7 days before it.
pub async fn compare_runs(
    backends: &Backends,
    run_id: &str,
    baseline_run_id: Option<&str>,
) -> Outcome<CompareResult> {
    let (backend, run) = backends.find_run(run_id).await?;
    let baseline = match baseline_run_id {
        Some(id) => {
            let (_, baseline) = backends.find_run(id).await?;
            if baseline.pipeline != run.pipeline {
                return Err(OpsError::invalid(format!(
                    "baseline run {id} is a run of {}, not {}; compare runs of the same pipeline",
                    baseline.pipeline, run.pipeline
                )));
            }
            baseline
        }
        None => {
            let until = run.run_start.unwrap_or_else(|| backends.clock.now());
            let query = RunQuery::before(
                &run.pipeline,
                vec![RunStatus::Succeeded],
                until,
                chrono::Duration::days(7),
                1,
            );
            backend.query_runs(&query).await?.runs.into_iter().next().ok_or_else(|| {
                OpsError::not_found(format!(
                    "no successful run of {} in the 7 days before {}; pass baseline_run_id to choose one",
                    run.pipeline,
                    until.to_rfc3339()
                ))
            })?
        }
    };
    let activities = backend.activity_runs(&run.run_id).await?;
    let baseline_activities = backend.activity_runs(&baseline.run_id).await?;
    let comparisons = compare_activities(&activities, &baseline_activities);
    let differences = differences(&run, &baseline, &comparisons);
    let summary = format!(
        "[{}] run {} ({}) vs baseline {} ({}): {}",
        backends.label,
        run.run_id,
        run.status,
        baseline.run_id,
        baseline.status,
        if differences.is_empty() {
            "no notable differences".to_string()
        } else {
            differences.join("; ")
        }
    );
    Ok((
        summary,
        CompareResult {
            run,
            baseline,
            differences,
            activities: comparisons,
        },
    ))
}

fn compare_activities(run: &[ActivityRun], baseline: &[ActivityRun]) -> Vec<ActivityComparison> {
    let mut names: Vec<&str> = Vec::new();
    for a in run.iter().chain(baseline) {
        if !names.contains(&a.activity_name.as_str()) {
            names.push(&a.activity_name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let attempts: Vec<&ActivityRun> =
                run.iter().filter(|a| a.activity_name == name).collect();
            let base: Vec<&ActivityRun> = baseline
                .iter()
                .filter(|a| a.activity_name == name)
                .collect();
            let last = attempts.iter().max_by_key(|a| a.attempt);
            let base_last = base.iter().max_by_key(|a| a.attempt);
            ActivityComparison {
                activity: name.to_string(),
                status: last.map(|a| a.status.clone()),
                baseline_status: base_last.map(|a| a.status.clone()),
                duration_ms: last.and_then(|a| a.duration_ms),
                baseline_duration_ms: base_last.and_then(|a| a.duration_ms),
                attempts: attempts.len(),
                baseline_attempts: base.len(),
                rows: last.and_then(|a| rows_of(a)),
                baseline_rows: base_last.and_then(|a| rows_of(a)),
                error: last
                    .and_then(|a| a.error.as_ref())
                    .map(|e| clip(&format!("{}: {}", e.code, e.message), 400)),
            }
        })
        .collect()
}

fn differences(
    run: &PipelineRun,
    baseline: &PipelineRun,
    activities: &[ActivityComparison],
) -> Vec<String> {
    let mut out = Vec::new();
    for a in activities {
        match (&a.status, &a.baseline_status) {
            (Some(s), Some(b)) if s != b => {
                out.push(format!("{} was {s} (baseline {b})", a.activity))
            }
            (Some(s), None) => out.push(format!("{} ran only in this run ({s})", a.activity)),
            (None, Some(_)) => out.push(format!(
                "{} did not run (it ran in the baseline)",
                a.activity
            )),
            _ => {}
        }
        if a.attempts > a.baseline_attempts && a.attempts > 1 {
            out.push(format!(
                "{} needed {} attempts (baseline {})",
                a.activity, a.attempts, a.baseline_attempts
            ));
        }
        if let (Some(rows), Some(base)) = (a.rows, a.baseline_rows)
            && base > 0
            && (rows as f64 / base as f64 >= 1.5 || (rows as f64) / (base as f64) <= 0.5)
        {
            out.push(format!(
                "{} processed {rows} rows vs {base} in the baseline (x{:.1})",
                a.activity,
                rows as f64 / base as f64
            ));
        }
        if let (Some(d), Some(b)) = (a.duration_ms, a.baseline_duration_ms)
            && b > 0
            && d as f64 / b as f64 >= 2.0
        {
            out.push(format!(
                "{} took {}s vs {}s in the baseline",
                a.activity,
                d / 1000,
                b / 1000
            ));
        }
    }
    if run.parameters != baseline.parameters {
        let changed: Vec<String> = run
            .parameters
            .iter()
            .filter(|(k, v)| {
                baseline.parameters.get(*k) != Some(*v) && k.as_str() != "window_start"
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !changed.is_empty() {
            out.push(format!("parameters differ: {}", changed.join(", ")));
        }
    }
    if run.invoked_by.kind != baseline.invoked_by.kind {
        out.push(format!(
            "started by {} (baseline by {})",
            run.invoked_by.kind, baseline.invoked_by.kind
        ));
    }
    out
}
