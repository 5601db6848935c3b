//! Signing in to Azure: a chain of azure_identity credentials tried in order
//! (client secret, workload identity, managed identity, Azure CLI unless
//! configured otherwise). The first that works is kept for the life of the
//! process, as DefaultAzureCredential does, and its tokens are cached per scope
//! (Resource Manager, Key Vault, Log Analytics) until five minutes before expiry.
//!
//! When none works, the error names each credential tried and why it failed.
//! Token values never leave this module except as the Authorization header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_core::time::OffsetDateTime;
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::cloud::AzureCloud;
use crate::backends::http::one_line;
use crate::config::env::{Lookup, env_value};
use crate::support::sync::lock;

/// A way to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ClientSecret,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
}

impl CredentialKind {
    pub const DEFAULT_ORDER: [CredentialKind; 4] = [
        CredentialKind::ClientSecret,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
        CredentialKind::AzureCli,
    ];

    pub const NAMES: &str = "client_secret, workload_identity, managed_identity, azure_cli";

    pub fn parse(raw: &str) -> Result<CredentialKind, String> {
        match raw.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "client_secret" | "environment" => Ok(CredentialKind::ClientSecret),
            "workload_identity" => Ok(CredentialKind::WorkloadIdentity),
            "managed_identity" => Ok(CredentialKind::ManagedIdentity),
            "azure_cli" | "cli" | "az" => Ok(CredentialKind::AzureCli),
            other => Err(format!(
                "unknown credential '{other}'; use {}",
                CredentialKind::NAMES
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => "client_secret",
            CredentialKind::WorkloadIdentity => "workload_identity",
            CredentialKind::ManagedIdentity => "managed_identity",
            CredentialKind::AzureCli => "azure_cli",
        }
    }
}

/// A credential to try, or why it could not even be set up.
pub struct Candidate {
    pub kind: CredentialKind,
    pub credential: Result<Arc<dyn TokenCredential>, String>,
}

/// Builds the candidates from the process environment, in the configured order.
pub fn candidates_from_env(
    kinds: &[CredentialKind],
    cloud: &AzureCloud,
    lookup: Lookup,
) -> Vec<Candidate> {
    let get = |name: &str| env_value(lookup, name);
    let client_options = || ClientOptions {
        cloud: Some(Arc::new(cloud.identity_cloud())),
        ..ClientOptions::default()
    };
    kinds
        .iter()
        .map(|&kind| {
            let credential: Result<Arc<dyn TokenCredential>, String> = match kind {
                CredentialKind::ClientSecret => {
                    match (get("AZURE_TENANT_ID"), get("AZURE_CLIENT_ID"), get("AZURE_CLIENT_SECRET")) {
                        (Some(tenant), Some(client), Some(secret)) => ClientSecretCredential::new(
                            &tenant,
                            client,
                            Secret::new(secret),
                            Some(ClientSecretCredentialOptions {
                                client_options: client_options(),
                            }),
                        )
                        .map(|c| c as Arc<dyn TokenCredential>)
                        .map_err(|e| format!("AZURE_TENANT_ID/AZURE_CLIENT_ID are not usable: {}", one_line(&e.to_string()))),
                        (tenant, client, secret) => Err(format!(
                            "not configured ({} not set)",
                            [("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", client), ("AZURE_CLIENT_SECRET", secret)]
                                .iter()
                                .filter(|(_, v)| v.is_none())
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    }
                }
                CredentialKind::WorkloadIdentity => match get("AZURE_FEDERATED_TOKEN_FILE") {
                    None => Err("not configured (AZURE_FEDERATED_TOKEN_FILE not set; it is set on AKS pods with workload identity)".to_string()),
                    Some(file) => {
                        let mut options = WorkloadIdentityCredentialOptions {
                            client_id: get("AZURE_CLIENT_ID"),
                            tenant_id: get("AZURE_TENANT_ID"),
                            token_file_path: Some(file.into()),
                            ..WorkloadIdentityCredentialOptions::default()
                        };
                        options.credential_options.client_options = client_options();
                        WorkloadIdentityCredential::new(Some(options))
                            .map(|c| c as Arc<dyn TokenCredential>)
                            .map_err(|e| one_line(&e.to_string()))
                    }
                },
                CredentialKind::ManagedIdentity => {
                    // A user-assigned identity is chosen by its client id, as the
                    // Azure SDKs' default chain does.
                    let options = ManagedIdentityCredentialOptions {
                        user_assigned_id: get("AZURE_MANAGED_IDENTITY_CLIENT_ID")
                            .map(UserAssignedId::ClientId),
                        ..ManagedIdentityCredentialOptions::default()
                    };
                    ManagedIdentityCredential::new(Some(options))
                        .map(|c| c as Arc<dyn TokenCredential>)
                        .map_err(|e| one_line(&e.to_string()))
                }
                CredentialKind::AzureCli => AzureCliCredential::new(None)
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|e| one_line(&e.to_string())),
            };
            Candidate { kind, credential }
        })
        .collect()
}

/// How long the chain waits for the managed identity endpoint before moving on.
const MANAGED_IDENTITY_PROBE: Duration = Duration::from_secs(3);

/// Tokens are renewed this long before they expire, so none expires mid-request.
const RENEW_BEFORE_SECS: i64 = 300;

/// The chain, the credential it settled on, and the tokens it holds.
pub struct AzureCredential {
    candidates: Vec<Candidate>,
    /// Index of the candidate that signed in.
    chosen: Mutex<Option<usize>>,
    /// The last failure, for health output.
    last_failure: Mutex<Option<String>>,
    tokens: tokio::sync::Mutex<HashMap<String, AccessToken>>,
    attempt_timeout: Duration,
}

impl AzureCredential {
    pub fn new(candidates: Vec<Candidate>, attempt_timeout: Duration) -> AzureCredential {
        AzureCredential {
            candidates,
            chosen: Mutex::new(None),
            last_failure: Mutex::new(None),
            tokens: tokio::sync::Mutex::new(HashMap::new()),
            attempt_timeout,
        }
    }

    /// A bearer token for `scope`, from the cache when it has a fresh one.
    pub async fn token(&self, scope: &str) -> Result<String, String> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(scope)
            && token.expires_on.unix_timestamp() - OffsetDateTime::now_utc().unix_timestamp()
                > RENEW_BEFORE_SECS
        {
            return Ok(token.token.secret().to_string());
        }
        let result = self.sign_in(scope).await;
        match result {
            Ok(token) => {
                let value = token.token.secret().to_string();
                tokens.insert(scope.to_string(), token);
                *lock(&self.last_failure) = None;
                Ok(value)
            }
            Err(message) => {
                *lock(&self.last_failure) = Some(message.clone());
                Err(message)
            }
        }
    }

    /// Drops the cached token for `scope`, so the next [`AzureCredential::token`]
    /// asks the credential again (a server refused it: revoked, or signed in
    /// since as someone else).
    pub async fn forget(&self, scope: &str) {
        self.tokens.lock().await.remove(scope);
    }

    async fn sign_in(&self, scope: &str) -> Result<AccessToken, String> {
        let chosen = *lock(&self.chosen);
        if let Some(index) = chosen {
            let candidate = &self.candidates[index];
            return match &candidate.credential {
                Ok(credential) => self.attempt(credential.as_ref(), scope).await.map_err(|e| {
                    format!(
                        "Azure sign-in with {} (which worked before) failed for {scope}: {e}",
                        candidate.kind.name()
                    )
                }),
                Err(e) => Err(e.clone()),
            };
        }
        let mut tried = Vec::new();
        for (index, candidate) in self.candidates.iter().enumerate() {
            let outcome = match &candidate.credential {
                Err(why) => Err(why.clone()),
                // Off Azure the managed identity endpoint never answers; probing it
                // briefly keeps the chain from stalling before the Azure CLI.
                Ok(credential) if candidate.kind == CredentialKind::ManagedIdentity => {
                    self.attempt_within(
                        credential.as_ref(),
                        scope,
                        self.attempt_timeout.min(MANAGED_IDENTITY_PROBE),
                    )
                    .await
                }
                Ok(credential) => self.attempt(credential.as_ref(), scope).await,
            };
            match outcome {
                Ok(token) => {
                    tracing::info!("signed in to Azure with {}", candidate.kind.name());
                    *lock(&self.chosen) = Some(index);
                    return Ok(token);
                }
                Err(why) => tried.push(format!("{}: {why}", candidate.kind.name())),
            }
        }
        Err(format!(
            "no Azure credential could get a token for {scope}. Tried, in order: {}. Set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET for a service principal, or run `az login`",
            tried.join("; ")
        ))
    }

    async fn attempt(
        &self,
        credential: &dyn TokenCredential,
        scope: &str,
    ) -> Result<AccessToken, String> {
        self.attempt_within(credential, scope, self.attempt_timeout)
            .await
    }

    async fn attempt_within(
        &self,
        credential: &dyn TokenCredential,
        scope: &str,
        limit: Duration,
    ) -> Result<AccessToken, String> {
        match tokio::time::timeout(limit, credential.get_token(&[scope], None)).await {
            Ok(Ok(token)) => Ok(token),
            Ok(Err(e)) => Err(one_line(&e.to_string())),
            Err(_) => Err(format!("no answer within {}s", limit.as_secs_f64())),
        }
    }

    /// Which credential is in use, for health and status output (never a token).
    pub fn status(&self) -> String {
        let chosen = *lock(&self.chosen);
        match (chosen, lock(&self.last_failure).clone()) {
            (_, Some(failure)) => format!("sign-in failing: {failure}"),
            (Some(index), None) => format!("signed in with {}", self.candidates[index].kind.name()),
            (None, None) => format!(
                "not signed in yet; will try {}",
                self.candidates
                    .iter()
                    .map(|c| c.kind.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The credential that signed in, if one has.
    pub fn chosen(&self) -> Option<CredentialKind> {
        lock(&self.chosen).map(|i| self.candidates[i].kind)
    }
}

#[async_trait::async_trait]
impl crate::backends::http::Authorizer for AzureCredential {
    async fn authorization(&self, scope: &str) -> Result<String, String> {
        Ok(format!("Bearer {}", self.token(scope).await?))
    }

    fn status(&self) -> String {
        AzureCredential::status(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::TokenRequestOptions;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A credential that fails, hangs or hands out numbered tokens.
    #[derive(Debug)]
    struct Scripted {
        behaviour: &'static str,
        calls: AtomicUsize,
        lifetime_secs: i64,
    }

    impl Scripted {
        fn new(behaviour: &'static str) -> Arc<Scripted> {
            Arc::new(Scripted {
                behaviour,
                calls: AtomicUsize::new(0),
                lifetime_secs: 3_600,
            })
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for Scripted {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            match self.behaviour {
                "fail" => Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "AADSTS7000215: Invalid client secret provided.\nTrace ID: x",
                )),
                "hang" => {
                    tokio::time::sleep(Duration::from_secs(3_600)).await;
                    unreachable!()
                }
                _ => Ok(AccessToken::new(
                    format!("token-{n}-{}", scopes[0]),
                    OffsetDateTime::now_utc()
                        + azure_core::time::Duration::seconds(self.lifetime_secs),
                )),
            }
        }
    }

    fn candidate(kind: CredentialKind, credential: Arc<Scripted>) -> Candidate {
        Candidate {
            kind,
            credential: Ok(credential),
        }
    }

    #[tokio::test]
    async fn the_first_working_credential_is_kept_and_its_tokens_cached_per_scope() {
        let failing = Scripted::new("fail");
        let working = Scripted::new("ok");
        let chain = AzureCredential::new(
            vec![
                candidate(CredentialKind::ClientSecret, failing.clone()),
                candidate(CredentialKind::AzureCli, working.clone()),
            ],
            Duration::from_secs(5),
        );
        assert!(chain.status().contains("will try client_secret, azure_cli"));
        let arm = chain
            .token("https://management.azure.com/.default")
            .await
            .unwrap();
        assert_eq!(arm, "token-0-https://management.azure.com/.default");
        assert_eq!(
            chain
                .token("https://management.azure.com/.default")
                .await
                .unwrap(),
            arm
        );
        let vault = chain
            .token("https://vault.azure.net/.default")
            .await
            .unwrap();
        assert_eq!(vault, "token-1-https://vault.azure.net/.default");
        assert_eq!(chain.chosen(), Some(CredentialKind::AzureCli));
        assert_eq!(chain.status(), "signed in with azure_cli");
        // The failing credential was asked once, not again for the second scope.
        assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
        assert_eq!(working.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn tokens_near_expiry_are_renewed() {
        let short = Arc::new(Scripted {
            behaviour: "ok",
            calls: AtomicUsize::new(0),
            lifetime_secs: 60,
        });
        let chain = AzureCredential::new(
            vec![candidate(CredentialKind::AzureCli, short.clone())],
            Duration::from_secs(5),
        );
        chain.token("s").await.unwrap();
        chain.token("s").await.unwrap();
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn when_nothing_works_every_credential_and_its_reason_is_named() {
        let chain = AzureCredential::new(
            vec![
                Candidate {
                    kind: CredentialKind::ClientSecret,
                    credential: Err("not configured (AZURE_CLIENT_SECRET not set)".into()),
                },
                candidate(CredentialKind::ManagedIdentity, Scripted::new("hang")),
                candidate(CredentialKind::AzureCli, Scripted::new("fail")),
            ],
            Duration::from_millis(50),
        );
        let err = chain
            .token("https://management.azure.com/.default")
            .await
            .unwrap_err();
        assert!(
            err.contains("client_secret: not configured (AZURE_CLIENT_SECRET not set)"),
            "{err}"
        );
        assert!(
            err.contains("managed_identity: no answer within 0.05s"),
            "{err}"
        );
        assert!(
            err.contains("azure_cli: AADSTS7000215: Invalid client secret provided. Trace ID: x"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        assert!(chain.status().starts_with("sign-in failing"));
    }

    #[test]
    fn the_environment_decides_which_credentials_can_be_built() {
        let cloud = AzureCloud::named("AzurePublic").unwrap();
        let lookup = |name: &str| match name {
            "AZURE_TENANT_ID" => Some("72f988bf-86f1-41af-91ab-2d7cd011db47".to_string()),
            "AZURE_CLIENT_ID" => Some("c".to_string()),
            _ => None,
        };
        let built = candidates_from_env(&CredentialKind::DEFAULT_ORDER, &cloud, &lookup);
        let reasons: Vec<String> = built
            .iter()
            .map(|c| c.credential.as_ref().err().cloned().unwrap_or_default())
            .collect();
        assert_eq!(reasons[0], "not configured (AZURE_CLIENT_SECRET not set)");
        assert!(reasons[1].contains("AZURE_FEDERATED_TOKEN_FILE"));
        assert!(
            built[3].credential.is_ok(),
            "the Azure CLI credential is always built"
        );
        assert_eq!(
            CredentialKind::parse("AZ").unwrap(),
            CredentialKind::AzureCli
        );
        assert!(
            CredentialKind::parse("kerberos")
                .unwrap_err()
                .contains("azure_cli")
        );
    }
}
