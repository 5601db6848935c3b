//! Infrastructure the readers look at: the known plans, and cloud resources.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::resource::Resource;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanListing {
    pub name: String,
    pub description: Option<String>,
    /// "Plan: 2 to add, 1 to change, 1 to destroy…", or why the plan could not be read.
    pub headline: String,
    pub risky_changes: usize,
}

// `list_terraform_plans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlansResult {
    pub count: usize,
    pub plans: Vec<PlanListing>,
}

// `list_resources_by_tag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesResult {
    pub count: usize,
    pub resources: Vec<Resource>,
}

// `get_resource_health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceHealth {
    pub resource: Resource,
    pub healthy: bool,
    pub verdict: String,
    /// Connections whose endpoint is this resource.
    pub linked_services: Vec<String>,
    pub pipelines: Vec<String>,
}
