//! The evidence triage gathers around a diagnosis: the secrets behind the
//! failing connections, the pipeline's failure streak, the run's log
//! templates, a jump in input volume, unhealthy resources and risky plans,
//! and the blast radius. Each read that fails is noted in [`Gaps`] and the
//! rest goes on.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::Diagnosis;
use super::gaps::Gaps;
use crate::backends::{Backends, LogQuery, RunQuery};
use crate::infra::terraform::{parse_plan, summarize};
use crate::model::contract::{ClusterBrief, Evidence, FailureStep, SecretFinding};
use crate::model::estate::EstateCatalog;
use crate::model::graph::DependencyVia;
use crate::model::log::LogLevel;
use crate::model::run::{PipelineRun, RunStatus};
use crate::model::time::TimeWindow;
use crate::ops::error::OpsError;
use crate::ops::infra::{pipelines_touching, resource_identifiers};
use crate::ops::log_clusters::cluster;
use crate::ops::runs::{all_runs, rows_written};

/// Secrets the connections of `step`'s activity read (every secret of the
/// pipeline when the activity is unknown); `None` when the pipeline is not in
/// the catalogue.
fn secrets_behind(
    catalog: &EstateCatalog,
    pipeline: &str,
    step: Option<&FailureStep>,
) -> Option<BTreeSet<String>> {
    let info = catalog.pipeline(pipeline)?;
    Some(
        match step.and_then(|s| info.activities.iter().find(|a| a.name == s.activity)) {
            Some(activity) => {
                let mut connections: BTreeSet<String> =
                    activity.linked_services.iter().cloned().collect();
                for dataset in activity.inputs.iter().chain(&activity.outputs) {
                    if let Some(ds) = catalog.dataset(dataset) {
                        connections.insert(ds.linked_service.clone());
                    }
                }
                connections
                    .iter()
                    .filter_map(|c| catalog.linked_service(c))
                    .flat_map(|ls| ls.secrets.iter().map(|s| s.secret_name.clone()))
                    .collect()
            }
            None => catalog.secrets_of(info),
        },
    )
}

/// Secrets behind the failing connections (or named in the error through
/// their tags). Without a catalogue only the error can name them.
pub(super) async fn secret_findings(
    backends: &Backends,
    root: &Diagnosis,
    step: Option<&FailureStep>,
    catalog: Option<&EstateCatalog>,
    gaps: &mut Gaps,
) -> Vec<SecretFinding> {
    if backends.secrets.is_empty() {
        return Vec::new();
    }
    let activity_secrets = match catalog {
        Some(catalog) => match secrets_behind(catalog, &root.pipeline, step) {
            Some(secrets) => secrets,
            None => return Vec::new(),
        },
        None => BTreeSet::new(),
    };
    let message = step.map(|s| s.message.to_lowercase()).unwrap_or_default();
    let now = backends.clock.now();
    let mut findings = Vec::new();
    for store in &backends.secrets {
        let what = format!("secrets in vault {}", store.vault());
        let Some(listed) = gaps.read(what, store.list_secrets().await) else {
            continue;
        };
        for meta in listed {
            let named_in_error = meta
                .tags
                .values()
                .any(|v| v.len() >= 8 && message.contains(&v.to_lowercase()))
                || message.contains(&meta.name.to_lowercase());
            let used = activity_secrets.contains(&meta.name);
            if !named_in_error && !used {
                continue;
            }
            let risk = meta.risk(now);
            let link = match (named_in_error, used) {
                (true, true) => "named in the error and used by the failing connection".to_string(),
                (true, false) => "named in the error (through its tags)".to_string(),
                _ => "used by the failing activity's connections".to_string(),
            };
            findings.push(SecretFinding {
                secret: meta.name.clone(),
                risk: risk.level,
                reasons: risk.reasons,
                expires: meta.expires,
                link,
            });
        }
    }
    findings.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.secret.cmp(&b.secret)));
    findings
}

/// (consecutive failures, first of them, last success) over the last 7 days.
pub(super) async fn failure_history(
    backends: &Backends,
    pipeline: &str,
) -> Result<(usize, Option<DateTime<Utc>>, Option<DateTime<Utc>>), OpsError> {
    let now = backends.clock.now();
    let query = RunQuery::recent(pipeline, vec![], now, Duration::days(7), 500);
    let runs = all_runs(backends, query, 2_000).await?;
    let finished: Vec<&PipelineRun> = runs.iter().filter(|r| r.status.is_terminal()).collect();
    let streak: Vec<&&PipelineRun> = finished
        .iter()
        .take_while(|r| r.status == RunStatus::Failed)
        .collect();
    let since = streak.last().and_then(|r| r.run_start);
    let last_success = finished
        .iter()
        .find(|r| r.status == RunStatus::Succeeded)
        .and_then(|r| r.run_start);
    Ok((streak.len(), since, last_success))
}

pub(super) async fn run_log_clusters(
    backends: &Backends,
    run_id: &str,
    top: usize,
) -> Result<Vec<ClusterBrief>, OpsError> {
    let now = backends.clock.now();
    let query = LogQuery {
        window: TimeWindow {
            since: now - Duration::days(7),
            until: now + Duration::seconds(1),
        },
        pipeline: None,
        run_id: Some(run_id.to_string()),
        activity: None,
        source: None,
        min_level: Some(LogLevel::Warn),
        contains: None,
        limit: 5_000,
    };
    let counts = backends.counted_logs(&query).await?;
    Ok(cluster(&counts, &[], false, top))
}

