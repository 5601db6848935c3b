//! The real Azure estate behind the same tools as the sandbox: Data Factory
//! (runs, definitions, remediation), Key Vault (secret metadata), Resource
//! Manager (resources) and Log Analytics (logs, queried in place).
//!
//! `arm` and `keyvault` parse response bodies and are shared with the sandbox,
//! whose fixtures are stored in the same shapes.

pub mod activity_log;
pub mod adf;
pub mod arm;
pub mod cloud;
pub mod config;
pub mod credential;
pub mod keyvault;
pub mod log_analytics;
pub mod resources;
pub mod secret_changes;
pub mod vault;

use std::sync::Arc;

use self::activity_log::ActivityLog;
use self::adf::AdfBackend;
use self::adf::api::AdfApi;
use self::config::{AzureSettings, Lookup};
use self::credential::{AzureCredential, candidates_from_env};
use self::log_analytics::LogAnalyticsLogs;
use self::resources::ArmInfra;
use self::secret_changes::SecretVersionChanges;
use self::vault::KeyVaultStore;
use crate::backends::http::{RestClient, RetryPolicy};
use crate::backends::{Backends, SecretStore};
use crate::model::time::SharedClock;

/// The configured credential chain, built from the process environment.
pub fn credential_from_env(settings: &AzureSettings, lookup: Lookup<'_>) -> Arc<AzureCredential> {
    let candidates = candidates_from_env(&settings.credentials, &settings.cloud, lookup);
    Arc::new(AzureCredential::new(
        candidates,
        settings.credential_timeout,
    ))
}

/// Builds every configured environment's backends. Factories are discovered
/// in the resource group when an environment names none.
pub async fn build(
    settings: &AzureSettings,
    clock: SharedClock,
    credential: Arc<AzureCredential>,
    retry: RetryPolicy,
) -> Result<Backends, String> {
    let cloud = &settings.cloud;
    let client = Arc::new(RestClient::new(
        "Azure",
        credential,
        settings.request_timeout,
        retry,
    )?);
    let mut backends = Backends {
        pipelines: Vec::new(),
        secrets: Vec::new(),
        infra: Vec::new(),
        logs: Vec::new(),
        changes: Vec::new(),
        clock: clock.clone(),
        label: format!(
            "azure/{}",
            settings
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join("+")
        ),
    };
    for env in &settings.environments {
        let factories = if env.data_factories.is_empty() {
            AdfApi::list_factories(
                &client,
                &cloud.resource_manager,
                &cloud.resource_manager_scope,
                &env.subscription_id,
                &env.resource_group,
            )
            .await
            .map_err(|e| {
                format!(
                    "environment {}: no data factory is named and listing those in resource group {} failed: {}. Name them with AZURE_DATA_FACTORY_NAME or data_factories",
                    env.name,
                    env.resource_group,
                    e.about("resource group", &env.resource_group, adf::READ_ROLE)
                )
            })?
        } else {
            env.data_factories.clone()
        };
        for factory in &factories {
            let api = AdfApi::new(
                client.clone(),
                &cloud.resource_manager,
                &cloud.resource_manager_scope,
                &env.subscription_id,
                &env.resource_group,
                factory,
            );
            backends
                .pipelines
                .push(Arc::new(AdfBackend::new(api, &env.name, clock.clone())));
        }
        if let Some(vault) = &env.key_vault {
            let store: Arc<dyn SecretStore> = Arc::new(KeyVaultStore::new(
                client.clone(),
                &cloud.key_vault_scope,
                cloud.vault_url(vault)?,
                vault,
            ));
            backends
                .changes
                .push(Arc::new(SecretVersionChanges::new(store.clone())));
            backends.secrets.push(store);
        }
        // Changes by people, pipelines (Terraform, releases) and runbooks alike.
        backends.changes.push(Arc::new(ActivityLog::new(
            client.clone(),
            &cloud.resource_manager,
            &cloud.resource_manager_scope,
            &env.subscription_id,
            &env.resource_group,
        )));
        backends.infra.push(Arc::new(ArmInfra::new(
            client.clone(),
            &cloud.resource_manager,
            &cloud.resource_manager_scope,
            &env.subscription_id,
            &env.resource_group,
            env.terraform_plans.clone(),
        )));
        if let Some(workspace) = &env.log_analytics_workspace {
            backends.logs.push(Arc::new(LogAnalyticsLogs::new(
                client.clone(),
                &cloud.log_analytics,
                &cloud.log_analytics_scope,
                workspace,
            )));
        }
        tracing::info!(
            "azure environment {}: factories [{}], vault {}, workspace {}",
            env.name,
            factories.join(", "),
            env.key_vault.as_deref().unwrap_or("none"),
            env.log_analytics_workspace.as_deref().unwrap_or("none")
        );
    }
    Ok(backends)
}
