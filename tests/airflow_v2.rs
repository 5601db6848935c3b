//! The Airflow backend against Airflow 3's REST API v2, with payloads shaped
//! by the vendor's OpenAPI document (../shared/fixtures/vendor/airflow/3.3.2):
//! the version is found by probing, a JWT is bought once at `POST /auth/token`,
//! and structured JSON task logs are read like Airflow 2's text logs.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};

use common::azure::{FakeApi, Recorded, Reply, sales_clock};
use opsdeck::backends::Backends;
use opsdeck::backends::airflow::api::ApiVersion;
use opsdeck::backends::airflow::{AirflowBackend, AirflowSettings};

const RUN: &str = "manual__2026-11-23T02:00:00+00:00";

fn airflow3(fake: &FakeApi) {
    // An unsigned JWT whose payload says it expires in 2099.
    let jwt = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJvbmNhbGwiLCJleHAiOjQwNzA5MDg4MDB9.c2ln";
    fake.route_fn("POST", "/auth/token", move |r: &Recorded| {
        if r.body == json!({"username": "oncall", "password": "s3cret"}) {
            Reply::json(201, json!({"access_token": jwt}))
        } else {
            Reply::json(401, json!({"detail": "Invalid credentials"}))
        }
    });
    fake.route(
        "GET",
        "/api/v2/version",
        None,
        vec![Reply::json(
            200,
            json!({"version": "3.0.2", "git_version": null}),
        )],
    );
    fake.route("GET", "/api/v2/monitor/health", None, vec![Reply::json(200, json!({"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-11-23T03:41:58+00:00"}}))]);
    fake.route(
        "GET",
        "/api/v2/importErrors",
        None,
        vec![Reply::json(
            200,
            json!({"import_errors": [], "total_entries": 0}),
        )],
    );
    fake.route(
        "GET",
        "/api/v2/dags",
        None,
        vec![Reply::json(200, json!({"dags": [{
            "dag_id": "nightly_orders", "dag_display_name": "nightly_orders", "is_paused": false, "is_stale": false,
            "fileloc": "/opt/airflow/dags/nightly_orders.py", "description": "Orders to the lake",
            "timetable_summary": "0 2 * * *", "timetable_description": "At 02:00", "tags": [{"name": "sales", "dag_id": "nightly_orders"}],
            "max_active_tasks": 16, "has_import_errors": false, "owners": ["data"], "file_token": "x"
        }], "total_entries": 1}))],
    );
    fake.route(
        "GET",
        "/api/v2/dags/nightly_orders/tasks",
        None,
        vec![Reply::json(200, json!({"tasks": [
            {"task_id": "extract", "operator_name": "PythonOperator", "downstream_task_ids": ["transform_on_databricks"], "retries": 1.0},
            {"task_id": "transform_on_databricks", "operator_name": "DatabricksSubmitRunOperator", "downstream_task_ids": [], "retries": 1.0}
        ], "total_entries": 2}))],
    );
    let run = json!({
        "dag_run_id": RUN, "dag_id": "nightly_orders", "logical_date": "2026-11-23T02:00:00Z",
        "queued_at": "2026-11-23T02:00:00.5Z", "start_date": "2026-11-23T02:00:01.123456Z", "end_date": "2026-11-23T02:04:10Z",
        "duration": 249.0, "run_after": "2026-11-23T02:00:00Z", "run_type": "manual", "state": "failed",
        "triggered_by": "rest_api", "triggering_user_name": "oncall", "conf": {}, "note": null, "dag_versions": []
    });
    let listing = json!({"dag_runs": [run.clone()], "total_entries": 1});
    fake.route(
        "POST",
        "/api/v2/dags/~/dagRuns/list",
        None,
        vec![Reply::json(200, listing)],
    );
    // Keyset paging: tonight's failed run, then yesterday's success.
    let mut older = run.clone();
    older["dag_run_id"] = json!("scheduled__2026-11-22T02:00:00+00:00");
    older["state"] = json!("success");
    older["start_date"] = json!("2026-11-22T02:00:01Z");
    older["end_date"] = json!("2026-11-22T02:05:00Z");
    for dag in ["~", "nightly_orders"] {
        let (first, older) = (run.clone(), older.clone());
        fake.route_fn("GET", &format!("/api/v2/dags/{dag}/dagRuns"), move |r: &Recorded| {
            match r.query_param("cursor").as_deref() {
                Some("") => Reply::json(200, json!({"dag_runs": [first], "total_entries": 2, "next_cursor": "eyJzdGFydF9kYXRlIjoiMjAyNi0xMS0yMyJ9", "previous_cursor": null})),
                Some("eyJzdGFydF9kYXRlIjoiMjAyNi0xMS0yMyJ9") => Reply::json(200, json!({"dag_runs": [older], "total_entries": 2, "next_cursor": null, "previous_cursor": "x"})),
                other => Reply::json(400, json!({"detail": format!("bad cursor {other:?}"), "title": "Bad Request"})),
            }
        });
    }
    fake.route(
        "GET",
        &format!("/api/v2/dags/nightly_orders/dagRuns/{RUN}"),
        None,
        vec![Reply::json(200, run)],
    );
    fake.route(
        "GET",
        &format!("/api/v2/dags/nightly_orders/dagRuns/{RUN}/taskInstances"),
        None,
        vec![Reply::json(200, json!({"task_instances": [
            {"id": "0190-a", "task_id": "extract", "dag_id": "nightly_orders", "dag_run_id": RUN, "map_index": -1,
             "start_date": "2026-11-23T02:00:02Z", "end_date": "2026-11-23T02:00:09Z", "duration": 7.0, "state": "success",
             "try_number": 1, "max_tries": 1, "operator": "PythonOperator", "operator_name": "PythonOperator"},
            {"id": "0190-b", "task_id": "transform_on_databricks", "dag_id": "nightly_orders", "dag_run_id": RUN, "map_index": -1,
             "start_date": "2026-11-23T02:02:00Z", "end_date": "2026-11-23T02:04:09Z", "duration": 129.0, "state": "failed",
             "try_number": 2, "max_tries": 1, "operator": "DatabricksSubmitRunOperator", "operator_name": "DatabricksSubmitRunOperator"}
        ], "total_entries": 2}))],
    );
    fake.route(
        "GET",
        &format!("/api/v2/dags/nightly_orders/dagRuns/{RUN}/taskInstances/transform_on_databricks/logs/2"),
        None,
        vec![Reply::json(200, json!({"content": [
            {"event": "::group::Log message source details", "sources": ["/opt/airflow/logs/x/attempt=2.log"]},
            {"event": "::endgroup::"},
            {"timestamp": "2026-11-23T02:02:01.000000Z", "level": "info", "event": "Run submitted with run_id: 448812", "logger": "airflow.task.operators"},
            {"timestamp": "2026-11-23T02:04:09.000000Z", "level": "error", "event": "Task failed with exception", "logger": "task",
             "error_detail": [{"exc_type": "AirflowException", "exc_value": "Job run failed with terminal state: FAILED. AnalysisException: `order_ts` cannot be resolved",
                               "syntax_error": null, "is_cause": false, "frames": [{"filename": "/opt/airflow/dags/nightly_orders.py", "lineno": 41, "name": "execute"}]}]}
        ], "continuation_token": null}))],
    );
    fake.route(
        "POST",
        "/api/v2/dags/nightly_orders/clearTaskInstances",
        None,
        vec![Reply::json(200, json!({"task_instances": [
            {"task_id": "transform_on_databricks", "dag_id": "nightly_orders", "dag_run_id": RUN, "state": "failed", "try_number": 2, "map_index": -1}
        ], "total_entries": 1}))],
    );
}

