//! The changes behind a failure: those recorded between the last success and
//! the first failure (with a margin) that touch what the failing activity
//! uses, ranked; the best one that fits the kind of failure is named as the
//! likely cause.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::gaps::Gaps;
use crate::backends::Backends;
use crate::model::change::{Change, ChangeKind};
use crate::model::contract::{ChangeFinding, Evidence, FailureCategory, FailureStep};
use crate::model::estate::EstateCatalog;
use crate::ops::changes::{activity_direct_scope, activity_scope, gather, pipeline_scope};

/// How far before the last success changes are still read: a change can take
/// effect late (a token cached for an hour, a pool paused at the next idle check).
const BEFORE_LAST_SUCCESS: Duration = Duration::hours(2);
/// With no success in the history, how far before the first failure to look.
const WITHOUT_SUCCESS: Duration = Duration::hours(24);
/// A run fails some minutes after it starts; a change in those minutes counts.
const AFTER_FIRST_FAILURE: Duration = Duration::minutes(15);
/// Words of an error message shorter than this are too common to match a change by.
const MIN_ERROR_NAME_CHARS: usize = 6;
/// How many touching changes the evidence lists.
const LISTED: usize = 3;

/// Where and when the failure happened, as the triage walk found it.
pub(super) struct FailureContext<'a> {
    pub category: FailureCategory,
    pub pipeline: &'a str,
    pub step: Option<&'a FailureStep>,
    /// The start of the first run of the failing streak (else of the triaged run).
    pub first_failure: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
}

/// What the changes say: the finding when one fits, and the evidence either way.
pub(super) struct ChangeLook {
    pub finding: Option<ChangeFinding>,
    pub evidence: Vec<Evidence>,
}

/// How close to the failing activity a change reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// Something of the pipeline's, not of the failing activity (its trigger,
    /// another activity's connection).
    Pipeline,
    /// A connection the activity's own connections lean on (the Key Vault
    /// connection behind every secret).
    Indirect,
    /// The activity's own connections, data, secrets or hosts, or a name in its error.
    Own,
}

/// A change that touches the failure, with what ranks it.
struct Candidate {
    change: Change,
    reach: Reach,
    fits: bool,
    /// Minutes from the change to the first failure (negative: after it).
    minutes_before: i64,
}

/// Reads the changes around the failure and ranks those that touch it.
pub(super) async fn look_for_changes(
    backends: &Backends,
    catalog: Option<&EstateCatalog>,
    failure: &FailureContext<'_>,
    gaps: &mut Gaps,
) -> ChangeLook {
    let mut look = ChangeLook {
        finding: None,
        evidence: Vec::new(),
    };
    let (Some(first_failure), Some(catalog)) = (failure.first_failure, catalog) else {
        return look;
    };
    if backends.changes.is_empty() {
        return look;
    }
    let from = failure
        .last_success
        .filter(|ok| *ok < first_failure)
        .and_then(|ok| ok.checked_sub_signed(BEFORE_LAST_SUCCESS))
        .or_else(|| first_failure.checked_sub_signed(WITHOUT_SUCCESS))
        .unwrap_or(first_failure);
    let to = first_failure
        .checked_add_signed(AFTER_FIRST_FAILURE)
        .unwrap_or(first_failure)
        .min(backends.clock.now() + Duration::seconds(1));
    if from >= to {
        return look;
    }
    let gathered = gather(backends, from, to).await;
    for gap in gathered.gaps {
        gaps.note(gap.what, gap.why);
    }
    let scopes = Scopes::of(catalog, failure);
    let mut candidates: Vec<Candidate> = gathered
        .changes
        .into_iter()
        .filter_map(|change| {
            Some(Candidate {
                reach: scopes.reach(&change)?,
                fits: kind_fits(change.kind, failure.category),
                minutes_before: first_failure.signed_duration_since(change.at).num_minutes(),
                change,
            })
        })
        .collect();
    candidates.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.fits),
            std::cmp::Reverse(c.reach),
            c.minutes_before.unsigned_abs(),
        )
    });
    let span = format!(
        "between {} and {}",
        from.format("%Y-%m-%d %H:%M UTC"),
        to.format("%Y-%m-%d %H:%M UTC")
    );
    let target = failure
        .step
        .map(|s| format!("{}/{}", s.pipeline, s.activity))
        .unwrap_or_else(|| failure.pipeline.to_string());
    if candidates.is_empty() {
        look.evidence.push(Evidence {
            kind: "changes".into(),
            detail: format!(
                "no recorded change touches {target} or what it uses {span} (read: {})",
                gathered.sources.join(", ")
            ),
            tool: "what_changed".into(),
        });
        return look;
    }
    for candidate in candidates.iter().take(LISTED) {
        look.evidence.push(Evidence {
            kind: "changes".into(),
            detail: format!(
                "{} change {}, {}: {} ({}; {})",
                candidate.change.kind.as_str(),
                timing(candidate.minutes_before),
                reach_words(candidate.reach, &target, failure.pipeline),
                candidate.change.one_line(),
                candidate.change.operation,
                candidate.change.source
            ),
            tool: "what_changed".into(),
        });
    }
    if candidates.len() > LISTED {
        look.evidence.push(Evidence {
            kind: "changes".into(),
            detail: format!(
                "{} more change(s) touch {target} {span}",
                candidates.len() - LISTED
            ),
            tool: "what_changed".into(),
        });
    }
    look.finding = candidates
        .into_iter()
        .find(|c| c.fits)
        .map(|best| finding(best, failure.category, &target, failure.pipeline));
    if look.finding.is_none() {
        look.evidence.push(Evidence {
            kind: "changes".into(),
            detail: format!(
                "none of the changes touching {target} {span} is of a kind that explains a {} failure",
                failure.category.label()
            ),
            tool: "what_changed".into(),
        });
    }
    look
}

