//! Entra ID (Azure AD) bearer tokens for Azure OpenAI, for deployments where API
//! keys are disabled. The credential is the same chain the Azure backend signs
//! in with ([`AzureCredential`]): client secret, workload identity, managed
//! identity, Azure CLI, in that order unless `OPSDECK_AZURE_CREDENTIALS` says
//! otherwise; tokens cached until shortly before they expire; a failure names
//! every credential tried and why.

use std::sync::Arc;

use crate::backends::azure::cloud::AzureCloud;
use crate::backends::azure::credential::{AzureCredential, CredentialKind, candidates_from_env};

/// The scope Azure OpenAI accepts tokens for.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// Where the agent gets a fresh bearer token before each model request.
#[async_trait::async_trait]
pub trait BearerSource: Send + Sync {
    async fn bearer(&self) -> Result<String, String>;
    /// Which credential, for the log and error messages (never the token).
    fn describe(&self) -> String;
}

/// The shared Azure credential chain, asked for Azure OpenAI's scope.
pub struct AzureIdentityBearer {
    credential: Arc<AzureCredential>,
}

/// How long one credential may take to answer.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl AzureIdentityBearer {
    pub fn from_env(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AzureIdentityBearer, String> {
        let order = match lookup("OPSDECK_AZURE_CREDENTIALS").filter(|v| !v.trim().is_empty()) {
            Some(list) => list
                .split(',')
                .map(CredentialKind::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("OPSDECK_AZURE_CREDENTIALS: {e}"))?,
            None => CredentialKind::DEFAULT_ORDER.to_vec(),
        };
        let cloud_name = lookup("OPSDECK_AZURE_CLOUD").unwrap_or_default();
        let cloud = AzureCloud::named(&cloud_name)?;
        let candidates = candidates_from_env(&order, &cloud, lookup);
        Ok(AzureIdentityBearer {
            credential: Arc::new(AzureCredential::new(candidates, ATTEMPT_TIMEOUT)),
        })
    }
}

#[async_trait::async_trait]
impl BearerSource for AzureIdentityBearer {
    async fn bearer(&self) -> Result<String, String> {
        self.credential
            .token(COGNITIVE_SERVICES_SCOPE)
            .await
            .map_err(|e| format!("Entra ID sign-in for Azure OpenAI failed: {e}"))
    }

    fn describe(&self) -> String {
        format!("Entra ID, {}", self.credential.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_env;

    #[test]
    fn the_chain_follows_the_configured_order() {
        let bearer =
            AzureIdentityBearer::from_env(&fake_env(&[("OPSDECK_AZURE_CREDENTIALS", "azure_cli")]))
                .unwrap();
        assert_eq!(
            bearer.describe(),
            "Entra ID, not signed in yet; will try azure_cli"
        );
        let default = AzureIdentityBearer::from_env(&fake_env(&[])).unwrap();
        assert!(
            default.describe().ends_with(
                "will try client_secret, workload_identity, managed_identity, azure_cli"
            )
        );
        let err =
            AzureIdentityBearer::from_env(&fake_env(&[("OPSDECK_AZURE_CREDENTIALS", "kerberos")]))
                .err()
                .unwrap();
        assert!(err.contains("OPSDECK_AZURE_CREDENTIALS"), "{err}");
    }

    #[tokio::test]
    async fn a_malformed_tenant_is_named_when_signing_in() {
        let bearer = AzureIdentityBearer::from_env(&fake_env(&[
            ("AZURE_TENANT_ID", "not a tenant!"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("OPSDECK_AZURE_CREDENTIALS", "client_secret"),
        ]))
        .unwrap();
        let err = bearer.bearer().await.unwrap_err();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
        assert!(err.contains("client_secret"), "{err}");
    }
}