fn settings(fake: &FakeApi) -> AirflowSettings {
    let url = fake.base.clone();
    AirflowSettings::from_env(&|name| match name {
        "AIRFLOW_URL" => Some(url.clone()),
        "AIRFLOW_USERNAME" => Some("oncall".into()),
        "AIRFLOW_PASSWORD" => Some("s3cret".into()),
        "OPSDECK_AIRFLOW_ENVIRONMENT" => Some("prod".into()),
        _ => None,
    })
    .unwrap()
}

#[tokio::test]
async fn airflow_3_is_found_signed_in_with_a_jwt_and_triaged() {
    let fake = FakeApi::start().await;
    airflow3(&fake);
    let settings = settings(&fake);
    assert_eq!(settings.resolve_version().await, ApiVersion::V2);
    let backend = Arc::new(
        AirflowBackend::new(
            &settings,
            ApiVersion::V2,
            sales_clock(),
            common::azure::quick_retries(),
        )
        .unwrap(),
    );
    let health = opsdeck::backends::PipelineBackend::health(backend.as_ref()).await;
    assert!(health.ok, "{health:?}");
    assert!(
        health.detail.contains("Airflow 3.0.2 (REST API v2)"),
        "{}",
        health.detail
    );
    let backends = Backends {
        label: "airflow/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![],
        logs: vec![backend],
        changes: Vec::new(),
        clock: sales_clock(),
    };
    let tools = common::connect(backends, false).await;
    let run_key = format!("nightly_orders/{RUN}");
    let details = tools
        .ok("get_run_details", json!({"run_id": run_key}))
        .await;
    let failed = details["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["activity_name"] == "transform_on_databricks")
        .cloned()
        .unwrap();
    assert_eq!(failed["error"]["code"], "AirflowException");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order_ts")
    );
    assert_eq!(failed["output"]["databricks_run_id"], "448812");
    let status = tools
        .ok("get_pipeline_status", json!({"pipeline": "nightly_orders"}))
        .await;
    assert!(
        status["schedule"].as_str().unwrap().contains("0 2 * * *"),
        "{status}"
    );
    let logs = tools
        .ok(
            "fetch_logs",
            json!({"run_id": run_key, "level": "ERROR", "since": "3h"}),
        )
        .await;
    assert!(logs.to_string().contains("order_ts"), "{logs}");
    let preview = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "nightly_orders", "run_id": run_key}),
        )
        .await;
    assert!(
        preview["steps"][0]
            .as_str()
            .unwrap()
            .contains("transform_on_databricks")
    );

    let first_page = tools
        .ok(
            "list_pipeline_runs",
            json!({"pipeline": "nightly_orders", "since": "2d", "limit": 1}),
        )
        .await;
    assert_eq!(first_page["runs"][0]["status"], "Failed");
    let token = first_page["continuation_token"]
        .as_str()
        .unwrap()
        .to_string();
    let second_page = tools
        .ok(
            "list_pipeline_runs",
            json!({"pipeline": "nightly_orders", "since": "2d", "limit": 1, "continuation_token": token}),
        )
        .await;
    assert_eq!(second_page["runs"][0]["status"], "Succeeded");
    assert!(second_page["continuation_token"].is_null(), "{second_page}");
    let cursors: Vec<Option<String>> = fake
        .requests_to("/api/v2/dags/nightly_orders/dagRuns")
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/dagRuns"))
        .map(|r| r.query_param("cursor"))
        .collect();
    assert!(
        cursors.contains(&Some(String::new()))
            && cursors.contains(&Some("eyJzdGFydF9kYXRlIjoiMjAyNi0xMS0yMyJ9".into())),
        "{cursors:?}"
    );

    let tokens = fake.requests_to("/auth/token");
    assert_eq!(tokens.len(), 1, "one JWT, reused");
    let api: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v2/dags"))
        .collect();
    assert!(!api.is_empty());
    assert!(api.iter().all(|r| {
        r.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer eyJ"))
    }));
    let cleared: Value = fake.requests_to("/clearTaskInstances")[0].body.clone();
    assert_eq!(cleared["dry_run"], true);
    assert_eq!(cleared["only_failed"], true);
}

