//! Secret metadata and blast radius. No code path here can read a secret value:
//! the backends' [`SecretStore`](crate::backends::SecretStore) has no such method.

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::contract::{ListSecretsResult, SecretUsage};
use crate::model::secret::SecretRiskLevel;
use crate::model::time::{DurationError, try_parse_duration};
use crate::ops::secrets::{self, SecretFilter};
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSecretsParams {
    /// Only secrets whose name contains this text (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Only secrets expiring within this long (e.g. 30d; at most 3650d), or already expired.
    #[serde(default)]
    pub expiring_within: Option<String>,
    /// Only secrets at or above this risk: ok, low, medium, high, critical. Default: all.
    #[serde(default)]
    pub min_risk: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SecretParam {
    /// Secret name as listed by list_secrets.
    pub secret: String,
}

/// The longest `expiring_within` accepted: ten years.
pub const MAX_EXPIRING_WITHIN_DAYS: i64 = 3_650;
const MAX_EXPIRING_WITHIN: Duration = Duration::days(MAX_EXPIRING_WITHIN_DAYS);

/// The instant `expiring_within` reaches to from `now`, refusing what is not a
/// duration or is longer than [`MAX_EXPIRING_WITHIN_DAYS`].
fn expiry_horizon(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ToolError> {
    let shown: String = raw.chars().take(64).collect();
    let too_long = || {
        ToolError::invalid(format!(
            "expiring_within '{shown}' is too long; the most is {MAX_EXPIRING_WITHIN_DAYS}d (ten years)"
        ))
    };
    let within = match try_parse_duration(raw) {
        Ok(within) => within,
        Err(DurationError::TooLong) => return Err(too_long()),
        Err(DurationError::NotADuration) => {
            return Err(ToolError::invalid(format!(
                "expiring_within '{shown}' is not a duration; use e.g. 7d, 30d or 12h"
            )));
        }
    };
    if within > MAX_EXPIRING_WITHIN {
        return Err(too_long());
    }
    now.checked_add_signed(within).ok_or_else(too_long)
}

fn parse_risk(raw: &str) -> Result<SecretRiskLevel, ToolError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "ok" => Ok(SecretRiskLevel::Ok),
        "low" => Ok(SecretRiskLevel::Low),
        "medium" => Ok(SecretRiskLevel::Medium),
        "high" => Ok(SecretRiskLevel::High),
        "critical" => Ok(SecretRiskLevel::Critical),
        other => Err(ToolError::invalid(format!(
            "min_risk '{other}' is not a risk level; use ok, low, medium, high or critical"
        ))),
    }
}

#[tool_router(router = secret_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "List Key Vault secrets' metadata (enabled, created, updated, expires, tags) with a risk assessment and the connections that use each. Never reads secret values.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ListSecretsResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_secrets(&self, Parameters(params): Parameters<ListSecretsParams>) -> ToolResult {
        respond(self.list_secrets_body(params).await)
    }

    #[tool(
        description = "Blast radius of a secret: the connections that read it, the pipelines using them, and the pipelines downstream that break next if it expires or is rotated badly.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<SecretUsage>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_secret_usage(&self, Parameters(params): Parameters<SecretParam>) -> ToolResult {
        respond(secrets::secret_usage(self.backends(), &params.secret).await)
    }
}

impl OpsdeckServer {
    async fn list_secrets_body(&self, params: ListSecretsParams) -> Outcome<ListSecretsResult> {
        let expiring_before = match params.expiring_within.as_deref() {
            Some(raw) => Some(expiry_horizon(raw, self.now())?),
            None => None,
        };
        let filter = SecretFilter {
            min_risk: params.min_risk.as_deref().map(parse_risk).transpose()?,
            name_contains: params.name_contains,
            expiring_before,
        };
        secrets::list_secrets(self.backends(), &filter).await
    }
}
