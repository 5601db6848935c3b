//! The sandbox's static world: the factory, the scenario in force, and the rules
//! that decide — from the seed and an instant alone — what fails, why, and what
//! goes stale downstream.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::fixtures::{Effect, ErrorTemplate, EstateSettings, FixtureFiles, LogTemplate, Scenario};
use crate::backends::adf_definitions::{Activity, Factory};
use crate::model::estate::{ActivityInfo, EstateCatalog};
use crate::model::run::BackendKind;

/// Why an activity fails on every attempt at some instant.
#[derive(Debug, Clone)]
pub struct ForcedFailure {
    pub error: ErrorTemplate,
    pub trace: Option<String>,
    pub logs: Vec<LogTemplate>,
}

/// A dataset that a freshness check finds stale, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleInput {
    pub dataset: String,
    pub writer: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug)]
pub struct World {
    pub settings: EstateSettings,
    pub factory: Factory,
    pub catalog: EstateCatalog,
    pub scenario: Scenario,
    pub seed: u64,
    /// The instant fixture times are shifted to; the start of the hour the sandbox began in.
    pub anchor: DateTime<Utc>,
    pub incident_start: DateTime<Utc>,
    /// Stack traces from `errors/`, by file name.
    pub traces: BTreeMap<String, String>,
    /// Where the rest of the fixtures (Key Vault, ARM, plans) are read from.
    pub files: FixtureFiles,
    /// Application log files (`logs/*.log`), one recorded day, shifted to end at the anchor.
    pub app_logs: Vec<crate::model::log::LogLine>,
}

