//! The tools over a real-shaped Azure estate (fixtures/azure, served at the
//! real paths): a failed Copy with a retry, a run still going, an expired
//! secret behind a linked service, resources, and Log Analytics queried in place.

mod common;

use serde_json::json;

use common::azure::{
    FAILED_RUN, FakeApi, RUNNING_RUN, SALES_WORKSPACE, backends, sales_clock, sales_vars, settings,
};

async fn sales() -> (FakeApi, common::ToolClient) {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let backends = backends(&settings(&fake, &sales_vars()), sales_clock()).await;
    (fake.clone(), common::connect(backends, false).await)
}

#[tokio::test]
async fn a_failed_run_is_triaged_to_its_copy_error_and_expired_secret() {
    let (_fake, tools) = sales().await;
    let report = tools.ok("triage_run", json!({"run_id": FAILED_RUN})).await;
    assert_eq!(report["environment"], "prod");
    assert_eq!(report["pipeline"], "ingest_orders");
    let step = &report["failing_path"][0];
    assert_eq!(step["activity"], "CopyOrders");
    assert_eq!(step["error_code"], "2200");
    assert!(
        step["message"]
            .as_str()
            .unwrap()
            .contains("Login failed for user 'etl'")
    );
    let secrets = report["secrets"].as_array().unwrap();
    assert!(
        secrets
            .iter()
            .any(|s| s.to_string().contains("sql-orders-password")),
        "the expired secret the failing connection reads: {report}"
    );
    let text = tools
        .call("triage_run", json!({"run_id": FAILED_RUN}))
        .await;
    assert!(common::text_of(&text).contains("prod"));
}

