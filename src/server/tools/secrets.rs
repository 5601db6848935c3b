//! Secret metadata and blast radius. No code path here can read a secret value:
//! the backends' [`SecretStore`](crate::backends::SecretStore) has no such method.

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backends::RunQuery;
use crate::model::graph::Reached;
use crate::model::run::RunStatus;
use crate::model::secret::{SecretMeta, SecretRisk, SecretRiskLevel, human_duration};
use crate::model::time::{DurationError, try_parse_duration};
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

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretReport {
    #[serde(flatten)]
    pub meta: SecretMeta,
    pub risk: SecretRisk,
    /// Connections that read this secret.
    pub used_by: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListSecretsResult {
    pub vaults: Vec<String>,
    pub count: usize,
    pub secrets: Vec<SecretReport>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SecretParam {
    /// Secret name as listed by list_secrets.
    pub secret: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretConsumer {
    pub linked_service: String,
    pub service_type: String,
    /// Which property of the connection the secret fills.
    pub property: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretUsage {
    pub secret: SecretReport,
    pub linked_services: Vec<SecretConsumer>,
    /// Pipelines that authenticate with the secret.
    pub pipelines_direct: Vec<String>,
    /// Pipelines that depend on those through data (they go stale or fail next).
    pub pipelines_downstream: Vec<Reached>,
    /// Direct pipelines whose latest run failed.
    pub failing_now: Vec<String>,
    /// The secret's versions, newest first (metadata only).
    pub versions: Vec<SecretMeta>,
    /// Why the versions could not be listed, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions_error: Option<String>,
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
        respond(self.secret_usage_body(&params.secret).await)
    }
}

impl OpsdeckServer {
    async fn all_secrets(&self) -> Result<Vec<SecretMeta>, ToolError> {
        if self.backends().secrets.is_empty() {
            return Err(ToolError::unavailable(
                "no secret store is configured for this server (Key Vault needs AZURE_KEY_VAULT_NAME or a [keyvault] entry)",
            ));
        }
        let mut all = Vec::new();
        for store in &self.backends().secrets {
            all.extend(store.list_secrets().await?);
        }
        Ok(all)
    }

    pub(crate) async fn secret_report(&self, meta: SecretMeta) -> Result<SecretReport, ToolError> {
        let catalog = self.backends().catalog().await?;
        Ok(SecretReport {
            risk: meta.risk(self.now()),
            used_by: catalog.linked_services_using_secret(&meta.name),
            meta,
        })
    }

    async fn list_secrets_body(&self, params: ListSecretsParams) -> Outcome<ListSecretsResult> {
        let now = self.now();
        let horizon = match params.expiring_within.as_deref() {
            Some(raw) => Some(expiry_horizon(raw, now)?),
            None => None,
        };
        let min_risk = params.min_risk.as_deref().map(parse_risk).transpose()?;
        let needle = params.name_contains.as_deref().map(str::to_lowercase);
        let mut reports = Vec::new();
        for meta in self.all_secrets().await? {
            if needle
                .as_ref()
                .is_some_and(|n| !meta.name.to_lowercase().contains(n))
            {
                continue;
            }
            if let Some(horizon) = horizon
                && meta.expires.is_none_or(|exp| exp > horizon)
            {
                continue;
            }
            let report = self.secret_report(meta).await?;
            if min_risk.is_some_and(|min| report.risk.level < min) {
                continue;
            }
            reports.push(report);
        }
        reports.sort_by(|a, b| {
            b.risk
                .level
                .cmp(&a.risk.level)
                .then_with(|| a.meta.name.cmp(&b.meta.name))
        });
        let mut vaults: Vec<String> = self
            .backends()
            .secrets
            .iter()
            .map(|s| s.vault().to_string())
            .collect();
        vaults.dedup();
        let flagged: Vec<String> = reports
            .iter()
            .filter(|r| r.risk.level >= SecretRiskLevel::Medium)
            .map(|r| {
                format!(
                    "{} ({})",
                    r.meta.name,
                    r.risk.reasons.first().cloned().unwrap_or_default()
                )
            })
            .collect();
        let summary = format!(
            "[{}] {} secrets in {}; {} need attention{}",
            self.backends().label,
            reports.len(),
            vaults.join(", "),
            flagged.len(),
            if flagged.is_empty() {
                String::new()
            } else {
                format!(": {}", flagged.join("; "))
            }
        );
        Ok((
            summary,
            ListSecretsResult {
                vaults,
                count: reports.len(),
                secrets: reports,
            },
        ))
    }

    /// The versions of a secret from the vault that holds it.
    async fn versions_of(&self, meta: &SecretMeta) -> (Vec<SecretMeta>, Option<String>) {
        let Some(store) = self
            .backends()
            .secrets
            .iter()
            .find(|s| s.vault().eq_ignore_ascii_case(&meta.vault))
        else {
            return (
                Vec::new(),
                Some(format!("no configured vault is named {}", meta.vault)),
            );
        };
        match store.secret_versions(&meta.name).await {
            Ok(versions) => (versions, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    }

    async fn secret_usage_body(&self, name: &str) -> Outcome<SecretUsage> {
        let secrets = self.all_secrets().await?;
        let Some(meta) = secrets
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .cloned()
        else {
            let known: Vec<String> = secrets.iter().map(|s| s.name.clone()).collect();
            return Err(
                crate::backends::BackendError::not_found_among("secret", name, &known).into(),
            );
        };
        let catalog = self.backends().catalog().await?;
        let linked_services: Vec<SecretConsumer> = catalog
            .linked_services
            .iter()
            .flat_map(|ls| {
                ls.secrets
                    .iter()
                    .filter(|s| s.secret_name.eq_ignore_ascii_case(&meta.name))
                    .map(|s| SecretConsumer {
                        linked_service: ls.name.clone(),
                        service_type: ls.service_type.clone(),
                        property: s.property.clone(),
                    })
            })
            .collect();
        let mut direct: Vec<String> = Vec::new();
        for consumer in &linked_services {
            for pipeline in catalog.pipelines_using_linked_service(&consumer.linked_service) {
                if !direct.contains(&pipeline) {
                    direct.push(pipeline);
                }
            }
        }
        let mut downstream: Vec<Reached> = Vec::new();
        for pipeline in &direct {
            for reached in catalog.downstream_of(pipeline, 10) {
                if !direct.contains(&reached.pipeline)
                    && !downstream.iter().any(|d| d.pipeline == reached.pipeline)
                {
                    downstream.push(reached);
                }
            }
        }
        let mut failing_now = Vec::new();
        for pipeline in &direct {
            let backend = self.backends().backend_for_pipeline(pipeline).await?;
            let now = self.now();
            let query = RunQuery::recent(pipeline, vec![], now, Duration::hours(24), 5);
            let latest_done = backend
                .query_runs(&query)
                .await?
                .runs
                .into_iter()
                .find(|r| r.status.is_terminal());
            if latest_done.is_some_and(|r| r.status == RunStatus::Failed) {
                failing_now.push(pipeline.clone());
            }
        }
        let (versions, versions_error) = self.versions_of(&meta).await;
        let report = self.secret_report(meta).await?;
        let expiry = match report.meta.expires {
            Some(exp) if exp <= self.now() => {
                format!("EXPIRED {} ago", human_duration(self.now() - exp))
            }
            Some(exp) => format!("expires in {}", human_duration(exp - self.now())),
            None => "has no expiry".to_string(),
        };
        let summary = format!(
            "[{}] secret {} {} (risk {:?}); read by {} connection(s) [{}]; {} pipeline(s) use it directly [{}], {} more downstream; failing now: [{}]; {}",
            self.backends().label,
            report.meta.name,
            expiry,
            report.risk.level,
            linked_services.len(),
            linked_services
                .iter()
                .map(|l| l.linked_service.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            direct.len(),
            direct.join(", "),
            downstream.len(),
            failing_now.join(", "),
            match &versions_error {
                Some(e) => format!("versions unknown ({e})"),
                None => format!("{} version(s)", versions.len()),
            }
        );
        Ok((
            summary,
            SecretUsage {
                secret: report,
                linked_services,
                pipelines_direct: direct,
                pipelines_downstream: downstream,
                failing_now,
                versions,
                versions_error,
            },
        ))
    }
}
