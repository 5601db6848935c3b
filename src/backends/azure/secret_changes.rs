//! Secret versions as changes, over any [`SecretStore`]: a version created in
//! the window is a new secret value; one whose attributes were updated in the
//! window after it was created was enabled, disabled or had its dates moved.
//!
//! A vault's listings do not say who did it (its audit log does), so the
//! actor is `unknown`; the Activity Log names callers of management writes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;

use crate::backends::{BackendError, ChangeSource, ChangeWindow, SecretStore};
use crate::model::change::{Change, ChangeKind};
use crate::model::secret::SecretMeta;

/// Secrets whose versions are listed for one question at most (one call each).
const MAX_SECRETS_READ: usize = 200;
/// Secrets whose unreadable versions are named one by one; the rest are counted.
const MAX_UNREAD_NAMED: usize = 5;
/// An update this soon after creation is the creation itself.
const SAME_WRITE: Duration = Duration::seconds(60);

pub struct SecretVersionChanges {
    store: Arc<dyn SecretStore>,
}

impl SecretVersionChanges {
    pub fn new(store: Arc<dyn SecretStore>) -> SecretVersionChanges {
        SecretVersionChanges { store }
    }
}

#[async_trait]
impl ChangeSource for SecretVersionChanges {
    fn change_source(&self) -> String {
        format!("key vault {}", self.store.vault())
    }

    async fn changes(&self, window: &ChangeWindow) -> Result<Vec<Change>, BackendError> {
        Ok(self.changes_in_part(window).await?.0)
    }

