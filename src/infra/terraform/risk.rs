//! Which planned changes deserve a human's attention, and why.
//!
//! The rules are generic on purpose: they look only at the resource type
//! name and the action, so they work for any provider without a table per
//! resource type. Matching is by substring because provider type names embed
//! the service (`azurerm_mssql_database`, `aws_s3_bucket_policy`, ...).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{ChangeKind, ResourceChange};

/// Types that hold data or long-lived identity (endpoints, keys): destroying
/// one loses something a re-create does not bring back.
const STATEFUL: &[&str] = &[
    "storage_account",
    "storage_container",
    "storage_data_lake",
    "key_vault",
    "sql",
    "database",
    "data_factory",
    "databricks",
    "cosmosdb",
    "postgresql",
    "mysql",
    "redis",
    "eventhub",
    "servicebus",
    "synapse",
    "s3_bucket",
    "dynamodb",
    "rds",
    "bigquery",
    "kinesis",
    "disk",
    "volume",
];

/// Types that decide who or what can reach something. Checked before
/// [`STATEFUL`] because e.g. `azurerm_storage_account_network_rules` is an
/// access rule, not a store.
const ACCESS: &[&str] = &[
    "key_vault_access_policy",
    "role_assignment",
    "private_endpoint",
    "firewall_rule",
    "network_rule",
    "network_security",
    "iam",
];

/// Ordered most severe first, so sorting ascending puts `High` on top.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
    Low,
}

/// A change that can lose data, cut access or cause downtime.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RiskyChange {
    pub address: String,
    pub resource_type: String,
    pub kind: ChangeKind,
    pub severity: Severity,
    /// One plain-English sentence for the on-call engineer.
    pub why: String,
    pub action_reason: Option<String>,
    /// Attribute paths whose change forces a replacement, e.g.
    /// `network_interface[0].subnet_id`.
    pub forced_by: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Access,
    Stateful,
    Plain,
}

fn classify(resource_type: &str) -> Class {
    let matches = |needles: &[&str]| needles.iter().any(|n| resource_type.contains(n));
    if matches(ACCESS) {
        Class::Access
    } else if matches(STATEFUL) {
        Class::Stateful
    } else {
        Class::Plain
    }
}

/// Assess one change; `None` when it is not risky. Data sources only ever
/// read, so they are never risky.
pub fn assess(change: &ResourceChange) -> Option<RiskyChange> {
    if !change.is_managed() {
        return None;
    }
    let class = classify(&change.resource_type);
    let severity = match (&change.kind, class) {
        (ChangeKind::Delete | ChangeKind::Replace { .. }, Class::Access | Class::Stateful) => {
            Severity::High
        }
        (ChangeKind::Delete | ChangeKind::Replace { .. }, Class::Plain) => Severity::Medium,
        (ChangeKind::Update, Class::Access) => Severity::Medium,
        // In-place changes to a data store are usually fine but worth a look
        // (tier, retention, replication); forgetting leaves an unmanaged object.
        (ChangeKind::Update, Class::Stateful) | (ChangeKind::Forget, _) => Severity::Low,
        _ => return None,
    };
    let forced_by: Vec<String> = change
        .replace_paths
        .iter()
        .map(|p| render_path(p))
        .collect();
    Some(RiskyChange {
        address: change.address.clone(),
        resource_type: change.resource_type.clone(),
        kind: change.kind.clone(),
        severity,
        why: why(change, class, &forced_by),
        action_reason: change.action_reason.clone(),
        forced_by,
    })
}

/// Render a replace path such as `["network_interface", 0, "subnet_id"]` as
/// `network_interface[0].subnet_id`.
pub fn render_path(path: &[Value]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Value::String(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            other => {
                out.push('[');
                out.push_str(&other.to_string());
                out.push(']');
            }
        }
    }
    out
}

