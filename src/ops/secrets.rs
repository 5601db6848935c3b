//! Secret metadata and blast radius. No code path here can read a secret value:
//! the backends' [`SecretStore`](crate::backends::SecretStore) has no such method.

use chrono::{DateTime, Duration, Utc};

use crate::backends::{BackendError, Backends, RunQuery};
use crate::model::contract::{ListSecretsResult, SecretConsumer, SecretReport, SecretUsage};
use crate::model::graph::Reached;
use crate::model::run::RunStatus;
use crate::model::secret::{SecretMeta, SecretRiskLevel, human_duration};
use crate::ops::error::{OpsError, Outcome};

/// Which secrets a listing keeps.
#[derive(Debug, Clone, Default)]
pub struct SecretFilter {
    /// Only names containing this text (any case).
    pub name_contains: Option<String>,
    /// Only secrets expiring by then (or already expired).
    pub expiring_before: Option<DateTime<Utc>>,
    /// Only secrets at or above this risk.
    pub min_risk: Option<SecretRiskLevel>,
}

async fn all_secrets(backends: &Backends) -> Result<Vec<SecretMeta>, OpsError> {
    if backends.secrets.is_empty() {
        return Err(OpsError::unavailable(
            "no secret store is configured for this server (Key Vault needs AZURE_KEY_VAULT_NAME or a [keyvault] entry)",
        ));
    }
    let mut all = Vec::new();
    for store in &backends.secrets {
        all.extend(store.list_secrets().await?);
    }
    Ok(all)
}

pub async fn secret_report(
    backends: &Backends,
    meta: SecretMeta,
) -> Result<SecretReport, OpsError> {
    let catalog = backends.catalog().await?;
    Ok(SecretReport {
        risk: meta.risk(backends.clock.now()),
        used_by: catalog.linked_services_using_secret(&meta.name),
        meta,
    })
}

/// The secrets `filter` lets through, riskiest first, each with its risk and
/// the connections that read it.
pub async fn list_secrets(
    backends: &Backends,
    filter: &SecretFilter,
) -> Outcome<ListSecretsResult> {
    let (horizon, min_risk) = (filter.expiring_before, filter.min_risk);
    let needle = filter.name_contains.as_deref().map(str::to_lowercase);
    let mut reports = Vec::new();
    for meta in all_secrets(backends).await? {
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
        let report = secret_report(backends, meta).await?;
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
    let mut vaults: Vec<String> = backends
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
        backends.label,
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
async fn versions_of(backends: &Backends, meta: &SecretMeta) -> (Vec<SecretMeta>, Option<String>) {
    let Some(store) = backends
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

pub async fn secret_usage(backends: &Backends, name: &str) -> Outcome<SecretUsage> {
    let secrets = all_secrets(backends).await?;
    let Some(meta) = secrets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .cloned()
    else {
        let known: Vec<String> = secrets.iter().map(|s| s.name.clone()).collect();
        return Err(BackendError::not_found_among("secret", name, &known).into());
    };
    let catalog = backends.catalog().await?;
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
        let backend = backends.backend_for_pipeline(pipeline).await?;
        let now = backends.clock.now();
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
    let (versions, versions_error) = versions_of(backends, &meta).await;
    let report = secret_report(backends, meta).await?;
    let expiry = match report.meta.expires {
        Some(exp) if exp <= backends.clock.now() => {
            format!("EXPIRED {} ago", human_duration(backends.clock.now() - exp))
        }
        Some(exp) => format!("expires in {}", human_duration(exp - backends.clock.now())),
        None => "has no expiry".to_string(),
    };
    let summary = format!(
        "[{}] secret {} {} (risk {:?}); read by {} connection(s) [{}]; {} pipeline(s) use it directly [{}], {} more downstream; failing now: [{}]; {}",
        backends.label,
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
