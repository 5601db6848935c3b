//! Which Azure cloud opsdeck talks to: the endpoint and token scope of each
//! service, for the public cloud and the sovereign ones, with per-endpoint
//! overrides (a private proxy, or a local test server).

use reqwest::Url;

/// Endpoints and token scopes of one Azure cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureCloud {
    /// `AzurePublic`, `AzureUSGovernment`, `AzureChinaCloud` or `Custom`.
    pub name: String,
    pub resource_manager: Url,
    pub resource_manager_scope: String,
    /// Vault URLs are `https://{vault}.{suffix}` unless `key_vault_override` is set.
    pub key_vault_suffix: String,
    pub key_vault_scope: String,
    /// Replaces every vault's URL (one vault behind a proxy, or a test server).
    pub key_vault_override: Option<Url>,
    pub log_analytics: Url,
    pub log_analytics_scope: String,
    /// Whether an override points at plain HTTP on this machine (tests, a local proxy).
    pub overridden: bool,
}

/// The names `AzureCloud::named` accepts, for error messages.
pub const CLOUD_NAMES: &str = "AzurePublic, AzureUSGovernment or AzureChinaCloud";

impl AzureCloud {
    /// A cloud by its usual name (the names `az cloud list` prints, case-insensitive).
    pub fn named(name: &str) -> Result<AzureCloud, String> {
        let (canonical, arm, vault_suffix, logs) = match name.trim().to_ascii_lowercase().as_str() {
            "" | "azurepublic" | "azurecloud" | "public" => (
                "AzurePublic",
                "https://management.azure.com",
                "vault.azure.net",
                "https://api.loganalytics.io",
            ),
            "azureusgovernment" | "usgov" | "azuregovernment" => (
                "AzureUSGovernment",
                "https://management.usgovcloudapi.net",
                "vault.usgovcloudapi.net",
                "https://api.loganalytics.us",
            ),
            "azurechinacloud" | "china" | "azurechina" => (
                "AzureChinaCloud",
                "https://management.chinacloudapi.cn",
                "vault.azure.cn",
                "https://api.loganalytics.azure.cn",
            ),
            other => return Err(format!("unknown Azure cloud '{other}'; use {CLOUD_NAMES}")),
        };
        let url = |raw: &str| Url::parse(raw).map_err(|e| format!("{raw}: {e}"));
        Ok(AzureCloud {
            name: canonical.to_string(),
            resource_manager: url(arm)?,
            resource_manager_scope: format!("{arm}/.default"),
            key_vault_suffix: vault_suffix.to_string(),
            key_vault_scope: format!("https://{vault_suffix}/.default"),
            key_vault_override: None,
            log_analytics: url(logs)?,
            log_analytics_scope: format!("{logs}/.default"),
            overridden: false,
        })
    }

    /// The azure_identity cloud configuration matching this cloud (for the
    /// authority host the credentials sign in at).
    pub fn identity_cloud(&self) -> azure_core::cloud::CloudConfiguration {
        use azure_core::cloud::CloudConfiguration;
        match self.name.as_str() {
            "AzureUSGovernment" => CloudConfiguration::AzureGovernment,
            "AzureChinaCloud" => CloudConfiguration::AzureChina,
            _ => CloudConfiguration::AzurePublic,
        }
    }

    /// Points Resource Manager somewhere else (the scope stays the cloud's).
    pub fn override_resource_manager(&mut self, raw: &str) -> Result<(), String> {
        self.resource_manager = checked_override("resource manager", raw)?;
        self.overridden = true;
        Ok(())
    }

    pub fn override_key_vault(&mut self, raw: &str) -> Result<(), String> {
        self.key_vault_override = Some(checked_override("key vault", raw)?);
        self.overridden = true;
        Ok(())
    }

    pub fn override_log_analytics(&mut self, raw: &str) -> Result<(), String> {
        self.log_analytics = checked_override("log analytics", raw)?;
        self.overridden = true;
        Ok(())
    }

    /// The base URL of a vault: `https://{vault}.vault.azure.net/` or the override.
    pub fn vault_url(&self, vault: &str) -> Result<Url, String> {
        if let Some(url) = &self.key_vault_override {
            return Ok(url.clone());
        }
        if vault.is_empty() || !vault.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!(
                "'{vault}' is not a Key Vault name (letters, digits and hyphens)"
            ));
        }
        Url::parse(&format!("https://{vault}.{}/", self.key_vault_suffix))
            .map_err(|e| format!("vault '{vault}': {e}"))
    }
}

fn checked_override(what: &str, raw: &str) -> Result<Url, String> {
    crate::backends::http::checked_endpoint(&format!("the {what} endpoint"), raw, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sovereign_clouds_have_their_own_endpoints_and_scopes() {
        let gov = AzureCloud::named("AzureUSGovernment").unwrap();
        assert_eq!(
            gov.resource_manager_scope,
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(
            gov.vault_url("kv-prod").unwrap().as_str(),
            "https://kv-prod.vault.usgovcloudapi.net/"
        );
        let china = AzureCloud::named("china").unwrap();
        assert_eq!(
            china.log_analytics_scope,
            "https://api.loganalytics.azure.cn/.default"
        );
        assert!(
            AzureCloud::named("mars")
                .unwrap_err()
                .contains("AzurePublic")
        );
    }

    #[test]
    fn plain_http_overrides_are_only_for_this_machine() {
        let mut cloud = AzureCloud::named("AzurePublic").unwrap();
        cloud
            .override_resource_manager("http://127.0.0.1:8080")
            .unwrap();
        assert!(cloud.overridden);
        assert_eq!(
            cloud.resource_manager_scope,
            "https://management.azure.com/.default"
        );
        let err = cloud
            .override_key_vault("http://proxy.example.com")
            .unwrap_err();
        assert!(err.contains("clear text"), "{err}");
        assert!(
            cloud
                .override_log_analytics("https://la.example.com")
                .is_ok()
        );
    }

    #[test]
    fn vault_names_cannot_smuggle_hosts() {
        let cloud = AzureCloud::named("").unwrap();
        assert!(cloud.vault_url("evil.example.com/x").is_err());
        assert!(cloud.vault_url("").is_err());
    }
}
