use serde_json::{Value, json};

use super::*;

/// An audit log answer recorded from the real Airflow of the test suite
/// (fixtures/airflow/README.md says how).
fn recorded(name: &str) -> Vec<EventLog> {
    let path = format!("{}/fixtures/airflow/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(answer["event_logs"].clone()).unwrap()
}

fn changes_of(records: &[EventLog], airflow3: bool) -> Vec<Change> {
    records
        .iter()
        .filter_map(|r| change_of(r, airflow3))
        .collect()
}

fn record(value: Value) -> EventLog {
    serde_json::from_value(value).unwrap()
}

fn operations(changes: &[Change]) -> Vec<&str> {
    changes.iter().map(|c| c.operation.as_str()).collect()
}

fn find<'a>(changes: &'a [Change], operation: &str) -> &'a Change {
    changes
        .iter()
        .find(|c| c.operation == operation)
        .unwrap_or_else(|| panic!("no {operation} in {:?}", operations(changes)))
}

#[test]
fn airflow_2_changes_are_kept_and_its_runs_and_processes_are_not() {
    let changes = changes_of(&recorded("eventlogs.airflow-2.10.5.json"), false);
    assert_eq!(
        operations(&changes),
        [
            "api.update_dag_run_state",
            "api.post_pool",
            "api.connection.edit",
            "api.connection.create",
            "api.variable.edit",
            "api.variable.create",
            "api.patch_dag",
            "api.post_clear_task_instances",
            "api.post_dag_run",
            "cli_users_create",
        ]
    );
    let clear = find(&changes, "api.post_clear_task_instances");
    assert_eq!(clear.kind, ChangeKind::Operation);
    assert_eq!(clear.actor, "admin");
    assert_eq!(clear.resource, "nightly_orders");
    assert_eq!(clear.resource_type, "dag");
    assert_eq!(clear.resource_id.as_deref(), Some("nightly_orders/r1"));
    assert_eq!(clear.touches, ["nightly_orders.extract"]);
    assert_eq!(
        clear.summary,
        "cleared task(s) extract in run r1 of DAG nightly_orders"
    );
    assert_eq!(clear.origin.as_deref(), Some("REST API"));
    assert_eq!(clear.source, SOURCE);
    assert_eq!(
        clear.at.to_rfc3339(),
        "2026-12-05T21:08:09.884952+00:00",
        "the record's own time"
    );

    let pause = find(&changes, "api.patch_dag");
    assert_eq!(pause.kind, ChangeKind::Schedule);
    assert_eq!(pause.summary, "paused DAG nightly_orders");
    assert_eq!(
        find(&changes, "api.post_dag_run").kind,
        ChangeKind::Operation
    );
    assert_eq!(
        find(&changes, "api.variable.create").kind,
        ChangeKind::Configuration
    );
    assert_eq!(
        find(&changes, "api.variable.edit").resource,
        "orders_cutoff"
    );
    let connection = find(&changes, "api.connection.create");
    assert_eq!(connection.kind, ChangeKind::Secret);
    assert_eq!(connection.resource, "sftp_wms");
    assert_eq!(connection.resource_type, "connection");
    assert!(
        connection.summary.contains("password"),
        "{}",
        connection.summary
    );
    let users = find(&changes, "cli_users_create");
    assert_eq!(users.kind, ChangeKind::Access);
    assert_eq!(users.origin.as_deref(), Some("CLI (users_create) on vm"));
    let state = find(&changes, "api.update_dag_run_state");
    assert!(
        state.summary.ends_with("state set to success"),
        "{}",
        state.summary
    );
}

#[test]
fn airflow_3_changes_are_kept_and_its_processes_are_not() {
    let changes = changes_of(&recorded("eventlogs.airflow-3.1.3.json"), true);
    assert_eq!(
        operations(&changes),
        [
            "patch_dag_run",
            "post_pool",
            "delete_variable",
            "patch_connection",
            "post_connection",
            "patch_variable",
            "post_variable",
            "patch_dag",
            "post_clear_task_instances",
            "trigger_dag_run",
        ]
    );
    let clear = find(&changes, "post_clear_task_instances");
    assert_eq!(clear.kind, ChangeKind::Operation);
    assert_eq!(clear.actor, "admin");
    assert_eq!(clear.touches, ["nightly_orders.extract"]);
    assert_eq!(clear.resource_id.as_deref(), Some("nightly_orders/r1"));
    assert_eq!(
        clear.origin.as_deref(),
        Some("API server (REST API or web UI)")
    );
    let deleted = find(&changes, "delete_variable");
    assert_eq!(deleted.resource, "orders_cutoff");
    assert_eq!(deleted.summary, "deleted variable orders_cutoff");
    assert_eq!(
        find(&changes, "patch_dag").summary,
        "paused DAG nightly_orders"
    );
    assert_eq!(
        find(&changes, "post_pool").summary,
        "created pool p1 (slots 3)"
    );
    assert_eq!(
        find(&changes, "trigger_dag_run").kind,
        ChangeKind::Operation
    );
    let connection = find(&changes, "patch_connection");
    assert!(
        !connection.summary.contains("wms2.example.com"),
        "a connection's values are not repeated: {}",
        connection.summary
    );
}

