//! Fabric inside a mixed estate: `opsdeck serve --backend adf --backend fabric`
//! (or `--backend sandbox,fabric`) serves one estate whose catalogue, runs,
//! details and remediation span every named backend, and a backend that
//! cannot answer (Fabric refusing the sign-in) is named next to the others'
//! results instead of blanking them.
//!
//! Azure Data Factory is the sales estate of fixtures/azure/ on a local
//! stand-in (tests/common/azure.rs); Fabric is a workspace of our own in the
//! shapes of Microsoft's Fabric REST examples (see fabric_vendor_examples.rs)
//! on a second one. The binary is driven through the official Python MCP SDK
//! client, signed in through an `az` that prints the CLI's documented token JSON.

mod common;

use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};

use common::azure::{
    FAILED_RUN as ADF_FAILED_RUN, FakeApi, Reply, SALES_NOW, quick_retries, sales_clock,
    sales_vars, static_credential,
};
use common::process::{OPSDECK, client_report, python_mcp_client, tempdir};
use opsdeck::backends::Backends;
use opsdeck::backends::fabric::FabricBackend;
use opsdeck::backends::fabric::settings::FabricSettings;

const WS: &str = "3c7e1f20-6a4b-4d8e-9f01-2b3c4d5e6f70";
const CAPACITY: &str = "7a1b2c3d-4e5f-4a6b-9c8d-0e1f2a3b4c5d";
const LOAD: &str = "44444444-aaaa-4bbb-8ccc-000000000001";
const FLOW: &str = "44444444-aaaa-4bbb-8ccc-000000000002";
/// A Fabric pipeline named like one of the ADF factory's.
const SHARED: &str = "44444444-aaaa-4bbb-8ccc-000000000003";
const FABRIC_FAILED_RUN: &str = "b1c2d3e4-0000-4a5b-8c6d-7e8f9a0b1c2d";
const FABRIC_OK_RUN: &str = "b1c2d3e4-0000-4a5b-8c6d-7e8f9a0b1c2e";
const FLOW_RUN: &str = "b1c2d3e4-0000-4a5b-8c6d-7e8f9a0b1c2f";
const SHARED_RUN: &str = "b1c2d3e4-0000-4a5b-8c6d-7e8f9a0b1c30";

/// The ADF factory's pipelines (fixtures/azure/pipelines.page*.json).
const ADF_PIPELINES: [&str; 2] = ["ingest_orders", "transform_orders"];
const FABRIC_PIPELINES: [&str; 2] = ["load_sales_lakehouse", "refresh_customers"];

/// A Fabric job instance ("Get Item Job Instance" shape).
fn job(id: &str, item: &str, job_type: &str, status: &str, times: (&str, &str)) -> Value {
    let failure = if status == "Failed" {
        json!({"errorCode": "JobInstanceStatusFailed", "message": "Activity 'Copy sales to lakehouse' failed", "requestId": "r-7"})
    } else {
        Value::Null
    };
    json!({"id": id, "itemId": item, "jobType": job_type, "invokeType": "Scheduled", "status": status,
           "rootActivityId": id, "startTimeUtc": times.0, "endTimeUtc": times.1, "failureReason": failure})
}

/// An activity run as `queryactivityruns` answers (the ADF activity-run shape).
fn activity(name: &str, kind: &str, status: &str, start: &str, error: Value) -> Value {
    json!({"pipelineName": "load_sales_lakehouse", "pipelineRunId": FABRIC_FAILED_RUN,
           "activityName": name, "activityType": kind, "activityRunId": format!("{name}-1"),
           "status": status, "activityRunStart": start, "activityRunEnd": start,
           "input": {}, "output": {}, "error": error, "retryAttempt": null})
}