    /// A secret whose versions cannot be read (no `list` permission on it,
    /// deleted meanwhile) is named apart; the vault's other secrets still answer.
    async fn changes_in_part(
        &self,
        window: &ChangeWindow,
    ) -> Result<(Vec<Change>, Vec<(String, String)>), BackendError> {
        let secrets = self.store.list_secrets().await?;
        // A secret whose current attributes last changed before the window
        // got no new version in it: skip listing its versions.
        let mut touched: Vec<SecretMeta> = secrets
            .into_iter()
            .filter(|s| s.updated.or(s.created).is_none_or(|t| t >= window.from))
            .collect();
        if touched.len() > MAX_SECRETS_READ {
            return Err(BackendError::InvalidArgument(format!(
                "{} secrets of vault {} changed since {}; more than the {MAX_SECRETS_READ} whose versions one question reads: narrow the window",
                touched.len(),
                self.store.vault(),
                window.from.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        touched.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::new();
        let mut unread = Vec::new();
        for secret in &touched {
            match self.store.secret_versions(&secret.name).await {
                Ok(versions) => {
                    for version in versions {
                        out.extend(version_changes(&version, self.store.vault(), window));
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        "versions of secret {} in vault {} unreadable: {error}",
                        secret.name,
                        self.store.vault()
                    );
                    unread.push((
                        format!("versions of secret {}", secret.name),
                        error.to_string(),
                    ));
                }
            }
        }
        out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.summary.cmp(&b.summary)));
        out.truncate(window.limit);
        if unread.len() > MAX_UNREAD_NAMED {
            let more = unread.len() - MAX_UNREAD_NAMED;
            unread.truncate(MAX_UNREAD_NAMED);
            unread.push((
                format!("versions of {more} more secret(s)"),
                "unreadable like those above (the log names each)".into(),
            ));
        }
        Ok((out, unread))
    }
}

/// What one version's attributes say happened in the window.
fn version_changes(version: &SecretMeta, vault: &str, window: &ChangeWindow) -> Vec<Change> {
    let short = version
        .version
        .as_deref()
        .map(|v| v.chars().take(8).collect::<String>())
        .unwrap_or_else(|| "current".into());
    let change = |at, operation: &str, summary: String| Change {
        at,
        actor: "unknown".into(),
        operation: operation.into(),
        kind: ChangeKind::Secret,
        resource: version.name.clone(),
        resource_type: "secret".into(),
        resource_id: version
            .version
            .as_ref()
            .map(|v| format!("{vault}/secrets/{}/{v}", version.name)),
        summary,
        origin: None,
        status: None,
        source: format!("key vault {vault}"),
        // The secret alone: a new version of one secret changes nothing
        // for the readers of the vault's others.
        touches: Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(created) = version.created.filter(|t| window.contains(*t)) {
        out.push(change(
            created,
            "SecretNewVersionCreated",
            format!(
                "New version {short} of secret {} created{}",
                version.name,
                if version.enabled { "" } else { " (disabled)" }
            ),
        ));
    }
    if let Some(updated) = version.updated.filter(|t| window.contains(*t))
        && version
            .created
            .is_none_or(|c| updated.signed_duration_since(c) > SAME_WRITE)
    {
        out.push(change(
            updated,
            if version.enabled {
                "SecretUpdated"
            } else {
                "SecretDisabled"
            },
            format!(
                "Version {short} of secret {} updated: now {}{}",
                version.name,
                if version.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                version
                    .expires
                    .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn meta(created_h: u32, updated_h: u32, enabled: bool) -> SecretMeta {
        SecretMeta {
            name: "db-password".into(),
            vault: "kv".into(),
            enabled,
            created: Some(Utc.with_ymd_and_hms(2026, 1, 15, created_h, 0, 0).unwrap()),
            updated: Some(Utc.with_ymd_and_hms(2026, 1, 15, updated_h, 0, 0).unwrap()),
            expires: None,
            not_before: None,
            version: Some("0123456789abcdef".into()),
            content_type: None,
            tags: Default::default(),
        }
    }

    fn window() -> ChangeWindow {
        ChangeWindow {
            from: Utc.with_ymd_and_hms(2026, 1, 15, 2, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 1, 15, 6, 0, 0).unwrap(),
            limit: 10,
        }
    }

    /// A vault where reading one secret's versions is refused.
    struct PartlyReadable;

    #[async_trait]
    impl SecretStore for PartlyReadable {
        fn vault(&self) -> &str {
            "kv"
        }
        async fn list_secrets(&self) -> Result<Vec<SecretMeta>, BackendError> {
            let mut locked = meta(3, 3, true);
            locked.name = "locked-secret".into();
            Ok(vec![meta(3, 3, true), locked])
        }
        async fn secret_versions(&self, name: &str) -> Result<Vec<SecretMeta>, BackendError> {
            if name == "locked-secret" {
                return Err(BackendError::Refused(
                    "403 Forbidden: the caller has no secrets/list permission".into(),
                ));
            }
            Ok(vec![meta(3, 3, true)])
        }
    }

    #[tokio::test]
    async fn one_unreadable_secret_is_named_and_the_others_still_listed() {
        let source = SecretVersionChanges::new(Arc::new(PartlyReadable));
        let (changes, unread) = source.changes_in_part(&window()).await.unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].resource, "db-password");
        assert_eq!(unread.len(), 1, "{unread:?}");
        assert!(unread[0].0.contains("locked-secret"), "{unread:?}");
        assert!(unread[0].1.contains("403"), "{unread:?}");
        // The plain read keeps the changes it could make.
        assert_eq!(source.changes(&window()).await.unwrap().len(), 1);
    }

    #[test]
    fn new_versions_and_disables_in_the_window_are_changes() {
        let created = version_changes(&meta(3, 3, true), "kv", &window());
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].operation, "SecretNewVersionCreated");
        assert!(
            created[0].summary.contains("01234567"),
            "{}",
            created[0].summary
        );
        let disabled = version_changes(&meta(1, 4, false), "kv", &window());
        assert_eq!(disabled.len(), 1);
        assert_eq!(disabled[0].operation, "SecretDisabled");
        assert!(version_changes(&meta(0, 1, true), "kv", &window()).is_empty());
    }
}
