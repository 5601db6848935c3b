//! Secret *metadata* (never values) and how risky each secret looks right now.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a vault says about a secret: its attributes and tags, nothing more.
/// There is deliberately no field for the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretMeta {
    pub name: String,
    pub vault: String,
    pub enabled: bool,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub not_before: Option<DateTime<Utc>>,
    /// The version id, when the listing was of one secret's versions.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub tags: BTreeMap<String, String>,
}

/// How worried to be about a secret.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SecretRiskLevel {
    Ok,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRisk {
    pub level: SecretRiskLevel,
    /// Each reason is one plain sentence.
    pub reasons: Vec<String>,
}

/// Secrets not rotated for this long are flagged.
pub const STALE_AFTER_DAYS: i64 = 365;
/// Expiry inside this window is flagged as soon.
pub const EXPIRING_SOON_DAYS: i64 = 30;

impl SecretMeta {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|exp| exp <= now)
    }

    /// Assesses the secret at `now`; the most serious finding sets the level.
    pub fn risk(&self, now: DateTime<Utc>) -> SecretRisk {
        let mut level = SecretRiskLevel::Ok;
        let mut reasons = Vec::new();
        let mut raise = |l: SecretRiskLevel, why: String, level: &mut SecretRiskLevel| {
            *level = (*level).max(l);
            reasons.push(why);
        };
        if !self.enabled {
            raise(
                SecretRiskLevel::Critical,
                "disabled: anything reading it fails".into(),
                &mut level,
            );
        }
        match self.expires {
            Some(exp) if exp <= now => raise(
                SecretRiskLevel::Critical,
                format!(
                    "expired {} ago ({})",
                    human_duration(now - exp),
                    exp.to_rfc3339()
                ),
                &mut level,
            ),
            Some(exp) if exp - now <= Duration::days(7) => raise(
                SecretRiskLevel::High,
                format!(
                    "expires in {} ({})",
                    human_duration(exp - now),
                    exp.to_rfc3339()
                ),
                &mut level,
            ),
            Some(exp) if exp - now <= Duration::days(EXPIRING_SOON_DAYS) => raise(
                SecretRiskLevel::Medium,
                format!(
                    "expires in {} ({})",
                    human_duration(exp - now),
                    exp.to_rfc3339()
                ),
                &mut level,
            ),
            Some(_) => {}
            None => raise(
                SecretRiskLevel::Low,
                "no expiry date set".into(),
                &mut level,
            ),
        }
        if let Some(nbf) = self.not_before.filter(|nbf| *nbf > now) {
            raise(
                SecretRiskLevel::High,
                format!("not valid until {}", nbf.to_rfc3339()),
                &mut level,
            );
        }
        let last_rotated = self.updated.or(self.created);
        if let Some(rotated) = last_rotated.filter(|r| now - *r > Duration::days(STALE_AFTER_DAYS))
        {
            raise(
                SecretRiskLevel::Low,
                format!("not rotated for {}", human_duration(now - rotated)),
                &mut level,
            );
        }
        SecretRisk { level, reasons }
    }
}

/// "3d 4h", "2h 5m", "40s": short enough for a table cell.
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().abs();
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3_600, (secs % 3_600) / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(expires: Option<DateTime<Utc>>) -> SecretMeta {
        SecretMeta {
            name: "s".into(),
            vault: "kv".into(),
            enabled: true,
            created: None,
            updated: None,
            expires,
            not_before: None,
            version: None,
            content_type: None,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn expired_secret_is_critical_with_age() {
        let now = Utc::now();
        let risk = secret(Some(now - Duration::hours(3))).risk(now);
        assert_eq!(risk.level, SecretRiskLevel::Critical);
        assert!(
            risk.reasons[0].starts_with("expired 3h"),
            "{:?}",
            risk.reasons
        );
    }

    #[test]
    fn expiry_within_a_month_is_medium_within_a_week_high() {
        let now = Utc::now();
        assert_eq!(
            secret(Some(now + Duration::days(20))).risk(now).level,
            SecretRiskLevel::Medium
        );
        assert_eq!(
            secret(Some(now + Duration::days(3))).risk(now).level,
            SecretRiskLevel::High
        );
        assert_eq!(
            secret(Some(now + Duration::days(90))).risk(now).level,
            SecretRiskLevel::Ok
        );
    }

    #[test]
    fn no_expiry_is_low_risk() {
        let now = Utc::now();
        assert_eq!(secret(None).risk(now).level, SecretRiskLevel::Low);
    }
}