/// The Fabric workspace "Sales": a pipeline that failed at 02:30, a dataflow,
/// and (with `shared`) a pipeline named like the ADF factory's ingest_orders.
async fn fabric_estate(shared: bool) -> FakeApi {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![Reply::json(
            200,
            json!({"value": [
                {"id": WS, "displayName": "Sales", "type": "Workspace", "capacityId": CAPACITY}
            ]}),
        )],
    );
    let mut items = vec![
        json!({"id": LOAD, "displayName": "load_sales_lakehouse", "type": "DataPipeline", "workspaceId": WS}),
        json!({"id": FLOW, "displayName": "refresh_customers", "type": "Dataflow", "workspaceId": WS}),
    ];
    let mut jobs = vec![
        (
            LOAD,
            job(
                FABRIC_FAILED_RUN,
                LOAD,
                "Pipeline",
                "Failed",
                ("2026-11-23T02:30:00.0000000", "2026-11-23T02:33:10.0000000"),
            ),
        ),
        (
            LOAD,
            job(
                FABRIC_OK_RUN,
                LOAD,
                "Pipeline",
                "Completed",
                ("2026-11-23T01:30:00.0000000", "2026-11-23T01:32:00.0000000"),
            ),
        ),
        (
            FLOW,
            job(
                FLOW_RUN,
                FLOW,
                "Execute",
                "Completed",
                ("2026-11-23T03:00:00", "2026-11-23T03:04:00"),
            ),
        ),
    ];
    if shared {
        items.push(json!({"id": SHARED, "displayName": "ingest_orders", "type": "DataPipeline", "workspaceId": WS}));
        jobs.push((
            SHARED,
            job(
                SHARED_RUN,
                SHARED,
                "Pipeline",
                "Completed",
                ("2026-11-23T01:00:00", "2026-11-23T01:05:00"),
            ),
        ));
    }
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}/items"),
        None,
        vec![Reply::json(200, json!({ "value": items }))],
    );
    let jobs_of = |item: &str| format!("/v1/workspaces/{WS}/items/{item}/jobs/instances");
    for item in [LOAD, FLOW, SHARED] {
        let own: Vec<Value> = jobs
            .iter()
            .filter(|(owner, _)| *owner == item)
            .map(|(_, j)| j.clone())
            .collect();
        fake.route(
            "GET",
            &jobs_of(item),
            None,
            vec![Reply::json(200, json!({ "value": own }))],
        );
    }
    for (item, j) in &jobs {
        let id = j["id"].as_str().unwrap();
        fake.route(
            "GET",
            &format!("{}/{id}", jobs_of(item)),
            None,
            vec![Reply::json(200, j.clone())],
        );
    }
    let error = json!({"errorCode": "2200", "failureType": "UserError", "target": "Copy sales to lakehouse", "details": "",
        "message": "ErrorCode=SqlFailedToConnect,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=Cannot connect to SQL Database: 'sales-sql.database.windows.net'. Login failed for user 'sales_reader'."});
    let empty =
        json!({"errorCode": "", "message": "", "failureType": "", "target": "", "details": ""});
    fake.route(
        "POST",
        &format!("/v1/workspaces/{WS}/datapipelines/pipelineruns/{FABRIC_FAILED_RUN}/queryactivityruns"),
        None,
        vec![Reply::json(200, json!({"value": [
            activity("Lookup watermark", "Lookup", "Succeeded", "2026-11-23T02:30:05Z", empty),
            activity("Copy sales to lakehouse", "Copy", "Failed", "2026-11-23T02:30:10Z", error),
        ]}))],
    );
    fake.route("GET", "/v1/capacities", None, vec![Reply::json(200, json!({"value": [
        {"id": CAPACITY, "displayName": "Sales F8", "sku": "F8", "region": "West Europe", "state": "Active"}
    ]}))]);
    fake
}

/// A Fabric workspace whose sign-in is refused, as the service answers an invalid token.
async fn refusing_fabric() -> FakeApi {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![Reply::json(
            401,
            json!({"errorCode": "InvalidToken", "message": "Access token is invalid"}),
        )],
    );
    fake
}

// ---- in process: the merged Backends behind the real server and an rmcp client ----

async fn adf_part() -> (FakeApi, Backends) {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let settings = common::azure::settings(&fake, &sales_vars());
    let backends = common::azure::backends(&settings, sales_clock()).await;
    (fake, backends)
}

