//! Secrets: metadata with a risk assessment, and what depends on each. No
//! result carries a secret's value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::graph::Reached;
use crate::model::secret::{SecretMeta, SecretRisk};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretReport {
    #[serde(flatten)]
    pub meta: SecretMeta,
    pub risk: SecretRisk,
    /// Connections that read this secret.
    pub used_by: Vec<String>,
}

// `list_secrets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListSecretsResult {
    pub vaults: Vec<String>,
    pub count: usize,
    pub secrets: Vec<SecretReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretConsumer {
    pub linked_service: String,
    pub service_type: String,
    /// Which property of the connection the secret fills.
    pub property: String,
}

// `get_secret_usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretUsage {
    pub secret: SecretReport,
    pub linked_services: Vec<SecretConsumer>,
    /// Pipelines that authenticate with the secret.
    pub pipelines_direct: Vec<String>,
    /// Pipelines that depend on those through data (they go stale or fail next).
    pub pipelines_downstream: Vec<Reached>,
    /// Direct pipelines whose latest run failed.
    pub failing_now: Vec<String>,
    /// The secret's versions, newest first (metadata only).
    pub versions: Vec<SecretMeta>,
    /// Why the versions could not be listed, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions_error: Option<String>,
}
