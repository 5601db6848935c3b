//! A real Key Vault as a [`SecretStore`]: secret and version *listings* over the
//! data plane (api-version 7.4). The listings carry attributes and tags, never
//! values.
//!
//! There is no code path here that can request a value: the only URLs this
//! module builds are `/secrets` and `/secrets/{name}/versions`, and a `nextLink`
//! is followed only when it points back to one of those two listings on the
//! same vault.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::json;

use super::keyvault::parse_secret_list;
use crate::backends::http::{RestClient, url_with};
use crate::backends::{BackendError, SecretStore};
use crate::model::secret::SecretMeta;

pub const API_VERSION: &str = "7.4";
pub const LIST_ROLE: &str = "the Key Vault Reader role plus secret list permission (Key Vault Secrets User under RBAC, or an access policy with List on secrets); opsdeck never needs Get";
/// Most secrets (or versions) read from one vault.
const MAX_SECRETS: usize = 25_000;

pub struct KeyVaultStore {
    client: Arc<RestClient>,
    scope: String,
    /// The vault's base URL.
    base: Url,
    name: String,
}

/// The listings this module may read: `/secrets` and `/secrets/{name}/versions`.
fn is_listing(base: &Url, url: &Url) -> bool {
    let root = base.path().trim_end_matches('/');
    let Some(rest) = url.path().strip_prefix(root) else {
        return false;
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["secrets"] | ["secrets", _, "versions"])
}

impl KeyVaultStore {
    pub fn new(client: Arc<RestClient>, scope: &str, base: Url, name: &str) -> KeyVaultStore {
        KeyVaultStore {
            client,
            scope: scope.to_string(),
            base,
            name: name.to_string(),
        }
    }

    async fn listing(
        &self,
        url: Url,
        what: &'static str,
        subject: &str,
    ) -> Result<Vec<SecretMeta>, BackendError> {
        let base = self.base.clone();
        let items = self
            .client
            .list(
                url,
                &self.scope,
                &|u: &Url| is_listing(&base, u),
                MAX_SECRETS,
            )
            .await
            .map_err(|e| e.about(what, subject, LIST_ROLE))?;
        let (secrets, _) = parse_secret_list(&json!({ "value": items }).to_string())
            .map_err(BackendError::Unavailable)?;
        Ok(secrets
            .into_iter()
            .map(|mut s| {
                // The configured name is the one people know the vault by.
                s.vault = self.name.clone();
                s
            })
            .collect())
    }
}

#[async_trait]
impl SecretStore for KeyVaultStore {
    fn vault(&self) -> &str {
        &self.name
    }

    async fn list_secrets(&self) -> Result<Vec<SecretMeta>, BackendError> {
        let url = url_with(
            &self.base,
            &["secrets"],
            &[("api-version", API_VERSION), ("maxresults", "25")],
        );
        self.listing(url, "key vault", &self.name).await
    }

    async fn secret_versions(&self, name: &str) -> Result<Vec<SecretMeta>, BackendError> {
        let url = url_with(
            &self.base,
            &["secrets", name, "versions"],
            &[("api-version", API_VERSION), ("maxresults", "25")],
        );
        let mut versions = self.listing(url, "secret", name).await?;
        versions.sort_by_key(|v| std::cmp::Reverse(v.created));
        Ok(versions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_listings_may_be_followed() {
        let base = Url::parse("https://kv.vault.azure.net/").unwrap();
        let url = |p: &str| Url::parse(&format!("https://kv.vault.azure.net{p}")).unwrap();
        assert!(is_listing(&base, &url("/secrets")));
        assert!(is_listing(&base, &url("/secrets/db-password/versions")));
        assert!(!is_listing(&base, &url("/secrets/db-password")));
        assert!(!is_listing(&base, &url("/secrets/db-password/4387e9f3")));
        assert!(!is_listing(&base, &url("/deletedsecrets")));
        let proxied = Url::parse("http://127.0.0.1:9/kv/").unwrap();
        assert!(is_listing(
            &proxied,
            &Url::parse("http://127.0.0.1:9/kv/secrets?x=1").unwrap()
        ));
    }
}
