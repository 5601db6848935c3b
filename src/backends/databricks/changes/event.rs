//! One Databricks cluster event (`POST /api/2.1/clusters/events`:
//! `cluster_id`, `timestamp` in epoch ms, `type`, `details`) as a [`Change`],
//! or nothing when it records no change. Shapes from the Clusters API
//! reference (`ClusterEvent`, `EventDetails`, `TerminationReason`).

use serde_json::{Map, Value};

use crate::backends::databricks::wire::millis;
use crate::model::change::{Change, ChangeKind};
use crate::support::terminal::for_screen;
use crate::support::text::clip;

pub const SOURCE: &str = "databricks cluster events";
const MAX_NAME: usize = 200;
const MAX_VALUE: usize = 80;
/// Most changed settings an edit lists.
const MAX_FIELDS: usize = 12;

/// The event types that are changes; asked for by name, so the health and
/// autoscaling reports (`RUNNING`, `DRIVER_HEALTHY`, `AUTOSCALING_STATS_REPORT`,
/// `INIT_SCRIPTS_*`, disk expansion) never come back.
pub const CHANGE_TYPES: &[&str] = &[
    "CREATING",
    "EDITED",
    "STARTING",
    "RESTARTING",
    "TERMINATING",
    "RESIZING",
    "UPSIZE_COMPLETED",
    "NODES_LOST",
    "PINNED",
    "UNPINNED",
    "AUTOMATIC_CLUSTER_UPDATE",
    "CLUSTER_MIGRATED",
];

/// Settings whose old and new values an edit may show; any other setting
/// (`spark_conf`, `spark_env_vars`, `custom_tags`, init scripts) is named only,
/// as it can carry secrets.
const SHOWN_SETTINGS: &[&str] = &[
    "num_workers",
    "autoscale",
    "node_type_id",
    "driver_node_type_id",
    "spark_version",
    "autotermination_minutes",
    "runtime_engine",
    "data_security_mode",
    "instance_pool_id",
    "driver_instance_pool_id",
    "policy_id",
    "cluster_name",
    "enable_elastic_disk",
    "is_single_node",
    "kind",
];

/// What the caller knows of the cluster: its name and the jobs that use it.
#[derive(Debug, Clone, Default)]
pub struct ClusterRef {
    pub cluster_id: String,
    pub name: Option<String>,
    /// Job names and ids whose tasks run on this cluster.
    pub jobs: Vec<String>,
}

fn name(raw: &str) -> String {
    clip(&for_screen(raw.trim()), MAX_NAME)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) if o.contains_key("min_workers") || o.contains_key("max_workers") => {
            Some(format!(
                "{}-{}",
                o.get("min_workers").and_then(scalar).unwrap_or_default(),
                o.get("max_workers").and_then(scalar).unwrap_or_default()
            ))
        }
        _ => None,
    }
}

fn text(details: &Map<String, Value>, key: &str) -> Option<String> {
    details
        .get(key)
        .and_then(scalar)
        .filter(|s| !s.trim().is_empty())
}

/// The person behind the event: `details.user`, else the user a termination names.
fn user(details: &Map<String, Value>) -> Option<String> {
    text(details, "user").or_else(|| {
        details
            .get("reason")
            .and_then(|r| r.get("parameters"))
            .and_then(|p| p.get("username"))
            .and_then(scalar)
            .filter(|s| !s.trim().is_empty())
    })
}

/// The settings an edit changed: `name old → new` for the plain ones, the
/// name alone for the rest.
fn edited_settings(details: &Map<String, Value>) -> Vec<String> {
    let empty = Map::new();
    let new = details
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let old = details
        .get("previous_attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = new.keys().chain(old.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changed = Vec::new();
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        if before == after {
            continue;
        }
        if changed.len() == MAX_FIELDS {
            changed.push("…".to_string());
            break;
        }
        let shown = SHOWN_SETTINGS.contains(&key.as_str());
        let value = |v: Option<&Value>| {
            v.and_then(scalar)
                .map(|s| clip(&s, MAX_VALUE))
                .unwrap_or_else(|| "unset".into())
        };
        changed.push(if shown {
            format!("{key} {} → {}", value(before), value(after))
        } else {
            format!("{key} changed")
        });
    }
    // Workers are also given as the size, when attributes omit them.
    if changed.is_empty()
        && let (Some(before), Some(after)) = (
            details.get("previous_cluster_size").and_then(workers),
            details.get("cluster_size").and_then(workers),
        )
        && before != after
    {
        changed.push(format!("size {before} → {after}"));
    }
    changed
}

/// `ClusterSize` as text: `N workers` or `autoscale min-max`.
fn workers(size: &Value) -> Option<String> {
    if let Some(n) = size.get("num_workers").and_then(scalar) {
        return Some(format!("{n} workers"));
    }
    size.get("autoscale")
        .and_then(scalar)
        .map(|range| format!("autoscale {range}"))
}

