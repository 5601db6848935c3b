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

/// The part of a long message around what matched: vendor messages put the
/// telling words deep inside wrappers ("Job execution failed. Run page: … Error: …").
fn excerpt(message: &str, needle: Option<&str>, max_chars: usize) -> String {
    let lower = message.to_lowercase();
    let start = needle
        .and_then(|n| lower.find(n))
        .filter(|byte| lower.len() == message.len() && message.is_char_boundary(*byte))
        .and_then(|byte| message.get(..byte))
        .map(|before| before.rfind(' ').map_or(0, |i| i + 1))
        .unwrap_or(0);
    let tail = message.get(start..).unwrap_or(message);
    clip(tail, max_chars)
}

pub(super) fn root_cause_sentence(
    root: &Diagnosis,
    step: Option<&FailureStep>,
    secrets: &[SecretFinding],
) -> String {
    let at = step
        .map(|s| format!("{}/{}", s.pipeline, s.activity))
        .unwrap_or_else(|| root.pipeline.clone());
    match root.category {
        FailureCategory::ExpiredCredential | FailureCategory::AuthFailure => {
            match secrets.iter().find(|s| s.risk == SecretRiskLevel::Critical) {
                Some(secret) => format!(
                    "Key Vault secret {} {} — {} cannot authenticate ({})",
                    secret.secret,
                    secret
                        .reasons
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "is unusable".into()),
                    at,
                    root.matched.unwrap_or("auth error")
                ),
                None => format!(
                    "{} at {at}: {}",
                    root.category.label(),
                    step.map(|s| clip(&s.message, 200)).unwrap_or_default()
                ),
            }
        }
        FailureCategory::StaleUpstream => {
            format!("stale input at {at}, but no failing upstream run was found to explain it")
        }
        category => format!(
            "{} at {at} ({}): {}",
            category.label(),
            root.matched.unwrap_or("no rule matched"),
            step.map(|s| excerpt(&s.message, root.matched, 300))
                .unwrap_or_default()
        ),
    }
}
