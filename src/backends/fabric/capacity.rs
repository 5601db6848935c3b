//! The workspace's capacity as a resource: `GET /v1/workspaces/{id}` names
//! it (`capacityId`), `GET /v1/capacities` gives its SKU, region and state
//! (`Active`, `Inactive` — paused; "additional capacity states may be added
//! over time", so another state is shown as written, not interpreted). An
//! inactive capacity runs nothing: it explains failed and waiting runs.
//!
//! `List Capacities` returns only the capacities the identity administers or
//! contributes to, so a workspace's capacity may be invisible: that is an
//! "unknown" with the reason, not an error for the whole answer.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::FabricBackend;
use super::prose::{MAX_MESSAGE_CHARS, name as clip, shown};
use super::wire::{Capacity, Workspace};
use crate::backends::{BackendError, InfraSource, PlanRef};
use crate::model::resource::Resource;

pub const CAPACITY_TYPE: &str = "Microsoft.Fabric/capacities";

/// What is known of the workspace's capacity.
#[derive(Debug, Clone)]
pub struct CapacityView {
    /// `None` when its state is not known (or there is no capacity).
    pub active: Option<bool>,
    /// One line for health output.
    pub summary: String,
    /// The capacity as a resource, when the workspace names one.
    pub resource: Option<Resource>,
}

/// The capacity `workspace` names, from the listing (or why it is unknown).
pub fn view(workspace: &Workspace, listed: Result<Vec<Capacity>, String>) -> CapacityView {
    let Some(capacity_id) = workspace
        .capacity_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    else {
        return CapacityView {
            active: None,
            summary: "no capacity is named for it".into(),
            resource: None,
        };
    };
    let capacity_id = clip(capacity_id);
    let unknown = |why: String| CapacityView {
        active: None,
        summary: format!("capacity {capacity_id}: state unknown ({why})"),
        resource: Some(resource(
            &capacity_id,
            &capacity_id,
            workspace,
            "Unknown",
            format!("unknown: {why}"),
            BTreeMap::new(),
            String::new(),
        )),
    };
    let all = match listed {
        Ok(all) => all,
        Err(e) => {
            return unknown(format!(
                "the capacity list could not be read: {}",
                shown(&e, MAX_MESSAGE_CHARS)
            ));
        }
    };
    let Some(found) = all
        .into_iter()
        .find(|c| c.id.trim().eq_ignore_ascii_case(&capacity_id))
    else {
        return unknown(
            "it is not among the capacities this identity can see; List Capacities shows only those it administers or contributes to (scope Capacity.Read.All)".into(),
        );
    };
    let name = Some(clip(&found.display_name))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| capacity_id.clone());
    let sku = found.sku.as_deref().map(clip).unwrap_or_default();
    let state = found
        .state
        .as_deref()
        .map(clip)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "not reported".into());
    let (active, availability, why) = match state.to_ascii_lowercase().as_str() {
        "active" => (Some(true), "Available".to_string(), String::new()),
        "inactive" => (
            Some(false),
            format!(
                "Unavailable: Inactive (paused) — Fabric runs nothing in workspace '{}' until it is resumed, so its failed or waiting runs are explained by it",
                clip(&workspace.display_name)
            ),
            " — not active (paused): runs fail or wait until it is resumed".to_string(),
        ),
        _ => (
            None,
            format!("{state} (a state opsdeck does not know; shown as Fabric wrote it)"),
            " — a state opsdeck does not know; shown as written".to_string(),
        ),
    };
    let mut tags = BTreeMap::new();
    tags.insert("state".to_string(), state.clone());
    if !sku.is_empty() {
        tags.insert("sku".to_string(), sku.clone());
    }
    let provisioning = if active.is_some() {
        "Succeeded"
    } else {
        "Unknown"
    };
    CapacityView {
        active,
        summary: format!("capacity '{name}' ({sku}) is {state}{why}"),
        resource: Some(resource(
            &capacity_id,
            &name,
            workspace,
            provisioning,
            availability,
            tags,
            found.region.as_deref().map(clip).unwrap_or_default(),
        )),
    }
}

