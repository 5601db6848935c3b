//! Failure diagnosis rules shared by the `triage_run` tool and the offline agent.

pub mod classify;
