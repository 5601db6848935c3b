//! The contract of the tool results: what each read tool answers, as types the
//! server writes and the console and the offline agent read back. One
//! definition per result, so a renamed field breaks the build or a test, never
//! a reader silently (a result that does not parse is an error that says so).
//!
//! The JSON schema of each type is the tool's `outputSchema`; the JSON the
//! server emits is exactly what `Serialize` writes. Reading is tolerant of
//! additions (unknown fields are ignored) and strict about what is there.
//! A type's doc comment becomes its schema's description, so result types
//! that had none keep none (notes on them are plain comments).
//!
//! Results that carry Terraform plan types (`parse_terraform_plan`,
//! `explain_plan_diff`, `detect_infra_drift`) live with the plan reader's
//! layer in `ops::infra`: no reader here reads them.

mod changes;
mod infra;
mod logs;
mod pipelines;
mod remediation;
mod runs;
mod secrets;
mod triage;

pub use changes::WhatChangedResult;
pub use infra::{PlanListing, PlansResult, ResourceHealth, ResourcesResult};
pub use logs::{ClusterBrief, FetchLogsResult, SummarizeResult};
pub use pipelines::{DependenciesResult, LinkedServiceBrief, ListPipelinesResult, PipelineSummary};
pub use remediation::RemediationOutcome;
pub use runs::{
    ActivityComparison, CompareResult, FailureGroup, FailuresResult, ListRunsResult,
    PipelineStatus, RunBrief, RunDetails, RunRef,
};
pub use secrets::{ListSecretsResult, SecretConsumer, SecretReport, SecretUsage};
pub use triage::{
    ChangeFinding, Evidence, EvidenceGap, FailureCategory, FailureStep, SecretFinding, TriageReport,
};