fn fabric_part(fake: &FakeApi) -> Backends {
    let vars = [
        ("FABRIC_WORKSPACE", "Sales".to_string()),
        ("OPSDECK_FABRIC_ENDPOINT", fake.base.clone()),
        ("OPSDECK_FABRIC_ENVIRONMENT", "Sales".to_string()),
    ];
    let settings = FabricSettings::from_env(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let fabric = Arc::new(
        FabricBackend::new(
            &settings,
            static_credential(),
            sales_clock(),
            quick_retries(),
        )
        .unwrap(),
    );
    Backends {
        label: "fabric/Sales".into(),
        pipelines: vec![fabric],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: vec![],
        clock: sales_clock(),
    }
}

fn names(listed: &Value, key: &str, field: &str) -> Vec<String> {
    listed[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {listed}"))
        .iter()
        .map(|p| p[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn one_server_lists_and_details_both_estates_and_refuses_a_shared_name() {
    let (adf_fake, adf) = adf_part().await;
    let fabric_fake = fabric_estate(true).await;
    let merged = Backends::merged(vec![adf, fabric_part(&fabric_fake)], sales_clock());
    assert_eq!(merged.label, "azure/prod+fabric/Sales");
    assert_eq!(merged.pipelines.len(), 2);
    assert!(
        !merged.secrets.is_empty() && !merged.logs.is_empty(),
        "ADF's vault and logs stay"
    );
    let tools = common::connect(merged, false).await;

    let listed = tools.ok("list_pipelines", json!({})).await;
    let pipelines = names(&listed, "pipelines", "name");
    for name in ADF_PIPELINES.iter().chain(&FABRIC_PIPELINES) {
        assert!(pipelines.contains(&name.to_string()), "{name}: {listed}");
    }
    let backends = names(&listed, "pipelines", "backend");
    assert!(
        backends.contains(&"adf".into()) && backends.contains(&"fabric".into()),
        "{backends:?}"
    );

    let runs = tools
        .ok("list_pipeline_runs", json!({"since": "24h", "limit": 100}))
        .await;
    let ids = names(&runs, "runs", "run_id");
    assert!(
        ids.contains(&ADF_FAILED_RUN.into()) && ids.contains(&FABRIC_FAILED_RUN.into()),
        "{ids:?}"
    );
    let starts = names(&runs, "runs", "run_start");
    let mut newest_first = starts.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(starts, newest_first, "one list, newest first");

    let err = tools
        .err(
            "list_pipeline_runs",
            json!({"since": "24h", "continuation_token": "abc"}),
        )
        .await;
    assert!(err.contains("not issued by this server"), "{err}");

    // A pipeline of one backend is asked of that backend only.
    let asked_adf = adf_fake.requests_to("queryPipelineRuns").len();
    let fabric_only = tools
        .ok(
            "list_pipeline_runs",
            json!({"pipeline": "load_sales_lakehouse", "since": "24h"}),
        )
        .await;
    assert_eq!(
        names(&fabric_only, "runs", "run_id"),
        [FABRIC_FAILED_RUN, FABRIC_OK_RUN]
    );
    assert_eq!(adf_fake.requests_to("queryPipelineRuns").len(), asked_adf);

    let details = tools
        .ok("get_run_details", json!({"run_id": FABRIC_FAILED_RUN}))
        .await;
    assert_eq!(
        details["failed_activities"],
        json!(["Copy sales to lakehouse"]),
        "{details}"
    );
    let adf_details = tools
        .ok("get_run_details", json!({"run_id": ADF_FAILED_RUN}))
        .await;
    assert_eq!(adf_details["run"]["pipeline"], "ingest_orders");

    // Remediation reaches the backend that owns the pipeline.
    let rerun = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "load_sales_lakehouse", "dry_run": true}),
        )
        .await;
    assert_eq!(rerun["target_run_id"], FABRIC_FAILED_RUN, "{rerun}");

    // ingest_orders is in both: refused, never guessed, for reads and actions alike.
    for (tool, args) in [
        ("get_pipeline_status", json!({"pipeline": "ingest_orders"})),
        (
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": true}),
        ),
        (
            "list_pipeline_runs",
            json!({"pipeline": "ingest_orders", "since": "24h"}),
        ),
    ] {
        let err = tools.err(tool, args).await;
        assert!(
            err.contains("more than one place") && err.contains("adf") && err.contains("fabric"),
            "{tool}: {err}"
        );
    }
    // Run on demand and cancel are the POSTs that act (others only read).
    let acted: Vec<String> = fabric_fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && (r.path.ends_with("/instances") || r.path.ends_with("/cancel"))
        })
        .map(|r| r.path)
        .collect();
    assert!(acted.is_empty(), "nothing was started: {acted:?}");
}

