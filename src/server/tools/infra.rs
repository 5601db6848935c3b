//! Infrastructure: Terraform plans (what changes, what is risky, what drifted)
//! and cloud resources (by tag, health) — each tied back to the pipelines that
//! depend on them.

use std::collections::BTreeSet;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::infra::terraform::{
    AttributeChange, ChangeKind, DriftItem, OutputChange, PlanSummary, RiskyChange, TerraformPlan,
    parse_plan, summarize,
};
use crate::model::estate::EstateCatalog;
use crate::model::resource::Resource;
use crate::server::OpsdeckServer;
use crate::server::reply::{Outcome, ToolError, ToolResult, respond};

/// The largest inline plan accepted: parsed, a plan takes several times its
/// size, so this bounds one call's memory whatever the transport allows.
pub const MAX_PLAN_JSON_BYTES: usize = 4 << 20;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PlanParams {
    /// Name of a known plan (see the error of a call without arguments for the list).
    #[serde(default)]
    pub plan: Option<String>,
    /// Or the plan itself: the output of `terraform show -json PLANFILE` (at most 4 MiB).
    #[serde(default)]
    pub plan_json: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeView {
    pub address: String,
    pub resource_type: String,
    pub action: ChangeKind,
    pub action_reason: Option<String>,
    pub changed_attributes: Vec<AttributeChange>,
    /// Values before and after, with sensitive values replaced by "(sensitive)".
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ParsedPlan {
    pub plan: String,
    pub format_version: String,
    pub terraform_version: Option<String>,
    pub headline: String,
    /// Changes other than no-ops.
    pub resource_changes: Vec<ChangeView>,
    pub unchanged: usize,
    pub output_changes: Vec<OutputChange>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RiskWithImpact {
    #[serde(flatten)]
    pub change: RiskyChange,
    /// The cloud names and ids the change touches (from the plan's values).
    pub identifies: Vec<String>,
    /// Pipelines whose connections point at the resource.
    pub affected_pipelines: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanExplanation {
    pub plan: String,
    pub headline: String,
    pub summary: PlanSummary,
    pub risky: Vec<RiskWithImpact>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DriftParams {
    /// Name of a known plan whose prior state is compared with the live resources. Default: the first pending plan.
    #[serde(default)]
    pub plan: Option<String>,
}

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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TagParams {
    /// `key=value`, or just `key` for any value. Tag names match case-insensitively.
    pub tag: String,
    /// Only this resource type, e.g. Microsoft.Storage/storageAccounts.
    #[serde(default)]
    pub resource_type: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResourcesResult {
    pub count: usize,
    pub resources: Vec<Resource>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResourceParam {
    /// Resource name or full ARM id.
    pub resource: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResourceHealth {
    pub resource: Resource,
    pub healthy: bool,
    pub verdict: String,
    /// Connections whose endpoint is this resource.
    pub linked_services: Vec<String>,
    pub pipelines: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanListing {
    pub name: String,
    pub description: Option<String>,
    /// "Plan: 2 to add, 1 to change, 1 to destroy…", or why the plan could not be read.
    pub headline: String,
    pub risky_changes: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlansResult {
    pub count: usize,
    pub plans: Vec<PlanListing>,
}

#[tool_router(router = infra_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "List the Terraform plans this server knows (pending changes), each with its headline and number of risky changes.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PlansResult>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_terraform_plans(&self) -> ToolResult {
        respond(self.list_plans_body().await)
    }

    #[tool(
        description = "Parse a Terraform plan (terraform show -json): every change with its action, reason and changed attributes; sensitive values redacted.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ParsedPlan>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn parse_terraform_plan(&self, Parameters(params): Parameters<PlanParams>) -> ToolResult {
        respond(self.parse_plan_body(params).await)
    }

    #[tool(
        description = "Explain a Terraform plan for on-call review: counts, risky changes (deletes, replacements, access and network changes) with why, and the pipelines each risky change would hit.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PlanExplanation>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn explain_plan_diff(&self, Parameters(params): Parameters<PlanParams>) -> ToolResult {
        respond(self.explain_plan_body(params).await)
    }

    #[tool(
        description = "Infrastructure drift: changes made outside Terraform (from the plan's refresh), resources in state but gone from the cloud, and resources tagged as Terraform-managed that state does not know.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DriftReport>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn detect_infra_drift(&self, Parameters(params): Parameters<DriftParams>) -> ToolResult {
        respond(self.drift_body(params).await)
    }

    #[tool(
        description = "List cloud resources carrying a tag (key=value, or key for any value), optionally of one resource type.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ResourcesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_resources_by_tag(&self, Parameters(params): Parameters<TagParams>) -> ToolResult {
        respond(self.resources_by_tag_body(params).await)
    }

    #[tool(
        description = "Health of one cloud resource (provisioning state, availability) and the connections and pipelines that depend on it.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ResourceHealth>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn get_resource_health(
        &self,
        Parameters(params): Parameters<ResourceParam>,
    ) -> ToolResult {
        respond(self.resource_health_body(&params.resource).await)
    }
}

impl OpsdeckServer {
    async fn list_plans_body(&self) -> Outcome<PlansResult> {
        let mut plans = Vec::new();
        for source in &self.backends().infra {
            for plan_ref in source.list_plans().await? {
                let (headline, risky_changes) = match source
                    .read_plan(&plan_ref.name)
                    .await
                    .map(|t| parse_plan(&t))
                {
                    Ok(Ok(plan)) => {
                        let summary = summarize(&plan);
                        (summary.headline, summary.risky.len())
                    }
                    Ok(Err(e)) => (format!("unreadable: {e}"), 0),
                    Err(e) => (format!("unreadable: {e}"), 0),
                };
                plans.push(PlanListing {
                    name: plan_ref.name,
                    description: plan_ref.description,
                    headline,
                    risky_changes,
                });
            }
        }
        let text = if plans.is_empty() {
            format!(
                "[{}] no Terraform plans are known here; pass plan_json to explain_plan_diff",
                self.backends().label
            )
        } else {
            format!(
                "[{}] {} plan(s): {}",
                self.backends().label,
                plans.len(),
                plans
                    .iter()
                    .map(|p| format!("{} ({} risky; {})", p.name, p.risky_changes, p.headline))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        Ok((
            text,
            PlansResult {
                count: plans.len(),
                plans,
            },
        ))
    }

    /// The named plan, the inline one, or the only one known.
    async fn load_plan(&self, params: &PlanParams) -> Result<(String, TerraformPlan), ToolError> {
        if let Some(json) = &params.plan_json {
            if params.plan.is_some() {
                return Err(ToolError::invalid(
                    "give either plan or plan_json, not both",
                ));
            }
            if json.len() > MAX_PLAN_JSON_BYTES {
                return Err(ToolError::invalid(format!(
                    "plan_json is {} bytes; the most is {MAX_PLAN_JSON_BYTES} (4 MiB): name a known plan with plan instead",
                    json.len()
                )));
            }
            let plan =
                parse_plan(json).map_err(|e| ToolError::invalid(format!("plan_json: {e}")))?;
            return Ok(("inline".to_string(), plan));
        }
        let mut known = Vec::new();
        for source in &self.backends().infra {
            let plans = source.list_plans().await?;
            let wanted = match &params.plan {
                Some(name) => plans.iter().find(|p| &p.name == name),
                None if plans.len() == 1 => plans.first(),
                None => None,
            };
            if let Some(found) = wanted {
                let text = source.read_plan(&found.name).await?;
                let plan = parse_plan(&text)
                    .map_err(|e| ToolError::unavailable(format!("plan {}: {e}", found.name)))?;
                return Ok((found.name.clone(), plan));
            }
            known.extend(plans.into_iter().map(|p| match p.description {
                Some(d) => format!("{} ({d})", p.name),
                None => p.name,
            }));
        }
        let what = match &params.plan {
            Some(name) => format!("plan '{name}' not found"),
            None => "say which plan".to_string(),
        };
        Err(ToolError::invalid(if known.is_empty() {
            format!(
                "{what}: no plans are known here; pass plan_json with the output of `terraform show -json PLANFILE`"
            )
        } else {
            format!(
                "{what}; known plans: {}; or pass plan_json",
                known.join(", ")
            )
        }))
    }

    async fn parse_plan_body(&self, params: PlanParams) -> Outcome<ParsedPlan> {
        let (name, plan) = self.load_plan(&params).await?;
        let summary = summarize(&plan);
        let changes: Vec<ChangeView> = plan
            .resource_changes
            .iter()
            .filter(|c| c.kind != ChangeKind::NoOp)
            .map(|c| ChangeView {
                address: c.address.clone(),
                resource_type: c.resource_type.clone(),
                action: c.kind.clone(),
                action_reason: c.action_reason.clone(),
                changed_attributes: c.changed_attributes.clone(),
                before: c.before_redacted(),
                after: c.after_redacted(),
            })
            .collect();
        let unchanged = plan.resource_changes.len() - changes.len();
        let text = format!(
            "[{}] plan {name} (format {}, Terraform {}): {}",
            self.backends().label,
            plan.format_version,
            plan.terraform_version.as_deref().unwrap_or("?"),
            summary.headline
        );
        Ok((
            text,
            ParsedPlan {
                plan: name,
                format_version: plan.format_version.clone(),
                terraform_version: plan.terraform_version.clone(),
                headline: summary.headline,
                resource_changes: changes,
                unchanged,
                output_changes: plan.output_changes.clone(),
            },
        ))
    }

    async fn explain_plan_body(&self, params: PlanParams) -> Outcome<PlanExplanation> {
        let (name, plan) = self.load_plan(&params).await?;
        let summary = summarize(&plan);
        let catalog = self.backends().catalog().await?;
        let risky: Vec<RiskWithImpact> = summary
            .risky
            .iter()
            .map(|risk| {
                let identifiers = plan
                    .resource_changes
                    .iter()
                    .find(|c| c.address == risk.address)
                    .map(|c| {
                        resource_identifiers(
                            c.before_redacted().as_ref().or(c.after_redacted().as_ref()),
                        )
                    })
                    .unwrap_or_default();
                RiskWithImpact {
                    change: risk.clone(),
                    affected_pipelines: pipelines_touching(&catalog, &identifiers),
                    identifies: identifiers,
                }
            })
            .collect();
        let mut text = format!(
            "[{}] plan {name}: {}",
            self.backends().label,
            summary.headline
        );
        for r in risky.iter().take(6) {
            text.push_str(&format!("\n- {:?}: {}", r.change.severity, r.change.why));
            if let Some(name) = r.identifies.first() {
                text.push_str(&format!(" [{name}]"));
            }
            if !r.affected_pipelines.is_empty() {
                text.push_str(&format!(
                    " — would affect {}",
                    r.affected_pipelines.join(", ")
                ));
            }
        }
        Ok((
            text,
            PlanExplanation {
                plan: name,
                headline: summary.headline.clone(),
                summary,
                risky,
            },
        ))
    }

    async fn drift_body(&self, params: DriftParams) -> Outcome<DriftReport> {
        let (name, plan) = self
            .load_plan(&PlanParams {
                plan: params.plan.clone(),
                plan_json: None,
            })
            .await
            .map_err(|e| {
                if params.plan.is_none() {
                    ToolError::invalid(format!("{}; pass plan to choose one", e.message))
                } else {
                    e
                }
            })?;
        let summary = summarize(&plan);
        let mut live = Vec::new();
        for source in &self.backends().infra {
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
                (is_top_level_arm_id(id) && !live_ids.contains(&id.to_ascii_lowercase())).then(
                    || MissingResource {
                        address: r.address.clone(),
                        id: id.to_string(),
                    },
                )
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
            self.backends().label,
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

    async fn all_resources(&self) -> Result<Vec<Resource>, ToolError> {
        if self.backends().infra.is_empty() {
            return Err(ToolError::unavailable(
                "no resource source is configured for this server",
            ));
        }
        let mut all = Vec::new();
        for source in &self.backends().infra {
            all.extend(source.list_resources().await?);
        }
        Ok(all)
    }

    async fn resources_by_tag_body(&self, params: TagParams) -> Outcome<ResourcesResult> {
        let (key, value) = match params.tag.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (params.tag.trim(), None),
        };
        if key.is_empty() {
            return Err(ToolError::invalid(
                "tag is empty; use key=value (env=prod) or just a key (owner)",
            ));
        }
        let all = self.all_resources().await?;
        let matching: Vec<Resource> =
            all.iter()
                .filter(|r| {
                    r.tags.iter().any(|(k, v)| {
                        k.eq_ignore_ascii_case(key) && value.is_none_or(|want| v == want)
                    }) && params
                        .resource_type
                        .as_ref()
                        .is_none_or(|t| r.resource_type.eq_ignore_ascii_case(t))
                })
                .cloned()
                .collect();
        if matching.is_empty() {
            let mut keys: Vec<String> = all.iter().flat_map(|r| r.tags.keys().cloned()).collect();
            keys.sort();
            keys.dedup();
            return Err(ToolError::not_found(format!(
                "no resource has tag {}; tag names in use: {}",
                params.tag,
                keys.join(", ")
            )));
        }
        let text = format!(
            "[{}] {} resources tagged {}: {}",
            self.backends().label,
            matching.len(),
            params.tag,
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

    async fn resource_health_body(&self, wanted: &str) -> Outcome<ResourceHealth> {
        let all = self.all_resources().await?;
        let Some(resource) = all
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(wanted) || r.id.eq_ignore_ascii_case(wanted))
            .cloned()
        else {
            let names: Vec<String> = all.iter().map(|r| r.name.clone()).collect();
            return Err(
                crate::backends::BackendError::not_found_among("resource", wanted, &names).into(),
            );
        };
        let catalog = self.backends().catalog().await?;
        let linked_services =
            linked_services_touching(&catalog, std::slice::from_ref(&resource.name));
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
            self.backends().label,
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
}

/// `/subscriptions/…/providers/{namespace}/{type}/{name}`: a resource the ARM list returns.
fn is_top_level_arm_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower.starts_with("/subscriptions/")
        && lower
            .split_once("/providers/")
            .is_some_and(|(_, rest)| rest.split('/').filter(|s| !s.is_empty()).count() == 3)
}

/// Names that identify the resource a Terraform change touches.
pub(crate) fn resource_identifiers(values: Option<&Value>) -> Vec<String> {
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
fn linked_services_touching(catalog: &EstateCatalog, identifiers: &[String]) -> Vec<String> {
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

pub(crate) fn pipelines_touching(catalog: &EstateCatalog, identifiers: &[String]) -> Vec<String> {
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