#[tokio::test]
async fn a_wrong_airflow_3_password_is_reported_clearly() {
    let fake = FakeApi::start().await;
    airflow3(&fake);
    let url = fake.base.clone();
    let settings = AirflowSettings::from_env(&|name| match name {
        "AIRFLOW_URL" => Some(url.clone()),
        "AIRFLOW_USERNAME" => Some("oncall".into()),
        "AIRFLOW_PASSWORD" => Some("wrong".into()),
        _ => None,
    })
    .unwrap();
    let backend = AirflowBackend::new(
        &settings,
        ApiVersion::V2,
        sales_clock(),
        common::azure::quick_retries(),
    )
    .unwrap();
    let err = opsdeck::backends::PipelineBackend::catalog(&backend)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did not accept the sign-in of user 'oncall'")
            && err.contains("AIRFLOW_PASSWORD"),
        "{err}"
    );
}

#[tokio::test]
async fn the_databricks_run_is_found_in_xcom_when_the_log_names_none() {
    let fake = FakeApi::start().await;
    airflow3(&fake);
    fake.serve_databricks_workspace();
    let task =
        format!("/api/v2/dags/nightly_orders/dagRuns/{RUN}/taskInstances/transform_on_databricks");
    fake.route(
        "GET",
        &format!("{task}/logs/2"),
        None,
        vec![Reply::json(200, json!({"content": [
            {"timestamp": "2026-11-23T02:04:09.000000Z", "level": "error", "event": "Task failed with exception", "logger": "task",
             "error_detail": [{"exc_type": "AirflowException", "exc_value": "Job run failed with terminal state: FAILED", "frames": []}]}
        ], "continuation_token": null}))],
    );
    fake.route(
        "GET",
        &format!("{task}/xcomEntries/run_id"),
        None,
        vec![Reply::json(200, json!({"key": "run_id", "value": "448812", "timestamp": "2026-11-23T02:02:01Z",
            "logical_date": "2026-11-23T02:00:00Z", "map_index": -1, "task_id": "transform_on_databricks",
            "dag_id": "nightly_orders", "run_id": RUN}))],
    );
    let backend = AirflowBackend::new(
        &settings(&fake),
        ApiVersion::V2,
        sales_clock(),
        common::azure::quick_retries(),
    )
    .unwrap()
    .with_databricks(common::azure::databricks_backend(&fake));
    let activities = opsdeck::backends::PipelineBackend::activity_runs(
        &backend,
        &format!("nightly_orders/{RUN}"),
    )
    .await
    .unwrap();
    let failed = activities
        .iter()
        .find(|a| a.activity_name == "transform_on_databricks")
        .unwrap();
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.code, "AnalysisException", "{error:?}");
    assert!(
        error
            .message
            .starts_with("Databricks run 448812, task build_order_facts")
    );
    assert_eq!(failed.output["databricks_run_source"], "xcom");
    assert!(
        fake.requests_to("/xcomEntries/run_page_url").len() == 1,
        "the run page URL is looked up too"
    );
}
