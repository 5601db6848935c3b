//! One record of Airflow's audit log (`log` table, `GET /eventLogs`) as a
//! [`Change`], or nothing when it records no change.
//!
//! What the real Airflows write (seen on 2.10.5 and 3.1.3, and read from their
//! `action_logging` decorators):
//! - Airflow 2 REST API: `api.<endpoint>` (`api.post_clear_task_instances`,
//!   `api.patch_dag`, `api.variable.create`, `api.connection.edit`,
//!   `api.post_dag_run`, `api.update_dag_run_state`); the same calls made by
//!   the web UI's own pages `ui.<endpoint>`; the classic views by name
//!   (`clear`, `dagrun_clear`, `paused`, `trigger`, `success`, `failed`,
//!   `connection.add`, `variable.varimport`, `delete`).
//! - Airflow 3 API server: the endpoint's name (`post_clear_task_instances`,
//!   `trigger_dag_run`, `patch_dag`, `post_variable`, `patch_connection`,
//!   `delete_variable`, `bulk_pools`, `patch_dag_run`), `extra` with `method`.
//! - Both: the CLI as `cli_<command>` with `host_name` in `extra`; Airflow 2
//!   also task state transitions (`running`, `success`, `failed` with a try
//!   number, owned by the DAG's owner), and dry runs of a clear.
//!
//! `extra` is the request's JSON (Airflow masks passwords in it, and opsdeck
//! redacts it again); `is_paused` in it is the DAG's new state.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::change::{Change, ChangeKind};
use crate::model::time::parse_service_instant;
use crate::support::redact;
use crate::support::terminal::for_screen;
use crate::support::text::clip;

pub const SOURCE: &str = "airflow audit log";
/// Longest name or value kept from a record (ids, keys, a variable's value).
const MAX_NAME: usize = 200;
const MAX_VALUE: usize = 60;
/// Most task ids named in one summary.
const MAX_TASKS_NAMED: usize = 10;

/// A record as both API versions return it (v2 renames `execution_date` to
/// `logical_date`; neither is read).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventLog {
    #[serde(default)]
    pub event_log_id: Option<i64>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub dag_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub try_number: Option<i64>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub extra: Option<String>,
}

/// Task instance states Airflow 2 records as events of their own.
const TASK_STATES: &[&str] = &[
    "running",
    "success",
    "failed",
    "up_for_retry",
    "up_for_reschedule",
    "upstream_failed",
    "skipped",
    "queued",
    "scheduled",
    "deferred",
    "restarting",
    "removed",
    "shutdown",
];

/// Words that make an event a write; an event with none of them is a read
/// (`grid`, `log`, `get_task_instances_batch`, `confirm`, `cli_task_run`).
const WRITE_WORDS: &[&str] = &[
    "post",
    "patch",
    "put",
    "update",
    "create",
    "edit",
    "add",
    "set",
    "delete",
    "muldelete",
    "import",
    "varimport",
    "bulk",
    "clear",
    "trigger",
    "paused",
    "pause",
    "unpause",
    "success",
    "failed",
    "queued",
    "retry",
    "running",
    "skipped",
    "backfill",
    "reparse",
    "materialize",
    "cancel",
];

/// What a write did, as far as the event's name tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Clear,
    Trigger,
    Pause,
    RunState,
    Variable,
    Connection,
    Pool,
    Access,
    Delete,
    Other,
}

impl Action {
    fn kind(self) -> ChangeKind {
        match self {
            Action::Clear | Action::Trigger | Action::RunState => ChangeKind::Operation,
            Action::Pause => ChangeKind::Schedule,
            Action::Variable | Action::Pool => ChangeKind::Configuration,
            Action::Connection => ChangeKind::Secret,
            Action::Access => ChangeKind::Access,
            Action::Delete => ChangeKind::Lifecycle,
            Action::Other => ChangeKind::Other,
        }
    }
}

