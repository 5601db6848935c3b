//! Why a document was rejected. Each message names the problem and the fix,
//! because the reader is usually an on-call engineer or an LLM relaying it.

use thiserror::Error;

const HOW_TO: &str = "run `terraform plan -out=PLANFILE` and pass the output of \
    `terraform show -json PLANFILE`";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error(
        "input is not valid JSON ({detail}); the human-readable `terraform plan` text \
         cannot be read: {HOW_TO}"
    )]
    NotJson { detail: String },

    #[error("expected a JSON object at the top level but found {found}: {HOW_TO}")]
    NotAnObject { found: &'static str },

    #[error(
        "this looks like Terraform state, not a plan (it has `values` but no \
         `planned_values` or `resource_changes`): {HOW_TO}"
    )]
    LooksLikeState,

    #[error(
        "this looks like a raw `terraform.tfstate` file, not a plan (it has \
         `lineage`/`serial`/`resources`): {HOW_TO}"
    )]
    RawStateFile,

    #[error("this JSON is not a Terraform plan ({detail}): {HOW_TO}")]
    NotAPlan { detail: String },

    #[error(
        "the plan has no `format_version` field, so it was not written by \
         `terraform show -json`: {HOW_TO}"
    )]
    MissingFormatVersion,

    #[error("the plan's `format_version` {found} is not a version number like \"1.2\": {HOW_TO}")]
    InvalidFormatVersion { found: String },

    #[error(
        "plan format_version {found} is not supported: this reader understands major \
         versions 0 and 1. Update opsdeck, or render the plan with a Terraform release \
         that writes format 1.x"
    )]
    UnsupportedFormatVersion { found: String },

    #[error(
        "the plan is malformed at `{location}`: {detail}. The file may be truncated or \
         hand-edited: {HOW_TO} again"
    )]
    Malformed { location: String, detail: String },
}