#[tokio::test]
async fn fabric_refusing_the_sign_in_leaves_adf_answering_and_is_named() {
    let (_adf_fake, adf) = adf_part().await;
    let fabric_fake = refusing_fabric().await;
    let merged = Backends::merged(vec![adf, fabric_part(&fabric_fake)], sales_clock());
    let tools = common::connect(merged, false).await;
    let named = |said: &str| {
        said.contains("fabric/Sales")
            && said.contains("did not accept the sign-in")
            && said.contains("InvalidToken")
    };

    let listed = tools.call("list_pipelines", json!({})).await;
    assert_eq!(listed.is_error, Some(false), "{}", common::text_of(&listed));
    let structured = listed.structured_content.clone().unwrap();
    assert_eq!(names(&structured, "pipelines", "name"), ADF_PIPELINES);
    let said = common::text_of(&listed);
    assert!(named(&said), "the failing backend is named: {said}");

    let runs = tools
        .call("list_pipeline_runs", json!({"since": "24h"}))
        .await;
    assert_eq!(runs.is_error, Some(false), "{}", common::text_of(&runs));
    let structured = runs.structured_content.clone().unwrap();
    assert!(
        names(&structured, "runs", "run_id").contains(&ADF_FAILED_RUN.to_string()),
        "{structured}"
    );
    let said = common::text_of(&runs);
    assert!(named(&said), "the failing backend is named: {said}");

    let failures = tools
        .call("get_failed_tasks_summary", json!({"since": "24h"}))
        .await;
    assert_eq!(
        failures.is_error,
        Some(false),
        "{}",
        common::text_of(&failures)
    );
    let said = common::text_of(&failures);
    assert!(
        said.contains("ingest_orders") && named(&said),
        "ADF's failures are grouped, Fabric's absence named: {said}"
    );

    // ADF's own pipelines and runs still work end to end.
    let details = tools
        .ok("get_run_details", json!({"run_id": ADF_FAILED_RUN}))
        .await;
    assert_eq!(details["run"]["pipeline"], "ingest_orders");
    tools
        .ok("get_pipeline_status", json!({"pipeline": "ingest_orders"}))
        .await;
    tools
        .ok("triage_run", json!({"run_id": ADF_FAILED_RUN}))
        .await;

    // What may be in Fabric is not called missing: the refusal is named instead.
    for (tool, args) in [
        (
            "get_pipeline_status",
            json!({"pipeline": "load_sales_lakehouse"}),
        ),
        ("get_run_details", json!({"run_id": FABRIC_FAILED_RUN})),
    ] {
        let err = tools.err(tool, args).await;
        assert!(named(&err) && err.contains("may be there"), "{tool}: {err}");
    }
}

#[tokio::test]
async fn when_every_backend_fails_each_is_named() {
    let first = refusing_fabric().await;
    let second = refusing_fabric().await;
    let mut one = fabric_part(&first);
    let two = fabric_part(&second);
    one.label = "fabric/Sales-a".into();
    let merged = Backends::merged(vec![one, two], sales_clock());
    let tools = common::connect(merged, true).await;
    let err = tools
        .err("list_pipeline_runs", json!({"since": "24h"}))
        .await;
    assert!(
        err.contains("no backend of this estate could answer")
            && err.matches("did not accept the sign-in").count() == 2,
        "{err}"
    );
    let err = tools.err("list_pipelines", json!({})).await;
    assert!(
        err.contains("no backend of this estate could answer"),
        "{err}"
    );
}

// ---- the real binary: `opsdeck serve --backend …` through the Python MCP SDK ----