impl World {
    pub fn load(
        files: &FixtureFiles,
        scenario_name: Option<&str>,
        seed: u64,
        started_at: DateTime<Utc>,
    ) -> Result<World, String> {
        let settings: EstateSettings = files.read_json("estate.json")?;
        let factory = Factory::load(&settings.factory, |folder| {
            files
                .list(&format!("factory/{folder}"))?
                .into_iter()
                .map(|path| files.read(&path).map(|text| (path, text)))
                .collect()
        })?;
        let scenarios = super::fixtures::load_scenarios(files)?;
        let wanted = scenario_name.unwrap_or(&settings.default_scenario);
        let scenario = scenarios
            .iter()
            .find(|s| s.name == wanted)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<_> = scenarios.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "unknown scenario '{wanted}'; choose one of: {}",
                    names.join(", ")
                )
            })?;
        let mut traces = BTreeMap::new();
        for path in files.list("errors")? {
            let name = path.trim_start_matches("errors/").to_string();
            traces.insert(name, files.read(&path)?);
        }
        let anchor = started_at
            .duration_trunc(Duration::hours(1))
            .map_err(|e| format!("cannot align the sandbox clock: {e}"))?;
        let incident_start = anchor - Duration::minutes(scenario.incident_start_minutes);
        let catalog = factory.catalog(BackendKind::Sandbox, &settings.environment);
        let shift = anchor - settings.fixture_epoch;
        let mut app_logs = Vec::new();
        for path in files.list("logs")?.iter().filter(|p| p.ends_with(".log")) {
            let name = path.trim_start_matches("logs/").trim_end_matches(".log");
            let text = files.read(path)?;
            app_logs.extend(
                crate::backends::logfiles::parse_log_text(&format!("app/{name}"), &text)
                    .into_iter()
                    .map(|mut line| {
                        line.timestamp += shift;
                        line
                    }),
            );
        }
        let world = World {
            settings,
            factory,
            catalog,
            scenario,
            seed,
            anchor,
            incident_start,
            traces,
            files: files.clone(),
            app_logs,
        };
        world.check_references()?;
        Ok(world)
    }

    /// A scenario that names a pipeline, activity or trace that does not exist is a
    /// fixture bug; say so at start-up instead of silently simulating nothing.
    fn check_references(&self) -> Result<(), String> {
        for effect in &self.scenario.effects {
            let (pipeline, activity, traces): (Option<&str>, Option<&str>, Vec<&String>) =
                match effect {
                    Effect::ActivityFails {
                        pipeline,
                        activity,
                        trace,
                        ..
                    } => (Some(pipeline), Some(activity), trace.iter().collect()),
                    Effect::LogOnly {
                        pipeline, activity, ..
                    } => (Some(pipeline), Some(activity), vec![]),
                    Effect::SecretExpired { trace, .. } => (None, None, trace.values().collect()),
                    Effect::VolumeChange { .. } => (None, None, vec![]),
                };
            if let Some(pipeline) = pipeline {
                let info = self.catalog.pipeline(pipeline).ok_or_else(|| {
                    format!(
                        "scenario {} names unknown pipeline {pipeline}",
                        self.scenario.name
                    )
                })?;
                if let Some(activity) = activity
                    && !info.activities.iter().any(|a| a.name == activity)
                {
                    return Err(format!(
                        "scenario {} names unknown activity {pipeline}/{activity}",
                        self.scenario.name
                    ));
                }
            }
            for trace in traces {
                if !self.traces.contains_key(trace) {
                    return Err(format!(
                        "scenario {} names missing trace errors/{trace}",
                        self.scenario.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Shifts an instant written against the fixture epoch to this sandbox's anchor.
    pub fn shift(&self, fixture_time: DateTime<Utc>) -> DateTime<Utc> {
        fixture_time + (self.anchor - self.settings.fixture_epoch)
    }

    pub fn incident_active(&self, at: DateTime<Utc>) -> bool {
        !self.scenario.effects.is_empty() && at >= self.incident_start
    }

    pub fn activity_info(&self, pipeline: &str, activity: &str) -> Option<&ActivityInfo> {
        self.catalog
            .pipeline(pipeline)?
            .activities
            .iter()
            .find(|a| a.name == activity)
    }

    /// The raw definition of a pipeline's top-level activities.
    pub fn activities(&self, pipeline: &str) -> &[Activity] {
        self.factory
            .pipeline(pipeline)
            .map(|p| p.properties.activities.as_slice())
            .unwrap_or(&[])
    }

    /// Connections an activity uses, directly, through its datasets, and what those use.
    pub fn linked_services_of_activity(&self, info: &ActivityInfo) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = info.linked_services.iter().cloned().collect();
        for dataset in info.inputs.iter().chain(&info.outputs) {
            if let Some(ds) = self.catalog.dataset(dataset) {
                set.insert(ds.linked_service.clone());
            }
        }
        set
    }

    /// The failure the scenario forces on an activity at `at`, if any.
    pub fn forced_failure(
        &self,
        pipeline: &str,
        activity: &str,
        at: DateTime<Utc>,
    ) -> Option<ForcedFailure> {
        if !self.incident_active(at) {
            return None;
        }
        let info = self.activity_info(pipeline, activity)?;
        for effect in &self.scenario.effects {
            match effect {
                Effect::ActivityFails {
                    pipeline: p,
                    activity: a,
                    error,
                    trace,
                    logs,
                } if p == pipeline && a == activity => {
                    return Some(ForcedFailure {
                        error: error.clone(),
                        trace: trace.as_ref().and_then(|t| self.traces.get(t)).cloned(),
                        logs: logs.clone(),
                    });
                }
                Effect::SecretExpired {
                    secret,
                    errors,
                    trace,
                    logs,
                } => {
                    let users = self.catalog.linked_services_using_secret(secret);
                    let touched = self.linked_services_of_activity(info);
                    if users.iter().any(|ls| touched.contains(ls)) {
                        let error = errors
                            .get(&info.activity_type)
                            .or_else(|| errors.get("default"))?
                            .clone();
                        return Some(ForcedFailure {
                            error,
                            trace: trace
                                .get(&info.activity_type)
                                .and_then(|t| self.traces.get(t))
                                .cloned(),
                            logs: logs.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Evidence lines an activity logs at `at` without failing (schema warnings, volume jumps).
    pub fn evidence_logs(
        &self,
        pipeline: &str,
        activity: &str,
        at: DateTime<Utc>,
    ) -> Vec<LogTemplate> {
        if !self.incident_active(at) {
            return Vec::new();
        }
        let Some(info) = self.activity_info(pipeline, activity) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for effect in &self.scenario.effects {
            match effect {
                Effect::LogOnly {
                    pipeline: p,
                    activity: a,
                    logs,
                } if p == pipeline && a == activity => {
                    out.extend(logs.iter().cloned());
                }
                Effect::VolumeChange { dataset, logs, .. } if info.outputs.contains(dataset) => {
                    out.extend(logs.iter().cloned());
                }
                _ => {}
            }
        }
        out
    }

    /// How much bigger than usual a dataset is at `at`.
    pub fn volume_factor(&self, dataset: &str, at: DateTime<Utc>) -> f64 {
        if !self.incident_active(at) {
            return 1.0;
        }
        self.scenario
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::VolumeChange {
                    dataset: d, factor, ..
                } if d == dataset => Some(*factor),
                _ => None,
            })
            .product()
    }

    /// Inputs of `pipeline` that are stale at `at`: their writer is broken by the
    /// scenario, directly or because its own inputs are stale.
    pub fn stale_inputs(&self, pipeline: &str, at: DateTime<Utc>) -> Vec<StaleInput> {
        if !self.incident_active(at) {
            return Vec::new();
        }
        let Some(info) = self.catalog.pipeline(pipeline) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for activity in info
            .activities
            .iter()
            .filter(|a| a.activity_type != "Lookup")
        {
            for dataset in &activity.inputs {
                if !seen.insert(dataset.clone()) {
                    continue;
                }
                if let Some(writer) = self.broken_writer_of(dataset, at, 0) {
                    out.push(StaleInput {
                        dataset: dataset.clone(),
                        writer,
                        since: self.incident_start,
                    });
                }
            }
        }
        out
    }

    /// The pipeline writing `dataset` that cannot deliver it at `at`, if any.
    fn broken_writer_of(&self, dataset: &str, at: DateTime<Utc>, depth: u32) -> Option<String> {
        if depth > 16 {
            return None;
        }
        for writer in &self.catalog.pipelines {
            let writes = writer
                .activities
                .iter()
                .any(|a| a.outputs.iter().any(|o| o == dataset));
            if !writes {
                continue;
            }
            let forced = writer
                .activities
                .iter()
                .any(|a| self.forced_failure(&writer.name, &a.name, at).is_some());
            let starved = writer
                .activities
                .iter()
                .filter(|a| a.activity_type != "Lookup")
                .flat_map(|a| a.inputs.iter())
                .any(|input| self.broken_writer_of(input, at, depth + 1).is_some());
            if forced || starved {
                return Some(writer.name.clone());
            }
        }
        None
    }

    /// `yyyy/MM/dd/HH` of an instant: how partitioned paths are named.
    pub fn partition_path(at: DateTime<Utc>) -> String {
        at.format("%Y/%m/%d/%H").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(scenario: &str) -> World {
        let at = DateTime::parse_from_rfc3339("2026-11-23T03:17:00Z")
            .unwrap()
            .with_timezone(&Utc);
        World::load(&FixtureFiles::Embedded, Some(scenario), 7, at).unwrap()
    }

    #[test]
    fn anchor_is_the_start_of_the_hour() {
        let w = world("none");
        assert_eq!(w.anchor.to_rfc3339(), "2026-11-23T03:00:00+00:00");
    }

    #[test]
    fn unknown_scenario_lists_the_known_ones() {
        let err = World::load(&FixtureFiles::Embedded, Some("meteor"), 1, Utc::now()).unwrap_err();
        assert!(
            err.contains("meteor") && err.contains("expired-secret"),
            "{err}"
        );
    }

    #[test]
    fn expired_lake_secret_breaks_copies_into_the_lake_but_not_sql_lookups() {
        let w = world("expired-secret");
        let during = w.anchor;
        assert!(
            w.forced_failure("ingest_crm_customers", "CopyCrmCustomers", during)
                .is_some()
        );
        assert!(
            w.forced_failure("transform_web_sessions", "SessionizeClickstream", during)
                .is_some()
        );
        assert!(
            w.forced_failure("transform_inventory", "CheckUpstreamFreshness", during)
                .is_none()
        );
        let before = w.incident_start - Duration::minutes(1);
        assert!(
            w.forced_failure("ingest_crm_customers", "CopyCrmCustomers", before)
                .is_none()
        );
    }

    #[test]
    fn late_partition_makes_everything_reading_curated_sales_stale() {
        let w = world("late-partition");
        let stale = w.stale_inputs("transform_inventory", w.anchor);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert_eq!(stale[0].dataset, "ds_curated_sales");
        assert_eq!(stale[0].writer, "transform_sales");
        assert!(
            w.stale_inputs("transform_web_sessions", w.anchor)
                .is_empty()
        );
    }

    #[test]
    fn volume_change_applies_only_during_the_incident() {
        let w = world("cluster-oom");
        assert!((w.volume_factor("ds_curated_web_sessions", w.anchor) - 3.6).abs() < 1e-9);
        assert_eq!(
            w.volume_factor(
                "ds_curated_web_sessions",
                w.incident_start - Duration::minutes(1)
            ),
            1.0
        );
        assert_eq!(w.volume_factor("ds_curated_sales", w.anchor), 1.0);
    }
}
