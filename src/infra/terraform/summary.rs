//! A one-screen digest of a plan: counts, risky changes, drift, headline.

use schemars::JsonSchema;
use serde::Serialize;

use super::model::{AttributeChange, ChangeKind, TerraformPlan};
use super::risk::{self, RiskyChange, Severity};

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PlanSummary {
    pub format_version: String,
    pub terraform_version: Option<String>,
    pub counts: ActionCounts,
    /// Most severe first, then by address.
    pub risky: Vec<RiskyChange>,
    pub drift: Vec<DriftItem>,
    /// Things that make the plan less trustworthy than it looks.
    pub warnings: Vec<String>,
    pub headline: String,
}

/// How many resource instances each action touches. `moved` and `imported`
/// overlap the others: a moved resource may also be updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ActionCounts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    /// Both replacement orders.
    pub replace: usize,
    pub read: usize,
    pub no_op: usize,
    pub forget: usize,
    pub moved: usize,
    pub imported: usize,
    /// Action lists this reader does not recognise.
    pub other: usize,
}

/// A change made outside Terraform, found while refreshing.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DriftItem {
    pub address: String,
    pub resource_type: String,
    pub kind: ChangeKind,
    pub changed_attributes: Vec<AttributeChange>,
}

pub fn summarize(plan: &TerraformPlan) -> PlanSummary {
    let mut counts = ActionCounts::default();
    for change in &plan.resource_changes {
        let slot = match change.kind {
            ChangeKind::Create => &mut counts.create,
            ChangeKind::Update => &mut counts.update,
            ChangeKind::Delete => &mut counts.delete,
            ChangeKind::Replace { .. } => &mut counts.replace,
            ChangeKind::Read => &mut counts.read,
            ChangeKind::NoOp => &mut counts.no_op,
            ChangeKind::Forget => &mut counts.forget,
            ChangeKind::Other(_) => &mut counts.other,
        };
        *slot += 1;
        counts.moved += usize::from(change.is_moved());
        counts.imported += usize::from(change.importing);
    }

    let mut risky: Vec<RiskyChange> = plan
        .resource_changes
        .iter()
        .filter_map(risk::assess)
        .collect();
    risky.sort_by(|a, b| (a.severity, &a.address).cmp(&(b.severity, &b.address)));

    let drift = plan
        .resource_drift
        .iter()
        .map(|d| DriftItem {
            address: d.address.clone(),
            resource_type: d.resource_type.clone(),
            kind: d.kind.clone(),
            changed_attributes: d.changed_attributes.clone(),
        })
        .collect::<Vec<_>>();

    let warnings = warnings(plan);
    let headline = headline(plan, &counts, &risky, drift.len());
    PlanSummary {
        format_version: plan.format_version.clone(),
        terraform_version: plan.terraform_version.clone(),
        counts,
        risky,
        drift,
        warnings,
        headline,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn headline(
    plan: &TerraformPlan,
    c: &ActionCounts,
    risky: &[RiskyChange],
    drifted: usize,
) -> String {
    let mut parts = Vec::new();
    if plan.errored == Some(true) {
        parts.push("Planning FAILED part-way; the changes below are incomplete.".to_owned());
    }
    // Same arithmetic as Terraform's own "Plan:" line: a replacement both
    // adds and destroys.
    let add = c.create + c.replace;
    let destroy = c.delete + c.replace;
    if add + c.update + destroy + c.forget + c.imported + c.moved + c.other == 0 {
        parts.push("No changes to resources.".to_owned());
    } else {
        let mut line = String::from("Plan: ");
        if c.imported > 0 {
            line.push_str(&format!("{} to import, ", c.imported));
        }
        line.push_str(&format!(
            "{add} to add, {} to change, {destroy} to destroy",
            c.update
        ));
        if c.forget > 0 {
            line.push_str(&format!(", {} to forget", c.forget));
        }
        if c.replace > 0 {
            line.push_str(&format!(
                " ({})",
                plural(c.replace, "replacement", "replacements")
            ));
        }
        line.push('.');
        parts.push(line);
        if c.moved > 0 {
            parts.push(format!(
                "{} moved.",
                plural(c.moved, "resource", "resources")
            ));
        }
    }
    if risky.is_empty() {
        parts.push("No risky changes.".to_owned());
    } else {
        let high = risky
            .iter()
            .filter(|r| r.severity == Severity::High)
            .count();
        let noun = plural(risky.len(), "risky change", "risky changes");
        parts.push(format!("{noun} ({high} high)."));
    }
    if drifted > 0 {
        let noun = plural(drifted, "resource", "resources");
        parts.push(format!("{noun} changed outside Terraform."));
    }
    if plan.complete == Some(false) {
        parts.push("Incomplete: some changes are deferred to a later plan.".to_owned());
    }
    parts.join(" ")
}

fn warnings(plan: &TerraformPlan) -> Vec<String> {
    let mut out = Vec::new();
    if plan.errored == Some(true) {
        out.push(
            "Terraform reported an error while planning: this plan is partial and cannot be \
             applied; fix the error and plan again."
                .to_owned(),
        );
    }
    if plan.complete == Some(false) {
        out.push(
            "The plan is incomplete (deferred changes): applying it will not converge; \
             another plan and apply will be needed."
                .to_owned(),
        );
    }
    // Sensitivity markings arrived with format 0.2 (Terraform 0.15).
    if predates_sensitivity(&plan.format_version) {
        out.push(format!(
            "Plan format {} predates sensitivity markings (Terraform < 0.15): attribute \
             values are not marked sensitive and cannot be redacted reliably.",
            plan.format_version
        ));
    }
    for check in &plan.checks {
        if check.status == "fail" || check.status == "error" {
            out.push(format!(
                "Check {} has status {}.",
                check.address, check.status
            ));
        }
    }
    let unknown: Vec<String> = plan
        .resource_changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Other(_)))
        .map(|c| format!("{} ({})", c.address, c.actions.join(",")))
        .collect();
    if !unknown.is_empty() {
        out.push(format!(
            "Unrecognised actions, review by hand: {}.",
            unknown.join("; ")
        ));
    }
    out
}

fn predates_sensitivity(format_version: &str) -> bool {
    let mut parts = format_version.split('.').map(|p| p.trim().parse::<u64>());
    matches!((parts.next(), parts.next()), (Some(Ok(0)), Some(Ok(minor))) if minor < 2)
}
