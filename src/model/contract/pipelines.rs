//! Pipelines: what exists, and what depends on what.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::graph::Reached;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineSummary {
    pub name: String,
    pub backend: String,
    pub environment: String,
    pub folder: Option<String>,
    pub description: Option<String>,
    pub schedule: Option<String>,
    pub activity_count: usize,
    pub activity_types: Vec<String>,
}

// `list_pipelines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListPipelinesResult {
    pub count: usize,
    pub pipelines: Vec<PipelineSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LinkedServiceBrief {
    pub name: String,
    pub service_type: String,
    pub endpoint: Option<String>,
    pub secrets: Vec<String>,
}

// `get_pipeline_dependencies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DependenciesResult {
    pub pipeline: String,
    pub upstream: Vec<Reached>,
    pub downstream: Vec<Reached>,
    pub datasets_read: Vec<String>,
    pub datasets_written: Vec<String>,
    pub linked_services: Vec<LinkedServiceBrief>,
    pub secrets: Vec<String>,
    pub schedule: Option<String>,
}
