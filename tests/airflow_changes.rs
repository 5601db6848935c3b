//! What changed, on a real Apache Airflow running on this machine (2.10.5,
//! REST API v1; 3.1.3, REST API v2): the test user runs the DAG, clears a
//! failed task and pauses the DAG through the REST API; opsdeck's Airflow
//! change source then lists the clear with the user as actor and the task
//! named, and the pause, inside the window, and `what_changed` (through the
//! official Python MCP SDK client and `opsdeck serve --backend airflow`) does
//! the same scoped to the DAG. On Airflow 3 the DAG's first version is listed
//! as a deployment. The two Airflows take turns, each started once.

mod common;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use common::airflow::{PASSWORD, RealAirflow, Release, USER};
use common::process::{OPSDECK, client_report, python_mcp_client, tempdir};
use opsdeck::backends::airflow::api::ApiVersion;
use opsdeck::backends::airflow::{AirflowBackend, AirflowSettings};
use opsdeck::backends::{ChangeSource, ChangeWindow};
use opsdeck::model::change::{Change, ChangeKind};
use opsdeck::model::time::SystemClock;

const DAG: &str = "nightly_orders";
const RUN: &str = "manual__changed_1";
const TASK: &str = "transform_on_databricks";

static ONE_AIRFLOW_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_clear_and_a_pause_on_airflow_2_are_listed_with_who_did_them() {
    let _turn = ONE_AIRFLOW_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    clear_pause_and_look(Release::Airflow2, ApiVersion::V1);
}

#[test]
fn a_clear_and_a_pause_on_airflow_3_are_listed_with_who_did_them() {
    let _turn = ONE_AIRFLOW_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    clear_pause_and_look(Release::Airflow3, ApiVersion::V2);
}

fn backend(airflow: &RealAirflow, version: ApiVersion) -> AirflowBackend {
    let lookup = |name: &str| match name {
        "AIRFLOW_URL" => Some(airflow.url.clone()),
        "AIRFLOW_USERNAME" => Some(USER.to_string()),
        "AIRFLOW_PASSWORD" => Some(PASSWORD.to_string()),
        _ => None,
    };
    let settings = AirflowSettings::from_env(&lookup).expect("settings");
    AirflowBackend::new(
        &settings,
        version,
        std::sync::Arc::new(SystemClock),
        Default::default(),
    )
    .expect("backend")
}

