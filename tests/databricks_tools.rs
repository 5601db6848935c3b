//! The tools over a Databricks workspace (Jobs API 2.1, payloads shaped by
//! Databricks' OpenAPI document, served locally): multi-task runs with the
//! failing task's error and trace, offset paging, repair of only the failed
//! tasks naming the latest repair, never retried, and cancel; run output as logs.

mod common;

use serde_json::json;

use common::azure::{FakeApi, Reply, databricks_backend, sales_clock};
use opsdeck::backends::Backends;

async fn workspace() -> (FakeApi, common::ToolClient) {
    let fake = FakeApi::start().await;
    fake.serve_databricks_workspace();
    let tools = tools_over(&fake).await;
    (fake, tools)
}

/// The tools over the Databricks workspace `fake` serves.
async fn tools_over(fake: &FakeApi) -> common::ToolClient {
    let backend = databricks_backend(fake);
    let backends = Backends {
        label: "databricks/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![],
        logs: vec![backend],
        changes: Vec::new(),
        clock: sales_clock(),
    };
    common::connect(backends, false).await
}

#[tokio::test]
async fn runs_page_by_offset_and_failed_tasks_carry_their_error_and_trace() {
    let (fake, tools) = workspace().await;
    let first = tools
        .ok("list_pipeline_runs", json!({"since": "2d", "limit": 2}))
        .await;
    assert_eq!(first["runs"][0]["run_id"], "448900");
    assert_eq!(first["runs"][0]["status"], "InProgress");
    assert_eq!(first["runs"][1]["status"], "Failed");
    assert_eq!(first["runs"][1]["pipeline"], "order_facts");
    let token = first["continuation_token"]
        .as_str()
        .expect("has_more gives a token");
    let second = tools
        .ok(
            "list_pipeline_runs",
            json!({"since": "2d", "limit": 2, "continuation_token": token}),
        )
        .await;
    assert_eq!(second["runs"][0]["run_id"], "448700");
    assert!(second["continuation_token"].is_null());
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer dapi-test-token"))
    );

    let details = tools
        .ok("get_run_details", json!({"run_id": "448812"}))
        .await;
    assert_eq!(details["failed_activities"], json!(["build_order_facts"]));
    let failed = &details["activities"][1];
    assert_eq!(failed["error"]["code"], "AnalysisException");
    assert!(
        failed["output"]["error_trace"]
            .as_str()
            .unwrap()
            .contains("Traceback")
    );
    assert_eq!(
        details["activities"][2]["status"], "Skipped",
        "UPSTREAM_FAILED: it never ran"
    );

    let triage = tools.ok("triage_run", json!({"run_id": "448812"})).await;
    assert_eq!(triage["failing_path"][0]["activity"], "build_order_facts");
    assert_eq!(triage["category"], "schema_drift", "{triage}");

    let missing = tools.err("get_run_details", json!({"run_id": "1"})).await;
    assert!(missing.contains("not found"), "{missing}");
}