/// Runs the Python SDK client against `opsdeck serve` with `serve_args`,
/// Fabric pointed at `fabric`, signed in through the fake `az`.
async fn python_client(
    fabric: &FakeApi,
    serve_args: &[String],
    calls: &[(&str, Value)],
) -> Vec<Value> {
    use common::azure::{fake_az_dir, path_with};
    let az = fake_az_dir();
    let mut command = python_mcp_client("venv-mcp2", 90);
    for (tool, args) in calls {
        command.args(["--call", tool, &args.to_string()]);
    }
    command
        .args(["--stdio", "--", OPSDECK, "serve"])
        .args(serve_args)
        .env("PATH", path_with(&az))
        .env("FABRIC_WORKSPACE", "Sales")
        .env("OPSDECK_FABRIC_ENDPOINT", &fabric.base)
        .env("OPSDECK_FABRIC_ENVIRONMENT", "Sales")
        .env("OPSDECK_AZURE_CREDENTIALS", "azure_cli")
        .env("OPSDECK_LOG_DIR", tempdir("mixed-serve-logs"));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the python client runs");
    client_report(&output)["calls"].as_array().unwrap().clone()
}

fn call<'a>(calls: &'a [Value], tool: &str) -> &'a Value {
    calls
        .iter()
        .find(|c| c["tool"] == tool)
        .unwrap_or_else(|| panic!("no {tool} in {calls:?}"))
}

