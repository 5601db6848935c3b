//! The domain of incident work, independent of how it is asked for (MCP tool,
//! console, offline agent): classifying failures, the triage walk, run
//! comparison and remediation.

pub mod classify;
