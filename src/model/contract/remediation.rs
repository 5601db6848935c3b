//! Remediation: what `rerun_pipeline` and `cancel_run` did, or would do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::run::BackendKind;

/// What a remediation did, or would do in a dry run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemediationOutcome {
    pub action: String,
    pub dry_run: bool,
    pub backend: BackendKind,
    pub environment: String,
    pub pipeline: String,
    /// The run acted on (the reference run of a rerun, the cancelled run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_run_id: Option<String>,
    /// The run a rerun started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_run_id: Option<String>,
    /// Step by step, what happens (or would happen).
    pub steps: Vec<String>,
}