/// A jump in data volume, for memory failures: the rows each direct upstream
/// writer produced in its latest successful run against the run that fed the
/// failing pipeline's last good run. Found or not: it is a hint, not a read
/// the answer depends on.
pub(super) async fn volume_evidence(
    backends: &Backends,
    run_id: &str,
    catalog: &EstateCatalog,
) -> Option<Evidence> {
    let (_, run) = backends.find_run(run_id).await.ok()?;
    let until = run.run_start?;
    let good = latest_run_with(backends, &run.pipeline, RunStatus::Succeeded, until).await?;
    let good_start = good.run_start?;
    let mut best: Option<(f64, String)> = None;
    for reached in catalog.upstream_of(&run.pipeline, 1) {
        let now_run =
            latest_run_with(backends, &reached.pipeline, RunStatus::Succeeded, until).await?;
        let then_run = latest_run_with(
            backends,
            &reached.pipeline,
            RunStatus::Succeeded,
            good_start,
        )
        .await?;
        let rows_now = rows_written_by(backends, &now_run.run_id).await?;
        let rows_then = rows_written_by(backends, &then_run.run_id).await?;
        if rows_then == 0 {
            continue;
        }
        let ratio = rows_now as f64 / rows_then as f64;
        if ratio >= 1.5 && best.as_ref().is_none_or(|(r, _)| ratio > *r) {
            best = Some((
                ratio,
                format!(
                    "input from {} grew x{ratio:.1}: {rows_now} rows in run {} vs {rows_then} before the last good run {} of {}",
                    reached.pipeline, now_run.run_id, good.run_id, run.pipeline
                ),
            ));
        }
    }
    best.map(|(_, detail)| Evidence {
        kind: "volume".into(),
        detail,
        tool: "compare_runs".into(),
    })
}

async fn latest_run_with(
    backends: &Backends,
    pipeline: &str,
    status: RunStatus,
    before: DateTime<Utc>,
) -> Option<PipelineRun> {
    let backend = backends.backend_for_pipeline(pipeline).await.ok()?;
    let query = RunQuery::before(pipeline, vec![status], before, Duration::days(7), 1);
    backend
        .query_runs(&query)
        .await
        .ok()?
        .runs
        .into_iter()
        .next()
}

async fn rows_written_by(backends: &Backends, run_id: &str) -> Option<u64> {
    let (backend, _) = backends.find_run(run_id).await.ok()?;
    let activities = backend.activity_runs(run_id).await.ok()?;
    Some(activities.iter().filter_map(rows_written).sum())
}

/// Unhealthy resources behind the pipeline's connections, and pending plans
/// with risky changes to what it uses.
pub(super) async fn infra_evidence(
    backends: &Backends,
    catalog: &EstateCatalog,
    pipeline: &str,
    gaps: &mut Gaps,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    for source in &backends.infra {
        let resources = gaps
            .read("resources", source.list_resources().await)
            .unwrap_or_default();
        for resource in resources {
            let used = pipelines_touching(catalog, std::slice::from_ref(&resource.name))
                .iter()
                .any(|p| p == pipeline);
            if used && !resource.is_healthy() {
                out.push(Evidence {
                    kind: "infra".into(),
                    detail: format!(
                        "resource {} used by {pipeline} is {} ({})",
                        resource.name,
                        resource.provisioning_state,
                        resource.availability_text()
                    ),
                    tool: "get_resource_health".into(),
                });
            }
        }
        let plans = gaps
            .read("terraform plans", source.list_plans().await)
            .unwrap_or_default();
        for plan_ref in plans {
            let what = format!("terraform plan {}", plan_ref.name);
            let Some(text) = gaps.read(what, source.read_plan(&plan_ref.name).await) else {
                continue;
            };
            // A plan that does not parse is not evidence either way.
            let Ok(plan) = parse_plan(&text) else {
                continue;
            };
            for risk in summarize(&plan).risky {
                let identifiers = plan
                    .resource_changes
                    .iter()
                    .find(|c| c.address == risk.address)
                    .map(|c| resource_identifiers(c.before_redacted().as_ref()))
                    .unwrap_or_default();
                if pipelines_touching(catalog, &identifiers)
                    .iter()
                    .any(|p| p == pipeline)
                {
                    out.push(Evidence {
                        kind: "infra".into(),
                        detail: format!("pending plan {} {}", plan_ref.name, risk.why),
                        tool: "explain_plan_diff".into(),
                    });
                }
            }
        }
    }
    out
}

/// Pipelines that fail or go stale with the root cause: those sharing a broken
/// secret, everything downstream of them, and parents that run them as
/// children. Without a catalogue, only the triaged pipeline when the cause is
/// elsewhere.
pub(super) fn blast_radius(
    catalog: Option<&EstateCatalog>,
    root_pipeline: &str,
    broken_secret: Option<&str>,
    triaged: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(catalog) = catalog {
        let mut sources = vec![root_pipeline.to_string()];
        if let Some(secret) = broken_secret {
            for ls in catalog.linked_services_using_secret(secret) {
                for pipeline in catalog.pipelines_using_linked_service(&ls) {
                    if !sources.contains(&pipeline) {
                        sources.push(pipeline);
                    }
                }
            }
        }
        out.extend(
            sources
                .iter()
                .filter(|p| p.as_str() != root_pipeline)
                .cloned(),
        );
        for source in &sources {
            let parents = catalog
                .upstream_of(source, 3)
                .into_iter()
                .filter(|r| matches!(r.edge.via, DependencyVia::ExecutePipeline { .. }));
            for reached in catalog.downstream_of(source, 10).into_iter().chain(parents) {
                if reached.pipeline != root_pipeline && !out.contains(&reached.pipeline) {
                    out.push(reached.pipeline);
                }
            }
        }
    }
    if triaged != root_pipeline && !out.iter().any(|p| p == triaged) {
        out.push(triaged.to_string());
    }
    out
}
