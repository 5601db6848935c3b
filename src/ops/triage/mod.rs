//! `triage_run`: from a failed run to its root cause, with the evidence.
//!
//! The walk: the run's failing activity (descending into child runs started by
//! ExecutePipeline) → its error, classified → if the input was stale, the
//! upstream writer's own failure, recursively → the secrets behind the failing
//! connections → the run's log templates → resources and pending plans → the
//! blast radius downstream → next steps for that kind of failure.
//!
//! Only the triaged run must be readable. Every other read enriches the
//! answer; one that fails (no permission, not found, unreachable) is named in
//! `gaps` and the walk goes on, so a least-privilege identity still gets a
//! triage of what it may see.

mod changes;
mod evidence;
mod gaps;
mod sentences;
mod walk;

use crate::backends::Backends;
use crate::model::contract::{Evidence, FailureCategory, FailureStep, TriageReport};
use crate::model::run::RunStatus;
use crate::model::secret::SecretRiskLevel;
use crate::ops::classify::Classification;
use crate::ops::error::{OpsError, Outcome};
use crate::support::text::clip;
use evidence::{
    blast_radius, failure_history, infra_evidence, run_log_clusters, secret_findings,
    volume_evidence,
};
use gaps::Gaps;
use sentences::{documented_next_steps, error_evidence, history_evidence, root_cause_sentence};
use walk::{diagnose, failing_upstream, latest_failed_run};