fn text(call: &Value) -> String {
    call["text"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_adf_and_fabric_through_the_python_sdk() {
    let adf_fake = FakeApi::start().await;
    adf_fake.serve_sales_estate();
    let fabric_fake = fabric_estate(false).await;
    let dir = tempdir("mixed-adf");
    let config = common::azure::sales_config_file(&adf_fake, &dir);
    let mut args = strings(&["--backend", "adf", "--backend", "fabric"]);
    args.extend(strings(&["--azure-config", config.to_str().unwrap()]));
    args.extend(strings(&["--frozen-clock", SALES_NOW]));
    let calls = python_client(
        &fabric_fake,
        &args,
        &[
            ("list_pipelines", json!({})),
            ("list_pipeline_runs", json!({"since": "24h", "limit": 100})),
            ("get_run_details", json!({"run_id": FABRIC_FAILED_RUN})),
        ],
    )
    .await;
    let listed = call(&calls, "list_pipelines");
    assert_eq!(listed["is_error"], false, "{listed}");
    let pipelines = names(&listed["structured"], "pipelines", "name");
    for name in ADF_PIPELINES.iter().chain(&FABRIC_PIPELINES) {
        assert!(
            pipelines.contains(&name.to_string()),
            "{name}: {pipelines:?}"
        );
    }
    assert!(
        text(listed).contains("azure/prod+fabric/Sales"),
        "{}",
        text(listed)
    );

    let runs = call(&calls, "list_pipeline_runs");
    assert_eq!(runs["is_error"], false, "{runs}");
    let ids = names(&runs["structured"], "runs", "run_id");
    assert!(
        ids.contains(&ADF_FAILED_RUN.into()) && ids.contains(&FABRIC_FAILED_RUN.into()),
        "{ids:?}"
    );
    assert!(!text(runs).contains("NOT INCLUDED"), "{}", text(runs));

    let details = call(&calls, "get_run_details");
    assert_eq!(details["is_error"], false, "{details}");
    assert_eq!(
        details["structured"]["failed_activities"],
        json!(["Copy sales to lakehouse"])
    );
    assert!(text(details).contains("Login failed"), "{}", text(details));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sandbox_and_a_refusing_fabric_through_the_python_sdk() {
    let fabric_fake = refusing_fabric().await;
    let mut args = strings(&["--backend", "sandbox,fabric"]);
    args.extend(strings(&[
        "--scenario",
        "expired-secret",
        "--frozen-clock",
        common::PINNED,
    ]));
    let calls = python_client(
        &fabric_fake,
        &args,
        &[
            ("list_pipelines", json!({})),
            ("list_pipeline_runs", json!({"since": "24h", "limit": 50})),
        ],
    )
    .await;
    for tool in ["list_pipelines", "list_pipeline_runs"] {
        let answer = call(&calls, tool);
        assert_eq!(answer["is_error"], false, "{tool}: {answer}");
        let said = text(answer);
        assert!(
            said.contains("sandbox/expired-secret+fabric/Sales")
                && said.contains("NOT INCLUDED")
                && said.contains("did not accept the sign-in for workspace 'Sales'")
                && said.contains("InvalidToken"),
            "{tool}: {said}"
        );
    }
    let runs = &call(&calls, "list_pipeline_runs")["structured"]["runs"];
    let runs = runs.as_array().unwrap();
    assert!(!runs.is_empty(), "the sandbox's runs still come back");
    assert!(runs.iter().all(|r| r["backend"] == "sandbox"), "{runs:?}");
}

/// An Azure config whose environment names no factory, so `serve` must list
/// the resource group's at start, on a stand-in that has none to list.
fn config_listing_factories(adf: &FakeApi) -> std::path::PathBuf {
    let path = tempdir("mixed-unstarted").join("azure.toml");
    std::fs::write(
        &path,
        format!(
            r#"credentials = ["azure_cli"]
request_timeout_secs = 5

[endpoints]
resource_manager = "{base}"
key_vault = "{base}"
log_analytics = "{base}"

[[environments]]
name = "prod"
subscription_id = "{sub}"
resource_group = "rg-data-prod"
"#,
            base = adf.base,
            sub = common::azure::SALES_SUBSCRIPTION
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adf_that_cannot_start_leaves_fabric_serving_and_is_named() {
    let adf_fake = FakeApi::start().await;
    adf_fake.route(
        "GET",
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-data-prod/providers/Microsoft.DataFactory/factories",
        None,
        vec![Reply::arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.DataFactory/factories/read'")],
    );
    let fabric_fake = fabric_estate(false).await;
    let config = config_listing_factories(&adf_fake);
    let mut args = strings(&["--backend", "adf,fabric"]);
    args.extend(strings(&["--azure-config", config.to_str().unwrap()]));
    args.extend(strings(&["--frozen-clock", SALES_NOW]));
    let calls = python_client(
        &fabric_fake,
        &args,
        &[
            ("list_pipelines", json!({})),
            ("list_pipeline_runs", json!({"since": "24h"})),
            ("get_run_details", json!({"run_id": FABRIC_FAILED_RUN})),
        ],
    )
    .await;
    assert!(
        !adf_fake.requests_to("/factories").is_empty(),
        "the factories were asked for"
    );
    for tool in ["list_pipelines", "list_pipeline_runs"] {
        let answer = call(&calls, tool);
        assert_eq!(answer["is_error"], false, "{tool}: {answer}");
        let said = text(answer);
        assert!(
            said.contains("adf/prod (not started)+fabric/Sales")
                && said.contains("adf did not start")
                && said.contains("AuthorizationFailed"),
            "{tool}: {said}"
        );
    }
    let listed = names(
        &call(&calls, "list_pipelines")["structured"],
        "pipelines",
        "name",
    );
    assert_eq!(listed.len(), FABRIC_PIPELINES.len(), "{listed:?}");
    let details = call(&calls, "get_run_details");
    assert_eq!(details["is_error"], false, "{details}");
    assert_eq!(
        details["structured"]["run"]["pipeline"],
        "load_sales_lakehouse"
    );
}

#[test]
fn a_lone_backend_that_cannot_start_still_stops_the_server() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let adf_fake = runtime.block_on(FakeApi::start());
    let config = config_listing_factories(&adf_fake);
    let (code, stderr) = serve_exit(&[
        "--backend",
        "adf",
        "--azure-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no data factory is named"), "{stderr}");
}

// ---- the command line ----

fn serve_exit(args: &[&str]) -> (i32, String) {
    let output = Command::new(OPSDECK)
        .arg("serve")
        .args(args)
        .env("OPSDECK_LOG_DIR", tempdir("mixed-cli"))
        .env(
            "PATH",
            common::azure::path_with(&common::azure::fake_az_dir()),
        )
        .env("FABRIC_WORKSPACE", "Sales")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_backend_named_twice_is_a_usage_error_naming_it() {
    for (args, twice) in [
        (vec!["--backend", "fabric", "--backend", "fabric"], "fabric"),
        (vec!["--backend", "sandbox,fabric,sandbox"], "sandbox"),
        (vec!["--backend", "adf", "--backend", "azure"], "adf"),
    ] {
        let (code, stderr) = serve_exit(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("--backend {twice} is given more than once")),
            "{args:?}: {stderr}"
        );
    }
    let (code, stderr) = serve_exit(&["--backend", "fabric,nope"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
}
