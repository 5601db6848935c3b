//! Infrastructure: Terraform plans (what changes, what is risky, what drifted)
//! and cloud resources (by tag, health) — each tied back to the pipelines that
//! depend on them.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::contract::{PlansResult, ResourceHealth, ResourcesResult};
use crate::ops::infra::drift::{self, DriftReport};
use crate::ops::infra::plans::{self, ParsedPlan, PlanChoice, PlanExplanation};
use crate::ops::infra::resources;
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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DriftParams {
    /// Name of a known plan whose prior state is compared with the live resources. Default: the first pending plan.
    #[serde(default)]
    pub plan: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TagParams {
    /// `key=value`, or just `key` for any value. Tag names match case-insensitively.
    pub tag: String,
    /// Only this resource type, e.g. Microsoft.Storage/storageAccounts.
    #[serde(default)]
    pub resource_type: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResourceParam {
    /// Resource name or full ARM id.
    pub resource: String,
}

#[tool_router(router = infra_tools, vis = "pub(crate)")]
impl OpsdeckServer {
    #[tool(
        description = "List the Terraform plans this server knows (pending changes), each with its headline and number of risky changes.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PlansResult>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_terraform_plans(&self) -> ToolResult {
        respond(plans::list_plans(self.backends()).await)
    }

    #[tool(
        description = "Parse a Terraform plan (terraform show -json): every change with its action, reason and changed attributes; sensitive values redacted.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ParsedPlan>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn parse_terraform_plan(&self, Parameters(params): Parameters<PlanParams>) -> ToolResult {
        respond(self.parse_plan_body(&params).await)
    }

    #[tool(
        description = "Explain a Terraform plan for on-call review: counts, risky changes (deletes, replacements, access and network changes) with why, and the pipelines each risky change would hit.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<PlanExplanation>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn explain_plan_diff(&self, Parameters(params): Parameters<PlanParams>) -> ToolResult {
        respond(self.explain_plan_body(&params).await)
    }

    #[tool(
        description = "Infrastructure drift: changes made outside Terraform (from the plan's refresh), resources in state but gone from the cloud, and resources tagged as Terraform-managed that state does not know.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DriftReport>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn detect_infra_drift(&self, Parameters(params): Parameters<DriftParams>) -> ToolResult {
        respond(drift::drift(self.backends(), params.plan.as_deref()).await)
    }

    #[tool(
        description = "List cloud resources carrying a tag (key=value, or key for any value), optionally of one resource type.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ResourcesResult>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_resources_by_tag(&self, Parameters(params): Parameters<TagParams>) -> ToolResult {
        respond(
            resources::resources_by_tag(
                self.backends(),
                &params.tag,
                params.resource_type.as_deref(),
            )
            .await,
        )
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
        respond(resources::resource_health(self.backends(), &params.resource).await)
    }
}

/// Which plan the arguments name: the inline one (bounded in size), a known
/// one by name, or else the only one known.
fn plan_choice(params: &PlanParams) -> Result<PlanChoice<'_>, ToolError> {
    match (&params.plan, &params.plan_json) {
        (Some(_), Some(_)) => Err(ToolError::invalid(
            "give either plan or plan_json, not both",
        )),
        (None, Some(json)) if json.len() > MAX_PLAN_JSON_BYTES => Err(ToolError::invalid(format!(
            "plan_json is {} bytes; the most is {MAX_PLAN_JSON_BYTES} (4 MiB): name a known plan with plan instead",
            json.len()
        ))),
        (None, Some(json)) => Ok(PlanChoice::Inline(json)),
        (Some(name), None) => Ok(PlanChoice::Named(name)),
        (None, None) => Ok(PlanChoice::TheOnlyOne),
    }
}

impl OpsdeckServer {
    async fn parse_plan_body(&self, params: &PlanParams) -> Outcome<ParsedPlan> {
        plans::parse(self.backends(), plan_choice(params)?).await
    }

    async fn explain_plan_body(&self, params: &PlanParams) -> Outcome<PlanExplanation> {
        plans::explain(self.backends(), plan_choice(params)?).await
    }
}
