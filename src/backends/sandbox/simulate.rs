//! Simulates one pipeline run from start to finish: activity order and
//! dependency conditions, durations, retries, scenario failures, transient noise,
//! child runs of `ExecutePipeline`, freshness checks, outputs and logs.
//!
//! A timeline is computed once, whole, and is independent of "now"; what a
//! caller sees at an instant is cut from it in [`super::view`].

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::fixtures::{ErrorTemplate, LogTemplate};
use super::rng;
use super::world::{ForcedFailure, StaleInput, World};
use crate::backends::adf_definitions::{Activity, activity_info, flatten};
use crate::model::log::{LogLevel, LogLine};
use crate::model::run::{InvokedBy, RunError, RunStatus};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub pipeline: String,
    /// Identity for hashing: the same key always gives the same run.
    pub key: String,
    /// When the run was queued (the trigger's scheduled time, or the request time).
    pub queued_at: DateTime<Utc>,
    pub invoked_by: InvokedBy,
    pub parameters: serde_json::Map<String, Value>,
    /// Recovery rerun: start at this activity, skipping the ones before it.
    pub start_at_activity: Option<String>,
    pub rerun_of: Option<String>,
}

/// A whole run, start to end.
#[derive(Debug, Clone)]
pub struct RunTimeline {
    pub run_id: String,
    pub pipeline: String,
    pub queued_at: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: RunStatus,
    pub message: String,
    pub invoked_by: InvokedBy,
    pub parameters: serde_json::Map<String, Value>,
    pub rerun_of: Option<String>,
    pub attempts: Vec<Attempt>,
    pub children: Vec<Arc<RunTimeline>>,
    /// Empty unless simulated with logs: logs are the bulk of a run's memory and
    /// are re-simulated from `spec` on demand instead of kept.
    pub logs: Vec<LogLine>,
    pub spec: RunSpec,
}

/// One attempt of one activity.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub name: String,
    pub activity_type: String,
    pub attempt: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: RunStatus,
    pub error: Option<RunError>,
    pub linked_service: Option<String>,
    pub output: Value,
}

/// How an activity ended, for the activities that depend on it.
#[derive(Debug, Clone)]
struct Outcome {
    end: DateTime<Utc>,
    status: RunStatus,
    error: Option<RunError>,
}

impl World {
    /// The run, without its logs (what the sandbox keeps in memory).
    pub fn simulate(&self, spec: &RunSpec) -> RunTimeline {
        let mut sim = Simulation::new(self, spec, false);
        sim.run();
        sim.finish()
    }

    /// The run with its own log lines (children's logs are in their timelines).
    pub fn simulate_with_logs(&self, spec: &RunSpec) -> RunTimeline {
        let mut sim = Simulation::new(self, spec, true);
        sim.run();
        sim.finish()
    }
}

struct Simulation<'w> {
    world: &'w World,
    spec: &'w RunSpec,
    run_id: String,
    start: DateTime<Utc>,
    attempts: Vec<Attempt>,
    children: Vec<Arc<RunTimeline>>,
    logs: Vec<LogLine>,
    keep_logs: bool,
    outcomes: BTreeMap<String, Outcome>,
}

impl<'w> Simulation<'w> {
    fn new(world: &'w World, spec: &'w RunSpec, keep_logs: bool) -> Self {
        let [low, high] = world.settings.queue_seconds;
        let queue = rng::between(world.seed, &[&spec.key, "queue"], low, high);
        Simulation {
            world,
            spec,
            run_id: rng::guid(world.seed, &[&spec.key, "run"]),
            start: spec.queued_at + Duration::seconds(i64::from(queue)),
            attempts: Vec::new(),
            children: Vec::new(),
            logs: Vec::new(),
            keep_logs,
            outcomes: BTreeMap::new(),
        }
    }

