//! `what_changed`: the changes recorded in a window, optionally scoped to what
//! one pipeline touches.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::triage::EvidenceGap;
use crate::model::change::Change;

// `what_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhatChangedResult {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The pipeline the changes were scoped to, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// The names a change had to concern to count (the pipeline, its datasets,
    /// linked services, secrets, hosts, clusters); empty when unscoped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// Newest first, at most the limit asked for.
    pub changes: Vec<Change>,
    /// How many more matched than are listed.
    pub more: usize,
    /// The change records read (`azure activity log`, `key vault kv-prod`, `sandbox`).
    pub sources: Vec<String>,
    /// Change records that could not be read: the list lacks their changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<EvidenceGap>,
}
