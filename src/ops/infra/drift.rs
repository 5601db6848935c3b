//! Drift: what changed outside Terraform, what state has that the cloud lost,
//! and what the cloud has tagged as Terraform's that state does not know.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::plans::{PlanChoice, load_plan};
use crate::backends::Backends;
use crate::infra::terraform::{DriftItem, summarize};
use crate::model::resource::Resource;
use crate::ops::error::{OpsError, Outcome};

#[derive(Debug, Serialize, JsonSchema)]
pub struct MissingResource {
    pub address: String,
    pub id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DriftReport {
    pub plan: String,
    /// Changes made outside Terraform, as the plan's refresh found them.
    pub drift_in_plan: Vec<DriftItem>,
    /// In Terraform state but not in the cloud.
    pub missing_in_cloud: Vec<MissingResource>,
    /// Tagged managed-by=terraform in the cloud but not in state.
    pub unmanaged_in_cloud: Vec<Resource>,
    pub live_resources_checked: usize,
}

/// Drift against `plan` (default: the only plan known): changes made outside
/// Terraform as the plan's refresh found them, resources in state but gone
/// from the cloud, and resources tagged Terraform-managed that state lacks.
pub async fn drift(backends: &Backends, plan_name: Option<&str>) -> Outcome<DriftReport> {
    let choice = plan_name.map_or(PlanChoice::TheOnlyOne, PlanChoice::Named);
    let (name, plan) = load_plan(backends, choice).await.map_err(|e| {
        if plan_name.is_none() {
            OpsError::invalid(format!("{}; pass plan to choose one", e.message))
        } else {
            e
        }
    })?;
    let summary = summarize(&plan);
    let mut live = Vec::new();
    for source in &backends.infra {
        live.extend(source.list_resources().await?);
    }
    let live_ids: BTreeSet<String> = live.iter().map(|r| r.id.to_ascii_lowercase()).collect();
    let state_ids: BTreeSet<String> = plan
        .prior_resources
        .iter()
        .filter_map(|r| r.values_redacted.get("id").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    let missing_in_cloud: Vec<MissingResource> = plan
        .prior_resources
        .iter()
        .filter_map(|r| {
            let id = r.values_redacted.get("id")?.as_str()?;
            (is_top_level_arm_id(id) && !live_ids.contains(&id.to_ascii_lowercase())).then(|| {
                MissingResource {
                    address: r.address.clone(),
                    id: id.to_string(),
                }
            })
        })
        .collect();
    let unmanaged_in_cloud: Vec<Resource> = live
        .iter()
        .filter(|r| {
            r.tags.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("managed-by") && v.eq_ignore_ascii_case("terraform")
            }) && !state_ids.contains(&r.id.to_ascii_lowercase())
        })
        .cloned()
        .collect();
    let text = format!(
        "[{}] drift against plan {name}: {} changed outside Terraform [{}]; {} in state but missing in the cloud [{}]; {} tagged managed-by=terraform but unknown to state [{}]",
        backends.label,
        summary.drift.len(),
        summary
            .drift
            .iter()
            .map(|d| d.address.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        missing_in_cloud.len(),
        missing_in_cloud
            .iter()
            .map(|m| m.address.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        unmanaged_in_cloud.len(),
        unmanaged_in_cloud
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((
        text,
        DriftReport {
            plan: name,
            drift_in_plan: summary.drift,
            missing_in_cloud,
            unmanaged_in_cloud,
            live_resources_checked: live.len(),
        },
    ))
}

/// `/subscriptions/…/providers/{namespace}/{type}/{name}`: a resource the ARM list returns.
fn is_top_level_arm_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower.starts_with("/subscriptions/")
        && lower
            .split_once("/providers/")
            .is_some_and(|(_, rest)| rest.split('/').filter(|s| !s.is_empty()).count() == 3)
}