/// The names the failing activity uses, at each reach.
struct Scopes {
    own: BTreeSet<String>,
    indirect: BTreeSet<String>,
    pipeline: BTreeSet<String>,
}

impl Scopes {
    fn of(catalog: &EstateCatalog, failure: &FailureContext<'_>) -> Scopes {
        let pipeline = catalog.pipeline(failure.pipeline);
        let mut scopes = Scopes {
            own: BTreeSet::new(),
            indirect: BTreeSet::new(),
            pipeline: pipeline
                .map(|p| pipeline_scope(catalog, p))
                .unwrap_or_default(),
        };
        scopes.pipeline.insert(failure.pipeline.to_lowercase());
        if let Some(step) = failure.step {
            if let Some(activity) = pipeline
                .into_iter()
                .flat_map(|p| &p.activities)
                .find(|a| a.name == step.activity)
            {
                scopes.own = activity_direct_scope(catalog, activity);
                scopes.indirect = activity_scope(catalog, activity);
            }
            scopes.own.extend(names_in_error(&step.message));
        }
        scopes
    }

    /// How close the change comes to the failing activity; `None`: not at all.
    fn reach(&self, change: &Change) -> Option<Reach> {
        if change.touches_any(&self.own) {
            Some(Reach::Own)
        } else if change.touches_any(&self.indirect) {
            Some(Reach::Indirect)
        } else if change.touches_any(&self.pipeline) {
            Some(Reach::Pipeline)
        } else {
            None
        }
    }
}

fn reach_words(reach: Reach, target: &str, pipeline: &str) -> String {
    match reach {
        Reach::Own => format!("touches what {target} uses"),
        Reach::Indirect => format!("touches a connection behind what {target} uses"),
        Reach::Pipeline => format!("touches pipeline {pipeline}"),
    }
}

/// Identifiers an error message names (a principal, a server, a pool): a
/// change to one of them touches the failure directly.
fn names_in_error(message: &str) -> impl Iterator<Item = String> + '_ {
    message
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '/' | '-')))
        .filter(|w| w.chars().count() >= MIN_ERROR_NAME_CHARS)
        .map(str::to_lowercase)
}

