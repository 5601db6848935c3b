//! opsdeck against a real Apache Airflow running on this machine, 2.10.5 (REST
//! API v1, basic auth) and 3.1.3 (REST API v2, JWT): a DAG whose Databricks
//! step fails on a schema change is run; `opsdeck serve --backend airflow`
//! (which finds the API version by asking) lists it, finds the failing task
//! and its log, triages it, previews a rerun through the official Python MCP
//! SDK client; then a real rerun clears the tasks and Airflow runs them again.
//! The two Airflows take turns: both at once would starve a 2-core machine.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use common::airflow::{PASSWORD, RealAirflow, Release, USER};
use common::process::{OPSDECK, client_report, python_mcp_client, tempdir};
use opsdeck::backends::Backends;
use opsdeck::backends::airflow::api::ApiVersion;
use opsdeck::backends::airflow::{AirflowBackend, AirflowSettings};
use opsdeck::model::time::SystemClock;

const DAG: &str = "nightly_orders";
const RUN: &str = "manual__incident_1";
const RUN_KEY: &str = "nightly_orders/manual__incident_1";

fn python_client(airflow: &RealAirflow, databricks: &str, calls: &[(&str, Value)]) -> Vec<Value> {
    let mut command = python_mcp_client("venv-mcp2", 120);
    for (tool, args) in calls {
        command.args(["--call", tool, &args.to_string()]);
    }
    // The SDK passes only a few variables to the server; `env` sets the rest.
    command.args([
        "--stdio",
        "--",
        "env",
        &format!("AIRFLOW_URL={}", airflow.url),
        &format!("AIRFLOW_USERNAME={USER}"),
        &format!("AIRFLOW_PASSWORD={PASSWORD}"),
        "OPSDECK_AIRFLOW_ENVIRONMENT=prod",
        &format!("DATABRICKS_HOST={databricks}"),
        "DATABRICKS_TOKEN=dapi-test-token",
        &format!(
            "OPSDECK_LOG_DIR={}",
            tempdir("airflow-serve-logs").display()
        ),
        OPSDECK,
        "serve",
        "--backend",
        "airflow",
    ]);
    let report = client_report(&command.output().expect("the python client runs"));
    report["calls"].as_array().cloned().unwrap_or_default()
}

fn structured(calls: &[Value], tool: &str) -> Value {
    let call = calls
        .iter()
        .find(|c| c["tool"] == tool)
        .unwrap_or_else(|| panic!("no {tool} call"));
    assert_eq!(call["is_error"], false, "{call}");
    call["structured"].clone()
}

