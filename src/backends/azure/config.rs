//! Where the Azure estate is: environments (dev, prod…), each a subscription and
//! resource group with its factories, vault and Log Analytics workspace.
//!
//! The simple case is the usual variables (`AZURE_SUBSCRIPTION_ID`,
//! `AZURE_RESOURCE_GROUP`, `AZURE_DATA_FACTORY_NAME`, `AZURE_KEY_VAULT_NAME`,
//! `AZURE_LOG_ANALYTICS_WORKSPACE_ID`); several environments or factories take a
//! TOML file (`--azure-config`, see `assets/azure.example.toml`).

pub use crate::config::env::{Lookup, env_value};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::cloud::AzureCloud;
use super::credential::CredentialKind;

/// One environment: what to watch in one subscription and resource group.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureEnvironment {
    /// Shown in every answer (`prod`, `dev`…).
    pub name: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub data_factories: Vec<String>,
    pub key_vault: Option<String>,
    pub log_analytics_workspace: Option<String>,
    /// A directory of `terraform show -json` plan files (`*.json`).
    pub terraform_plans: Option<PathBuf>,
}

/// Everything needed to reach Azure.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    pub cloud: AzureCloud,
    /// The credentials to try, in order.
    pub credentials: Vec<CredentialKind>,
    pub environments: Vec<AzureEnvironment>,
    /// Longest wait for one HTTP request.
    pub request_timeout: Duration,
    /// Longest wait for one credential to answer (managed identity probes hang off Azure).
    pub credential_timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    cloud: Option<String>,
    #[serde(default)]
    credentials: Option<Vec<String>>,
    #[serde(default)]
    request_timeout_secs: Option<u64>,
    #[serde(default)]
    credential_timeout_secs: Option<u64>,
    #[serde(default)]
    endpoints: Endpoints,
    #[serde(default)]
    environments: Vec<FileEnvironment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoints {
    resource_manager: Option<String>,
    key_vault: Option<String>,
    log_analytics: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEnvironment {
    name: String,
    subscription_id: String,
    resource_group: String,
    #[serde(default)]
    data_factories: Vec<String>,
    #[serde(default)]
    key_vault: Option<String>,
    #[serde(default)]
    log_analytics_workspace: Option<String>,
    #[serde(default)]
    terraform_plans: Option<PathBuf>,
}

impl AzureSettings {
    /// Settings from a TOML file, with the environment's endpoint overrides on top.
    pub fn from_file(path: &Path, lookup: Lookup) -> Result<AzureSettings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Azure config {}: {e}", path.display()))?;
        let file: FileConfig = toml::from_str(&text)
            .map_err(|e| format!("the Azure config {} is not valid: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let environments = file
            .environments
            .into_iter()
            .map(|e| AzureEnvironment {
                name: e.name,
                subscription_id: e.subscription_id,
                resource_group: e.resource_group,
                data_factories: e.data_factories,
                key_vault: e.key_vault,
                log_analytics_workspace: e.log_analytics_workspace,
                terraform_plans: e.terraform_plans.map(|p| base.join(p)),
            })
            .collect();
        let mut settings = AzureSettings::assemble(
            file.cloud
                .as_deref()
                .or(env_value(lookup, "OPSDECK_AZURE_CLOUD").as_deref()),
            file.credentials
                .or_else(|| env_value(lookup, "OPSDECK_AZURE_CREDENTIALS").map(|v| split_list(&v))),
            environments,
            file.request_timeout_secs,
            file.credential_timeout_secs,
        )?;
        let endpoints = [
            (
                file.endpoints.resource_manager,
                "OPSDECK_AZURE_RESOURCE_MANAGER_ENDPOINT",
            ),
            (file.endpoints.key_vault, "OPSDECK_AZURE_KEY_VAULT_ENDPOINT"),
            (
                file.endpoints.log_analytics,
                "OPSDECK_AZURE_LOG_ANALYTICS_ENDPOINT",
            ),
        ];
        let [arm, vault, logs] =
            endpoints.map(|(file, var)| file.or_else(|| env_value(lookup, var)));
        settings.apply_overrides(arm, vault, logs)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Settings from variables alone: one environment.
    pub fn from_env(lookup: Lookup) -> Result<AzureSettings, String> {
        let required = |name: &str| {
            env_value(lookup, name).ok_or_else(|| {
                format!("{name} is not set; the Azure backend needs AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP (and usually AZURE_DATA_FACTORY_NAME), or a config file given with --azure-config")
            })
        };
        let environment = AzureEnvironment {
            name: env_value(lookup, "OPSDECK_ENVIRONMENT").unwrap_or_else(|| "azure".to_string()),
            subscription_id: required("AZURE_SUBSCRIPTION_ID")?,
            resource_group: required("AZURE_RESOURCE_GROUP")?,
            data_factories: env_value(lookup, "AZURE_DATA_FACTORY_NAME")
                .map(|v| split_list(&v))
                .unwrap_or_default(),
            key_vault: env_value(lookup, "AZURE_KEY_VAULT_NAME"),
            log_analytics_workspace: env_value(lookup, "AZURE_LOG_ANALYTICS_WORKSPACE_ID"),
            terraform_plans: env_value(lookup, "OPSDECK_TERRAFORM_PLANS").map(PathBuf::from),
        };
        let mut settings = AzureSettings::assemble(
            env_value(lookup, "OPSDECK_AZURE_CLOUD").as_deref(),
            env_value(lookup, "OPSDECK_AZURE_CREDENTIALS").map(|v| split_list(&v)),
            vec![environment],
            None,
            None,
        )?;
        settings.apply_overrides(
            env_value(lookup, "OPSDECK_AZURE_RESOURCE_MANAGER_ENDPOINT"),
            env_value(lookup, "OPSDECK_AZURE_KEY_VAULT_ENDPOINT"),
            env_value(lookup, "OPSDECK_AZURE_LOG_ANALYTICS_ENDPOINT"),
        )?;
        settings.validate()?;
        Ok(settings)
    }

    fn assemble(
        cloud: Option<&str>,
        credentials: Option<Vec<String>>,
        environments: Vec<AzureEnvironment>,
        request_timeout_secs: Option<u64>,
        credential_timeout_secs: Option<u64>,
    ) -> Result<AzureSettings, String> {
        let credentials = match credentials {
            None => CredentialKind::DEFAULT_ORDER.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(format!(
                    "the credential list is empty; name at least one of {}",
                    CredentialKind::NAMES
                ));
            }
            Some(names) => names
                .iter()
                .map(|n| CredentialKind::parse(n))
                .collect::<Result<_, _>>()?,
        };
        let seconds = |value: Option<u64>, default: u64, what: &str| match value {
            None => Ok(Duration::from_secs(default)),
            Some(s @ 1..=600) => Ok(Duration::from_secs(s)),
            Some(s) => Err(format!("{what} {s} is out of range; use 1 to 600 seconds")),
        };
        Ok(AzureSettings {
            cloud: AzureCloud::named(cloud.unwrap_or("AzurePublic"))?,
            credentials,
            environments,
            request_timeout: seconds(request_timeout_secs, 30, "request_timeout_secs")?,
            credential_timeout: seconds(credential_timeout_secs, 10, "credential_timeout_secs")?,
        })
    }

    fn apply_overrides(
        &mut self,
        arm: Option<String>,
        vault: Option<String>,
        logs: Option<String>,
    ) -> Result<(), String> {
        if let Some(url) = arm {
            self.cloud.override_resource_manager(&url)?;
        }
        if let Some(url) = vault {
            self.cloud.override_key_vault(&url)?;
        }
        if let Some(url) = logs {
            self.cloud.override_log_analytics(&url)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.environments.is_empty() {
            return Err("the Azure config names no environment; add an [[environments]] table with name, subscription_id and resource_group".into());
        }
        let mut seen = Vec::new();
        for env in &self.environments {
            if env.name.trim().is_empty() {
                return Err("an environment has an empty name".into());
            }
            if seen.contains(&env.name) {
                return Err(format!("environment '{}' is named twice", env.name));
            }
            seen.push(env.name.clone());
            if !is_subscription_id(&env.subscription_id) {
                return Err(format!(
                    "environment '{}': subscription_id '{}' is not a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)",
                    env.name, env.subscription_id
                ));
            }
            check_name(&env.name, "resource_group", &env.resource_group)?;
            for factory in &env.data_factories {
                check_name(&env.name, "data factory", factory)?;
            }
            if let Some(vault) = &env.key_vault {
                check_name(&env.name, "key_vault", vault)?;
            }
            if let Some(ws) = &env.log_analytics_workspace
                && !is_guid(ws)
            {
                return Err(format!(
                    "environment '{}': log_analytics_workspace '{ws}' is not a workspace id (the workspace's GUID, shown as Workspace ID in the portal)",
                    env.name
                ));
            }
            if env.data_factories.is_empty()
                && env.key_vault.is_none()
                && env.log_analytics_workspace.is_none()
            {
                tracing::warn!(
                    "environment {} names no data factory, vault or workspace; only its resources are read",
                    env.name
                );
            }
        }
        Ok(())
    }

    /// Keeps only the named environment (`--environment`).
    pub fn select(&mut self, name: &str) -> Result<(), String> {
        let known: Vec<String> = self.environments.iter().map(|e| e.name.clone()).collect();
        self.environments.retain(|e| e.name == name);
        if self.environments.is_empty() {
            return Err(format!(
                "environment '{name}' is not in the Azure config; known: {}",
                known.join(", ")
            ));
        }
        Ok(())
    }
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Subscription ids are GUIDs; only their alphabet is checked (hex digits and
/// hyphens), since Microsoft's own API examples use shortened ones.
fn is_subscription_id(raw: &str) -> bool {
    raw.len() >= 8 && raw.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// A GUID in its usual 8-4-4-4-12 form (ADF run ids, subscription and workspace ids).
pub fn is_guid(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Azure resource names never contain URL syntax; refusing it keeps names from
/// rewriting the request path.
fn check_name(environment: &str, what: &str, name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 90
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '?' | '#' | '%' | ' '));
    if bad {
        return Err(format!(
            "environment '{environment}': {what} '{name}' is not a valid Azure resource name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_env as env;

    const SUB: &str = "12345678-1234-1234-1234-123456789abc";

    #[test]
    fn the_usual_variables_make_one_environment() {
        let lookup = env(&[
            ("AZURE_SUBSCRIPTION_ID", SUB),
            ("AZURE_RESOURCE_GROUP", "rg-data"),
            ("AZURE_DATA_FACTORY_NAME", "adf-prod, adf-ingest"),
            ("AZURE_KEY_VAULT_NAME", "kv-prod"),
            ("OPSDECK_ENVIRONMENT", "prod"),
        ]);
        let settings = AzureSettings::from_env(&lookup).unwrap();
        let env = &settings.environments[0];
        assert_eq!(env.name, "prod");
        assert_eq!(env.data_factories, vec!["adf-prod", "adf-ingest"]);
        assert_eq!(env.key_vault.as_deref(), Some("kv-prod"));
        assert_eq!(settings.credentials, CredentialKind::DEFAULT_ORDER.to_vec());
        assert_eq!(settings.cloud.name, "AzurePublic");
    }

    #[test]
    fn missing_variables_are_named() {
        let err = AzureSettings::from_env(&env(&[("AZURE_SUBSCRIPTION_ID", SUB)])).unwrap_err();
        assert!(err.contains("AZURE_RESOURCE_GROUP"), "{err}");
        let err = AzureSettings::from_env(&env(&[
            ("AZURE_SUBSCRIPTION_ID", "my-sub"),
            ("AZURE_RESOURCE_GROUP", "rg"),
        ]))
        .unwrap_err();
        assert!(err.contains("not a subscription id"), "{err}");
    }

    #[test]
    fn a_config_file_holds_several_environments() {
        let dir = std::env::temp_dir().join(format!("opsdeck-azcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("azure.toml");
        std::fs::write(
            &path,
            format!(
                r#"
cloud = "AzureUSGovernment"
credentials = ["azure_cli"]
[endpoints]
resource_manager = "http://127.0.0.1:9"
[[environments]]
name = "prod"
subscription_id = "{SUB}"
resource_group = "rg-prod"
data_factories = ["adf-prod"]
terraform_plans = "plans"
[[environments]]
name = "dev"
subscription_id = "{SUB}"
resource_group = "rg-dev"
data_factories = ["adf-dev"]
"#
            ),
        )
        .unwrap();
        let mut settings = AzureSettings::from_file(&path, &env(&[])).unwrap();
        assert_eq!(settings.environments.len(), 2);
        assert_eq!(settings.credentials, vec![CredentialKind::AzureCli]);
        assert_eq!(
            settings.cloud.resource_manager.as_str(),
            "http://127.0.0.1:9/"
        );
        assert_eq!(
            settings.cloud.resource_manager_scope,
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(
            settings.environments[0].terraform_plans.as_deref(),
            Some(dir.join("plans").as_path())
        );
        let err = settings.select("staging").unwrap_err();
        assert!(err.contains("prod, dev"), "{err}");
        std::fs::write(&path, "[[environments]]\nname = \"x\"\nsubscription = 1\n").unwrap();
        let err = AzureSettings::from_file(&path, &env(&[])).unwrap_err();
        assert!(err.contains("not valid"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/azure.example.toml");
        let settings = AzureSettings::from_file(&path, &env(&[])).unwrap();
        let names: Vec<&str> = settings
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["prod", "dev"]);
        assert_eq!(settings.credentials, CredentialKind::DEFAULT_ORDER.to_vec());
    }

    #[test]
    fn names_with_url_syntax_are_refused() {
        let lookup = env(&[
            ("AZURE_SUBSCRIPTION_ID", SUB),
            ("AZURE_RESOURCE_GROUP", "rg"),
            ("AZURE_DATA_FACTORY_NAME", "adf/../../other"),
        ]);
        let err = AzureSettings::from_env(&lookup).unwrap_err();
        assert!(err.contains("not a valid Azure resource name"), "{err}");
    }
}