/// The event's name without its channel prefix, split into lower-case words.
fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn classify(words: &[String]) -> Option<Action> {
    let has = |w: &str| words.iter().any(|x| x == w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    if !words.iter().any(|w| WRITE_WORDS.contains(&w.as_str())) || any(&["favorite", "unfavorite"])
    {
        return None;
    }
    let action = if any(&["variable", "variables"]) {
        Action::Variable
    } else if any(&["connection", "connections"]) {
        Action::Connection
    } else if any(&["pool", "pools"]) {
        Action::Pool
    } else if any(&["user", "users", "role", "roles", "permissions"]) {
        Action::Access
    } else if has("clear") {
        Action::Clear
    } else if any(&["trigger", "backfill", "reparse", "materialize"])
        || (has("post") && has("dag") && has("run"))
    {
        Action::Trigger
    } else if any(&["paused", "pause", "unpause"])
        || (any(&["patch", "update"]) && any(&["dag", "dags"]) && !any(&["run", "task"]))
    {
        Action::Pause
    } else if has("delete") || has("muldelete") {
        Action::Delete
    } else if any(&[
        "run",
        "dagrun",
        "task",
        "instance",
        "instances",
        "state",
        "note",
    ]) || any(&["success", "failed", "queued", "retry", "running", "skipped"])
    {
        Action::RunState
    } else {
        Action::Other
    };
    Some(action)
}

/// Where the request came from, as the event's name and `extra` tell.
fn origin(event: &str, extra: &Map<String, Value>, airflow3: bool) -> String {
    if let Some(command) = event.strip_prefix("cli_") {
        let host = extra.get("host_name").and_then(Value::as_str);
        return match host {
            Some(host) => format!("CLI ({command}) on {host}"),
            None => format!("CLI ({command})"),
        };
    }
    if event.starts_with("api.") {
        "REST API".into()
    } else if event.starts_with("ui.") || !airflow3 {
        "web UI".into()
    } else {
        // Airflow 3's UI calls the same API: the record cannot tell them apart.
        "API server (REST API or web UI)".into()
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(extra: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| extra.get(*k).and_then(text_of))
}

/// A name from the record, safe to show and bounded.
fn name(raw: &str) -> String {
    clip(&for_screen(raw.trim()), MAX_NAME)
}

/// `extra` as an object with its secrets redacted (Airflow 2 before 2.8
/// wrote Python reprs: those stay unread rather than guessed at).
fn parsed_extra(extra: Option<&str>) -> Map<String, Value> {
    extra
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .map(|v| redact::value(&v))
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

/// A request that changed nothing: a dry run, or the UI's first, unconfirmed step.
fn changed_nothing(extra: &Map<String, Value>) -> bool {
    let says_true = |key: &str| match extra.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let says_false = |key: &str| match extra.get(key) {
        Some(Value::Bool(b)) => !*b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    };
    says_true("dry_run") || says_false("confirmed")
}

/// The task ids a record names: its own, or those of a clear's request.
fn task_ids(record: &EventLog, extra: &Map<String, Value>) -> Vec<String> {
    let mut tasks: Vec<String> = record.task_id.iter().map(|t| name(t)).collect();
    if let Some(Value::Array(ids)) = extra.get("task_ids") {
        for id in ids.iter().take(MAX_TASKS_NAMED) {
            // `["task", map_index]` pairs name mapped task instances.
            let id = id.as_str().or_else(|| id.get(0).and_then(Value::as_str));
            if let Some(id) = id {
                let id = name(id);
                if !tasks.contains(&id) {
                    tasks.push(id);
                }
            }
        }
    }
    tasks
}

/// The change a record shows, or `None` for reads, noise, dry runs and
/// records too broken to date.
pub fn change_of(record: &EventLog, airflow3: bool) -> Option<Change> {
    let event = record
        .event
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())?;
    let at: DateTime<Utc> = parse_service_instant(record.when.as_deref())?;
    let lower = event.to_ascii_lowercase();
    // Airflow 2 logs each task state transition (with a try number since
    // 2.10, always without `extra`); they are runs, not changes. The UI's
    // "mark success" has the same name but carries its request in `extra`.
    if TASK_STATES.contains(&lower.as_str())
        && (record.try_number.is_some() || record.extra.is_none())
    {
        return None;
    }
    let channel_free = lower
        .strip_prefix("api.")
        .or_else(|| lower.strip_prefix("ui."))
        .or_else(|| lower.strip_prefix("cli_"))
        .unwrap_or(&lower);
    let action = classify(&words(channel_free))?;
    let extra = parsed_extra(record.extra.as_deref());
    if changed_nothing(&extra) {
        return None;
    }
    let dag = record
        .dag_id
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(name);
    let run = record
        .run_id
        .clone()
        .or_else(|| field(&extra, &["dag_run_id", "run_id"]))
        .map(|r| name(&r));
    let tasks = task_ids(record, &extra);
    let (resource, resource_type) = target(action, dag.as_deref(), &extra);
    let mut touches = Vec::new();
    if let Some(dag) = &dag {
        if *dag != resource {
            touches.push(dag.clone());
        }
        touches.extend(tasks.iter().map(|t| format!("{dag}.{t}")));
    }
    let resource_id = match (&dag, &run) {
        (Some(dag), Some(run)) => Some(format!("{dag}/{run}")),
        _ => None,
    };
    let summary = summary(
        action,
        &Subject {
            event: &name(event),
            resource: &resource,
            resource_type,
            run: run.as_deref(),
            tasks: &tasks,
            extra: &extra,
        },
    );
    Some(Change {
        at,
        actor: record
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(name)
            .unwrap_or_else(|| "unknown".into()),
        operation: name(event),
        kind: action.kind(),
        resource,
        resource_type: resource_type.into(),
        resource_id,
        summary,
        origin: Some(for_screen(&origin(&lower, &extra, airflow3)).into_owned()),
        status: None,
        source: SOURCE.into(),
        touches,
    })
}

/// Whether an event (a [`Change`]'s `operation`) is a clear of task
/// instances, in any channel and version (`api.post_clear_task_instances`,
/// `clear`, `dagrun_clear`, `post_clear_task_instances`, `cli_tasks_clear`).
pub fn is_clear(operation: &str) -> bool {
    let lower = operation.trim().to_ascii_lowercase();
    let channel_free = lower
        .strip_prefix("api.")
        .or_else(|| lower.strip_prefix("ui."))
        .or_else(|| lower.strip_prefix("cli_"))
        .unwrap_or(&lower);
    classify(&words(channel_free)) == Some(Action::Clear)
}

/// The `resource_id` a record about run `dag_run_id` of `dag_id` carries.
pub fn run_resource_id(dag_id: &str, dag_run_id: &str) -> String {
    format!("{}/{}", name(dag_id), name(dag_run_id))
}

/// A DAG id as a record's `resource` shows it.
pub fn dag_resource(dag_id: &str) -> String {
    name(dag_id)
}

/// What the record changed: the DAG, else the variable, connection or pool named.
fn target(action: Action, dag: Option<&str>, extra: &Map<String, Value>) -> (String, &'static str) {
    let named = |keys: &[&str], kind: &'static str, all: &str| {
        (
            field(extra, keys)
                .map(|n| name(&n))
                .unwrap_or_else(|| all.into()),
            kind,
        )
    };
    match (action, dag) {
        (Action::Variable, _) => named(&["key", "variable_key"], "variable", "variables"),
        (Action::Connection, _) => {
            named(&["connection_id", "conn_id"], "connection", "connections")
        }
        (Action::Pool, _) => named(&["name", "pool_name", "pool"], "pool", "pools"),
        (Action::Access, _) => named(
            &["username", "user", "role", "name"],
            "access",
            "users and roles",
        ),
        (_, Some(dag)) => (dag.to_string(), "dag"),
        (_, None) => ("airflow".into(), "airflow"),
    }
}

/// What a summary is written from.
struct Subject<'a> {
    event: &'a str,
    resource: &'a str,
    resource_type: &'a str,
    run: Option<&'a str>,
    tasks: &'a [String],
    extra: &'a Map<String, Value>,
}

