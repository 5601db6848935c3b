//! The sandbox estate's files: settings, scenarios, Key Vault and ARM listings,
//! Terraform plans and stack traces. Built into the binary; `--sandbox-dir`
//! reads an edited copy from disk instead.
//!
//! Every instant in the fixtures is written relative to `fixture_epoch` and shifted
//! to the sandbox's anchor at load, so the same files make a live estate on any day.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

include!(concat!(env!("OUT_DIR"), "/sandbox_files.rs"));

/// Where the fixture files come from.
#[derive(Debug, Clone)]
pub enum FixtureFiles {
    Embedded,
    Directory(PathBuf),
}

impl FixtureFiles {
    pub fn read(&self, relative: &str) -> Result<String, String> {
        match self {
            FixtureFiles::Embedded => SANDBOX_FILES
                .iter()
                .find(|(path, _)| *path == relative)
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| format!("the embedded sandbox has no file {relative}")),
            FixtureFiles::Directory(dir) => std::fs::read_to_string(dir.join(relative))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(relative).display())),
        }
    }

    /// Paths (relative to the root) of the files directly in `folder`, sorted.
    pub fn list(&self, folder: &str) -> Result<Vec<String>, String> {
        let prefix = format!("{}/", folder.trim_end_matches('/'));
        let mut out: Vec<String> = match self {
            FixtureFiles::Embedded => SANDBOX_FILES
                .iter()
                .map(|(path, _)| path.to_string())
                .filter(|p| {
                    p.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/'))
                })
                .collect(),
            FixtureFiles::Directory(dir) => list_dir(&dir.join(folder))?
                .into_iter()
                .map(|name| format!("{prefix}{name}"))
                .collect(),
        };
        out.sort();
        Ok(out)
    }

    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, relative: &str) -> Result<T, String> {
        let text = self.read(relative)?;
        serde_json::from_str(&text).map_err(|e| format!("{relative} is malformed: {e}"))
    }
}

fn list_dir(dir: &Path) -> Result<Vec<String>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    Ok(entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// `estate.json`: the estate's identity and how its runs behave.
#[derive(Debug, Clone, Deserialize)]
pub struct EstateSettings {
    pub environment: String,
    pub factory: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub key_vault: String,
    pub databricks_workspace: String,
    pub fixture_epoch: DateTime<Utc>,
    pub history_hours: i64,
    pub default_scenario: String,
    pub queue_seconds: [u32; 2],
    pub durations: Durations,
    pub volumes: BTreeMap<String, u64>,
    pub transient_failure_rate: f64,
    pub transient_errors: BTreeMap<String, ErrorTemplate>,
    /// Ordinary changes to the estate, unrelated to any incident (optional).
    #[serde(default)]
    pub background_changes: Vec<ChangeTemplate>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Durations {
    pub by_type: BTreeMap<String, [u32; 2]>,
    #[serde(default)]
    pub by_activity: BTreeMap<String, [u32; 2]>,
}

/// An activity error in ADF's shape; `message` may hold `{placeholders}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorTemplate {
    #[serde(rename = "errorCode")]
    pub code: String,
    #[serde(rename = "failureType")]
    pub failure_type: String,
    pub message: String,
}

/// A log line a scenario adds to the runs it affects.
#[derive(Debug, Clone, Deserialize)]
pub struct LogTemplate {
    pub level: String,
    pub source: String,
    pub message: String,
}

/// `scenarios/<name>.json`: one incident, its effects and its known truth.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub summary: String,
    /// The incident began this many minutes before the anchor.
    pub incident_start_minutes: i64,
    /// Terraform plans (file stems) pending in this scenario.
    pub plans: Vec<String>,
    pub effects: Vec<Effect>,
    /// The change behind the incident, when there is one (optional: a
    /// scenario without it still loads).
    #[serde(default)]
    pub change: Option<ChangeTemplate>,
    pub truth: Truth,
}

/// A change the sandbox records: the one behind a scenario's incident, or one
/// of the estate's ordinary background changes (`estate.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct ChangeTemplate {
    /// When, in minutes before the incident began (background changes: before the anchor).
    pub minutes_before: i64,
    pub actor: String,
    pub operation: String,
    pub kind: crate::model::change::ChangeKind,
    pub resource: String,
    pub resource_type: String,
    #[serde(default)]
    pub resource_id: Option<String>,
    pub summary: String,
    #[serde(default)]
    pub origin: Option<String>,
    /// Which record holds it (`azure activity log`, `key vault`, `airflow audit log`, …).
    pub source: String,
    #[serde(default)]
    pub touches: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// A Key Vault secret expired: everything that authenticates with it fails.
    SecretExpired {
        secret: String,
        /// Error by activity type, with `default` for the rest.
        errors: BTreeMap<String, ErrorTemplate>,
        /// Stack-trace file (under `errors/`) by activity type.
        #[serde(default)]
        trace: BTreeMap<String, String>,
        #[serde(default)]
        logs: Vec<LogTemplate>,
    },
    /// One activity fails on every attempt.
    ActivityFails {
        pipeline: String,
        activity: String,
        error: ErrorTemplate,
        #[serde(default)]
        trace: Option<String>,
        #[serde(default)]
        logs: Vec<LogTemplate>,
    },
    /// An activity succeeds but logs evidence.
    LogOnly {
        pipeline: String,
        activity: String,
        logs: Vec<LogTemplate>,
    },
    /// A dataset's volume changes by `factor`.
    VolumeChange {
        dataset: String,
        factor: f64,
        #[serde(default)]
        logs: Vec<LogTemplate>,
    },
}

/// What really happened, for tests and for `--list-scenarios`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, schemars::JsonSchema)]
pub struct Truth {
    pub root_cause: String,
    pub keywords: Vec<String>,
    pub failing_pipelines: Vec<String>,
    pub affected_pipelines: Vec<String>,
    /// The change behind the incident, as its root cause must name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeTruth>,
}

/// What the root cause must say of the change behind an incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize, schemars::JsonSchema)]
pub struct ChangeTruth {
    /// Who made it, as the source records the actor.
    pub actor: String,
    /// Words that name the change (its resource, its operation in plain words).
    pub keywords: Vec<String>,
}

/// Every scenario in the fixtures, sorted by name.
pub fn load_scenarios(files: &FixtureFiles) -> Result<Vec<Scenario>, String> {
    files
        .list("scenarios")?
        .iter()
        .filter(|p| p.ends_with(".json"))
        .map(|p| files.read_json(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fixtures_hold_the_whole_estate() {
        let files = FixtureFiles::Embedded;
        let settings: EstateSettings = files.read_json("estate.json").unwrap();
        assert_eq!(settings.environment, "prod");
        assert!(files.list("factory/pipeline").unwrap().len() >= 8);
        let scenarios = load_scenarios(&files).unwrap();
        assert!(scenarios.len() >= 5, "{}", scenarios.len());
    }

    #[test]
    fn missing_file_names_itself() {
        let err = FixtureFiles::Embedded.read("nope.json").unwrap_err();
        assert!(err.contains("nope.json"));
    }
}
