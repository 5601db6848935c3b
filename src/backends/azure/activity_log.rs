//! The Azure Activity Log as a [`ChangeSource`]: who wrote, deleted or acted
//! on what in an environment's resource group, from Azure Monitor's
//! `Microsoft.Insights/eventtypes/management/values` (api-version 2015-04-01).
//!
//! Changes made by Terraform, an Azure DevOps release or an Automation runbook
//! appear here like anyone's, with their identity as the caller. Reads
//! (`…/read`, `list…/action`) are not changes and are left out; an operation
//! logged as started and then finished counts once, with its final status.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde_json::Value;

use crate::backends::http::{RestClient, url_with};
use crate::backends::{BackendError, ChangeSource, ChangeWindow};
use crate::model::change::{Change, ChangeKind};
use crate::model::time::parse_service_instant;
use crate::support::terminal::for_screen;
use crate::support::text::clip;

pub const API_VERSION: &str = "2015-04-01";
pub const SOURCE: &str = "azure activity log";
pub const READ_ROLE: &str = "the Reader role (or Monitoring Reader) on the resource group";
/// Events read for one question at most: each operation logs two or three.
const MAX_EVENTS: usize = 20_000;
/// The longest any text from an event is kept.
const MAX_FIELD_CHARS: usize = 400;
/// Request bodies larger than this are not parsed for a principal.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct ActivityLog {
    client: Arc<RestClient>,
    scope: String,
    resource_manager: Url,
    subscription: String,
    resource_group: String,
}

impl ActivityLog {
    pub fn new(
        client: Arc<RestClient>,
        resource_manager: &Url,
        scope: &str,
        subscription: &str,
        resource_group: &str,
    ) -> ActivityLog {
        ActivityLog {
            client,
            scope: scope.to_string(),
            resource_manager: resource_manager.clone(),
            subscription: subscription.to_string(),
            resource_group: resource_group.to_string(),
        }
    }

    fn url(&self, window: &ChangeWindow) -> Url {
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        // Quotes inside an OData string literal are doubled.
        let group = self.resource_group.replace('\'', "''");
        let filter = format!(
            "eventTimestamp ge '{}' and eventTimestamp le '{}' and resourceGroupName eq '{group}'",
            stamp(window.from),
            stamp(window.to)
        );
        url_with(
            &self.resource_manager,
            &[
                "subscriptions",
                &self.subscription,
                "providers",
                "Microsoft.Insights",
                "eventtypes",
                "management",
                "values",
            ],
            &[("api-version", API_VERSION), ("$filter", &filter)],
        )
    }
}

#[async_trait]
impl ChangeSource for ActivityLog {
    fn change_source(&self) -> String {
        format!("{SOURCE} ({})", self.resource_group)
    }

    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        let url = self.url(window);
        let path = url.path().to_string();
        let events = self
            .client
            .list(
                url,
                &self.scope,
                &|u: &Url| u.path().eq_ignore_ascii_case(&path),
                MAX_EVENTS,
            )
            .await
            .map_err(|e| {
                e.about(
                    "activity log of resource group",
                    &self.resource_group,
                    READ_ROLE,
                )
            })?;
        let mut changes = changes_from_events(&events);
        changes.retain(|c| window.contains(c.at));
        changes.truncate(window.limit);
        Ok(changes)
    }
}

/// The changes among Activity Log events, newest first: reads dropped, each
/// operation once (its final record where there is one).
pub fn changes_from_events(events: &[Value]) -> Vec<Change> {
    let mut ranked: Vec<(u8, &Value)> = events
        .iter()
        .map(|e| (status_rank(text(e, "/status/value")), e))
        .collect();
    // Final records first, so the dedup below keeps them.
    ranked.sort_by_key(|(rank, _)| *rank);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (_, event) in ranked {
        let Some(change) = change_from_event(event) else {
            continue;
        };
        let key = (
            text(event, "/correlationId")
                .or_else(|| text(event, "/operationId"))
                .or_else(|| text(event, "/eventDataId"))
                .unwrap_or_default()
                .to_string(),
            change.operation.to_lowercase(),
            change
                .resource_id
                .clone()
                .unwrap_or_default()
                .to_lowercase(),
        );
        if key.0.is_empty() || seen.insert(key) {
            out.push(change);
        }
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.operation.cmp(&b.operation)));
    out
}

/// Finished records rank before those still under way.
fn status_rank(status: Option<&str>) -> u8 {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("succeeded" | "failed" | "canceled" | "cancelled") => 0,
        Some("accepted") => 1,
        _ => 2,
    }
}

