//! The domain of incident work, independent of how it is asked for (MCP tool,
//! console, offline agent): classifying failures, the triage walk, run
//! comparison and remediation.

pub mod changes;
pub mod classify;
pub mod compare;
pub mod dependencies;
pub mod error;
pub mod failures;
pub mod infra;
pub mod knowledge;
pub mod log_clusters;
pub mod logs;
pub mod pipelines;
pub mod policy;
pub mod remediation;
pub mod runs;
pub mod secrets;
pub mod triage;
