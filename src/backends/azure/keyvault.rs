//! Key Vault data-plane secret listings (`GET {vault}/secrets?api-version=7.4`).
//!
//! The list and versions endpoints return `SecretItem`s: id, attributes, tags and
//! content type — never a value. This module only ever reads those shapes.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::model::secret::SecretMeta;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretListResult {
    #[serde(default)]
    value: Vec<SecretItem>,
    #[serde(default)]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretItem {
    id: String,
    #[serde(default)]
    attributes: SecretAttributes,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    content_type: Option<String>,
}

/// Key Vault times are NumericDate: seconds since the Unix epoch.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretAttributes {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    updated: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

fn enabled_by_default() -> bool {
    true
}

/// One page of secret metadata, and the `nextLink` to follow (exactly as given).
pub fn parse_secret_list(body: &str) -> Result<(Vec<SecretMeta>, Option<String>), String> {
    let page: SecretListResult =
        serde_json::from_str(body).map_err(|e| format!("not a Key Vault secret list: {e}"))?;
    let secrets = page
        .value
        .into_iter()
        .map(|item| {
            let (vault, name, version) = split_secret_id(&item.id);
            SecretMeta {
                name,
                vault,
                enabled: item.attributes.enabled,
                created: item.attributes.created.and_then(from_unix),
                updated: item.attributes.updated.and_then(from_unix),
                expires: item.attributes.exp.and_then(from_unix),
                not_before: item.attributes.nbf.and_then(from_unix),
                version,
                content_type: item.content_type,
                tags: item.tags,
            }
        })
        .collect();
    Ok((secrets, page.next_link.filter(|l| !l.is_empty())))
}

fn from_unix(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

/// `https://myvault.vault.azure.net/secrets/name[/version]` → (`myvault`, `name`, version).
fn split_secret_id(id: &str) -> (String, String, Option<String>) {
    let without_scheme = id.split_once("://").map_or(id, |(_, rest)| rest);
    let mut parts = without_scheme.split('/');
    let host = parts.next().unwrap_or_default();
    let vault = host.split('.').next().unwrap_or(host).to_string();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("secrets"), Some(name), version) => (
            vault,
            name.to_string(),
            version.filter(|v| !v.is_empty()).map(str::to_string),
        ),
        _ => (vault, id.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_ids_yield_vault_and_name() {
        assert_eq!(
            split_secret_id(
                "https://myvault.vault.azure.net/secrets/listsecrettest0/4387e9f3d6e14c459867679a90fd0f79"
            ),
            (
                "myvault".to_string(),
                "listsecrettest0".to_string(),
                Some("4387e9f3d6e14c459867679a90fd0f79".to_string())
            )
        );
    }

    #[test]
    fn next_link_is_kept_verbatim_and_times_are_unix_seconds() {
        let body = r#"{"value":[{"id":"https://kv.vault.azure.net/secrets/a","attributes":{"enabled":false,"created":1482189047,"exp":1482189999}}],
                       "nextLink":"https://kv.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=abc&maxresults=1"}"#;
        let (secrets, next) = parse_secret_list(body).unwrap();
        assert_eq!(
            next.as_deref(),
            Some(
                "https://kv.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=abc&maxresults=1"
            )
        );
        assert!(!secrets[0].enabled);
        assert_eq!(secrets[0].created.unwrap().timestamp(), 1482189047);
        assert_eq!(secrets[0].expires.unwrap().timestamp(), 1482189999);
    }
}
