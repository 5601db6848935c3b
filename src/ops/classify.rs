//! What kind of failure an error message describes.
//!
//! The rules are facts about the vendors' messages (Entra ID AADSTS codes, ADF
//! error codes, Spark and JVM exceptions), not about any one estate: they apply
//! to real factories, Airflow task logs and Databricks run output alike.

pub use crate::model::contract::FailureCategory;

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
        }
    }
}

/// Rules in priority order: the first whose any needle matches wins.
const RULES: &[(FailureCategory, &[&str])] = &[
    (
        FailureCategory::StaleUpstream,
        &[
            "stale_upstream",
            "upstream data is stale",
            "upstream_failed",
        ],
    ),
    (
        FailureCategory::ExpiredCredential,
        &[
            "aadsts7000222",
            "client secret keys",
            "secret keys for app",
            "password expired",
            "password has expired",
            "token has expired",
            "token expired",
            "certificate has expired",
            "certificate expired",
            "secretexpired",
        ],
    ),
    (
        FailureCategory::OutOfMemory,
        &[
            "outofmemoryerror",
            "java heap space",
            "gc overhead limit",
            "exited with code 52",
            "exit code 52",
            "exceeding memory limits",
            "memoryerror",
            "oomkilled",
            "out of memory",
            "container killed",
        ],
    ),
    (
        FailureCategory::SchemaDrift,
        &[
            "analysisexception",
            "unresolved_column",
            "cannot be resolved",
            "cannot resolve",
            "invalid column name",
            "schema mismatch",
            "column not found",
            "typeconversionfailure",
            "schema has changed",
        ],
    ),
    (
        FailureCategory::MissingInput,
        &[
            "blobnotexist",
            "sourceblobnotexists",
            "required blob is missing",
            "filenotfound",
            "pathnotfound",
            "no such file",
            "nosuchkey",
            "path does not exist",
            "file does not exist",
            "table or view not found",
        ],
    ),
    (
        FailureCategory::AuthFailure,
        &[
            "aadsts",
            "invalid_client",
            "unauthorized",
            "forbidden",
            "login failed",
            "authorizationfailed",
            "authentication failed",
            "access denied",
            "accessdenied",
            "permission denied",
            "http error 401",
            "http error 403",
        ],
    ),
    (
        FailureCategory::NetworkAccess,
        &[
            "not allowed to access the server",
            "firewall",
            "connection refused",
            "name or service not known",
            "could not resolve",
            "no route to host",
        ],
    ),
    (
        FailureCategory::Timeout,
        &[
            "timed out",
            "timeoutexception",
            "operation timeout",
            "exceeded the timeout",
        ],
    ),
    (
        FailureCategory::Transient,
        &[
            "allocationfailed",
            "cloud_provider_launch_failure",
            "forcibly closed",
            "transient",
            "throttl",
            "serviceunavailable",
            "internal error",
            "too many requests",
        ],
    ),
];

/// Classifies an error code and message; the matched needle is returned as the reason.
pub fn classify(code: &str, message: &str) -> (FailureCategory, Option<&'static str>) {
    let text = format!("{code} {message}").to_lowercase();
    for (category, needles) in RULES {
        if let Some(needle) = needles.iter().find(|n| text.contains(*n)) {
            return (*category, Some(needle));
        }
    }
    (FailureCategory::Unknown, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_client_secret_beats_generic_auth() {
        let (category, why) = classify(
            "2200",
            "Error Message: AADSTS7000222: The provided client secret keys for app 'x' are expired.",
        );
        assert_eq!(category, FailureCategory::ExpiredCredential);
        assert_eq!(why, Some("aadsts7000222"));
    }

    #[test]
    fn spark_errors_are_recognised() {
        assert_eq!(
            classify(
                "3204",
                "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION]"
            )
            .0,
            FailureCategory::SchemaDrift
        );
        assert_eq!(
            classify(
                "3204",
                "ExecutorLostFailure ... Reason: Command exited with code 52"
            )
            .0,
            FailureCategory::OutOfMemory
        );
    }

    #[test]
    fn freshness_failures_point_upstream() {
        assert_eq!(
            classify("STALE_UPSTREAM", "Upstream data is stale: ds_curated_sales").0,
            FailureCategory::StaleUpstream
        );
    }

    #[test]
    fn missing_blob_is_missing_input() {
        assert_eq!(
            classify(
                "2200",
                "ErrorCode=UserErrorSourceBlobNotExists, The required Blob is missing."
            )
            .0,
            FailureCategory::MissingInput
        );
    }

    #[test]
    fn unknown_text_is_unknown() {
        assert_eq!(classify("42", "something odd").0, FailureCategory::Unknown);
    }
}
