//! Cloud resources as Azure Resource Manager describes them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A cloud resource (ARM `GenericResource` shape, trimmed to what triage needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resource {
    /// Full ARM id.
    pub id: String,
    pub name: String,
    /// `Microsoft.Storage/storageAccounts`, …
    pub resource_type: String,
    pub resource_group: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// ARM `provisioningState`: `Succeeded`, `Failed`, `Updating`, …
    pub provisioning_state: String,
    /// Availability as the platform reports it (Resource Health), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
    /// Host names or URLs the resource serves, used to tie it to connections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
}

impl Resource {
    /// "Available", or says it is unknown.
    pub fn availability_text(&self) -> &str {
        self.availability
            .as_deref()
            .unwrap_or("availability unknown")
    }

    /// True when the resource should be usable.
    pub fn is_healthy(&self) -> bool {
        self.provisioning_state.eq_ignore_ascii_case("Succeeded")
            && self
                .availability
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("Available"))
    }
}
