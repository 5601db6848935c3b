//! The sentences of a triage: the root cause, and the evidence of an error and
//! of a failure streak.

use chrono::{DateTime, Utc};

use super::Diagnosis;
use crate::model::contract::{Evidence, FailureCategory, FailureStep, SecretFinding};
use crate::model::secret::SecretRiskLevel;
use crate::support::text::clip;

pub(super) fn history_evidence(
    pipeline: &str,
    consecutive: usize,
    failing_since: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
) -> Evidence {
    Evidence {
        kind: "history".into(),
        detail: match (failing_since, last_success) {
            (Some(since), Some(ok)) => format!(
                "{pipeline} has failed {consecutive} times in a row since {}; last success {}",
                since.format("%Y-%m-%d %H:%M UTC"),
                ok.format("%Y-%m-%d %H:%M UTC")
            ),
            (Some(since), None) => format!(
                "{pipeline} has failed {consecutive} times in a row since {}; no success in 7 days",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => format!("{pipeline} has no earlier failures in 7 days"),
        },
        tool: "get_pipeline_status".into(),
    }
}

pub(super) fn error_evidence(step: &FailureStep, tool: &str) -> Evidence {
    Evidence {
        kind: "error".into(),
        detail: format!(
            "{}/{} failed with {}: {}",
            step.pipeline,
            step.activity,
            step.error_code,
            clip(&step.message, 400)
        ),
        tool: tool.into(),
    }
}

/// The documented fix of the entry that explains the failure, then the
/// category's usual steps, without repeats.
pub(super) fn documented_next_steps(root: &Diagnosis) -> Vec<String> {
    let documented = root
        .finding
        .entry
        .iter()
        .flat_map(|e| e.fix.iter().cloned());
    let generic = root.category.next_steps().iter().map(|s| s.to_string());
    let mut steps: Vec<String> = Vec::new();
    for step in documented.chain(generic) {
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

pub(super) fn root_cause_sentence(
    root: &Diagnosis,
    step: Option<&FailureStep>,
    secrets: &[SecretFinding],
) -> String {
    let finding = &root.finding;
    let place = finding
        .place
        .as_ref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let at = step
        .map(|s| format!("{}/{}{place}", s.pipeline, s.activity))
        .unwrap_or_else(|| format!("{}{place}", root.pipeline));
    let quote = &finding.quote;
    let critical = secrets.iter().find(|s| s.risk == SecretRiskLevel::Critical);
    match (root.category, finding.entry) {
        (FailureCategory::ExpiredCredential | FailureCategory::AuthFailure, _)
            if critical.is_some() =>
        {
            let secret = critical.map(|s| (s.secret.as_str(), s.reasons.first()));
            let (name, reason) = secret.unwrap_or_default();
            format!(
                "Key Vault secret {name} {} — {at} cannot authenticate ({}): \"{quote}\"",
                reason.map(String::as_str).unwrap_or("is unusable"),
                finding.matched.as_deref().unwrap_or("auth error"),
            )
        }
        (FailureCategory::StaleUpstream, _) => {
            format!("stale input at {at}, but no failing upstream run was found to explain it")
        }
        (FailureCategory::Unknown, Some(wrapper)) => format!(
            "unrecognised error at {at}: only the generic wrapper \"{}\" ({}) matched, the inner error is not in the knowledge base: \"{quote}\"",
            wrapper.title, wrapper.id
        ),
        (FailureCategory::Unknown, None) => {
            format!("unrecognised error at {at} (no knowledge-base entry matched): \"{quote}\"")
        }
        (category, Some(entry)) => format!(
            "{} at {at}: {} \"{quote}\" ({}: {})",
            category.label(),
            entry.cause.trim_end(),
            entry.id,
            entry.title
        ),
        (category, None) => format!("{} at {at}: \"{quote}\"", category.label()),
    }
}