/// Which failed run to triage.
#[derive(Debug, Clone, Copy)]
pub enum TriageTarget<'a> {
    Run(&'a str),
    /// The pipeline's latest failed run in the last 7 days.
    LatestFailureOf(&'a str),
}

/// What the walk found in one pipeline's failure.
struct Diagnosis {
    path: Vec<FailureStep>,
    category: FailureCategory,
    /// The knowledge-base entry, what matched and the quoted telling part.
    finding: Classification,
    pipeline: String,
    run_id: String,
}

/// Triages a failed run: the walk above, every step but the first allowed to
/// fail into `gaps`.
pub async fn triage(backends: &Backends, target: TriageTarget<'_>) -> Outcome<TriageReport> {
    let run = match target {
        TriageTarget::Run(id) => backends.find_run(id).await?.1,
        TriageTarget::LatestFailureOf(pipeline) => latest_failed_run(backends, pipeline).await?,
    };
    if run.status != RunStatus::Failed {
        return Err(OpsError::invalid(format!(
            "run {} of {} is {}, not Failed; triage_run explains failures (get_run_details shows any run)",
            run.run_id, run.pipeline, run.status
        )));
    }
    let mut gaps = Gaps::default();
    let catalog = gaps.read("pipeline definitions", backends.catalog().await);
    if let Some(catalog) = &catalog {
        gaps.note_unreadable_definitions(catalog);
    }
    let mut evidence = Vec::new();
    let first = diagnose(backends, &run, &mut gaps).await;
    let mut path = first.path.clone();
    if let Some(step) = first.path.last() {
        evidence.push(error_evidence(step, "get_run_details"));
    }
    // Stale inputs: the cause is in the writer upstream; follow it (bounded).
    let mut root = first;
    for _ in 0..4 {
        if root.category != FailureCategory::StaleUpstream {
            break;
        }
        let Some(catalog) = &catalog else {
            break;
        };
        let upstream = failing_upstream(backends, catalog, &root.pipeline).await;
        let Some(upstream) = gaps.read("upstream runs", upstream).flatten() else {
            break;
        };
        evidence.push(Evidence {
            kind: "upstream".into(),
            detail: format!(
                "input of {} is stale because upstream {} is failing (run {} {})",
                root.pipeline,
                upstream.pipeline,
                upstream.run_id,
                upstream
                    .run_start
                    .map(|t| t.format("%H:%M UTC").to_string())
                    .unwrap_or_default()
            ),
            tool: "get_pipeline_dependencies".into(),
        });
        let next = diagnose(backends, &upstream, &mut gaps).await;
        path.extend(next.path.iter().cloned());
        if let Some(step) = next.path.last() {
            evidence.push(error_evidence(step, "triage_run"));
        }
        root = next;
    }
    let root_step = root.path.last().cloned();
    let secrets = secret_findings(
        backends,
        &root,
        root_step.as_ref(),
        catalog.as_ref(),
        &mut gaps,
    )
    .await;
    for finding in secrets.iter().filter(|s| s.risk >= SecretRiskLevel::High) {
        evidence.push(Evidence {
            kind: "secret".into(),
            detail: format!(
                "secret {} is {:?}: {} ({})",
                finding.secret,
                finding.risk,
                finding.reasons.join("; "),
                finding.link
            ),
            tool: "get_secret_usage".into(),
        });
    }
    let history = gaps.read(
        "run history",
        failure_history(backends, &root.pipeline).await,
    );
    let (consecutive, failing_since, last_success) = match history {
        Some((consecutive, failing_since, last_success)) => {
            evidence.push(history_evidence(
                &root.pipeline,
                consecutive,
                failing_since,
                last_success,
            ));
            (consecutive, failing_since, last_success)
        }
        None => (0, None, None),
    };
    let log_clusters = gaps
        .read("logs", run_log_clusters(backends, &root.run_id, 6).await)
        .unwrap_or_default();
    if let Some(top) = log_clusters.first() {
        evidence.push(Evidence {
            kind: "logs".into(),
            detail: format!(
                "top log template in run {} (×{}): {}",
                root.run_id,
                top.count,
                clip(&top.template, 300)
            ),
            tool: "summarize_error_logs".into(),
        });
    }
    if let Some(catalog) = &catalog {
        if root.category == FailureCategory::OutOfMemory
            && let Some(volume) = volume_evidence(backends, &root.run_id, catalog).await
        {
            evidence.push(volume);
        }
        evidence.extend(infra_evidence(backends, catalog, &root.pipeline, &mut gaps).await);
    }
    let log_lines: Vec<String> = log_clusters
        .iter()
        .flat_map(|c| std::iter::once(&c.template).chain(&c.examples))
        .cloned()
        .collect();
    let change_look = changes::look_for_changes(
        backends,
        catalog.as_ref(),
        &changes::FailureContext {
            category: root.category,
            pipeline: &root.pipeline,
            step: root_step.as_ref(),
            first_failure: failing_since.or(run.run_start),
            last_success,
            log_lines: &log_lines,
        },
        &mut gaps,
    )
    .await;
    evidence.extend(change_look.evidence);
    let critical_secret = secrets
        .iter()
        .find(|s| s.risk == SecretRiskLevel::Critical && s.link.contains("error"))
        .map(|s| s.secret.clone());
    let blast_radius = blast_radius(
        catalog.as_ref(),
        &root.pipeline,
        critical_secret.as_deref(),
        &run.pipeline,
    );
    let corroborated = match root.category {
        FailureCategory::ExpiredCredential | FailureCategory::AuthFailure => {
            secrets.iter().any(|s| s.risk >= SecretRiskLevel::High)
        }
        FailureCategory::OutOfMemory => evidence.iter().any(|e| e.kind == "volume"),
        FailureCategory::Unknown => false,
        _ => !log_clusters.is_empty(),
    };
    // A recorded change that fits the failure corroborates its category.
    let corroborated = corroborated || change_look.finding.is_some();
    // Only a wrapper recognised (ADF 2200 with no known inner error): the
    // category is a guess, so is the root cause.
    let confidence = match (root.category, corroborated) {
        (FailureCategory::Unknown, _) => "low",
        _ if root.finding.is_generic() => "low",
        (_, true) => "high",
        (_, false) => "medium",
    };
    let root_cause = root_cause_sentence(&root, root_step.as_ref(), &secrets);
    let root_cause = match &change_look.finding {
        Some(finding) => changes::with_change(&root_cause, finding),
        None => root_cause,
    };
    let mut next_steps = documented_next_steps(&root);
    if root.pipeline != run.pipeline {
        next_steps.push(format!(
            "Then re-run {} (it failed only because of {})",
            run.pipeline, root.pipeline
        ));
    }
    if !gaps.is_empty() {
        next_steps.push(
            "Some evidence could not be read (see gaps): check it by hand, or grant this server's identity read access to it, before trusting the root cause fully".into(),
        );
    }
    let summary = format!(
        "[{}] {} run {} failed: {} (confidence {confidence}). Category: {}. Blast radius: {} pipeline(s){}. Next: {}{}",
        backends.label,
        run.pipeline,
        run.run_id,
        root_cause,
        root.category.label(),
        blast_radius.len(),
        if blast_radius.is_empty() {
            String::new()
        } else {
            format!(" [{}]", blast_radius.join(", "))
        },
        next_steps.first().cloned().unwrap_or_default(),
        gaps.sentence()
    );
    Ok((
        summary,
        TriageReport {
            run_id: run.run_id.clone(),
            pipeline: run.pipeline.clone(),
            environment: run.environment.clone(),
            status: run.status.clone(),
            failing_path: path,
            category: root.category,
            root_cause,
            root_cause_pipeline: root.pipeline.clone(),
            confidence: confidence.to_string(),
            evidence,
            secrets,
            log_clusters,
            failing_since,
            consecutive_failures: consecutive,
            blast_radius,
            next_steps,
            gaps: gaps.into_vec(),
            change: change_look.finding,
        },
    ))
}