#[tokio::test]
async fn run_details_number_retries_and_show_runs_in_progress() {
    let (_fake, tools) = sales().await;
    let details = tools
        .ok("get_run_details", json!({"run_id": FAILED_RUN}))
        .await;
    let copies: Vec<_> = details["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["activity_name"] == "CopyOrders")
        .collect();
    assert_eq!(copies.len(), 2);
    assert_eq!(
        (copies[0]["attempt"].as_u64(), copies[1]["attempt"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(copies[1]["error"]["failure_type"], "UserError");
    let lookup = &details["activities"][0];
    assert_eq!(lookup["activity_name"], "GetWatermark");
    assert!(
        lookup.get("error").is_none(),
        "an empty error object is no error"
    );

    let running = tools
        .ok("get_run_details", json!({"run_id": RUNNING_RUN}))
        .await;
    assert_eq!(running["run"]["status"], "InProgress");
    assert!(running["run"]["run_end"].is_null());
    assert!(running["run"]["duration_ms"].is_null());
    assert_eq!(running["activities"][0]["status"], "InProgress");

    let unknown = tools
        .err("get_run_details", json!({"run_id": "not-a-run"}))
        .await;
    assert!(unknown.contains("not-a-run"), "{unknown}");
}

#[tokio::test]
async fn failures_status_and_secret_usage_across_the_factory() {
    let (fake, tools) = sales().await;
    let summary = tools
        .ok("get_failed_tasks_summary", json!({"since": "24h"}))
        .await;
    assert_eq!(summary["failed_runs"], 1, "{summary}");
    assert!(summary.to_string().contains("CopyOrders"));

    let status = tools
        .ok("get_pipeline_status", json!({"pipeline": "ingest_orders"}))
        .await;
    assert_eq!(status["last_failure"]["run_id"], FAILED_RUN);
    assert!(
        status["schedule"].as_str().unwrap().contains("day"),
        "{status}"
    );
    // The pipelines list came in two pages joined by nextLink.
    assert_eq!(fake.requests_to("/pipelines").len(), 2);

    let usage = tools
        .ok("get_secret_usage", json!({"secret": "sql-orders-password"}))
        .await;
    assert_eq!(
        usage["linked_services"][0]["linked_service"],
        "ls_sql_orders"
    );
    assert_eq!(usage["pipelines_direct"], json!(["ingest_orders"]));
    assert_eq!(
        usage["pipelines_downstream"][0]["pipeline"],
        "transform_orders"
    );
    assert_eq!(usage["failing_now"], json!(["ingest_orders"]));
    assert_eq!(usage["versions"].as_array().unwrap().len(), 2);
    assert_eq!(
        usage["versions"][0]["version"], "5a0c8f1e2d3b4c5a6978a0b1c2d3e4f5",
        "newest first"
    );
    assert_eq!(usage["secret"]["risk"]["level"], "critical");
}

#[tokio::test]
async fn logs_are_queried_in_the_workspace_with_the_filters_pushed_down() {
    let (fake, tools) = sales().await;
    let logs = tools
        .ok(
            "fetch_logs",
            json!({"pipeline": "ingest_orders", "level": "ERROR", "contains": "Login", "since": "6h"}),
        )
        .await;
    assert_eq!(logs["count"], 3);
    assert_eq!(logs["lines"][0]["level"], "ERROR");
    assert_eq!(logs["lines"][0]["run_id"], FAILED_RUN);
    let sent = fake.requests_to(&format!("/v1/workspaces/{SALES_WORKSPACE}/query"));
    let kql = sent[0].body["query"].as_str().unwrap();
    assert!(
        kql.contains(r#"| where PipelineName == "ingest_orders""#),
        "{kql}"
    );
    assert!(kql.contains("| where Severity >= 4"), "{kql}");
    assert!(kql.contains(r#"| where Message contains "Login""#), "{kql}");
    assert!(kql.contains("| top 201 by TimeGenerated desc"), "{kql}");

    let summary = tools
        .ok("summarize_error_logs", json!({"since": "3h"}))
        .await;
    // 14 + 3 events of one template (the user name varies), 2 of another, in the
    // current window; the workspace counted them, opsdeck only mined 3 rows.
    let top = &summary["clusters"][0];
    assert_eq!(top["count"], 17, "{summary}");
    assert!(
        top["template"]
            .as_str()
            .unwrap()
            .contains("Login failed for user '<*>'"),
        "{top}"
    );
    assert_eq!(summary["events"], 19);
    assert_eq!(top["baseline_count"], 0);
    assert_eq!(top["is_new"], true, "{top}");
    let counted = fake
        .requests_to("/query")
        .into_iter()
        .filter(|r| {
            r.body["query"]
                .as_str()
                .unwrap_or("")
                .contains("summarize Count")
        })
        .count();
    assert!(
        counted >= 2,
        "current and baseline windows are both counted in the workspace"
    );
}

#[tokio::test]
async fn resources_and_their_health_come_from_resource_manager() {
    let (_fake, tools) = sales().await;
    let tagged = tools
        .ok("list_resources_by_tag", json!({"tag": "team=sales"}))
        .await;
    assert_eq!(tagged["count"], 2);
    let health = tools
        .ok("get_resource_health", json!({"resource": "adf-sales-prod"}))
        .await;
    assert!(health.to_string().contains("Failed"), "{health}");
}

#[tokio::test]
async fn a_pipeline_in_two_environments_is_never_guessed() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let dir = common::process::tempdir("azure-two-envs");
    let path = common::azure::sales_config_file(&fake, &dir);
    let text = std::fs::read_to_string(&path).unwrap();
    // The same factory twice, as prod and as dev: every pipeline name is shared.
    let dev = text[text.find("[[environments]]").unwrap()..].replace("\"prod\"", "\"dev\"");
    std::fs::write(&path, format!("{text}\n{dev}")).unwrap();
    let settings =
        opsdeck::backends::azure::config::AzureSettings::from_file(&path, &|_| None).unwrap();
    let backends = backends(&settings, sales_clock()).await;
    assert_eq!(backends.label, "azure/prod+dev");
    let tools = common::connect(backends, false).await;
    let err = tools
        .err(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": false}),
        )
        .await;
    assert!(err.contains("adf prod, adf dev"), "{err}");
    assert!(err.contains("--environment"), "{err}");
    assert!(fake.requests_to("/createRun").is_empty());
}

#[tokio::test]
async fn drift_compares_a_terraform_plan_with_what_resource_manager_says_exists() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let plans = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/azure/plans");
    let mut vars = sales_vars();
    vars.push(("OPSDECK_TERRAFORM_PLANS", plans.to_str().unwrap()));
    let backends = backends(&settings(&fake, &vars), sales_clock()).await;
    let tools = common::connect(backends, false).await;
    let listed = tools.ok("list_terraform_plans", json!({})).await;
    assert!(listed.to_string().contains("prod-data"), "{listed}");
    let drift = tools
        .ok("detect_infra_drift", json!({"plan": "prod-data"}))
        .await;
    assert_eq!(drift["live_resources_checked"], 4);
    assert_eq!(
        drift["missing_in_cloud"][0]["address"],
        "azurerm_mssql_server.archive"
    );
    assert_eq!(drift["missing_in_cloud"].as_array().unwrap().len(), 1);
    assert_eq!(drift["unmanaged_in_cloud"][0]["name"], "sql-sales-prod");
    let unknown = tools
        .err("detect_infra_drift", json!({"plan": "../../etc/passwd"}))
        .await;
    assert!(
        unknown.contains("prod-data"),
        "unknown plans list the known ones: {unknown}"
    );
}
