//! Azure Resource Manager resource listings (`GET .../resources?api-version=2021-04-01`
//! with `$expand=provisioningState`), in the `GenericResourceExpanded` shape.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::resource::Resource;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceListResult {
    #[serde(default)]
    value: Vec<GenericResource>,
    #[serde(default)]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenericResource {
    id: String,
    name: String,
    #[serde(rename = "type")]
    resource_type: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    provisioning_state: Option<String>,
    #[serde(default)]
    properties: Option<serde_json::Value>,
}

/// One page of resources, and the `nextLink` to follow.
pub fn parse_resource_list(body: &str) -> Result<(Vec<Resource>, Option<String>), String> {
    let page: ResourceListResult =
        serde_json::from_str(body).map_err(|e| format!("not an ARM resource list: {e}"))?;
    let resources = page
        .value
        .into_iter()
        .map(|r| {
            let state = r
                .provisioning_state
                .or_else(|| {
                    r.properties
                        .as_ref()
                        .and_then(|p| p.get("provisioningState"))
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "Unknown".to_string());
            Resource {
                resource_group: resource_group_of(&r.id),
                endpoints: endpoints_of(&r.resource_type, &r.name),
                id: r.id,
                name: r.name,
                resource_type: r.resource_type,
                location: r.location,
                tags: r.tags,
                provisioning_state: state,
                availability: None,
            }
        })
        .collect();
    Ok((resources, page.next_link.filter(|l| !l.is_empty())))
}

/// The resource group segment of an ARM id (case-insensitive, as ARM treats it).
pub fn resource_group_of(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Well-known public endpoints of a resource, to tie connections to resources.
pub fn endpoints_of(resource_type: &str, name: &str) -> Vec<String> {
    match resource_type.to_ascii_lowercase().as_str() {
        "microsoft.storage/storageaccounts" => vec![
            format!("{name}.dfs.core.windows.net"),
            format!("{name}.blob.core.windows.net"),
        ],
        "microsoft.keyvault/vaults" => vec![format!("{name}.vault.azure.net")],
        "microsoft.sql/servers" => vec![format!("{name}.database.windows.net")],
        "microsoft.synapse/workspaces" => vec![format!("{name}.sql.azuresynapse.net")],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_is_read_from_the_id() {
        assert_eq!(
            resource_group_of(
                "/subscriptions/x/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/st"
            ),
            "rg-data"
        );
    }

    #[test]
    fn provisioning_state_may_sit_in_properties() {
        let body = r#"{"value":[{"id":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv","name":"kv","type":"Microsoft.KeyVault/vaults","properties":{"provisioningState":"Failed"}}]}"#;
        let (resources, next) = parse_resource_list(body).unwrap();
        assert_eq!(resources[0].provisioning_state, "Failed");
        assert_eq!(resources[0].endpoints, vec!["kv.vault.azure.net"]);
        assert!(next.is_none());
    }
}
