//! What kind of failure an error message describes, and what to do about it.
//!
//! The recognising is the knowledge base's (`ops::knowledge`, from the
//! vendors' troubleshooting guides): facts about the vendors' messages, not
//! about any one estate, so they apply to real factories, Airflow task logs
//! and Databricks run output alike. Here: what each kind means for the
//! on-call engineer, and the steps that usually follow.

pub use crate::model::contract::FailureCategory;
pub use crate::ops::knowledge::Classification;

/// Classifies an error code and message: the category, the knowledge-base
/// entry that explains it (cause, fix, source) and the telling part quoted.
pub fn classify(code: &str, message: &str) -> Classification {
    crate::ops::knowledge::classify(code, message)
}

// The kinds are part of the tool-result contract; what each means for the
// on-call engineer is the domain's, here.
impl FailureCategory {
    pub fn label(self) -> &'static str {
        match self {
            FailureCategory::StaleUpstream => "stale upstream data",
            FailureCategory::ExpiredCredential => "expired credential",
            FailureCategory::AuthFailure => "authentication/authorisation failure",
            FailureCategory::MissingInput => "missing input data",
            FailureCategory::SchemaDrift => "schema drift",
            FailureCategory::OutOfMemory => "out of memory",
            FailureCategory::NetworkAccess => "network access",
            FailureCategory::Timeout => "timeout",
            FailureCategory::Transient => "transient platform error",
            FailureCategory::Unknown => "unrecognised error",
            FailureCategory::Throttling => "throttling (rate limited)",
            FailureCategory::ComputeUnavailable => "paused or stopped compute",
            FailureCategory::CapacityQuota => "capacity or quota limit",
            FailureCategory::PermissionDenied => "permission denied",
            FailureCategory::HostKeyOrCertificate => "host key or certificate problem",
            FailureCategory::DataQuality => "data quality (duplicate keys, nulls, constraints)",
            FailureCategory::Configuration => "configuration error",
            FailureCategory::CodeError => "error in the job's code or query",
            FailureCategory::ConcurrencyConflict => {
                "concurrency conflict (deadlock, lock, conflicting commit)"
            }
            FailureCategory::WorkerLost => "worker or process lost",
            FailureCategory::StorageFull => "storage full",
        }
    }

    /// What an on-call engineer usually does next for this kind of failure.
    pub fn next_steps(self) -> &'static [&'static str] {
        match self {
            FailureCategory::StaleUpstream => &[
                "Fix the upstream pipeline first; this one fails only because its input is stale",
                "After the upstream run succeeds, re-run this pipeline (rerun_pipeline, dry_run first)",
            ],
            FailureCategory::ExpiredCredential => &[
                "Create a new client secret / password for the identity and store it as a new version of the Key Vault secret",
                "Set an expiry on the new version and a rotation reminder (list_secrets shows what expires next)",
                "Re-run the failed pipelines from the failed activity once the new secret is in place, upstream first",
            ],
            FailureCategory::AuthFailure => &[
                "Check the identity's role assignments and Key Vault access policy for the resource named in the error",
                "Check recent changes to access (Terraform plans, drift) before re-running",
            ],
            FailureCategory::MissingInput => &[
                "Confirm with the data provider whether the delivery is late or missing",
                "Re-run once the input has landed; do not backfill with empty data",
            ],
            FailureCategory::SchemaDrift => &[
                "Compare the source schema with what the transformation expects (the column named in the error)",
                "Agree the change with the source team, update the transformation or add a mapping, then re-run",
            ],
            FailureCategory::OutOfMemory => &[
                "Compare input volume with a good run (compare_runs): a jump in rows usually explains it",
                "Find why the volume grew; scale the cluster (bigger workers or more of them) only as a stop-gap",
            ],
            FailureCategory::NetworkAccess => &[
                "Check firewall rules, private endpoints and DNS for the endpoint in the error (detect_infra_drift shows manual changes)",
            ],
            FailureCategory::Timeout => {
                &["Compare duration and volume with a good run; check the source system's load"]
            }
            FailureCategory::Transient => {
                &["Re-run; if it recurs, check the platform's status and capacity in the region"]
            }
            FailureCategory::Unknown => {
                &["Read the full error and the run's logs (fetch_logs with the run id)"]
            }
            FailureCategory::Throttling => &[
                "Honour the service's Retry-After, then re-run; lower the pipeline's concurrency or trigger frequency",
                "Check what raised the request rate (a trigger or schedule change, a backfill) before asking for a higher limit",
            ],
            FailureCategory::ComputeUnavailable => &[
                "Resume or start the compute named in the error, then re-run the failed activity",
                "Find what paused or stopped it (an automation, a schedule, a person) and align it with the pipeline schedule",
            ],
            FailureCategory::CapacityQuota => &[
                "Free capacity (stop idle clusters, scale down other workloads) or request a quota increase for the region and VM family",
                "Re-run once capacity is available; check who or what consumed it",
            ],
            FailureCategory::PermissionDenied => &[
                "Restore the role assignment or ACL the identity needs on the resource named in the error (list recent access changes)",
                "Re-run the failed pipelines once access is back, upstream first",
            ],
            FailureCategory::HostKeyOrCertificate => &[
                "Verify the new host key or certificate with the remote party out of band before trusting it",
                "Update the pinned fingerprint or trust store in the linked service, then re-run",
            ],
            FailureCategory::DataQuality => &[
                "Find the offending rows (the key or column in the error) and the change that let them in",
                "Fix the data or the load logic (dedupe, upsert instead of insert, default nulls), then re-run; do not disable the constraint",
            ],
            FailureCategory::Configuration => &[
                "Compare the activity, dataset and linked service settings with the last good run's (recent deployments first)",
                "Fix the setting named in the error, then re-run",
            ],
            FailureCategory::CodeError => &[
                "Reproduce the failing statement or notebook cell with the run's parameters and fix the code",
                "Check the latest release of the job's code for the change that introduced it",
            ],
            FailureCategory::ConcurrencyConflict => &[
                "Re-run: the competing work has usually finished",
                "If it recurs, stagger the schedules of the jobs that write the same table",
            ],
            FailureCategory::WorkerLost => &[
                "Check the worker's or node's logs and memory around the time it was lost",
                "Re-run; if it recurs, give the task more memory or move it off the crowded worker",
            ],
            FailureCategory::StorageFull => &[
                "Free or grow the storage named in the error (disk, transaction log, file group)",
                "Re-run once space is available, and alert on its usage",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_client_secret_beats_generic_auth() {
        let got = classify(
            "2200",
            "Error Message: AADSTS7000222: The provided client secret keys for app 'x' are expired.",
        );
        assert_eq!(got.category, FailureCategory::ExpiredCredential);
        assert_eq!(got.matched.as_deref(), Some("AADSTS7000222"));
        assert!(got.entry.unwrap().fix[0].contains("secret"));
    }

    #[test]
    fn spark_errors_are_recognised() {
        let drift = classify(
            "3204",
            "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION]",
        );
        assert_eq!(drift.category, FailureCategory::SchemaDrift);
        let oom = classify(
            "3204",
            "ExecutorLostFailure ... Reason: Command exited with code 52",
        );
        assert_eq!(oom.category, FailureCategory::OutOfMemory);
    }

    #[test]
    fn unknown_text_is_unknown() {
        assert_eq!(
            classify("42", "something odd").category,
            FailureCategory::Unknown
        );
    }

    #[test]
    fn every_category_has_a_label_and_next_steps() {
        let all = [
            FailureCategory::StaleUpstream,
            FailureCategory::ExpiredCredential,
            FailureCategory::AuthFailure,
            FailureCategory::MissingInput,
            FailureCategory::SchemaDrift,
            FailureCategory::OutOfMemory,
            FailureCategory::NetworkAccess,
            FailureCategory::Timeout,
            FailureCategory::Transient,
            FailureCategory::Unknown,
            FailureCategory::Throttling,
            FailureCategory::ComputeUnavailable,
            FailureCategory::CapacityQuota,
            FailureCategory::PermissionDenied,
            FailureCategory::HostKeyOrCertificate,
            FailureCategory::DataQuality,
            FailureCategory::Configuration,
            FailureCategory::CodeError,
            FailureCategory::ConcurrencyConflict,
            FailureCategory::WorkerLost,
            FailureCategory::StorageFull,
        ];
        let labels: std::collections::HashSet<&str> = all.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), all.len(), "labels are distinct");
        assert!(all.iter().all(|c| !c.next_steps().is_empty()));
    }
}
