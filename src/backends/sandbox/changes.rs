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

/// The source name the sandbox's change record goes by.
pub const SANDBOX_CHANGES: &str = "sandbox change record";

/// A template as a change at `at`.
fn change_at(template: &ChangeTemplate, at: DateTime<Utc>) -> Change {
    Change {
        at,
        actor: template.actor.clone(),
        operation: template.operation.clone(),
        kind: template.kind,
        resource: template.resource.clone(),
        resource_type: template.resource_type.clone(),
        resource_id: template.resource_id.clone(),
        summary: template.summary.clone(),
        origin: template.origin.clone(),
        status: Some("Succeeded".into()),
        source: template.source.clone(),
        touches: template.touches.clone(),
    }
}

/// `minutes` before `base`, or `None` when that is off the calendar (a
/// fixture with an absurd offset is skipped, not a panic).
fn minutes_before(base: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    base.checked_sub_signed(Duration::try_minutes(minutes)?)
}

impl Sandbox {
    /// Every change the fixtures define, at its instant, in no order.
    pub(super) fn all_changes(&self) -> Vec<Change> {
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
