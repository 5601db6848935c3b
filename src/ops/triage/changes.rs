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
use crate::ops::changes::{
    activity_direct_scope, activity_scope, gather, host_names, pipeline_scope,
};

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
/// The longest look back from the first failure, as for `what_changed`.
const MAX_LOOK_BACK: Duration = Duration::days(crate::ops::changes::MAX_CHANGE_WINDOW_DAYS);

/// Where and when the failure happened, as the triage walk found it.
pub(super) struct FailureContext<'a> {
    pub category: FailureCategory,
    pub pipeline: &'a str,
    pub step: Option<&'a FailureStep>,
    /// The start of the first run of the failing streak (else of the triaged run).
    pub first_failure: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The failing run's log lines (templates and examples): they name the
    /// principal refused, the host, the account, which the error may not.
    pub log_lines: &'a [String],
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

/// How well a kind of change explains a kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    None,
    /// It can explain it (a deletion, a secret behind an auth failure).
    Possible,
    /// It is the usual cause (access for a 403, compute for a quota).
    Main,
}

/// A change that touches the failure, with what ranks it.
struct Candidate {
    change: Change,
    reach: Reach,
    fit: Fit,
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
    // A success long ago would make one question page through months.
    let from = first_failure
        .checked_sub_signed(MAX_LOOK_BACK)
        .map_or(from, |earliest| from.max(earliest));
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
            let reach = scopes.reach(&change, failure.category)?;
            Some(Candidate {
                reach,
                fit: fit(effective_kind(&change), failure.category, reach),
                minutes_before: first_failure.signed_duration_since(change.at).num_minutes(),
                change,
            })
        })
        .collect();
    candidates.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.fit),
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
                effective_kind(&candidate.change).as_str(),
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
        .find(names_a_cause)
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
    /// Databricks workspace hosts among the names above: a change to another
    /// cluster of the same workspace names the host and reaches the activity
    /// only through the capacity they share.
    workspaces: BTreeSet<String>,
}

impl Scopes {
    fn of(catalog: &EstateCatalog, failure: &FailureContext<'_>) -> Scopes {
        let pipeline = catalog.pipeline(failure.pipeline);
        let mut own = BTreeSet::new();
        let mut indirect = BTreeSet::new();
        let mut pipeline_names = pipeline
            .map(|p| pipeline_scope(catalog, p))
            .unwrap_or_default();
        pipeline_names.insert(failure.pipeline.to_lowercase());
        if let Some(step) = failure.step {
            if let Some(activity) = pipeline
                .into_iter()
                .flat_map(|p| &p.activities)
                .find(|a| a.name == step.activity)
            {
                own = activity_direct_scope(catalog, activity);
                indirect = activity_scope(catalog, activity);
            }
            own.extend(names_in_error(&step.message));
        }
        // The run's logs name what the error may not: the principal refused,
        // the host called, the account written to.
        for line in failure.log_lines {
            own.extend(names_in_error(line));
        }
        let workspaces: BTreeSet<String> = own
            .iter()
            .chain(&indirect)
            .filter(|n| is_workspace_host(n))
            .cloned()
            .collect();
        for scope in [&mut own, &mut indirect, &mut pipeline_names] {
            scope.retain(|n| !workspaces.contains(n));
        }
        Scopes {
            own,
            indirect,
            pipeline: pipeline_names,
            workspaces,
        }
    }