#[test]
fn secrets_in_extra_never_reach_a_change() {
    let records = [
        record(json!({
            "event": "connection.edit", "when": "2026-11-23T02:00:00Z", "owner": "ops",
            "extra": json!({"conn_id": "warehouse", "password": "hunter2-unmasked",
                            "extra": "{\"token\": \"dapi0123456789abcdef0123456789abcdef\"}",
                            "host": "postgres://etl:s3cr3t-pw@db.internal/orders"}).to_string()
        })),
        record(json!({
            "event": "api.variable.create", "when": "2026-11-23T02:00:00Z", "owner": "ops",
            "extra": json!({"key": "stripe_api_key", "value": "sk_live_51Habcdefghijklmnop"}).to_string()
        })),
        record(json!({
            "event": "api.patch_dag_run", "dag_id": "d", "when": "2026-11-23T02:00:00Z",
            "owner": "ops", "extra": json!({"note": "password=hunter3-in-a-note"}).to_string()
        })),
    ];
    let changes = changes_of(&records, false);
    assert_eq!(changes.len(), 3);
    let all = serde_json::to_string(&changes).unwrap();
    for secret in [
        "hunter2",
        "dapi0123",
        "s3cr3t-pw",
        "sk_live",
        "hunter3",
        "db.internal",
    ] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
    assert_eq!(changes[0].kind, ChangeKind::Secret);
    assert_eq!(changes[0].resource, "warehouse");
    assert_eq!(changes[1].resource, "stripe_api_key");
}

#[test]
fn dry_runs_unconfirmed_steps_reads_and_task_states_are_not_changes() {
    let at = "2026-11-23T02:00:00+00:00";
    let none = [
        // opsdeck's own rerun preview on Airflow 2.
        json!({"event": "api.post_clear_task_instances", "dag_id": "d", "when": at, "owner": "ops",
               "extra": json!({"dry_run": true, "dag_run_id": "r"}).to_string()}),
        // The classic UI's first step of a clear lists what would be cleared.
        json!({"event": "clear", "dag_id": "d", "when": at, "owner": "ops",
               "extra": json!({"confirmed": "false"}).to_string()}),
        json!({"event": "grid", "dag_id": "d", "when": at, "owner": "ops", "extra": "{}"}),
        json!({"event": "get_task_instances_batch", "when": at, "owner": "ops", "extra": "{}"}),
        json!({"event": "favorite_dag", "dag_id": "d", "when": at, "owner": "ops", "extra": "{}"}),
        json!({"event": "cli_task_run", "dag_id": "d", "when": at, "owner": "root",
               "extra": json!({"host_name": "w1"}).to_string()}),
        // A task state transition before Airflow 2.10 (no try number, no extra).
        json!({"event": "success", "dag_id": "d", "task_id": "t", "when": at, "owner": "airflow"}),
        json!({"event": "failed", "dag_id": "d", "task_id": "t", "when": at, "owner": "airflow",
               "try_number": 2, "extra": null}),
    ];
    for raw in none {
        assert_eq!(change_of(&record(raw.clone()), false), None, "{raw}");
    }
    // The UI's "mark success", confirmed, is a change by a person.
    let marked = change_of(
        &record(json!({"event": "success", "dag_id": "d", "task_id": "t", "when": at,
                       "owner": "alice", "extra": json!({"confirmed": "true", "state": "success"}).to_string()})),
        false,
    )
    .unwrap();
    assert_eq!(marked.kind, ChangeKind::Operation);
    assert_eq!(marked.actor, "alice");
    assert_eq!(marked.touches, ["d.t"]);
    assert_eq!(marked.origin.as_deref(), Some("web UI"));
}

#[test]
fn broken_records_are_skipped_or_read_as_far_as_they_go() {
    for raw in [
        json!({"event": "api.patch_dag", "owner": "ops"}),
        json!({"event": "api.patch_dag", "when": "yesterday"}),
        json!({"event": "  ", "when": "2026-11-23T02:00:00Z"}),
        json!({"when": "2026-11-23T02:00:00Z"}),
    ] {
        assert_eq!(change_of(&record(raw.clone()), false), None, "{raw}");
    }
    // Extra that is not JSON (Airflow 2 before 2.8 wrote Python reprs), no owner.
    let old = change_of(
        &record(
            json!({"event": "paused", "dag_id": "d", "when": "2026-11-23T02:00:00",
                       "extra": "[('is_paused', 'false')]"}),
        ),
        false,
    )
    .unwrap();
    assert_eq!(old.kind, ChangeKind::Schedule);
    assert_eq!(old.actor, "unknown");
    assert_eq!(old.summary, "changed whether DAG d is paused (paused)");
}

#[test]
fn names_are_bounded_and_terminal_safe() {
    let long = "x".repeat(5_000);
    let change = change_of(
        &record(
            json!({"event": "api.patch_dag", "dag_id": format!("evil\u{1b}[2J{long}"),
                       "when": "2026-11-23T02:00:00Z", "owner": "o\u{7}ps",
                       "extra": json!({"is_paused": false}).to_string()}),
        ),
        false,
    )
    .unwrap();
    assert!(!change.resource.contains('\u{1b}'));
    assert!(change.resource.chars().count() <= MAX_NAME + 1);
    assert!(!change.actor.contains('\u{7}'));
    assert!(!change.summary.contains('\u{1b}'));
    assert!(change.summary.starts_with("unpaused DAG evil"));
}

#[test]
fn a_clear_names_every_task_it_asked_for_within_bounds() {
    let ids: Vec<Value> = (0..50).map(|i| json!(format!("t{i}"))).collect();
    let mut ids = ids;
    ids.push(json!(["mapped", 3]));
    let change = change_of(
        &record(json!({"event": "post_clear_task_instances", "dag_id": "d", "run_id": "r",
                       "when": "2026-11-23T02:00:00Z", "owner": "ops",
                       "extra": json!({"dry_run": false, "task_ids": ids, "only_failed": true}).to_string()})),
        true,
    )
    .unwrap();
    assert_eq!(change.touches.len(), MAX_TASKS_NAMED);
    assert_eq!(change.touches[0], "d.t0");
    assert!(
        change.summary.ends_with("(only failed tasks)"),
        "{}",
        change.summary
    );
}