fn text<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Text from the service, safe to show: secrets redacted (a caller's claims
/// or a resource id can carry a SAS token or an account key), control
/// characters neutralised, then bounded.
fn shown(raw: &str) -> String {
    clip(&for_screen(raw), MAX_FIELD_CHARS)
}

/// One event as a change; `None` for a read or an event without time or operation.
pub fn change_from_event(event: &Value) -> Option<Change> {
    let at = parse_service_instant(text(event, "/eventTimestamp"))?;
    let operation = text(event, "/operationName/value")?;
    let kind = kind_of(operation)?;
    let resource_id = text(event, "/resourceId").or_else(|| text(event, "/authorization/scope"));
    let (resource, parent) = resource_id.map(resource_names).unwrap_or_default();
    let actor = text(event, "/caller")
        .or_else(|| {
            text(
                event,
                "/claims/http:~1~1schemas.xmlsoap.org~1ws~12005~105~1identity~1claims~1upn",
            )
        })
        .or_else(|| text(event, "/claims/appid"))
        .unwrap_or("unknown");
    let origin =
        text(event, "/httpRequest/clientIpAddress").or_else(|| text(event, "/claims/ipaddr"));
    let status = text(event, "/status/value");
    let resource_type = text(event, "/resourceType/value")
        .map(str::to_string)
        .unwrap_or_else(|| type_of_operation(operation));
    let name = if resource.is_empty() {
        "(unnamed)"
    } else {
        resource.as_str()
    };
    let summary = match text(event, "/operationName/localizedValue")
        .filter(|l| !l.eq_ignore_ascii_case(operation))
    {
        Some(localized) => format!("{localized} on {name}"),
        None if parent.is_some() => format!("{} on {name}", describe_operation(operation)),
        None => format!("{} {name}", describe_operation(operation)),
    };
    let summary = match status.filter(|s| !s.eq_ignore_ascii_case("succeeded")) {
        Some(s) => format!("{summary} ({s})"),
        None => summary,
    };
    let mut touches: Vec<String> = parent.into_iter().collect();
    touches.extend(principal_of(event));
    Some(Change {
        at,
        actor: shown(actor),
        operation: shown(operation),
        kind,
        resource: shown(&resource),
        resource_type: shown(&resource_type),
        resource_id: resource_id.map(shown),
        summary: shown(&summary),
        origin: origin.map(shown),
        status: status.map(shown),
        source: SOURCE.to_string(),
        touches: touches.iter().map(|t| shown(t)).collect(),
    })
}

/// The resource's name, and for an extension resource (a role assignment, a
/// lock, a diagnostic setting: `…/providers/Microsoft.Authorization/…`) the
/// name of the resource it is attached to, which is what it changes.
fn resource_names(id: &str) -> (String, Option<String>) {
    let lower = id.to_ascii_lowercase();
    let last = |path: &str| {
        path.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string()
    };
    // The last `/providers/` begins an extension when another precedes it, or
    // when it is Microsoft.Authorization's on a resource group or subscription.
    match lower.rfind("/providers/") {
        Some(cut)
            if lower[..cut].contains("/providers/")
                || lower[cut..].starts_with("/providers/microsoft.authorization/") =>
        {
            let parent = &id[..cut];
            (last(parent), Some(parent.to_string()))
        }
        _ => (last(id), None),
    }
}

/// The principal a role assignment was made to or taken from, from the
/// request or response body the Activity Log keeps with it.
fn principal_of(event: &Value) -> Option<String> {
    ["/properties/requestbody", "/properties/responseBody"]
        .iter()
        .filter_map(|p| text(event, p))
        .filter(|body| body.len() <= MAX_BODY_BYTES)
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .find_map(|body| {
            body.pointer("/properties/principalId")
                .or_else(|| body.pointer("/principalId"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// `Microsoft.Storage/storageAccounts/write` → `Microsoft.Storage/storageAccounts`.
fn type_of_operation(operation: &str) -> String {
    operation
        .rsplit_once('/')
        .map_or(operation, |(head, _)| head)
        .trim_end_matches("/pause")
        .trim_end_matches("/resume")
        .to_string()
}

/// `…/sqlPools/pause/action` → `pause sqlPools`; `…/roleAssignments/delete` → `delete roleAssignments`.
fn describe_operation(operation: &str) -> String {
    let parts: Vec<&str> = operation.split('/').collect();
    match parts.as_slice() {
        [.., noun, verb, "action"] => format!("{verb} {noun}"),
        [.., noun, verb] => format!("{verb} {noun}"),
        _ => operation.to_string(),
    }
}

/// What kind of change an operation is; `None` for reads, which change nothing.
pub fn kind_of(operation: &str) -> Option<ChangeKind> {
    let op = operation.to_ascii_lowercase();
    let verb = op.rsplit('/').next().unwrap_or("");
    let action_verb = op
        .strip_suffix("/action")
        .and_then(|head| head.rsplit('/').next())
        .unwrap_or("");
    if verb == "read" || action_verb.starts_with("list") || action_verb.starts_with("get") {
        return None;
    }
    // Tags (`Microsoft.Resources/tags/write`, `…/providers/Microsoft.Resources/tags/default`)
    // label a resource; they change nothing it does.
    let kind = if op.contains("/tags/") || op.starts_with("microsoft.resources/tags") {
        ChangeKind::Other
    } else if op.starts_with("microsoft.authorization/roleassignments")
        || op.contains("/accesspolicies/")
        || op.starts_with("microsoft.authorization/locks")
    {
        ChangeKind::Access
    } else if op.starts_with("microsoft.keyvault/vaults/secrets")
        || op.starts_with("microsoft.keyvault/vaults/keys")
        || op.starts_with("microsoft.keyvault/vaults/certificates")
        || op.contains("/regeneratekey/")
    {
        ChangeKind::Secret
    } else if matches!(
        action_verb,
        "pause" | "resume" | "start" | "stop" | "restart" | "deallocate" | "poweroff" | "resize"
    ) && !op.contains("/triggers/")
    {
        ChangeKind::Compute
    } else if op.starts_with("microsoft.datafactory/factories/triggers") {
        ChangeKind::Schedule
    } else if op.starts_with("microsoft.datafactory/factories/pipelineruns")
        || op.ends_with("/createrun/action")
        || op.ends_with("/cancel/action")
    {
        ChangeKind::Operation
    } else if verb == "delete" {
        ChangeKind::Lifecycle
    } else if op.starts_with("microsoft.resources/deployments")
        || [
            "/pipelines/",
            "/linkedservices/",
            "/datasets/",
            "/dataflows/",
        ]
        .iter()
        .any(|part| op.starts_with("microsoft.datafactory/factories") && op.contains(part))
    {
        ChangeKind::Deployment
    } else if verb == "write" {
        ChangeKind::Configuration
    } else {
        ChangeKind::Other
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_map_to_kinds_and_reads_are_not_changes() {
        let k = |op| kind_of(op);
        assert_eq!(
            k("Microsoft.Authorization/roleAssignments/delete"),
            Some(ChangeKind::Access)
        );
        assert_eq!(
            k("Microsoft.Authorization/roleAssignments/write"),
            Some(ChangeKind::Access)
        );
        assert_eq!(
            k("Microsoft.KeyVault/vaults/secrets/write"),
            Some(ChangeKind::Secret)
        );
        assert_eq!(
            k("Microsoft.Synapse/workspaces/sqlPools/pause/action"),
            Some(ChangeKind::Compute)
        );
        assert_eq!(
            k("Microsoft.Compute/virtualMachines/deallocate/action"),
            Some(ChangeKind::Compute)
        );
        assert_eq!(
            k("Microsoft.Databricks/workspaces/write"),
            Some(ChangeKind::Configuration)
        );
        assert_eq!(
            k("Microsoft.DataFactory/factories/pipelines/write"),
            Some(ChangeKind::Deployment)
        );
        assert_eq!(
            k("Microsoft.DataFactory/factories/linkedservices/write"),
            Some(ChangeKind::Deployment)
        );
        assert_eq!(
            k("Microsoft.DataFactory/factories/triggers/write"),
            Some(ChangeKind::Schedule)
        );
        assert_eq!(
            k("Microsoft.DataFactory/factories/triggers/stop/action"),
            Some(ChangeKind::Schedule)
        );
        assert_eq!(
            k("Microsoft.Storage/storageAccounts/delete"),
            Some(ChangeKind::Lifecycle)
        );
        assert_eq!(
            k("Microsoft.Storage/storageAccounts/write"),
            Some(ChangeKind::Configuration)
        );
        assert_eq!(k("Microsoft.Storage/storageAccounts/read"), None);
        assert_eq!(k("Microsoft.Storage/storageAccounts/listKeys/action"), None);
    }

    #[test]
    fn a_role_assignment_names_the_resource_it_is_on_and_its_principal() {
        let event = json!({
            "caller": "dana@contoso.com",
            "eventTimestamp": "2026-01-15T02:46:10.1234567Z",
            "operationName": {"value": "Microsoft.Authorization/roleAssignments/delete", "localizedValue": "Delete role assignment"},
            "resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stlake/providers/Microsoft.Authorization/roleAssignments/7d2f",
            "status": {"value": "Succeeded"},
            "claims": {"ipaddr": "10.0.0.7"},
            "properties": {"responseBody": "{\"properties\":{\"principalId\":\"3c1d8a52\"}}"}
        });
        let change = change_from_event(&event).unwrap();
        assert_eq!(change.resource, "stlake");
        assert_eq!(change.kind, ChangeKind::Access);
        assert_eq!(change.origin.as_deref(), Some("10.0.0.7"));
        assert!(
            change.touches.iter().any(|t| t == "3c1d8a52"),
            "{:?}",
            change.touches
        );
        assert!(
            change.summary.starts_with("Delete role assignment on"),
            "{}",
            change.summary
        );
    }

    #[test]
    fn an_operation_logged_twice_counts_once_with_its_final_status() {
        let event = |status: &str, at: &str| {
            json!({
                "caller": "runbook",
                "correlationId": "c-1",
                "eventTimestamp": at,
                "operationName": {"value": "Microsoft.Synapse/workspaces/sqlPools/pause/action"},
                "resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn/sqlPools/dw",
                "status": {"value": status}
            })
        };
        let changes = changes_from_events(&[
            event("Started", "2026-01-15T02:40:00Z"),
            event("Succeeded", "2026-01-15T02:43:00Z"),
        ]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].status.as_deref(), Some("Succeeded"));
        assert_eq!(changes[0].resource, "dw");
        assert_eq!(changes[0].summary, "pause sqlPools dw");
    }

    #[test]
    fn tag_writes_are_other_not_configuration() {
        assert_eq!(
            kind_of("Microsoft.Resources/tags/write"),
            Some(ChangeKind::Other)
        );
        assert_eq!(
            kind_of("Microsoft.Storage/storageAccounts/providers/Microsoft.Resources/tags/write"),
            Some(ChangeKind::Other)
        );
    }

    #[test]
    fn secrets_in_any_field_are_redacted_before_they_are_kept() {
        let key = "Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg9PQ==";
        let sig = "sig=AbCdEf0123456789AbCdEf0123456789AbCdEf01%3D";
        let event = json!({
            "caller": format!("AccountName=stlake;AccountKey={key}"),
            "eventTimestamp": "2026-01-15T02:46:10Z",
            "operationName": {
                "value": "Microsoft.Storage/storageAccounts/write",
                "localizedValue": format!("Wrote https://stlake.blob.core.windows.net/c?sv=2022-11-02&{sig} \u{1b}]52;c;x\u{7}")
            },
            "resourceId": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st?{sig}"),
            "claims": {"ipaddr": format!("10.0.0.7 AccountKey={key}")},
            "properties": {"responseBody": format!("{{\"properties\":{{\"principalId\":\"p AccountKey={key}\"}}}}")}
        });
        let change = change_from_event(&event).unwrap();
        let shown = serde_json::to_string(&change).unwrap();
        assert!(!shown.contains(key), "{shown}");
        assert!(
            !shown.contains("AbCdEf0123456789AbCdEf0123456789"),
            "{shown}"
        );
        assert!(shown.contains("[redacted"), "{shown}");
        assert!(!change.summary.contains('\u{1b}'), "{}", change.summary);
    }

    #[test]
    fn hostile_text_is_bounded_and_neutralised() {
        let event = json!({
            "caller": format!("evil\u{1b}[2J{}", "x".repeat(5_000)),
            "eventTimestamp": "2026-01-15T02:46:10Z",
            "operationName": {"value": "Microsoft.Storage/storageAccounts/write"},
            "resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
        });
        let change = change_from_event(&event).unwrap();
        assert!(!change.actor.contains('\u{1b}'));
        assert!(change.actor.chars().count() <= MAX_FIELD_CHARS + 1);
        assert!(change_from_event(&json!({"caller": "x"})).is_none());
        // A plain resource is itself, not an extension of its resource group.
        assert_eq!(change.resource, "st");
        assert!(change.touches.is_empty());
    }
}
