//! Infrastructure tied back to the pipelines: Terraform plans (what changes,
//! what is risky, what drifted) and cloud resources (by tag, health), each
//! with the connections and pipelines that depend on what it touches.

pub mod drift;
pub mod plans;
pub mod resources;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::model::estate::EstateCatalog;

/// Names that identify the resource a Terraform change touches.
pub fn resource_identifiers(values: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(map)) = values else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in [
        "name",
        "storage_account_name",
        "server_name",
        "account_name",
        "key_vault_id",
        "server_id",
        "workspace_id",
        "data_factory_id",
        "id",
    ] {
        if let Some(text) = map.get(key).and_then(Value::as_str) {
            let last = text
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(text);
            if last.len() >= 3 && !out.iter().any(|o: &String| o == last) {
                out.push(last.to_string());
            }
        }
    }
    out
}

/// Connections whose endpoint names one of `identifiers`, and connections built on those.
pub fn linked_services_touching(catalog: &EstateCatalog, identifiers: &[String]) -> Vec<String> {
    let mut hit: BTreeSet<String> = catalog
        .linked_services
        .iter()
        .filter(|ls| {
            ls.endpoint.as_ref().is_some_and(|endpoint| {
                let endpoint = endpoint.to_ascii_lowercase();
                identifiers
                    .iter()
                    .any(|id| endpoint.contains(&id.to_ascii_lowercase()))
            })
        })
        .map(|ls| ls.name.clone())
        .collect();
    let dependents: Vec<String> = catalog
        .linked_services
        .iter()
        .filter(|ls| ls.uses_linked_services.iter().any(|u| hit.contains(u)))
        .map(|ls| ls.name.clone())
        .collect();
    hit.extend(dependents);
    hit.into_iter().collect()
}

pub fn pipelines_touching(catalog: &EstateCatalog, identifiers: &[String]) -> Vec<String> {
    let mut pipelines: Vec<String> = Vec::new();
    for ls in linked_services_touching(catalog, identifiers) {
        for pipeline in catalog.pipelines_using_linked_service(&ls) {
            if !pipelines.contains(&pipeline) {
                pipelines.push(pipeline);
            }
        }
    }
    pipelines
}