fn why(change: &ResourceChange, class: Class, forced_by: &[String]) -> String {
    let mut target = change.address.clone();
    if let Some(key) = &change.deposed {
        target.push_str(&format!(" (deposed object {key})"));
    }

    let mut causes = Vec::new();
    if change.kind == ChangeKind::Update {
        causes.extend(attribute_list(change));
    }
    if !forced_by.is_empty() {
        causes.push(format!("forced by {}", forced_by.join(", ")));
    }
    if let Some(reason) = &change.action_reason {
        causes.push(explain_action_reason(reason));
    }
    let cause = if causes.is_empty() {
        String::new()
    } else {
        format!(" ({})", causes.join("; "))
    };

    let (verb, effect) = match (&change.kind, class) {
        (ChangeKind::Delete, Class::Stateful) => (
            "destroys",
            "any data it holds is lost unless it is backed up elsewhere".to_owned(),
        ),
        (ChangeKind::Delete, Class::Access) => (
            "destroys",
            "the access or network rule it provides disappears, which can cut off \
             pipelines and users or open up access"
                .to_owned(),
        ),
        (ChangeKind::Delete, Class::Plain) => (
            "destroys",
            "the real object is deleted, not just removed from Terraform".to_owned(),
        ),
        (
            ChangeKind::Replace {
                create_before_destroy,
            },
            class,
        ) => {
            let what = match class {
                Class::Stateful => "its data and endpoints are destroyed and recreated",
                Class::Access => "the rule is destroyed and recreated",
                Class::Plain => "it is destroyed and recreated",
            };
            let order = match (create_before_destroy, class) {
                (true, Class::Stateful) => "the new one is created first, but starts empty",
                (true, _) => "the new one is created before the old one is destroyed",
                (false, _) => "the old one is destroyed before the new one exists",
            };
            ("replaces", format!("{what} ({order})"))
        }
        (ChangeKind::Update, class) => {
            let effect = if class == Class::Access {
                "who or what can reach the resource may change"
            } else {
                "it holds data, so check the new settings are safe for it"
            };
            ("updates", effect.to_owned())
        }
        (ChangeKind::Forget, _) => (
            "stops managing",
            "it is removed from Terraform state but the real object keeps running, \
             unmanaged"
                .to_owned(),
        ),
        (kind, _) => ("changes", format!("planned action is {kind}")),
    };
    format!("{verb} {target}{cause}: {effect}")
}

/// "changing a, b, c and 2 more" for in-place updates; `None` if nothing
/// is known to change.
fn attribute_list(change: &ResourceChange) -> Option<String> {
    const SHOWN: usize = 5;
    let names: Vec<&str> = change
        .changed_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut list = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    Some(format!("changing {list}"))
}

/// Plain English for Terraform's `action_reason` codes. Unknown codes are
/// made readable rather than dropped, since Terraform adds new ones.
pub fn explain_action_reason(reason: &str) -> String {
    let text = match reason {
        "replace_because_tainted" => {
            "it is tainted: an earlier apply failed part-way or someone ran `terraform taint`"
        }
        "replace_because_cannot_update" => "the provider cannot change some attributes in place",
        "replace_by_request" => "replacement was requested with `-replace`",
        "replace_by_triggers" => "something in its `replace_triggered_by` changed",
        "delete_because_no_resource_config" => {
            "its resource block was removed from the configuration"
        }
        "delete_because_no_module" => "its module call was removed from the configuration",
        "delete_because_wrong_repetition" => {
            "the resource switched between single instance, `count` and `for_each`"
        }
        "delete_because_count_index" => "its `count` index is beyond the new count",
        "delete_because_each_key" => "its key is no longer in the `for_each` collection",
        "delete_because_no_move_target" => "a `moved` block points to an address that is gone",
        "read_because_config_unknown" => {
            "its configuration depends on values not known until apply"
        }
        "read_because_dependency_pending" => "it depends on a resource with pending changes",
        "read_because_check_nested" => "a `check` block reads it on every plan",
        other => return other.replace('_', " "),
    };
    text.to_owned()
}