fn summary(action: Action, s: &Subject) -> String {
    let run = s.run.map(|r| format!(" run {r} of")).unwrap_or_default();
    let tasks = if s.tasks.is_empty() {
        String::new()
    } else {
        format!(" task(s) {} in", s.tasks.join(", "))
    };
    let verb = crud_verb(s.event);
    let text = match action {
        Action::Clear => {
            let only_failed = if s.extra.get("only_failed") == Some(&Value::Bool(true)) {
                " (only failed tasks)"
            } else {
                ""
            };
            format!("cleared{tasks}{run} DAG {}{only_failed}", s.resource)
        }
        Action::Trigger => {
            let w = words(s.event);
            let has = |x: &str| w.iter().any(|y| y == x);
            if has("trigger") || (has("post") && has("run")) {
                format!("triggered{run} DAG {}", s.resource)
            } else {
                format!("{}{run} DAG {}", s.event, s.resource)
            }
        }
        Action::Pause => match s.extra.get("is_paused").and_then(text_of).as_deref() {
            Some("true") => format!("paused DAG {}", s.resource),
            Some("false") => format!("unpaused DAG {}", s.resource),
            _ => format!("changed whether DAG {} is paused ({})", s.resource, s.event),
        },
        Action::RunState => {
            let state = field(s.extra, &["new_state", "state"])
                .map(|st| format!(": state set to {}", name(&st)))
                .unwrap_or_default();
            format!("{}{tasks}{run} DAG {}{state}", s.event, s.resource)
        }
        Action::Variable => {
            let value = field(s.extra, &["val", "value"])
                .filter(|_| !redact::is_secret_key(s.resource))
                .map(|v| format!(" (value {})", clip(&name(&v), MAX_VALUE)))
                .unwrap_or_default();
            format!("{verb} {} {}{value}", s.resource_type, s.resource)
        }
        Action::Connection => {
            // Which fields were sent, never their values: a connection is a credential.
            let fields: Vec<&str> = s
                .extra
                .keys()
                .map(String::as_str)
                .filter(|k| !matches!(*k, "connection_id" | "conn_id" | "method"))
                .collect();
            let fields = if fields.is_empty() {
                String::new()
            } else {
                format!(" (fields: {})", fields.join(", "))
            };
            format!("{verb} {} {}{fields}", s.resource_type, s.resource)
        }
        Action::Pool => {
            let slots = field(s.extra, &["slots"])
                .map(|n| format!(" (slots {})", name(&n)))
                .unwrap_or_default();
            format!("{verb} {} {}{slots}", s.resource_type, s.resource)
        }
        Action::Access => format!("{}: {}", s.event, s.resource),
        Action::Delete => format!("{}{run} {} {}", s.event, s.resource_type, s.resource),
        Action::Other => format!("{}{run} {} {}", s.event, s.resource_type, s.resource),
    };
    for_screen(&text).into_owned()
}

/// "created", "changed", "deleted" or "imported", from the event's name.
fn crud_verb(event: &str) -> &'static str {
    let w = words(event);
    let has = |x: &str| w.iter().any(|y| y == x);
    if has("delete") || has("muldelete") {
        "deleted"
    } else if has("post") || has("create") || has("add") {
        "created"
    } else if w.iter().any(|y| y.ends_with("import")) {
        "imported"
    } else {
        "changed"
    }
}

#[cfg(test)]
mod tests;