/// Whether a kind of change can explain a kind of failure.
fn kind_fits(kind: ChangeKind, category: FailureCategory) -> bool {
    use FailureCategory as F;
    match kind {
        ChangeKind::Access => matches!(
            category,
            F::AuthFailure | F::PermissionDenied | F::ExpiredCredential | F::NetworkAccess
        ),
        ChangeKind::Secret => matches!(
            category,
            F::ExpiredCredential | F::AuthFailure | F::HostKeyOrCertificate
        ),
        ChangeKind::Configuration => matches!(
            category,
            F::NetworkAccess
                | F::HostKeyOrCertificate
                | F::Configuration
                | F::Timeout
                | F::AuthFailure
                | F::PermissionDenied
                | F::MissingInput
                | F::CapacityQuota
        ),
        ChangeKind::Deployment => matches!(
            category,
            F::SchemaDrift | F::DataQuality | F::Configuration | F::CodeError | F::MissingInput
        ),
        ChangeKind::Compute => matches!(
            category,
            F::ComputeUnavailable
                | F::CapacityQuota
                | F::OutOfMemory
                | F::WorkerLost
                | F::NetworkAccess
                | F::Timeout
                | F::Transient
        ),
        ChangeKind::Schedule => matches!(
            category,
            F::Throttling | F::ConcurrencyConflict | F::CapacityQuota | F::Timeout
        ),
        ChangeKind::Operation => matches!(category, F::ConcurrencyConflict | F::DataQuality),
        // A resource the activity uses was created or deleted: that explains
        // most failures, never a stale input (whose cause is upstream).
        ChangeKind::Lifecycle => !matches!(category, F::StaleUpstream | F::Unknown),
        ChangeKind::Other => false,
    }
}

fn timing(minutes_before: i64) -> String {
    match minutes_before {
        m if m > 0 => format!("{m} min before the first failure"),
        0 => "at the first failure".into(),
        m => format!("{} min after the first failing run started", -m),
    }
}

fn finding(
    best: Candidate,
    category: FailureCategory,
    target: &str,
    pipeline: &str,
) -> ChangeFinding {
    let mut reasons = vec![format!(
        "a {} change fits a {} failure",
        best.change.kind.as_str(),
        category.label()
    )];
    reasons.push(format!("it {}", reach_words(best.reach, target, pipeline)));
    reasons.push(format!("it was made {}", timing(best.minutes_before)));
    ChangeFinding {
        confidence: if best.reach == Reach::Own {
            "high"
        } else {
            "medium"
        }
        .into(),
        minutes_before_failure: best.minutes_before,
        reasons,
        change: best.change,
    }
}

/// The root cause with the change that likely caused it, in one sentence.
pub(super) fn with_change(root_cause: &str, finding: &ChangeFinding) -> String {
    let change = &finding.change;
    format!(
        "{root_cause} — likely caused by a change {}: {} by {} at {} ({}; confidence {})",
        timing(finding.minutes_before_failure),
        change.summary,
        change.actor,
        change.at.format("%H:%M UTC"),
        change.source,
        finding.confidence
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_fit_the_failures_they_can_cause() {
        assert!(kind_fits(
            ChangeKind::Access,
            FailureCategory::PermissionDenied
        ));
        assert!(kind_fits(
            ChangeKind::Compute,
            FailureCategory::ComputeUnavailable
        ));
        assert!(kind_fits(
            ChangeKind::Deployment,
            FailureCategory::SchemaDrift
        ));
        assert!(kind_fits(ChangeKind::Schedule, FailureCategory::Throttling));
        assert!(!kind_fits(ChangeKind::Access, FailureCategory::OutOfMemory));
        assert!(!kind_fits(ChangeKind::Secret, FailureCategory::SchemaDrift));
        assert!(!kind_fits(
            ChangeKind::Lifecycle,
            FailureCategory::StaleUpstream
        ));
    }

    #[test]
    fn error_names_are_identifiers_not_short_words() {
        let names: Vec<String> = names_in_error(
            "Cannot connect to SQL Database: 'syn-contoso-prod.sql.azuresynapse.net', Database: 'salesdw'. Pool is paused.",
        )
        .collect();
        assert!(names.contains(&"syn-contoso-prod.sql.azuresynapse.net".to_string()));
        assert!(names.contains(&"salesdw".to_string()));
        assert!(!names.iter().any(|n| n == "sql" || n == "pool"));
    }

    #[test]
    fn timing_reads_both_ways() {
        assert_eq!(timing(14), "14 min before the first failure");
        assert_eq!(timing(-3), "3 min after the first failing run started");
    }
}
