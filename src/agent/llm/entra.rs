//! Entra ID (Azure AD) bearer tokens for Azure OpenAI, for deployments where API
//! keys are disabled. The credential is chosen the way Azure tools do: a service
//! principal from `AZURE_TENANT_ID` / `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET`,
//! else the developer's own sign-in (Azure CLI, Azure Developer CLI).

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{ClientSecretCredential, DeveloperToolsCredential};

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
