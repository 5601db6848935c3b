//! Cloud resources: found by tag, and one resource's health with what
//! depends on it.

use super::{linked_services_touching, pipelines_touching};
use crate::backends::{BackendError, Backends};
use crate::model::contract::{ResourceHealth, ResourcesResult};
use crate::model::resource::Resource;
use crate::ops::error::{OpsError, Outcome};

async fn all_resources(backends: &Backends) -> Result<Vec<Resource>, OpsError> {
    if backends.infra.is_empty() {
        return Err(OpsError::unavailable(
            "no resource source is configured for this server",
        ));
    }
    let mut all = Vec::new();
    for source in &backends.infra {
        all.extend(source.list_resources().await?);
    }
    Ok(all)
}

/// The resources carrying `tag` (`key=value`, or `key` for any value; the
/// key in any case), of `resource_type` only when given.
pub async fn resources_by_tag(
    backends: &Backends,
    tag: &str,
    resource_type: Option<&str>,
) -> Outcome<ResourcesResult> {
    let (key, value) = match tag.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (tag.trim(), None),
    };
    if key.is_empty() {
        return Err(OpsError::invalid(
            "tag is empty; use key=value (env=prod) or just a key (owner)",
        ));
    }
    let all = all_resources(backends).await?;
    let matching: Vec<Resource> = all
        .iter()
        .filter(|r| {
            r.tags
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(key) && value.is_none_or(|want| v == want))
                && resource_type.is_none_or(|t| r.resource_type.eq_ignore_ascii_case(t))
        })
        .cloned()
        .collect();
    if matching.is_empty() {
        let mut keys: Vec<String> = all.iter().flat_map(|r| r.tags.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        return Err(OpsError::not_found(format!(
            "no resource has tag {}; tag names in use: {}",
            tag,
            keys.join(", ")
        )));
    }
    let text = format!(
        "[{}] {} resources tagged {}: {}",
        backends.label,
        matching.len(),
        tag,
        matching
            .iter()
            .map(|r| format!("{} ({})", r.name, r.resource_type))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((
        text,
        ResourcesResult {
            count: matching.len(),
            resources: matching,
        },
    ))
}

/// One resource's health (by name or ARM id) and the connections and
/// pipelines that depend on it.
pub async fn resource_health(backends: &Backends, wanted: &str) -> Outcome<ResourceHealth> {
    let all = all_resources(backends).await?;
    let Some(resource) = all
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(wanted) || r.id.eq_ignore_ascii_case(wanted))
        .cloned()
    else {
        let names: Vec<String> = all.iter().map(|r| r.name.clone()).collect();
        return Err(BackendError::not_found_among("resource", wanted, &names).into());
    };
    let catalog = backends.catalog().await?;
    let linked_services = linked_services_touching(&catalog, std::slice::from_ref(&resource.name));
    let pipelines = pipelines_touching(&catalog, std::slice::from_ref(&resource.name));
    let healthy = resource.is_healthy();
    let verdict = if healthy {
        format!(
            "{} is healthy (provisioning {}, {})",
            resource.name,
            resource.provisioning_state,
            resource.availability_text()
        )
    } else {
        format!(
            "{} is NOT healthy: provisioning {}, availability {}",
            resource.name,
            resource.provisioning_state,
            resource.availability_text()
        )
    };
    let text = format!(
        "[{}] {verdict}; used by connections [{}] and pipelines [{}]",
        backends.label,
        linked_services.join(", "),
        pipelines.join(", ")
    );
    Ok((
        text,
        ResourceHealth {
            resource,
            healthy,
            verdict,
            linked_services,
            pipelines,
        },
    ))
}