fn changes_in(
    backend: &AirflowBackend,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Vec<Change> {
    let window = ChangeWindow { from, to, limit };
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(backend.changes(&window))
        .expect("the audit log reads")
}

fn clear_pause_and_look(release: Release, version: ApiVersion) {
    let before_start = Utc::now() - Duration::seconds(1);
    let airflow = RealAirflow::start_release(release);
    let run = airflow.run_to_completion(DAG, RUN);
    assert_eq!(run["state"], "failed", "the DAG fails as designed: {run}");

    let api = release.api();
    let before_clear = Utc::now() - Duration::milliseconds(500);
    // A dry run first (opsdeck's own rerun preview asks this): no change.
    airflow.post(
        &format!("{api}/dags/{DAG}/clearTaskInstances"),
        json!({"dry_run": true, "dag_run_id": RUN, "task_ids": [TASK], "only_failed": false}),
    );
    airflow.post(
        &format!("{api}/dags/{DAG}/clearTaskInstances"),
        json!({"dry_run": false, "dag_run_id": RUN, "task_ids": [TASK],
               "only_failed": false, "include_downstream": false}),
    );
    let between = Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    airflow.patch(&format!("{api}/dags/{DAG}"), json!({"is_paused": true}));
    let after_pause = Utc::now() + Duration::seconds(1);

    let opsdeck = backend(&airflow, version);
    let changes = changes_in(&opsdeck, before_start, after_pause, 100);
    let described: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {} {} by {}", c.at, c.operation, c.summary, c.actor))
        .collect();

    let clears: Vec<&Change> = changes
        .iter()
        .filter(|c| c.operation.contains("clear"))
        .collect();
    assert_eq!(
        clears.len(),
        1,
        "one clear, the dry run is not a change: {described:#?}"
    );
    let clear = clears[0];
    assert_eq!(clear.actor, USER, "who cleared it");
    assert_eq!(clear.kind, ChangeKind::Operation);
    assert_eq!(clear.resource, DAG);
    assert!(
        clear.touches.contains(&format!("{DAG}.{TASK}")),
        "the task is named: {clear:?}"
    );
    assert_eq!(
        clear.resource_id.as_deref(),
        Some(format!("{DAG}/{RUN}").as_str())
    );
    assert!(
        clear.at >= before_clear && clear.at <= between + Duration::seconds(1),
        "the clear's time {} is when it was made ({before_clear}..{between})",
        clear.at
    );
    assert!(
        clear.summary.contains(TASK) && clear.summary.contains(RUN),
        "{}",
        clear.summary
    );

    let pause = changes
        .iter()
        .find(|c| c.kind == ChangeKind::Schedule)
        .unwrap_or_else(|| panic!("the pause is listed: {described:#?}"));
    assert_eq!(pause.actor, USER);
    assert_eq!(pause.summary, format!("paused DAG {DAG}"));
    assert!(pause.at > clear.at, "newest first order is kept by time");
    assert!(
        changes.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first: {described:#?}"
    );
    // Task state transitions, task processes and daemons are not changes;
    // the suite's own `airflow users create` (Airflow 2) is, an access change.
    assert!(
        changes.iter().all(|c| c.actor == USER
            || c.source == "airflow dag versions"
            || (c.kind == ChangeKind::Access && c.operation == "cli_users_create")),
        "only the user's changes (and DAG versions): {described:#?}"
    );
    let trigger = changes
        .iter()
        .find(|c| c.summary == format!("triggered run {RUN} of DAG {DAG}"))
        .unwrap_or_else(|| panic!("the trigger of the run: {described:#?}"));
    assert_eq!(trigger.actor, USER);
    assert_eq!(trigger.kind, ChangeKind::Operation);
    if release == Release::Airflow3 {
        let version = changes
            .iter()
            .find(|c| c.kind == ChangeKind::Deployment)
            .unwrap_or_else(|| panic!("the DAG's first version: {described:#?}"));
        assert_eq!(version.resource, DAG);
        assert_eq!(
            version.resource_id.as_deref(),
            Some(format!("{DAG}@v1").as_str())
        );
    }

    // The window is honoured: after the clear only the pause is left, and a
    // limit of one keeps the newest.
    let later = changes_in(
        &opsdeck,
        between + Duration::milliseconds(500),
        after_pause,
        100,
    );
    assert!(
        later.iter().all(|c| !c.operation.contains("clear")),
        "{later:?}"
    );
    assert!(
        later.iter().any(|c| c.kind == ChangeKind::Schedule),
        "{later:?}"
    );
    let newest = changes_in(&opsdeck, before_start, after_pause, 1);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].kind, ChangeKind::Schedule);

    through_the_tool(&airflow);
}

/// `what_changed` through the official Python MCP SDK client and `opsdeck
/// serve --backend airflow`, scoped to the DAG.
fn through_the_tool(airflow: &RealAirflow) {
    let mut command = python_mcp_client("venv-mcp2", 120);
    command.args([
        "--call",
        "what_changed",
        &json!({"since": "1h", "pipeline": DAG}).to_string(),
        "--stdio",
        "--",
        "env",
        &format!("AIRFLOW_URL={}", airflow.url),
        &format!("AIRFLOW_USERNAME={USER}"),
        &format!("AIRFLOW_PASSWORD={PASSWORD}"),
        "OPSDECK_AIRFLOW_ENVIRONMENT=prod",
        &format!(
            "OPSDECK_LOG_DIR={}",
            tempdir("airflow-changes-logs").display()
        ),
        OPSDECK,
        "serve",
        "--backend",
        "airflow",
    ]);
    let report = client_report(&command.output().expect("the python client runs"));
    let call = report["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["tool"] == "what_changed"))
        .cloned()
        .unwrap_or_else(|| panic!("no what_changed call: {report}"));
    assert_eq!(call["is_error"], false, "{call}");
    let listed = call["structured"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let clear = listed
        .iter()
        .find(|c| c["operation"].as_str().is_some_and(|o| o.contains("clear")))
        .unwrap_or_else(|| panic!("the clear is listed by the tool: {call}"));
    assert_eq!(clear["actor"], USER);
    assert!(
        clear["touches"]
            .as_array()
            .is_some_and(|t| t.contains(&Value::from(format!("{DAG}.{TASK}")))),
        "{clear}"
    );
    assert!(
        listed
            .iter()
            .any(|c| c["kind"] == "schedule" && c["actor"] == USER),
        "the pause is listed by the tool: {call}"
    );
}
