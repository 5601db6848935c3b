//! Entra ID (Azure AD) bearer tokens for Azure OpenAI, for deployments where API
//! keys are disabled. The credential is chosen the way Azure tools do: a service
//! principal from `AZURE_TENANT_ID` / `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET`;
//! else workload identity when `AZURE_FEDERATED_TOKEN_FILE` is set (AKS); else
//! managed identity when `OPSDECK_USE_MANAGED_IDENTITY=1` (a VM or App Service,
//! which no environment variable reveals); else the developer's own sign-in
//! (Azure CLI, Azure Developer CLI).

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    ClientSecretCredential, DeveloperToolsCredential, ManagedIdentityCredential,
    WorkloadIdentityCredential,
};

/// The scope Azure OpenAI accepts tokens for.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// Where the agent gets a fresh bearer token before each model request.
#[async_trait::async_trait]
pub trait BearerSource: Send + Sync {
    async fn bearer(&self) -> Result<String, String>;
    /// Which credential, for the log and error messages (never the token).
    fn describe(&self) -> String;
}

/// A token credential from azure_identity (it caches and refreshes tokens itself).
pub struct AzureIdentityBearer {
    credential: Arc<dyn TokenCredential>,
    kind: &'static str,
}

impl AzureIdentityBearer {
    pub fn from_env(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AzureIdentityBearer, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        match (
            get("AZURE_TENANT_ID"),
            get("AZURE_CLIENT_ID"),
            get("AZURE_CLIENT_SECRET"),
        ) {
            (Some(tenant), Some(client), Some(secret)) => {
                let credential = ClientSecretCredential::new(&tenant, client, Secret::new(secret), None)
                    .map_err(|e| format!("cannot use the service principal from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: {e}"))?;
                Ok(AzureIdentityBearer {
                    credential,
                    kind: "client secret (AZURE_CLIENT_ID)",
                })
            }
            _ if get("AZURE_FEDERATED_TOKEN_FILE").is_some() => {
                let credential = WorkloadIdentityCredential::new(None).map_err(|e| {
                    format!("cannot use workload identity (AZURE_FEDERATED_TOKEN_FILE): {e}")
                })?;
                Ok(AzureIdentityBearer {
                    credential,
                    kind: "workload identity",
                })
            }
            _ if get("OPSDECK_USE_MANAGED_IDENTITY")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) =>
            {
                let credential = ManagedIdentityCredential::new(None)
                    .map_err(|e| format!("cannot use managed identity: {e}"))?;
                Ok(AzureIdentityBearer {
                    credential,
                    kind: "managed identity",
                })
            }
            _ => {
                let credential = DeveloperToolsCredential::new(None)
                    .map_err(|e| format!("no Entra ID credential available (set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or sign in with `az login`): {e}"))?;
                Ok(AzureIdentityBearer {
                    credential,
                    kind: "developer sign-in (az / azd)",
                })
            }
        }
    }
}

impl AzureIdentityBearer {
    /// Which credential was chosen (never the token).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

#[async_trait::async_trait]
impl BearerSource for AzureIdentityBearer {
    async fn bearer(&self) -> Result<String, String> {
        self.credential
            .get_token(&[COGNITIVE_SERVICES_SCOPE], None)
            .await
            .map(|token| token.token.secret().to_string())
            .map_err(|e| {
                format!(
                    "Entra ID sign-in for Azure OpenAI failed with the {}: {e}",
                    self.kind
                )
            })
    }

    fn describe(&self) -> String {
        format!("Entra ID, {}", self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_credential_follows_the_environment() {
        let sp = env(&[
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert_eq!(
            AzureIdentityBearer::from_env(&sp).unwrap().kind(),
            "client secret (AZURE_CLIENT_ID)"
        );
        assert_eq!(
            AzureIdentityBearer::from_env(&env(&[])).unwrap().kind(),
            "developer sign-in (az / azd)"
        );
        let mi = env(&[("OPSDECK_USE_MANAGED_IDENTITY", "1")]);
        assert_eq!(
            AzureIdentityBearer::from_env(&mi).unwrap().kind(),
            "managed identity"
        );
    }

    #[test]
    fn a_malformed_tenant_is_refused_by_name() {
        let bad = env(&[
            ("AZURE_TENANT_ID", "not a tenant!"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        let err = AzureIdentityBearer::from_env(&bad).err().unwrap();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
    }
}