fn resource(
    id: &str,
    name: &str,
    workspace: &Workspace,
    provisioning: &str,
    availability: String,
    mut tags: BTreeMap<String, String>,
    location: String,
) -> Resource {
    tags.insert("fabric_workspace".into(), clip(&workspace.display_name));
    Resource {
        id: id.to_string(),
        name: name.to_string(),
        resource_type: CAPACITY_TYPE.into(),
        resource_group: String::new(),
        location,
        tags,
        provisioning_state: provisioning.into(),
        availability: Some(availability),
        endpoints: Vec::new(),
    }
}

#[async_trait]
impl InfraSource for FabricBackend {
    /// The workspace's capacity (none when the workspace names none).
    async fn list_resources(&self) -> Result<Vec<Resource>, BackendError> {
        Ok(self.capacity().await?.resource.into_iter().collect())
    }

    async fn list_plans(&self) -> Result<Vec<PlanRef>, BackendError> {
        Ok(Vec::new())
    }

    async fn read_plan(&self, name: &str) -> Result<String, BackendError> {
        Err(BackendError::not_found_among("plan", name, &[])
            .with_hint(" The Fabric backend reads no Terraform plans."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(capacity: Option<&str>) -> Workspace {
        Workspace {
            id: "w".into(),
            display_name: "Sales".into(),
            capacity_id: capacity.map(str::to_string),
        }
    }

    fn capacity(id: &str, state: Option<&str>) -> Capacity {
        Capacity {
            id: id.into(),
            display_name: "Sales F8".into(),
            sku: Some("F8".into()),
            region: Some("West Europe".into()),
            state: state.map(str::to_string),
        }
    }

    #[test]
    fn each_state_is_told_and_an_unknown_one_kept_as_written() {
        let ws = workspace(Some("C1"));
        let active = view(&ws, Ok(vec![capacity("c1", Some("Active"))]));
        assert_eq!(active.active, Some(true));
        assert!(active.resource.unwrap().is_healthy());
        let paused = view(&ws, Ok(vec![capacity("C1", Some("Inactive"))]));
        assert_eq!(paused.active, Some(false));
        let r = paused.resource.unwrap();
        assert!(!r.is_healthy());
        assert!(r.availability_text().contains("paused"), "{r:?}");
        assert_eq!(r.location, "West Europe");
        let odd = view(&ws, Ok(vec![capacity("C1", Some("Suspending\u{1b}[2J"))]));
        assert_eq!(odd.active, None);
        let text = odd.resource.unwrap().availability.unwrap();
        assert!(text.starts_with("Suspending\\x1b[2J"), "{text}");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn the_workspace_name_in_prose_is_neutralised_and_clipped() {
        let mut ws = workspace(Some("C1"));
        ws.display_name = format!("Sales\u{1b}[2J\u{202e}{}", "x".repeat(5_000));
        let paused = view(&ws, Ok(vec![capacity("C1", Some("Inactive"))]));
        let r = paused.resource.unwrap();
        let text = r.availability_text();
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("Sales\\x1b[2J"), "{text:?}");
        assert!(text.chars().count() < 600, "{}", text.chars().count());
        let tag = &r.tags["fabric_workspace"];
        assert!(!tag.chars().any(|c| c.is_control()) && tag.chars().count() < 300);
    }

    #[test]
    fn an_invisible_or_unreadable_capacity_is_unknown_with_the_reason() {
        let ws = workspace(Some("C1"));
        let hidden = view(&ws, Ok(vec![capacity("other", Some("Active"))]));
        assert_eq!(hidden.active, None);
        let r = hidden.resource.unwrap();
        assert_eq!(r.name, "C1");
        assert!(
            r.availability_text().contains("administers or contributes"),
            "{r:?}"
        );
        let failed = view(&ws, Err("403 Forbidden".into()));
        assert!(
            failed.summary.contains("403 Forbidden"),
            "{}",
            failed.summary
        );
        let none = view(&workspace(None), Ok(vec![]));
        assert!(none.resource.is_none());
    }
}
