//! The sandbox's change record: the change behind the scenario's incident,
//! placed `minutes_before` the incident began, and the estate's ordinary
//! background changes from `estate.json`, placed `minutes_before` the anchor
//! (a few minutes' jitter from the seed, so seeds differ but each repeats).
//! A change is visible only once the sandbox clock has reached it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::Sandbox;
use super::fixtures::ChangeTemplate;
use super::rng;
use crate::backends::{BackendError, ChangeSource, ChangeWindow};
use crate::model::change::Change;
use crate::support::terminal::for_screen;
use crate::support::text::clip;

/// The source name the sandbox's change record goes by.
pub const SANDBOX_CHANGES: &str = "sandbox change record";

/// The longest any fixture text is kept.
const MAX_FIELD_CHARS: usize = 400;
/// The most names one change touches.
const MAX_TOUCHES: usize = 32;

/// Fixture text as a real source's would be: secrets redacted, control
/// characters neutralised, bounded. A scenario is data anyone may write
/// (`--sandbox-dir`), so it gets no more trust than a vendor's answer.
fn shown(raw: &str) -> String {
    clip(&for_screen(raw), MAX_FIELD_CHARS)
}

/// A template as a change at `at`.
fn change_at(template: &ChangeTemplate, at: DateTime<Utc>) -> Change {
    Change {
        at,
        actor: shown(&template.actor),
        operation: shown(&template.operation),
        kind: template.kind,
        resource: shown(&template.resource),
        resource_type: shown(&template.resource_type),
        resource_id: template.resource_id.as_deref().map(shown),
        summary: shown(&template.summary),
        origin: template.origin.as_deref().map(shown),
        status: Some("Succeeded".into()),
        source: shown(&template.source),
        touches: template
            .touches
            .iter()
            .take(MAX_TOUCHES)
            .map(|t| shown(t))
            .collect(),
    }
}

/// `minutes` before `base`, or `None` when that is off the calendar (a
/// fixture with an absurd offset is skipped, not a panic).
fn minutes_before(base: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    base.checked_sub_signed(Duration::try_minutes(minutes)?)
}

/// The host of a workspace URL (`https://adb-1.2.azuredatabricks.net` → `adb-1.2.azuredatabricks.net`).
fn workspace_host(url: &str) -> Option<String> {
    let host = url
        .trim()
        .split_once("://")
        .map_or(url.trim(), |(_, rest)| rest)
        .split(['/', ':', '?'])
        .next()?
        .to_lowercase();
    (!host.is_empty()).then_some(host)
}

impl Sandbox {
    /// Every change the fixtures define, at its instant, in no order.
    pub(super) fn all_changes(&self) -> Vec<Change> {
        let mut out = self.fixture_changes();
        // As the Databricks change source does: a cluster's event names the
        // workspace it happened in.
        if let Some(host) = workspace_host(&self.world.settings.databricks_workspace) {
            for change in out
                .iter_mut()
                .filter(|c| c.source.to_lowercase().starts_with("databricks"))
            {
                if !change.touches.iter().any(|t| t.eq_ignore_ascii_case(&host)) {
                    change.touches.push(host.clone());
                }
            }
        }
        out
    }

    fn fixture_changes(&self) -> Vec<Change> {
        let world = &self.world;
        let mut out = Vec::new();
        if let Some(template) = &world.scenario.change
            && let Some(at) = minutes_before(world.incident_start, template.minutes_before)
        {
            out.push(change_at(template, at));
        }
        for (index, template) in world.settings.background_changes.iter().enumerate() {
            let jitter = rng::between(
                world.seed,
                &["background-change", &index.to_string()],
                0,
                599,
            );
            let Some(at) = minutes_before(world.anchor, template.minutes_before)
                .and_then(|t| t.checked_add_signed(Duration::seconds(i64::from(jitter))))
            else {
                continue;
            };
            out.push(change_at(template, at));
        }
        out
    }
}

#[async_trait]
impl ChangeSource for Sandbox {
    fn change_source(&self) -> String {
        SANDBOX_CHANGES.to_string()
    }

    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        let now = self.clock.now();
        let mut changes: Vec<Change> = self
            .all_changes()
            .into_iter()
            .filter(|c| c.at <= now && window.contains(c.at))
            .collect();
        changes.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.summary.cmp(&b.summary)));
        changes.truncate(window.limit);
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::change::ChangeKind;

    #[test]
    fn workspace_hosts_come_from_urls() {
        assert_eq!(
            workspace_host("https://adb-44.14.azuredatabricks.net/").as_deref(),
            Some("adb-44.14.azuredatabricks.net")
        );
        assert_eq!(workspace_host(""), None);
    }

    #[test]
    fn fixture_text_is_redacted_neutralised_and_bounded() {
        let key = "Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg9PQ==";
        let template: ChangeTemplate = serde_json::from_value(serde_json::json!({
            "minutes_before": 5,
            "actor": format!("ops AccountKey={key}"),
            "operation": "Microsoft.Storage/storageAccounts/write",
            "kind": "configuration",
            "resource": "st",
            "resource_type": "storage account",
            "summary": format!("Rotated https://st.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEf0123456789AbCdEf0123456789%3D \u{1b}[2J{}", "x".repeat(5_000)),
            "origin": "10.0.0.1\u{1b}]52;c;evil\u{7}",
            "source": "azure activity log",
            "touches": [format!("AccountKey={key}"), "ls_lake"]
        }))
        .unwrap();
        let change = change_at(&template, DateTime::UNIX_EPOCH);
        let all = serde_json::to_string(&change).unwrap();
        assert!(!all.contains(key), "{all}");
        assert!(!all.contains("AbCdEf0123456789AbCdEf"), "{all}");
        assert!(all.contains("[redacted"), "{all}");
        assert!(!change.summary.contains('\u{1b}'));
        assert!(!change.origin.as_deref().unwrap_or("").contains('\u{1b}'));
        assert!(change.summary.chars().count() <= MAX_FIELD_CHARS + 1);
        assert_eq!(change.kind, ChangeKind::Configuration);
        assert!(change.touches.contains(&"ls_lake".to_string()));
    }
}
