//! `triage_run`: from a failed run to its root cause, with the evidence.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::logs::ClusterBrief;
use crate::model::change::Change;
use crate::model::run::RunStatus;
use crate::model::secret::SecretRiskLevel;

// What kind of failure an error describes. The rules that classify and the
// next steps for each kind are the domain's (`ops::classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureCategory {
    /// An upstream dataset was not refreshed; the cause is upstream.
    StaleUpstream,
    /// A credential (client secret, password, token, certificate) expired.
    ExpiredCredential,
    /// Authentication or authorisation failed for another reason.
    AuthFailure,
    /// An expected input file, folder, partition or table is missing.
    MissingInput,
    /// The data's schema no longer matches what the code expects.
    SchemaDrift,
    /// A process or cluster ran out of memory.
    OutOfMemory,
    /// The service could not be reached (firewall, DNS, refused connection).
    NetworkAccess,
    Timeout,
    /// Capacity or transient platform trouble; a retry may succeed.
    Transient,
    Unknown,
    /// The service rate-limited the caller (HTTP 429, Retry-After, request limits).
    Throttling,
    /// The compute is paused, stopped or terminated (a paused SQL pool, a terminated cluster).
    ComputeUnavailable,
    /// A quota or capacity limit was reached (vCPU quota, DTU/CPU limits, resource limits).
    CapacityQuota,
    /// The identity authenticated but lacks (or lost) the permission for the operation.
    PermissionDenied,
    /// A pinned SSH host key or a TLS certificate does not match, is untrusted or expired.
    HostKeyOrCertificate,
    /// The data breaks a rule: duplicate keys, nulls, constraint violations, malformed rows.
    DataQuality,
    /// The activity, linked service or job is set up wrongly (a bad path, property or parameter).
    Configuration,
    /// The job's own code or query is wrong (syntax, a bad cast, division by zero).
    CodeError,
    /// Concurrent work collided: a deadlock, a lock timeout, a conflicting commit.
    ConcurrencyConflict,
    /// The worker, executor or process running the task was lost or killed.
    WorkerLost,
    /// A disk, log or file group is full.
    StorageFull,
}

/// One hop on the way from the triaged run to the failing activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailureStep {
    pub pipeline: String,
    pub run_id: String,
    pub activity: String,
    pub activity_type: String,
    pub error_code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// `error`, `upstream`, `secret`, `logs`, `history`, `infra`, `volume`.
    pub kind: String,
    pub detail: String,
    /// The tool that shows it in full.
    pub tool: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretFinding {
    pub secret: String,
    pub risk: SecretRiskLevel,
    pub reasons: Vec<String>,
    pub expires: Option<DateTime<Utc>>,
    /// Why it is connected to this failure.
    pub link: String,
}

/// Something triage could not read, so the answer is built without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceGap {
    /// What was not read: `linked services`, `secrets in vault kv-prod`, `logs`, `resources`…
    pub what: String,
    /// Why, as the service said it: no permission, not found, unreachable.
    pub why: String,
}

impl std::fmt::Display for EvidenceGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: not readable ({})", self.what, self.why)
    }
}

// `triage_run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TriageReport {
    pub run_id: String,
    pub pipeline: String,
    pub environment: String,
    pub status: RunStatus,
    /// From the triaged run down to the failing activity.
    pub failing_path: Vec<FailureStep>,
    pub category: FailureCategory,
    /// The root cause as best the evidence shows, in one sentence.
    pub root_cause: String,
    /// Where the root cause lives when it is upstream of the triaged run.
    pub root_cause_pipeline: String,
    /// `high` when corroborated by independent evidence, `medium` when the error alone says it, `low` otherwise.
    pub confidence: String,
    pub evidence: Vec<Evidence>,
    pub secrets: Vec<SecretFinding>,
    pub log_clusters: Vec<ClusterBrief>,
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: usize,
    /// Pipelines that depend on the root-cause pipeline and fail or go stale with it.
    pub blast_radius: Vec<String>,
    pub next_steps: Vec<String>,
    /// What could not be read (no permission, not found, unreachable), so the
    /// answer is built without it. Absent when everything was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<EvidenceGap>,
    /// The recorded change that likely caused the failure, when one fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeFinding>,
}

/// The change a triage found behind a failure, and how sure it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeFinding {
    pub change: Change,
    /// `high` when its kind fits the failure and it touches the failing
    /// activity's own resources; `medium` when it fits but touches only the
    /// failing pipeline.
    pub confidence: String,
    /// Minutes from the change to the first failure.
    pub minutes_before_failure: i64,
    /// Why it was chosen, one plain sentence per reason.
    pub reasons: Vec<String>,
}
