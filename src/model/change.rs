//! A change to the estate: who did what to which resource, when and from where.
//! Read from the vendors' own change records (Azure Activity Log, Key Vault
//! secret versions, Data Factory definitions, Airflow's audit log and DAG
//! versions, Databricks cluster events, Terraform) and from the sandbox.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of change, for ranking and for the engineer's eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Who may do what: role assignments, access policies, firewall rules for identities.
    Access,
    /// A secret, key or certificate: a new version, enabled, disabled, deleted.
    Secret,
    /// A definition was deployed or edited: pipeline, linked service, DAG, job settings.
    Deployment,
    /// A resource's settings changed: SKU, network rules, cluster size, host keys.
    Configuration,
    /// Compute started, stopped, paused, resized, restarted or terminated.
    Compute,
    /// A schedule or trigger was paused, resumed or changed.
    Schedule,
    /// A manual operation on runs: a clear, a trigger, a cancel, a backfill.
    Operation,
    /// A resource was created or deleted.
    Lifecycle,
    /// Anything else a source records.
    Other,
}

/// One change, as a source recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    pub at: DateTime<Utc>,
    /// Who made it: a user principal name, an application or managed identity,
    /// a service ("Azure Automation runbook …"); `unknown` when the source does not say.
    pub actor: String,
    /// The source's own name for it (`Microsoft.Authorization/roleAssignments/delete`,
    /// `clear`, `EDITED`, `SecretNewVersionCreated`).
    pub operation: String,
    pub kind: ChangeKind,
    /// The changed resource's short name (`stcontosolakeprod`, `ls_sftp_wms`, `transform_sales`).
    pub resource: String,
    /// What sort of resource (`storage account`, `linked service`, `secret`, `cluster`, `dag`).
    pub resource_type: String,
    /// The full identifier where the source gives one (an ARM id, a cluster id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The change in plain words.
    pub summary: String,
    /// Where it came from: a client IP, an application, a host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The record's status when the source gives one (`Succeeded`, `Failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Which source recorded it (`azure activity log`, `key vault`, `airflow audit log`, `sandbox`).
    pub source: String,
    /// Other names the change concerns, for scoping: the principal of a role
    /// assignment, the storage account under a container, the DAG of a task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<String>,
}

impl Change {
    /// Every name this change concerns, lower-cased, for scoping.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(&self.resource)
            .chain(self.resource_id.iter())
            .chain(self.touches.iter())
            .map(|n| n.to_lowercase())
    }
}

impl ChangeKind {
    /// The kind as one word, for sentences and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Access => "access",
            ChangeKind::Secret => "secret",
            ChangeKind::Deployment => "deployment",
            ChangeKind::Configuration => "configuration",
            ChangeKind::Compute => "compute",
            ChangeKind::Schedule => "schedule",
            ChangeKind::Operation => "operation",
            ChangeKind::Lifecycle => "lifecycle",
            ChangeKind::Other => "other",
        }
    }
}

impl Change {
    /// Whether the change concerns any of `names` (lower-cased). A name matches
    /// a change's name exactly, or as the last segment of an identifier
    /// (`…/storageAccounts/stcontosolakeprod`).
    pub fn touches_any(&self, names: &std::collections::BTreeSet<String>) -> bool {
        self.names().any(|n| {
            names.contains(&n)
                || n.rsplit('/')
                    .next()
                    .is_some_and(|last| names.contains(last))
        })
    }

    /// One line: when, who, what (`02:46 UTC dana@contoso.com: Removed role …`).
    pub fn one_line(&self) -> String {
        format!(
            "{} {}: {}",
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.actor,
            self.summary
        )
    }
}
