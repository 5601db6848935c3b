//! Reader and risk reviewer for Terraform plans.
//!
//! Input is the JSON written by `terraform show -json PLANFILE` (format 0.1
//! through 1.x). [`parse_plan`] turns it into a [`TerraformPlan`] and
//! [`summarize`] picks out what an on-call data engineer should look at
//! before approving: destroyed or replaced data stores, access rules, drift.
//!
//! Attribute values never leave this module unredacted: anything Terraform
//! marks sensitive becomes `"(sensitive)"`, `Debug` hides raw values, and
//! the plan's `variables` and `configuration` blocks (which can carry secrets
//! verbatim) are only consulted for outputs' `sensitive` flags.

mod changes;
mod error;
mod json;
mod model;
mod parse;
mod redact;
mod risk;
mod state;
mod summary;

#[cfg(test)]
mod tests;

pub use error::PlanError;
pub use model::{
    AttributeChange, ChangeKind, CheckResult, OutputChange, ResourceChange, StateResource,
    TerraformPlan,
};
pub use parse::parse_plan;
pub use redact::{SENSITIVE, UNKNOWN};
pub use risk::{RiskyChange, Severity, explain_action_reason, render_path};
pub use summary::{ActionCounts, DriftItem, PlanSummary, summarize};