/// opsdeck's Airflow backend on `airflow`, signed in as the test user.
fn backend(airflow: &RealAirflow, version: ApiVersion, password: &str) -> AirflowBackend {
    let lookup = |name: &str| match name {
        "AIRFLOW_URL" => Some(airflow.url.clone()),
        "AIRFLOW_USERNAME" => Some(USER.to_string()),
        "AIRFLOW_PASSWORD" => Some(password.to_string()),
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

static ONE_AIRFLOW_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn opsdeck_triages_and_reruns_a_real_airflow_2_failure() {
    let _turn = ONE_AIRFLOW_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    triage_and_rerun(Release::Airflow2, ApiVersion::V1);
}

#[test]
fn opsdeck_triages_and_reruns_a_real_airflow_3_failure() {
    let _turn = ONE_AIRFLOW_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    triage_and_rerun(Release::Airflow3, ApiVersion::V2);
}

fn triage_and_rerun(release: Release, version: ApiVersion) {
    // The Databricks workspace the DAG's job runs in (Jobs API stand-in).
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let databricks = runtime.block_on(async {
        let fake = common::azure::FakeApi::start().await;
        fake.serve_databricks_workspace();
        fake
    });
    let airflow = RealAirflow::start_release(release);
    let run = airflow.run_to_completion(DAG, RUN);
    assert_eq!(run["state"], "failed", "the DAG fails as designed: {run}");
    airflow.wait_until(
        "Airflow has parsed the DAG file that fails to import",
        Duration::from_secs(120),
        |a| {
            a.get(&format!("{}/importErrors", release.api()))
                .is_some_and(|e| e["total_entries"].as_u64().unwrap_or(0) >= 1)
        },
    );

    let calls = python_client(
        &airflow,
        &databricks.base,
        &[
            ("list_pipeline_runs", json!({"since": "1h"})),
            ("get_pipeline_status", json!({"pipeline": DAG})),
            ("get_run_details", json!({"run_id": RUN_KEY})),
            ("get_failed_tasks_summary", json!({"since": "1h"})),
            ("fetch_logs", json!({"run_id": RUN_KEY, "level": "ERROR"})),
            ("triage_run", json!({"run_id": RUN_KEY})),
            (
                "rerun_pipeline",
                json!({"pipeline": DAG, "run_id": RUN_KEY}),
            ),
            (
                "get_pipeline_status",
                json!({"pipeline": "orders_backfill"}),
            ),
        ],
    );

    // A DAG missing because its file fails to import: the answer says why.
    let missing = calls
        .iter()
        .find(|c| c["tool"] == "get_pipeline_status" && c["is_error"] == true)
        .expect("the missing DAG is an error");
    let text = missing.to_string();
    assert!(
        text.contains("orders_backfill.py, which failed to load")
            && text.contains("ModuleNotFoundError"),
        "the import error explains the missing DAG: {text}"
    );

    let runs = structured(&calls, "list_pipeline_runs");
    assert_eq!(runs["runs"][0]["run_id"], RUN_KEY);
    assert_eq!(runs["runs"][0]["status"], "Failed");
    assert_eq!(runs["runs"][0]["environment"], "prod");
    assert_eq!(runs["runs"][0]["backend"], "airflow");

    let status = structured(&calls, "get_pipeline_status");
    assert_eq!(status["state"], "failing");

    let details = structured(&calls, "get_run_details");
    assert_eq!(
        details["failed_activities"],
        json!(["transform_on_databricks"])
    );
    let transforms: Vec<Value> = details["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["activity_name"] == "transform_on_databricks")
        .cloned()
        .collect();
    assert_eq!(
        transforms.len(),
        2,
        "each try is an activity run: {details}"
    );
    assert_eq!(transforms[0]["attempt"], 1);
    assert_eq!(transforms[0]["status"], "Failed");
    assert_eq!(
        transforms[0]["error"]["code"], "AirflowException",
        "the first try's error, from its own log"
    );
    let transform = transforms[1].clone();
    assert_eq!(
        transform["attempt"], 2,
        "one retry: the second try failed too"
    );
    // The hop: the task's log names Databricks run 448812, whose failing task's
    // error is the root cause; Airflow's own error is kept beside it.
    assert_eq!(
        transform["error"]["code"], "AnalysisException",
        "{transform}"
    );
    let message = transform["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Databricks run 448812, task build_order_facts: AnalysisException"),
        "{message}"
    );
    assert_eq!(transform["output"]["databricks_run_id"], "448812");
    assert!(
        transform["output"]["airflow_error"]
            .as_str()
            .unwrap()
            .starts_with("AirflowException")
    );
    assert!(
        transform["output"]["databricks_error_trace"]
            .as_str()
            .unwrap()
            .contains("Traceback")
    );
    assert_eq!(
        databricks.requests_to("/runs/get-output")[0]
            .query_param("run_id")
            .as_deref(),
        Some("448814"),
        "the failed task's own output was read"
    );
    let publish = details["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["activity_name"] == "publish")
        .cloned()
        .unwrap();
    assert_eq!(
        publish["status"], "Skipped",
        "upstream_failed is not a failure of its own"
    );

    let failures = structured(&calls, "get_failed_tasks_summary");
    assert_eq!(failures["groups"][0]["activity"], "transform_on_databricks");

    let logs = structured(&calls, "fetch_logs");
    assert!(logs["count"].as_u64().unwrap() >= 1, "{logs}");
    assert!(logs.to_string().contains("order_ts"), "{logs}");

    let triage = structured(&calls, "triage_run");
    assert_eq!(
        triage["failing_path"][0]["activity"],
        "transform_on_databricks"
    );
    assert_eq!(triage["category"], "schema_drift", "{triage}");
    let cause = triage["root_cause"].as_str().unwrap();
    assert!(
        cause.contains("AnalysisException") && cause.contains("order_ts"),
        "the Databricks error is the root cause: {cause}"
    );
    assert!(
        triage.to_string().contains("Databricks run 448812"),
        "the report says where the cause came from: {triage}"
    );

    let preview = structured(&calls, "rerun_pipeline");
    assert_eq!(preview["dry_run"], true);
    let steps = preview["steps"].to_string();
    assert!(
        steps.contains("transform_on_databricks, publish"),
        "{steps}"
    );
    assert!(
        !steps.contains("extract"),
        "succeeded tasks are not cleared: {steps}"
    );
    assert_eq!(
        airflow.task(DAG, RUN, "transform_on_databricks")["try_number"],
        2,
        "a dry run changes nothing"
    );

    // A real rerun through an rmcp client: Airflow clears and runs the tasks again.
    runtime.block_on(async {
        let backend = std::sync::Arc::new(backend(&airflow, version, PASSWORD));
        let backends = Backends {
            label: "airflow/test".into(),
            pipelines: vec![backend.clone()],
            secrets: vec![],
            infra: vec![],
            logs: vec![backend],
            changes: Vec::new(),
            clock: std::sync::Arc::new(SystemClock),
        };
        let tools = common::connect(backends, false).await;
        let done = tools
            .ok(
                "rerun_pipeline",
                json!({"pipeline": DAG, "run_id": RUN_KEY, "dry_run": false}),
            )
            .await;
        assert!(done["steps"].to_string().contains("Cleared"), "{done}");
        assert_eq!(done["new_run_id"], RUN_KEY, "Airflow re-runs in place");
    });
    airflow.wait_until(
        "the cleared task has run again",
        Duration::from_secs(180),
        |a| {
            let task = a.task(DAG, RUN, "transform_on_databricks");
            task["try_number"].as_u64().unwrap_or(0) > 2
                && (task["state"] == "failed" || task["state"] == "success")
        },
    );
    assert_eq!(
        airflow.task(DAG, RUN, "extract")["try_number"],
        1,
        "extract kept its result"
    );

    // A run of a paused DAG stays queued: it has no start yet, and is listed.
    airflow.patch(
        &format!("{}/dags/{DAG}", release.api()),
        json!({"is_paused": true}),
    );
    airflow.trigger(DAG, "manual__queued_1");
    runtime.block_on(async {
        let backend = backend(&airflow, version, PASSWORD);
        let page = opsdeck::backends::PipelineBackend::query_runs(
            &backend,
            &opsdeck::backends::RunQuery {
                pipelines: vec![DAG.into()],
                statuses: vec![],
                window: opsdeck::model::time::TimeWindow {
                    since: chrono::Utc::now() - chrono::Duration::hours(1),
                    until: chrono::Utc::now(),
                },
                limit: 10,
                continuation: None,
            },
        )
        .await
        .expect("runs");
        let queued = page
            .runs
            .iter()
            .find(|r| r.run_id == format!("{DAG}/manual__queued_1"))
            .unwrap_or_else(|| panic!("the queued run is listed: {:?}", page.runs));
        assert_eq!(queued.status, opsdeck::model::run::RunStatus::Queued);
        assert!(queued.run_start.is_none(), "{queued:?}");
        assert!(
            page.runs.iter().any(|r| r.run_id == RUN_KEY),
            "the window's runs follow"
        );
    });

    // Wrong credentials: a clear error, not a crash.
    runtime.block_on(async {
        let backend = backend(&airflow, version, "wrong");
        let err = opsdeck::backends::PipelineBackend::catalog(&backend)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Airflow did not accept the sign-in"), "{err}");
    });
}