#[tokio::test]
async fn a_repair_reruns_only_failed_tasks_and_is_never_sent_twice() {
    let (fake, tools) = workspace().await;
    let preview = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "order_facts", "run_id": "448812"}),
        )
        .await;
    assert!(
        preview["steps"][0]
            .as_str()
            .unwrap()
            .contains("build_order_facts")
    );
    assert!(
        fake.requests_to("/runs/repair").is_empty(),
        "a dry run sends nothing"
    );
    let done = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "order_facts", "run_id": "448812", "dry_run": false}),
        )
        .await;
    assert!(
        done["steps"]
            .to_string()
            .contains("Repair 734650698524281 started"),
        "{done}"
    );
    let sent = &fake.requests_to("/runs/repair")[0];
    assert_eq!(sent.body["rerun_all_failed_tasks"], true);
    assert_eq!(sent.body["run_id"], 448812);

    fake.route(
        "POST",
        "/api/2.1/jobs/runs/repair",
        None,
        vec![Reply::json(
            503,
            json!({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try later"}),
        )],
    );
    let err = tools
        .err(
            "rerun_pipeline",
            json!({"pipeline": "order_facts", "run_id": "448812", "dry_run": false}),
        )
        .await;
    assert!(err.contains("MAY HAVE EXECUTED"), "{err}");
    assert_eq!(
        fake.requests_to("/runs/repair").len(),
        2,
        "the failed repair was not retried"
    );

    let cancelled = tools
        .ok("cancel_run", json!({"run_id": "448900", "dry_run": false}))
        .await;
    assert_eq!(cancelled["action"], "cancel_run");
    assert_eq!(fake.requests_to("/runs/cancel")[0].body["run_id"], 448900);
    let refused = tools
        .err("cancel_run", json!({"run_id": "448812", "dry_run": false}))
        .await;
    assert!(refused.contains("already Failed"), "{refused}");
}

#[tokio::test]
async fn runs_page_by_page_token_when_the_api_gives_one() {
    let (fake, tools) = workspace().await;
    let page1 = common::azure::databricks_fixture("runs-list.page1.json");
    let page2 = common::azure::databricks_fixture("runs-list.page2.json");
    // Jobs API 2.2 style: next_page_token instead of offsets.
    fake.route_fn("GET", "/api/2.1/jobs/runs/list", move |r| {
        match r.query_param("page_token").as_deref() {
            None => {
                let mut body = page1.clone();
                body["next_page_token"] = json!("CAEQ2ApCAgoA");
                Reply::json(200, body)
            }
            Some("CAEQ2ApCAgoA") => Reply::json(200, page2.clone()),
            Some(other) => Reply::json(
                400,
                json!({"error_code": "INVALID_PARAMETER_VALUE", "message": other}),
            ),
        }
    });
    let first = tools
        .ok("list_pipeline_runs", json!({"since": "2d", "limit": 2}))
        .await;
    let token = first["continuation_token"].as_str().unwrap().to_string();
    let second = tools
        .ok(
            "list_pipeline_runs",
            json!({"since": "2d", "limit": 2, "continuation_token": token}),
        )
        .await;
    assert_eq!(second["runs"][0]["run_id"], "448700");
    let asked: Vec<Option<String>> = fake
        .requests_to("/runs/list")
        .iter()
        .map(|r| r.query_param("page_token"))
        .collect();
    assert_eq!(asked, [None, Some("CAEQ2ApCAgoA".to_string())]);
}

#[tokio::test]
async fn fetch_logs_reads_each_task_runs_output_and_error() {
    let (fake, tools) = workspace().await;
    let logs = tools
        .ok(
            "fetch_logs",
            json!({"run_id": "448812", "level": "ERROR", "since": "30d"}),
        )
        .await;
    assert_eq!(logs["count"], 1, "{logs}");
    let line = &logs["lines"][0];
    assert_eq!(line["source"], "databricks/run-output");
    assert_eq!(line["activity"], "build_order_facts");
    assert_eq!(line["pipeline"], "order_facts");
    let message = line["message"].as_str().unwrap();
    assert!(
        message.starts_with("AnalysisException") && message.contains("Traceback"),
        "{message}"
    );
    // Each task run's output is read by its own id (the parent's has none).
    let outputs: Vec<String> = fake
        .requests_to("/runs/get-output")
        .iter()
        .filter_map(|r| r.query_param("run_id"))
        .collect();
    assert!(outputs.contains(&"448814".to_string()), "{outputs:?}");
    assert!(!outputs.contains(&"448812".to_string()), "{outputs:?}");

    let sources = tools
        .ok(
            "fetch_logs",
            json!({"run_id": "448812", "source": "airflow/task"}),
        )
        .await;
    assert_eq!(sources["count"], 0, "another source's filter reads nothing");
}

/// `runs/list` cannot filter by result, so "the latest failed run" must be
/// looked for among a page of runs: with a workspace that honours `limit`
/// and whose newest run is still running, asking for one run found none.
#[tokio::test]
async fn triage_of_a_pipeline_finds_its_failed_run_behind_a_running_one() {
    let fake = FakeApi::start().await;
    let listed: Vec<serde_json::Value> = common::azure::databricks_fixture("runs-list.page1.json")
        ["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    fake.serve_databricks_workspace();
    // Registered last, so it answers instead of the workspace's own route.
    fake.route_fn("GET", "/api/2.1/jobs/runs/list", move |r| {
        let limit: usize = r
            .query_param("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(25);
        let runs: Vec<_> = listed.iter().take(limit).cloned().collect();
        Reply::json(200, json!({"runs": runs, "has_more": false}))
    });
    let tools = tools_over(&fake).await;
    let triage = tools
        .ok("triage_run", json!({"pipeline": "order_facts"}))
        .await;
    assert_eq!(triage["run_id"], "448812", "{triage}");
    assert_eq!(triage["failing_path"][0]["activity"], "build_order_facts");
}