    /// How close the change comes to the failing activity; `None`: not at all.
    fn reach(&self, change: &Change, category: FailureCategory) -> Option<Reach> {
        let kind = effective_kind(change);
        if change.touches_any(&self.own) {
            Some(Reach::Own)
        } else if change.touches_any(&self.indirect) {
            Some(Reach::Indirect)
        } else if change.touches_any(&self.workspaces) && is_workspace(change) {
            // The workspace itself changed (its network, its settings).
            Some(Reach::Own)
        } else if kind == ChangeKind::Compute
            && matches!(
                category,
                FailureCategory::CapacityQuota | FailureCategory::ComputeUnavailable
            )
            && change.touches_any(&self.workspaces)
        {
            // Another cluster of the workspace took the quota or the capacity.
            Some(Reach::Indirect)
        } else if kind == ChangeKind::Access
            && matches!(
                category,
                FailureCategory::PermissionDenied | FailureCategory::AuthFailure
            )
            && at_group_or_subscription(change)
        {
            // Access granted or taken at the resource group or subscription
            // (the change records are read for the environment's own) is
            // inherited by every resource in it.
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
        Reach::Indirect => {
            format!(
                "touches what {target} uses indirectly (a connection, workspace or scope it inherits from)"
            )
        }
        Reach::Pipeline => format!("touches pipeline {pipeline}"),
    }
}

/// Databricks workspace hosts (`adb-….azuredatabricks.net`, `….cloud.databricks.com`).
fn is_workspace_host(name: &str) -> bool {
    [
        ".azuredatabricks.net",
        ".cloud.databricks.com",
        ".gcp.databricks.com",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix))
}

/// Whether the change is to a workspace itself rather than something in it.
fn is_workspace(change: &Change) -> bool {
    change.resource_type.to_lowercase().contains("workspace")
        || is_workspace_host(&change.resource.to_lowercase())
}

/// Whether the change is made at a resource group or a subscription (an ARM
/// id with no resource under it, or a role assignment on one).
fn at_group_or_subscription(change: &Change) -> bool {
    let kind = change.resource_type.to_lowercase();
    if kind == "resource group" || kind == "subscription" {
        return true;
    }
    change.names().any(|name| {
        let scope = match name.find("/providers/microsoft.authorization/") {
            Some(cut) => &name[..cut],
            None => name.as_str(),
        };
        let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
        matches!(
            parts.as_slice(),
            ["subscriptions", sub] | ["subscriptions", sub, "resourcegroups", _] if !sub.is_empty()
        )
    })
}

