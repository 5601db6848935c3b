//! What changed: role assignments, deployments, secret versions, compute and
//! schedule changes in a window, from the change records the backends keep.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::contract::WhatChangedResult;
use crate::ops::changes::{self, ChangeQuery, MAX_CHANGES};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};

/// The most changes one call lists, as the schema states it.
const MAX_LIMIT: u32 = MAX_CHANGES as u32;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WhatChangedParams {
    /// Start of the window: RFC 3339 or a duration back from now (30m, 6h, 2d). Default 24h. At most 31 days.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window, same forms. Default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Same as `since` (RFC 3339), for callers that name windows from/to.
    #[serde(default)]
    pub from: Option<String>,
    /// Same as `until` (RFC 3339).
    #[serde(default)]
    pub to: Option<String>,
    /// Only changes to what this pipeline touches: itself, its triggers, datasets, linked services, the secrets, storage, hosts and clusters behind them.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Most changes to list (the newest), 1–500. Default 50.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<u32>,
}

/// One of two names for the same bound; both given and different is refused.
fn one_of<'a>(
    a: Option<&'a str>,
    a_name: &str,
    b: Option<&'a str>,
    b_name: &str,
) -> Result<Option<&'a str>, ToolError> {
    match (a, b) {
        (Some(x), Some(y)) if x.trim() != y.trim() => Err(ToolError::invalid(format!(
            "{a_name} and {b_name} name the same bound; give one of them"
        ))),
        (x, y) => Ok(x.or(y)),
    }
}

#[tool_router(router = change_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "What changed in a window (who, what, when, from where): role assignments, resource writes and deletes, pipeline/linked service/trigger deployments, Key Vault secret versions and enable/disable, compute paused/resized/terminated, schedule edits, manual run operations. Optionally scoped to what one pipeline touches. Newest first. Reads only.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<WhatChangedResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn what_changed(&self, Parameters(params): Parameters<WhatChangedParams>) -> ToolResult {
        respond(self.what_changed_body(params).await)
    }
}

impl OpsdeckServer {
    async fn what_changed_body(&self, params: WhatChangedParams) -> Outcome<WhatChangedResult> {
        let since = one_of(
            params.since.as_deref(),
            "since",
            params.from.as_deref(),
            "from",
        )?;
        let until = one_of(params.until.as_deref(), "until", params.to.as_deref(), "to")?;
        let window = self.window(since, until, 24)?;
        let limit = match params.limit {
            None => 50,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n as usize,
            Some(n) => {
                return Err(ToolError::invalid(format!(
                    "limit {n} is out of range: give 1 to {MAX_LIMIT}, and narrow the window or scope to a pipeline when more changed"
                )));
            }
        };
        let pipeline = params
            .pipeline
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty());
        changes::what_changed(
            self.backends(),
            &ChangeQuery {
                window,
                pipeline,
                limit,
            },
        )
        .await
    }
}
