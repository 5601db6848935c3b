//! Terraform plans: the known ones, one parsed, one explained for review.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{pipelines_touching, resource_identifiers};
use crate::backends::Backends;
use crate::infra::terraform::{
    AttributeChange, ChangeKind, OutputChange, PlanSummary, RiskyChange, TerraformPlan, parse_plan,
    summarize,
};
use crate::model::contract::{PlanListing, PlansResult};
use crate::ops::error::{OpsError, Outcome};

/// Which plan a call is about.
#[derive(Debug, Clone, Copy)]
pub enum PlanChoice<'a> {
    /// The plan itself, as `terraform show -json PLANFILE` writes it.
    Inline(&'a str),
    /// A plan the infra sources know by this name.
    Named(&'a str),
    /// The one plan known (an error listing them when there are several).
    TheOnlyOne,
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

/// Every plan the infra sources know, with its headline and risky changes;
/// a plan that cannot be read says why in its headline.
pub async fn list_plans(backends: &Backends) -> Outcome<PlansResult> {
    let mut plans = Vec::new();
    for source in &backends.infra {
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
            backends.label
        )
    } else {
        format!(
            "[{}] {} plan(s): {}",
            backends.label,
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

/// The plan `choice` names, with its name (`inline` for one given inline).
pub async fn load_plan(
    backends: &Backends,
    choice: PlanChoice<'_>,
) -> Result<(String, TerraformPlan), OpsError> {
    let wanted_name = match choice {
        PlanChoice::Inline(json) => {
            let plan =
                parse_plan(json).map_err(|e| OpsError::invalid(format!("plan_json: {e}")))?;
            return Ok(("inline".to_string(), plan));
        }
        PlanChoice::Named(name) => Some(name),
        PlanChoice::TheOnlyOne => None,
    };
    let mut known = Vec::new();
    for source in &backends.infra {
        let plans = source.list_plans().await?;
        let wanted = match wanted_name {
            Some(name) => plans.iter().find(|p| p.name == name),
            None if plans.len() == 1 => plans.first(),
            None => None,
        };
        if let Some(found) = wanted {
            let text = source.read_plan(&found.name).await?;
            let plan = parse_plan(&text)
                .map_err(|e| OpsError::unavailable(format!("plan {}: {e}", found.name)))?;
            return Ok((found.name.clone(), plan));
        }
        known.extend(plans.into_iter().map(|p| match p.description {
            Some(d) => format!("{} ({d})", p.name),
            None => p.name,
        }));
    }
    let what = match wanted_name {
        Some(name) => format!("plan '{name}' not found"),
        None => "say which plan".to_string(),
    };
    Err(OpsError::invalid(if known.is_empty() {
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

/// Every change of a plan with its action, reason and changed attributes;
/// sensitive values redacted.
pub async fn parse(backends: &Backends, choice: PlanChoice<'_>) -> Outcome<ParsedPlan> {
    let (name, plan) = load_plan(backends, choice).await?;
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
        backends.label,
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

/// A plan for on-call review: counts, the risky changes with why, and the
/// pipelines each risky change would hit.
pub async fn explain(backends: &Backends, choice: PlanChoice<'_>) -> Outcome<PlanExplanation> {
    let (name, plan) = load_plan(backends, choice).await?;
    let summary = summarize(&plan);
    let catalog = backends.catalog().await?;
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
    let mut text = format!("[{}] plan {name}: {}", backends.label, summary.headline);
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