    fn run(&mut self) {
        let activities = self.world.activities(&self.spec.pipeline).to_vec();
        let skipped_before = self.recovery_skips(&activities);
        for name in &skipped_before {
            self.outcomes.insert(
                name.clone(),
                Outcome {
                    end: self.start,
                    status: RunStatus::Succeeded,
                    error: None,
                },
            );
        }
        // Activities run when their dependencies have ended with an accepted status;
        // repeat until nothing more can start (definition order need not be topological).
        let mut pending: Vec<&Activity> = activities
            .iter()
            .filter(|a| !skipped_before.contains(&a.name))
            .collect();
        loop {
            let before = pending.len();
            let mut still_pending = Vec::new();
            for activity in pending {
                match self.readiness(activity) {
                    Readiness::Ready(at) => self.run_activity(activity, at),
                    Readiness::Waiting => still_pending.push(activity),
                    Readiness::Never => {}
                }
            }
            pending = still_pending;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
    }

    /// For a recovery rerun, the activities before the restart point (they keep their success).
    fn recovery_skips(&self, activities: &[Activity]) -> Vec<String> {
        let Some(start_at) = &self.spec.start_at_activity else {
            return Vec::new();
        };
        let mut after: Vec<String> = vec![start_at.clone()];
        let mut grew = true;
        while grew {
            grew = false;
            for activity in activities {
                let depends = activity
                    .depends_on
                    .iter()
                    .any(|d| after.contains(&d.activity));
                if depends && !after.contains(&activity.name) {
                    after.push(activity.name.clone());
                    grew = true;
                }
            }
        }
        activities
            .iter()
            .map(|a| a.name.clone())
            .filter(|name| !after.contains(name))
            .collect()
    }

    fn readiness(&self, activity: &Activity) -> Readiness {
        let mut ready_at = self.start;
        for dep in &activity.depends_on {
            let Some(outcome) = self.outcomes.get(&dep.activity) else {
                let exists = self
                    .world
                    .activities(&self.spec.pipeline)
                    .iter()
                    .any(|a| a.name == dep.activity);
                return if exists {
                    Readiness::Waiting
                } else {
                    Readiness::Never
                };
            };
            let conditions: Vec<&str> = if dep.dependency_conditions.is_empty() {
                vec!["Succeeded"]
            } else {
                dep.dependency_conditions
                    .iter()
                    .map(String::as_str)
                    .collect()
            };
            let accepted = conditions.iter().any(|c| match *c {
                "Completed" => true,
                other => RunStatus::parse(other) == outcome.status,
            });
            if !accepted {
                return Readiness::Never;
            }
            ready_at = ready_at.max(outcome.end);
        }
        Readiness::Ready(ready_at + Duration::seconds(1))
    }

    fn run_activity(&mut self, activity: &Activity, at: DateTime<Utc>) {
        let outcome = match activity.activity_type.as_str() {
            "ExecutePipeline" => self.run_execute_pipeline(activity, at),
            "IfCondition" => self.run_if_condition(activity, at),
            _ => self.run_work(activity, at, &[]),
        };
        self.outcomes.insert(activity.name.clone(), outcome);
    }

    fn duration_of(&self, activity: &Activity, salt: &str) -> Duration {
        let durations = &self.world.settings.durations;
        let [low, high] = durations
            .by_activity
            .get(&activity.name)
            .or_else(|| durations.by_type.get(&activity.activity_type))
            .copied()
            .unwrap_or([5, 30]);
        Duration::seconds(i64::from(rng::between(
            self.world.seed,
            &[&self.spec.key, &activity.name, salt, "duration"],
            low,
            high,
        )))
    }

    /// Copy, notebooks, jobs, stored procedures, web calls, lookups, fail activities.
    fn run_work(
        &mut self,
        activity: &Activity,
        at: DateTime<Utc>,
        stale: &[StaleInput],
    ) -> Outcome {
        let info = activity_info(activity);
        let forced = if activity.activity_type == "Fail" {
            Some(fail_activity_error(activity, stale))
        } else {
            self.world
                .forced_failure(&self.spec.pipeline, &activity.name, self.spec.queued_at)
        };
        let max_attempts = info.retries + 1;
        let transient_rate = self.world.settings.transient_failure_rate;
        let mut t = at;
        for attempt in 1..=max_attempts {
            let attempt_key = attempt.to_string();
            let id = rng::guid(
                self.world.seed,
                &[&self.spec.key, &activity.name, &attempt_key],
            );
            let ctx = self.context(activity, &id, t);
            self.log(t, LogLevel::Info, "adf/activity", activity, || {
                format!(
                    "Activity '{}' ({}) started, attempt {attempt} of {max_attempts}",
                    activity.name, activity.activity_type
                )
            });
            let transient = forced.is_none()
                && activity.activity_type != "Fail"
                && rng::unit(
                    self.world.seed,
                    &[&self.spec.key, &activity.name, &attempt_key, "transient"],
                ) < transient_rate;
            let full = self.duration_of(activity, &attempt_key);
            let failing = forced.is_some() || transient;
            // Failures surface early: authentication and missing files fail in seconds.
            let took = if failing {
                Duration::seconds((full.num_seconds() / 4).max(2))
            } else {
                full
            };
            let end = t + took;
            for template in
                self.world
                    .evidence_logs(&self.spec.pipeline, &activity.name, self.spec.queued_at)
            {
                self.log_template(t + took / 2, &template, activity, &ctx);
            }
            let (status, error) = if let Some(failure) = &forced {
                for template in &failure.logs {
                    self.log_template(t + took / 2, template, activity, &ctx);
                }
                (
                    RunStatus::Failed,
                    Some(self.error_from(&failure.error, &ctx)),
                )
            } else if transient {
                let template = self.transient_error(&activity.activity_type);
                (RunStatus::Failed, Some(self.error_from(&template, &ctx)))
            } else {
                (RunStatus::Succeeded, None)
            };
            let output = self.output_of(
                activity,
                &info,
                &ctx,
                took,
                status == RunStatus::Succeeded,
                stale,
            );
            match &error {
                Some(err) => {
                    self.log(end, LogLevel::Error, "adf/activity", activity, || format!(
                        "Activity '{}' failed (attempt {attempt} of {max_attempts}): ErrorCode={} {}",
                        activity.name, err.code, err.message
                    ));
                    if let Some(trace) = forced.as_ref().and_then(|f| f.trace.as_ref()) {
                        self.log(end, LogLevel::Error, "databricks/driver", activity, || {
                            render(trace, &ctx)
                        });
                    }
                    if attempt < max_attempts {
                        self.log(end, LogLevel::Warn, "adf/activity", activity, || {
                            format!(
                                "Retrying activity '{}' in 60s (retry {attempt} of {})",
                                activity.name, info.retries
                            )
                        });
                    }
                }
                None => self.log(end, LogLevel::Info, "adf/activity", activity, || {
                    success_line(activity, &output, took)
                }),
            }
            self.attempts.push(Attempt {
                id,
                name: activity.name.clone(),
                activity_type: activity.activity_type.clone(),
                attempt,
                start: t,
                end,
                status: status.clone(),
                error: error.clone(),
                linked_service: info.linked_services.first().cloned(),
                output,
            });
            if status == RunStatus::Succeeded || attempt == max_attempts {
                return Outcome { end, status, error };
            }
            t = end + Duration::seconds(60);
        }
        Outcome {
            end: t,
            status: RunStatus::Failed,
            error: None,
        }
    }

    fn run_execute_pipeline(&mut self, activity: &Activity, at: DateTime<Utc>) -> Outcome {
        let info = activity_info(activity);
        let id = rng::guid(self.world.seed, &[&self.spec.key, &activity.name, "1"]);
        let Some(child_name) = info.executes_pipeline.clone() else {
            return Outcome {
                end: at,
                status: RunStatus::Failed,
                error: None,
            };
        };
        let child_spec = RunSpec {
            pipeline: child_name.clone(),
            key: format!("{}/{}", self.spec.key, activity.name),
            queued_at: at + Duration::seconds(1),
            invoked_by: InvokedBy {
                name: activity.name.clone(),
                kind: "PipelineActivity".into(),
                parent_run_id: Some(self.run_id.clone()),
                parent_pipeline: Some(self.spec.pipeline.clone()),
            },
            parameters: self.spec.parameters.clone(),
            start_at_activity: None,
            rerun_of: None,
        };
        let child = self.world.simulate(&child_spec);
        self.log(at, LogLevel::Info, "adf/activity", activity, || {
            format!(
                "Activity '{}' (ExecutePipeline) started pipeline {child_name} run {}",
                activity.name, child.run_id
            )
        });
        let (level, verdict) = if child.status == RunStatus::Failed {
            (LogLevel::Error, format!("failed: {}", child.message))
        } else {
            (LogLevel::Info, format!("{}", child.status))
        };
        self.log(
            child.end + Duration::seconds(2),
            level,
            "adf/activity",
            activity,
            || {
                format!(
                    "Activity '{}': child pipeline {child_name} run {} {verdict}",
                    activity.name, child.run_id
                )
            },
        );
        let end = child.end + Duration::seconds(2);
        let error = (child.status == RunStatus::Failed).then(|| {
            let inner = child.attempts.iter().rev().find_map(|a| a.error.clone());
            RunError {
                code: inner
                    .as_ref()
                    .map_or_else(|| "2011".to_string(), |e| e.code.clone()),
                message: child.message.clone(),
                failure_type: inner.and_then(|e| e.failure_type),
            }
        });
        self.attempts.push(Attempt {
            id,
            name: activity.name.clone(),
            activity_type: activity.activity_type.clone(),
            attempt: 1,
            start: at,
            end,
            status: child.status.clone(),
            error: error.clone(),
            linked_service: None,
            output: json!({"pipelineName": child_name, "pipelineRunId": child.run_id}),
        });
        let status = child.status.clone();
        self.children.push(Arc::new(child));
        Outcome { end, status, error }
    }

    /// Freshness checks are `IfCondition`s whose true branch holds a `Fail` activity:
    /// the branch runs when an input's writer is broken.
    fn run_if_condition(&mut self, activity: &Activity, at: DateTime<Utc>) -> Outcome {
        let stale = self
            .world
            .stale_inputs(&self.spec.pipeline, self.spec.queued_at);
        let id = rng::guid(self.world.seed, &[&self.spec.key, &activity.name, "1"]);
        let mut end = at + self.duration_of(activity, "1");
        let branch_key = if stale.is_empty() {
            "ifFalseActivities"
        } else {
            "ifTrueActivities"
        };
        let branch: Vec<Activity> = activity
            .type_properties
            .get(branch_key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|a| serde_json::from_value(a.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let mut error = None;
        for inner in flatten(&branch) {
            let outcome = self.run_work(&inner, end, &stale);
            end = outcome.end;
            if let Some(inner_error) = outcome.error {
                error = Some(RunError {
                    code: inner_error.code.clone(),
                    message: format!(
                        "Activity failed because an inner activity failed; Inner activity name: {}, Error: {}",
                        inner.name, inner_error.message
                    ),
                    failure_type: inner_error.failure_type,
                });
                break;
            }
        }
        let status = if error.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        self.attempts.push(Attempt {
            id,
            name: activity.name.clone(),
            activity_type: activity.activity_type.clone(),
            attempt: 1,
            start: at,
            end: end + Duration::seconds(1),
            status: status.clone(),
            error: error.clone(),
            linked_service: None,
            output: json!({"expression": !stale.is_empty()}),
        });
        Outcome {
            end: end + Duration::seconds(1),
            status,
            error,
        }
    }

    fn transient_error(&self, activity_type: &str) -> ErrorTemplate {
        let errors = &self.world.settings.transient_errors;
        errors
            .get(activity_type)
            .or_else(|| errors.get("default"))
            .cloned()
            .unwrap_or(ErrorTemplate {
                code: "2011".into(),
                failure_type: "SystemError".into(),
                message: "Transient failure".into(),
            })
    }

    fn error_from(
        &self,
        template: &ErrorTemplate,
        ctx: &BTreeMap<&'static str, String>,
    ) -> RunError {
        RunError {
            code: template.code.clone(),
            message: render(&template.message, ctx),
            failure_type: Some(template.failure_type.clone()),
        }
    }

    /// The values `{placeholders}` in fixture messages can use.
    fn context(
        &self,
        activity: &Activity,
        attempt_id: &str,
        at: DateTime<Utc>,
    ) -> BTreeMap<&'static str, String> {
        let seed = self.world.seed;
        let workspace = &self.world.settings.databricks_workspace;
        let job = rng::between(
            seed,
            &[&self.spec.pipeline, &activity.name, "job"],
            100_000,
            999_999,
        );
        let dbx_run = rng::between(seed, &[attempt_id, "dbx"], 10_000_000, 99_999_999);
        BTreeMap::from([
            ("run_id", self.run_id.clone()),
            ("pipeline", self.spec.pipeline.clone()),
            ("activity", activity.name.clone()),
            ("slot_path", World::partition_path(self.spec.queued_at)),
            ("incident_start", self.world.incident_start.to_rfc3339()),
            (
                "incident_path",
                World::partition_path(self.world.incident_start - Duration::hours(1)),
            ),
            ("timestamp", at.format("%Y-%m-%d %H:%M:%SZ").to_string()),
            ("trace_id", rng::guid(seed, &[attempt_id, "trace"])),
            (
                "correlation_id",
                rng::guid(seed, &[attempt_id, "correlation"]),
            ),
            (
                "run_page_url",
                format!("{workspace}/?o=4471920385162214#job/{job}/run/{dbx_run}"),
            ),
            ("rows", self.rows_written(activity).to_string()),
        ])
    }

    fn rows_written(&self, activity: &Activity) -> u64 {
        let info = activity_info(activity);
        info.outputs
            .iter()
            .map(|d| self.rows_of(d, &activity.name))
            .sum()
    }

    fn rows_of(&self, dataset: &str, salt: &str) -> u64 {
        let base = self
            .world
            .settings
            .volumes
            .get(dataset)
            .copied()
            .unwrap_or(5_000) as f64;
        let jitter =
            0.85 + 0.3 * rng::unit(self.world.seed, &[&self.spec.key, dataset, salt, "rows"]);
        (base * jitter * self.world.volume_factor(dataset, self.spec.queued_at)).round() as u64
    }

    fn output_of(
        &self,
        activity: &Activity,
        info: &crate::model::estate::ActivityInfo,
        ctx: &BTreeMap<&'static str, String>,
        took: Duration,
        succeeded: bool,
        stale: &[StaleInput],
    ) -> Value {
        let secs = took.num_seconds().max(1);
        match activity.activity_type.as_str() {
            "Copy" => {
                let rows = if succeeded {
                    self.rows_written(activity)
                } else {
                    0
                };
                let bytes = rows * 212;
                json!({
                    "dataRead": bytes, "dataWritten": bytes, "rowsRead": rows, "rowsCopied": rows,
                    "copyDuration": secs, "throughput": (bytes as f64 / 1024.0 / secs as f64 * 1000.0).round() / 1000.0,
                    "errors": [], "effectiveIntegrationRuntime": "ir-azure-westeurope (West Europe)",
                    "usedDataIntegrationUnits": 8, "usedParallelCopies": 2
                })
            }
            t if t.starts_with("Databricks") => {
                let mut out = json!({
                    "runPageUrl": ctx.get("run_page_url"),
                    "effectiveIntegrationRuntime": "AutoResolveIntegrationRuntime (West Europe)",
                    "executionDuration": secs,
                    "durationInQueue": {"integrationRuntimeQueue": 0}
                });
                let rows_in: u64 = info
                    .inputs
                    .iter()
                    .map(|d| self.rows_of(d, &activity.name))
                    .sum();
                if succeeded {
                    out["runOutput"] =
                        json!({"rows_in": rows_in, "rows_out": self.rows_written(activity)});
                }
                out
            }
            "Lookup" => {
                let pipeline_inputs = self.world.catalog.pipeline(&self.spec.pipeline).map(|p| {
                    p.activities
                        .iter()
                        .filter(|a| a.activity_type != "Lookup")
                        .flat_map(|a| a.inputs.clone())
                        .collect::<Vec<_>>()
                });
                let stale_now = self
                    .world
                    .stale_inputs(&self.spec.pipeline, self.spec.queued_at);
                let value: Vec<Value> = pipeline_inputs
                    .unwrap_or_default()
                    .iter()
                    .map(|dataset| {
                        let age = match stale_now.iter().find(|s| &s.dataset == dataset) {
                            Some(s) => (self.spec.queued_at - s.since).num_minutes() + 45,
                            None => i64::from(rng::between(self.world.seed, &[&self.spec.key, dataset, "age"], 4, 50)),
                        };
                        json!({"dataset": dataset, "last_loaded_utc": (self.spec.queued_at - Duration::minutes(age)).to_rfc3339(), "age_minutes": age})
                    })
                    .collect();
                json!({"count": value.len(), "value": value, "effectiveIntegrationRuntime": "ir-azure-westeurope (West Europe)"})
            }
            "Fail" => json!({"staleInputs": stale.iter().map(|s| &s.dataset).collect::<Vec<_>>()}),
            "WebActivity" if succeeded => {
                json!({"statusCode": 202, "ADFWebActivityResponseHeaders": {"RequestId": ctx.get("correlation_id")}})
            }
            _ => json!({"effectiveIntegrationRuntime": "ir-azure-westeurope (West Europe)"}),
        }
    }

    fn log(
        &mut self,
        at: DateTime<Utc>,
        level: LogLevel,
        source: &str,
        activity: &Activity,
        message: impl FnOnce() -> String,
    ) {
        // Runs are simulated without logs (they are re-simulated when asked for),
        // so messages are only formatted when they will be kept.
        if !self.keep_logs {
            return;
        }
        let message = message();
        self.logs.push(LogLine {
            timestamp: at,
            level,
            source: source.to_string(),
            pipeline: Some(self.spec.pipeline.clone()),
            run_id: Some(self.run_id.clone()),
            activity: Some(activity.name.clone()),
            message,
        });
    }

    fn log_template(
        &mut self,
        at: DateTime<Utc>,
        template: &LogTemplate,
        activity: &Activity,
        ctx: &BTreeMap<&'static str, String>,
    ) {
        let level = crate::model::log::LogLevel::parse(&template.level).unwrap_or(LogLevel::Info);
        self.log(at, level, &template.source, activity, || {
            render(&template.message, ctx)
        });
    }

    fn finish(mut self) -> RunTimeline {
        self.attempts.sort_by_key(|a| a.start);
        self.logs.sort_by_key(|l| l.timestamp);
        let end = self
            .outcomes
            .values()
            .map(|o| o.end)
            .chain(self.attempts.iter().map(|a| a.end))
            .max()
            .unwrap_or(self.start)
            .max(self.start + Duration::seconds(1));
        let activities = self.world.activities(&self.spec.pipeline);
        // A failure fails the run unless some activity handles it (depends on it with Failed/Completed).
        let unhandled = activities.iter().find_map(|a| {
            let outcome = self.outcomes.get(&a.name)?;
            let handled = activities.iter().any(|other| {
                other.depends_on.iter().any(|d| {
                    d.activity == a.name
                        && d.dependency_conditions
                            .iter()
                            .any(|c| c == "Failed" || c == "Completed")
                })
            });
            (outcome.status == RunStatus::Failed && !handled)
                .then(|| (a.name.clone(), outcome.error.clone()))
        });
        let (status, message) = match unhandled {
            Some((name, error)) => (
                RunStatus::Failed,
                format!(
                    "Operation on target {name} failed: {}",
                    error.map(|e| e.message).unwrap_or_default()
                ),
            ),
            None => (RunStatus::Succeeded, String::new()),
        };
        RunTimeline {
            run_id: self.run_id,
            pipeline: self.spec.pipeline.clone(),
            queued_at: self.spec.queued_at,
            start: self.start,
            end,
            status,
            message,
            invoked_by: self.spec.invoked_by.clone(),
            parameters: self.spec.parameters.clone(),
            rerun_of: self.spec.rerun_of.clone(),
            attempts: self.attempts,
            children: self.children,
            logs: self.logs,
            spec: self.spec.clone(),
        }
    }
}

enum Readiness {
    Ready(DateTime<Utc>),
    Waiting,
    Never,
}

fn fail_activity_error(activity: &Activity, stale: &[StaleInput]) -> ForcedFailure {
    let code = activity
        .type_properties
        .get("errorCode")
        .and_then(crate::backends::adf_definitions::string_or_expression)
        .unwrap_or_else(|| "FAIL".into());
    let details: Vec<String> = stale
        .iter()
        .map(|s| {
            format!(
                "{} (writer {} failing since {})",
                s.dataset,
                s.writer,
                s.since.to_rfc3339()
            )
        })
        .collect();
    ForcedFailure {
        error: ErrorTemplate {
            code,
            failure_type: "UserError".into(),
            message: format!("Upstream data is stale: {}", details.join("; ")),
        },
        trace: None,
        logs: Vec::new(),
    }
}

fn success_line(activity: &Activity, output: &Value, took: Duration) -> String {
    let secs = took.num_seconds();
    match activity.activity_type.as_str() {
        "Copy" => format!(
            "Copy succeeded in {secs}s: {} rows read, {} rows written, {} bytes",
            output["rowsRead"], output["rowsCopied"], output["dataRead"]
        ),
        t if t.starts_with("Databricks") => format!(
            "Databricks run finished in {secs}s: rows_in={} rows_out={} ({})",
            output["runOutput"]["rows_in"],
            output["runOutput"]["rows_out"],
            output["runPageUrl"].as_str().unwrap_or("")
        ),
        _ => format!("Activity '{}' succeeded in {secs}s", activity.name),
    }
}

/// Replaces `{name}` with values from `ctx`; unknown names stay as written.
pub fn render(template: &str, ctx: &BTreeMap<&'static str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if ctx.contains_key(&after[..close]) => {
                out.push_str(&ctx[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::sandbox::fixtures::FixtureFiles;

    fn world(scenario: &str) -> World {
        let at = DateTime::parse_from_rfc3339("2026-11-23T03:17:00Z")
            .unwrap()
            .with_timezone(&Utc);
        World::load(&FixtureFiles::Embedded, Some(scenario), 7, at).unwrap()
    }

    fn spec(pipeline: &str, at: DateTime<Utc>) -> RunSpec {
        RunSpec {
            pipeline: pipeline.into(),
            key: format!("test/{pipeline}/{}", at.timestamp()),
            queued_at: at,
            invoked_by: InvokedBy {
                name: "test".into(),
                kind: "Manual".into(),
                parent_run_id: None,
                parent_pipeline: None,
            },
            parameters: Default::default(),
            start_at_activity: None,
            rerun_of: None,
        }
    }

    #[test]
    fn render_fills_known_placeholders_and_keeps_json_braces() {
        let ctx = BTreeMap::from([("run_id", "r1".to_string())]);
        assert_eq!(
            render("run {run_id} {\"a\":1} {unknown}", &ctx),
            "run r1 {\"a\":1} {unknown}"
        );
    }

    #[test]
    fn same_spec_same_timeline() {
        let w = world("expired-secret");
        let a = w.simulate(&spec("orchestrate_sales_hourly", w.anchor));
        let b = w.simulate(&spec("orchestrate_sales_hourly", w.anchor));
        assert_eq!(a.run_id, b.run_id);
        assert_eq!(a.end, b.end);
        assert_eq!(a.message, b.message);
        let (la, lb) = (w.simulate_with_logs(&a.spec), w.simulate_with_logs(&b.spec));
        assert!(!la.logs.is_empty());
        assert_eq!(la.logs, lb.logs);
        assert!(a.logs.is_empty(), "logs are not kept in memory");
    }

    #[test]
    fn orchestrator_fails_through_its_child_with_nested_adf_message() {
        let w = world("expired-secret");
        let run = w.simulate(&spec("orchestrate_sales_hourly", w.anchor));
        assert_eq!(run.status, RunStatus::Failed);
        assert!(
            run.message.starts_with(
                "Operation on target RunIngestPos failed: Operation on target CopyPosToRaw failed"
            ),
            "{}",
            run.message
        );
        assert!(run.message.contains("AADSTS7000222"));
        assert_eq!(run.children.len(), 1, "the chain stops at the failed child");
        let child = &run.children[0];
        assert_eq!(
            child.invoked_by.parent_run_id.as_deref(),
            Some(run.run_id.as_str())
        );
        let copy_attempts = child
            .attempts
            .iter()
            .filter(|a| a.name == "CopyPosToRaw")
            .count();
        assert_eq!(copy_attempts, 3, "retry policy 2 means three attempts");
    }

    #[test]
    fn freshness_check_fails_with_stale_upstream_and_names_the_writer() {
        let w = world("late-partition");
        let run = w.simulate(&spec("transform_inventory", w.anchor));
        assert_eq!(run.status, RunStatus::Failed);
        let fail = run
            .attempts
            .iter()
            .find(|a| a.name == "FailStaleUpstream")
            .unwrap();
        let error = fail.error.as_ref().unwrap();
        assert_eq!(error.code, "STALE_UPSTREAM");
        assert!(
            error.message.contains("ds_curated_sales") && error.message.contains("transform_sales")
        );
        assert!(!run.attempts.iter().any(|a| a.name == "ReconcileInventory"));
    }

    #[test]
    fn quiet_night_runs_succeed_with_outputs() {
        let w = world("none");
        let run = w.simulate(&spec("transform_sales", w.anchor));
        let notebook = run
            .attempts
            .iter()
            .rev()
            .find(|a| a.name == "CleanSales")
            .unwrap();
        if run.status == RunStatus::Succeeded {
            assert!(notebook.output["runOutput"]["rows_out"].as_u64().unwrap() > 0);
            assert!(
                notebook.output["runPageUrl"]
                    .as_str()
                    .unwrap()
                    .contains("azuredatabricks.net")
            );
        }
        assert!(run.end > run.start);
    }

    #[test]
    fn recovery_rerun_starts_at_the_failed_activity() {
        let w = world("none");
        let mut s = spec("orchestrate_sales_hourly", w.anchor);
        s.start_at_activity = Some("RunPublishMart".into());
        let run = w.simulate(&s);
        let names: Vec<_> = run.attempts.iter().map(|a| a.name.as_str()).collect();
        assert!(!names.contains(&"RunIngestPos"), "{names:?}");
        assert!(names.contains(&"RunPublishMart"));
    }
}