/// Identifiers a message names (a principal's id, a server, a pool, an
/// account): a change to one of them touches the failure directly. Hosts in
/// URLs come out whole, and an Azure service host also as its resource name.
fn names_in_error(message: &str) -> Vec<String> {
    let mut names = Vec::new();
    for word in
        message.split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        let word = word.trim_matches(|c: char| matches!(c, '.' | '/' | '-'));
        let parts = std::iter::once(word).chain(word.split('/').filter(|_| word.contains('/')));
        for part in parts {
            let part = part.trim_matches(|c: char| matches!(c, '.' | '-'));
            if part.chars().count() < MIN_ERROR_NAME_CHARS {
                continue;
            }
            let lower = part.to_lowercase();
            if lower.contains('.') {
                names.extend(host_names(&lower));
            }
            names.push(lower);
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The kind a change counts as here: a write of tags changes no behaviour,
/// whatever kind its source gave it.
fn effective_kind(change: &Change) -> ChangeKind {
    let operation = change.operation.to_lowercase();
    let summary = change.summary.to_lowercase();
    let tag_only = operation.ends_with("/tags/write")
        || operation.ends_with("/tags/delete")
        || summary.starts_with("tags ")
        || summary.starts_with("tag ")
        || [
            "updated tags",
            "wrote tags",
            "changed tags",
            "set tags",
            "tags written",
            "tags updated",
        ]
        .iter()
        .any(|phrase| summary.contains(phrase));
    if tag_only {
        ChangeKind::Other
    } else {
        change.kind
    }
}

/// How well a kind of change explains a kind of failure, reaching as it does.
fn fit(kind: ChangeKind, category: FailureCategory, reach: Reach) -> Fit {
    if main_kind_fits(kind, category, reach) {
        Fit::Main
    } else if kind_may_fit(kind, category) {
        Fit::Possible
    } else {
        Fit::None
    }
}

/// The usual cause of each kind of failure.
fn main_kind_fits(kind: ChangeKind, category: FailureCategory, reach: Reach) -> bool {
    use FailureCategory as F;
    match kind {
        ChangeKind::Access => matches!(category, F::PermissionDenied | F::AuthFailure),
        ChangeKind::Compute => matches!(
            category,
            F::ComputeUnavailable | F::CapacityQuota | F::OutOfMemory | F::WorkerLost
        ),
        // A new version or a disabled secret the activity itself reads,
        // followed by "invalid client secret", is the usual rotation slip.
        ChangeKind::Secret => {
            category == F::ExpiredCredential || (category == F::AuthFailure && reach == Reach::Own)
        }
        // A container, file system or host the activity reads was deleted.
        ChangeKind::Lifecycle => {
            matches!(
                category,
                F::MissingInput | F::NetworkAccess | F::Configuration
            ) && reach == Reach::Own
        }
        ChangeKind::Configuration => {
            matches!(
                category,
                F::HostKeyOrCertificate | F::NetworkAccess | F::Configuration
            ) || (category == F::Throttling && reach == Reach::Own)
                // The activity's own cluster, or the pipeline's job cluster,
                // edited (fewer workers, less memory, another node type)
                // before it ran out of memory.
                || matches!(category, F::OutOfMemory | F::WorkerLost)
        }
        ChangeKind::Deployment => {
            matches!(
                category,
                F::SchemaDrift | F::DataQuality | F::CodeError | F::Configuration
            ) || (category == F::Throttling && reach == Reach::Own)
        }
        ChangeKind::Schedule => matches!(category, F::Throttling | F::ConcurrencyConflict),
        ChangeKind::Operation => category == F::ConcurrencyConflict,
        ChangeKind::Other => false,
    }
}

/// Whether a kind of change can explain a kind of failure at all.
fn kind_may_fit(kind: ChangeKind, category: FailureCategory) -> bool {
    use FailureCategory as F;
    match kind {
        ChangeKind::Access => matches!(category, F::ExpiredCredential | F::NetworkAccess),
        ChangeKind::Secret => matches!(category, F::AuthFailure | F::HostKeyOrCertificate),
        ChangeKind::Configuration => matches!(
            category,
            F::Timeout | F::AuthFailure | F::PermissionDenied | F::MissingInput | F::CapacityQuota
        ),
        ChangeKind::Deployment => matches!(category, F::MissingInput | F::OutOfMemory),
        ChangeKind::Compute => matches!(category, F::NetworkAccess | F::Timeout | F::Transient),
        ChangeKind::Schedule => matches!(category, F::CapacityQuota | F::Timeout),
        ChangeKind::Operation => category == F::DataQuality,
        // A resource the activity uses was created or deleted: that explains
        // most failures, never a stale input (whose cause is upstream).
        ChangeKind::Lifecycle => !matches!(category, F::StaleUpstream | F::Unknown),
        ChangeKind::Other => false,
    }
}

/// Whether a candidate is sure enough to name as the cause: the usual kind
/// for the failure, or a possible kind on the activity's own resources.
fn names_a_cause(candidate: &Candidate) -> bool {
    match candidate.fit {
        Fit::Main => true,
        Fit::Possible => candidate.reach == Reach::Own,
        Fit::None => false,
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
    let how = match best.fit {
        Fit::Main => "is the usual cause of",
        _ => "can cause",
    };
    let reasons = vec![
        format!(
            "a {} change {how} a {} failure",
            effective_kind(&best.change).as_str(),
            category.label()
        ),
        format!("it {}", reach_words(best.reach, target, pipeline)),
        format!("it was made {}", timing(best.minutes_before)),
    ];
    // Sure only when it is the usual cause and on the activity's own resources.
    let confidence = if best.fit == Fit::Main && best.reach == Reach::Own {
        "high"
    } else {
        "medium"
    };
    ChangeFinding {
        confidence: confidence.into(),
        minutes_before_failure: best.minutes_before,
        reasons,
        change: best.change,
    }
}

/// The root cause with the change that likely caused it, in one sentence.
/// The triage's own confidence follows the sentence, so the change's is
/// worded apart from it.
pub(super) fn with_change(root_cause: &str, finding: &ChangeFinding) -> String {
    let change = &finding.change;
    format!(
        "{root_cause} — likely caused by a change {}: {} by {} at {} ({}; {} match)",
        timing(finding.minutes_before_failure),
        change.summary,
        change.actor,
        change.at.format("%H:%M UTC"),
        change.source,
        finding.confidence
    )
}

#[cfg(test)]
mod tests;