/// A termination's reason: `INACTIVITY (SUCCESS), inactivity_duration_min=30`.
fn reason(details: &Map<String, Value>) -> Option<String> {
    let reason = details.get("reason")?.as_object()?;
    let code = reason.get("code").and_then(scalar)?;
    let mut out = code;
    if let Some(kind) = reason.get("type").and_then(scalar) {
        out.push_str(&format!(" ({kind})"));
    }
    if let Some(parameters) = reason.get("parameters").and_then(Value::as_object) {
        let mut pairs: Vec<String> = parameters
            .iter()
            .filter(|(k, _)| k.as_str() != "username")
            .filter_map(|(k, v)| scalar(v).map(|v| format!("{k}={}", clip(&v, MAX_VALUE))))
            .collect();
        pairs.sort();
        pairs.truncate(MAX_FIELDS);
        if !pairs.is_empty() {
            out.push_str(&format!(", {}", pairs.join(", ")));
        }
    }
    Some(out)
}

/// The change one event shows, or `None` for other types and broken events.
pub fn change_of(event: &Value, cluster: &ClusterRef) -> Option<Change> {
    let kind_name = event.get("type")?.as_str()?.trim().to_ascii_uppercase();
    if !CHANGE_TYPES.contains(&kind_name.as_str()) {
        return None;
    }
    let at = millis(event.get("timestamp").and_then(Value::as_i64))?;
    let empty = Map::new();
    let details = event
        .get("details")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let cluster_id = event
        .get("cluster_id")
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
        .unwrap_or(&cluster.cluster_id);
    let cluster_id = name(cluster_id);
    let label = cluster
        .name
        .as_deref()
        .map(name)
        .unwrap_or_else(|| cluster_id.clone());
    let user = user(details).map(|u| name(&u));
    let cause = text(details, "cause");
    let by = user
        .as_deref()
        .map(|u| format!(" by {u}"))
        .unwrap_or_default();
    let count = |key: &str| text(details, key).unwrap_or_else(|| "?".into());
    let (kind, summary, automatic) = match kind_name.as_str() {
        "CREATING" => (
            ChangeKind::Lifecycle,
            format!("cluster {label} created{by}"),
            false,
        ),
        "EDITED" => {
            let settings = edited_settings(details);
            let what = if settings.is_empty() {
                String::new()
            } else {
                format!(": {}", settings.join(", "))
            };
            (
                ChangeKind::Configuration,
                format!("cluster {label} edited{by}{what}"),
                false,
            )
        }
        "STARTING" => (
            ChangeKind::Compute,
            format!("cluster {label} starting{by}"),
            false,
        ),
        "RESTARTING" => (
            ChangeKind::Compute,
            format!("cluster {label} restarting{by}"),
            false,
        ),
        "TERMINATING" => {
            let why = reason(details)
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let automatic = details
                .get("reason")
                .and_then(|r| r.get("code"))
                .and_then(Value::as_str)
                .is_some_and(|code| code != "USER_REQUEST");
            (
                ChangeKind::Compute,
                format!("cluster {label} terminating{by}{why}"),
                automatic,
            )
        }
        "RESIZING" => {
            let asked = user.is_some() || cause.as_deref() == Some("USER_REQUEST");
            let because = cause
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            (
                if asked {
                    ChangeKind::Configuration
                } else {
                    ChangeKind::Compute
                },
                format!(
                    "cluster {label} resizing from {} to {} workers{by}{because}",
                    count("current_num_workers"),
                    count("target_num_workers")
                ),
                !asked,
            )
        }
        "UPSIZE_COMPLETED" => (
            ChangeKind::Compute,
            format!(
                "cluster {label} upsized to {} workers (target {})",
                count("current_num_workers"),
                count("target_num_workers")
            ),
            true,
        ),
        "NODES_LOST" => (
            ChangeKind::Compute,
            format!(
                "cluster {label} lost nodes; {} workers left",
                count("current_num_workers")
            ),
            true,
        ),
        "PINNED" | "UNPINNED" => (
            ChangeKind::Configuration,
            format!("cluster {label} {}{by}", kind_name.to_ascii_lowercase()),
            false,
        ),
        _ => (
            ChangeKind::Configuration,
            format!(
                "cluster {label}: {}",
                kind_name.to_ascii_lowercase().replace('_', " ")
            ),
            true,
        ),
    };
    let actor = match (&user, automatic) {
        (Some(u), _) => u.clone(),
        (None, true) => "databricks".to_string(),
        (None, false) => "unknown".to_string(),
    };
    let mut touches: Vec<String> = cluster.jobs.iter().map(|j| name(j)).collect();
    if label != cluster_id {
        touches.push(cluster_id.clone());
    }
    Some(Change {
        at,
        actor,
        operation: kind_name,
        kind,
        resource: label,
        resource_type: "cluster".into(),
        resource_id: Some(cluster_id),
        summary: for_screen(&summary).into_owned(),
        origin: None,
        status: details
            .get("reason")
            .and_then(|r| r.get("type"))
            .and_then(scalar)
            .map(|s| name(&s)),
        source: SOURCE.into(),
        touches,
    })
}

#[cfg(test)]
mod tests;
