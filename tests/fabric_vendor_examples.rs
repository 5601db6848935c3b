//! The Fabric backend against Microsoft's own Fabric REST examples
//! (../shared/fixtures/vendor/fabric-rest-api-specs), served at their real
//! paths by a local stand-in, and against an estate of our own in the same
//! shapes with a failing pipeline (fixtures/fabric/, see fixtures/SOURCES.md).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use common::azure::{FakeApi, Recorded, Reply, quick_retries, static_credential};
use opsdeck::backends::fabric::FabricBackend;
use opsdeck::backends::fabric::api::FabricApi;
use opsdeck::backends::fabric::settings::FabricSettings;
use opsdeck::backends::http::Authorizer;
use opsdeck::backends::{BackendError, PipelineBackend, RunQuery};
use opsdeck::model::run::{BackendKind, RunStatus};
use opsdeck::model::time::{FixedClock, SharedClock, TimeWindow};

const EXAMPLE_WS: &str = "4b218778-e7a5-4d73-8187-f10824047715";
const EXAMPLE_ITEM: &str = "431e8d7b-4a95-4c02-8ccd-6faef5ba1bd7";
const ITEMS_WS: &str = "cfafbeb1-8037-4d0c-896e-a46fb27ff229";
const TOKEN: &str = "LDEsMTAwMDAwLDA%3D";

/// A vendor example's 200 body.
fn example(path: &str) -> Value {
    let file = common::vendor_dir()
        .join("fabric-rest-api-specs")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    parsed["responses"]["200"]["body"].clone()
}

fn platform(name: &str) -> Value {
    example(&format!("platform/examples/platform/{name}.json"))
}

fn with_token(r: &Recorded) -> bool {
    r.query.contains("continuationToken")
}

fn settings(fake: &FakeApi, workspace: &str) -> FabricSettings {
    let vars = [
        ("FABRIC_WORKSPACE", workspace.to_string()),
        ("OPSDECK_FABRIC_ENDPOINT", fake.base.clone()),
        ("OPSDECK_ENVIRONMENT", "prod".to_string()),
    ];
    FabricSettings::from_env(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

fn api(fake: &FakeApi) -> FabricApi {
    FabricApi::new(
        &settings(fake, EXAMPLE_WS),
        static_credential(),
        quick_retries(),
    )
    .unwrap()
}

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

/// Serves the vendor examples at the paths of their operations, with the
/// second pages their continuation tokens ask for.
async fn vendor_server() -> FakeApi {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![Reply::json(200, platform("ListWorkspaces"))],
    );
    let items = format!("/v1/workspaces/{ITEMS_WS}/items");
    fake.route(
        "GET",
        &items,
        None,
        vec![Reply::json(
            200,
            platform("ListItemsInWorkspaceWithContinuation"),
        )],
    );
    fake.route(
        "GET",
        &items,
        Some(Arc::new(with_token)),
        vec![Reply::json(200, platform("ListItemsInWorkspace"))],
    );
    let jobs = format!("/v1/workspaces/{EXAMPLE_WS}/items/{EXAMPLE_ITEM}/jobs/instances");
    fake.route(
        "GET",
        &jobs,
        None,
        vec![Reply::json(
            200,
            platform("ListItemJobInstancesWithContinuation"),
        )],
    );
    fake.route(
        "GET",
        &jobs,
        Some(Arc::new(with_token)),
        vec![Reply::json(200, platform("ListItemJobInstances"))],
    );
    fake.route(
        "GET",
        &format!("{jobs}/f2d65699-dd22-4889-980c-15226deb0e1b"),
        None,
        vec![Reply::json(200, platform("GetItemJobInstance"))],
    );
    fake.route(
        "GET",
        "/v1/capacities",
        None,
        vec![Reply::json(200, platform("ListCapacities"))],
    );
    fake
}

#[tokio::test]
async fn vendor_workspaces_items_and_capacities_are_read() {
    let fake = vendor_server().await;
    let api = api(&fake);
    let workspaces = api.workspaces().await.unwrap();
    let names: Vec<&str> = workspaces.iter().map(|w| w.display_name.as_str()).collect();
    assert_eq!(names, ["My workspace", "Marketing", "Finance"]);
    assert_eq!(
        workspaces[2].capacity_id.as_deref(),
        Some("171018af-1531-4e61-942a-74f024b7f9fd")
    );

    let items = api.items(ITEMS_WS).await.unwrap();
    assert_eq!(items.len(), 4, "both pages are read");
    assert!(
        items.iter().all(|i| !i.is_pipeline()),
        "lakehouses and dashboards are not pipelines"
    );
    let second = fake
        .requests_to("/items")
        .into_iter()
        .find(with_token)
        .expect("the continuation was followed");
    // The token is sent as the example's continuationUri carries it.
    assert_eq!(second.query, format!("continuationToken={TOKEN}"));
    assert_eq!(
        second.authorization.as_deref(),
        Some("Bearer token-for:https://api.fabric.microsoft.com/.default")
    );

    let capacities = api.capacities().await.unwrap();
    let states: Vec<(&str, Option<&str>)> = capacities
        .iter()
        .map(|c| (c.sku.as_deref().unwrap_or(""), c.state.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            ("F4", Some("Active")),
            ("F8", Some("Inactive")),
            ("F16", Some("Active"))
        ]
    );
}

#[tokio::test]
async fn vendor_job_instances_are_read_across_pages_and_one_by_one() {
    let fake = vendor_server().await;
    let api = api(&fake);
    let instances = api
        .job_instances(EXAMPLE_WS, EXAMPLE_ITEM, 100)
        .await
        .unwrap();
    assert_eq!(
        instances.len(),
        4,
        "the continuation token's page is read too"
    );
    assert_eq!(fake.requests_to("/jobs/instances").len(), 2);
    let run = instances[0].clone().into_run("example", "prod");
    assert_eq!(run.status, RunStatus::Succeeded, "Completed is a success");
    assert_eq!(run.invoked_by.kind, "Manual");
    assert_eq!(run.run_start, Some(at("2024-06-22T06:35:00.7812154Z")));
    assert_eq!(run.message, "", "a null failureReason is no error");
    assert_eq!(run.backend, BackendKind::Fabric);

    // Bounded: asking for fewer stops after the first page.
    let one = api
        .job_instances(EXAMPLE_WS, EXAMPLE_ITEM, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(fake.requests_to("/jobs/instances").len(), 3);

    let single = api
        .job_instance(
            EXAMPLE_WS,
            EXAMPLE_ITEM,
            "f2d65699-dd22-4889-980c-15226deb0e1b",
        )
        .await
        .unwrap();
    assert_eq!(single.id, "f2d65699-dd22-4889-980c-15226deb0e1b");
    assert_eq!(single.invoke_type.as_deref(), Some("Manual"));
}

#[tokio::test]
async fn endless_or_looping_continuations_stop_with_an_error() {
    let fake = FakeApi::start().await;
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    let jobs = format!("/v1/workspaces/{EXAMPLE_WS}/items/{EXAMPLE_ITEM}/jobs/instances");
    fake.route_fn("GET", &jobs, move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        Reply::json(
            200,
            json!({"value": [], "continuationToken": format!("t{n}")}),
        )
    });
    let err = api(&fake)
        .job_instances(EXAMPLE_WS, EXAMPLE_ITEM, 100)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pages"), "{err}");
    assert!(counter.load(Ordering::SeqCst) <= 50);

    let looping = FakeApi::start().await;
    looping.route(
        "GET",
        &jobs,
        None,
        vec![Reply::json(
            200,
            json!({"value": [], "continuationToken": "same"}),
        )],
    );
    let err = api(&looping)
        .job_instances(EXAMPLE_WS, EXAMPLE_ITEM, 100)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repeats"), "{err}");
    assert_eq!(looping.requests().len(), 2);
}

// ---- an estate of our own, in the vendor shapes, with a failing pipeline ----

const WS: &str = "9d3c1a60-5b1e-4c9a-9f0e-1a2b3c4d5e6f";
const CAPACITY: &str = "0b9a4952-b5e7-4a55-8739-3e7251a2fd43";
const PIPELINE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const DATAFLOW: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
const COPYJOB: &str = "11111111-aaaa-4bbb-8ccc-000000000003";
const FAILED_RUN: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const OK_RUN: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5a";
const DATAFLOW_RUN: &str = "6e0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const OLD_RUN: &str = "7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

fn job(
    id: &str,
    item: &str,
    status: &str,
    invoke: &str,
    start: &str,
    end: Option<&str>,
    failure: Value,
) -> Value {
    json!({"id": id, "itemId": item, "jobType": "Pipeline", "invokeType": invoke, "status": status,
           "rootActivityId": id, "startTimeUtc": start, "endTimeUtc": end, "failureReason": failure})
}

fn own_fixture(name: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fabric")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn estate_server(capacity_state: &str) -> FakeApi {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![Reply::json(200, json!({"value": [
            {"id": "fa9ad228-3e6b-44d4-b5f4-e275f337afa9", "displayName": "My workspace", "type": "Personal"},
            {"id": WS, "displayName": "Sales Analytics", "type": "Workspace", "capacityId": CAPACITY}
        ]}))],
    );
    let items = format!("/v1/workspaces/{WS}/items");
    fake.route("GET", &items, None, vec![Reply::json(200, json!({"value": [
        {"id": PIPELINE, "displayName": "ingest_orders", "type": "DataPipeline", "workspaceId": WS},
        {"id": "22222222-aaaa-4bbb-8ccc-000000000009", "displayName": "lake", "type": "Lakehouse", "workspaceId": WS}
    ], "continuationToken": TOKEN, "continuationUri": format!("https://api.fabric.microsoft.com/v1/workspaces/{WS}/items?continuationToken={TOKEN}")}))]);
    fake.route("GET", &items, Some(Arc::new(with_token)), vec![Reply::json(200, json!({"value": [
        {"id": DATAFLOW, "displayName": "clean_customers", "type": "Dataflow", "workspaceId": WS},
        {"id": COPYJOB, "displayName": "copy_sales", "type": "CopyJob", "workspaceId": WS}
    ]}))]);
    let failure = json!({"errorCode": "JobInstanceStatusFailed", "message": "Activity 'Copy orders to lakehouse' failed", "requestId": "r-1"});
    let pipeline_jobs = vec![
        job(
            OK_RUN,
            PIPELINE,
            "Completed",
            "Scheduled",
            "2026-12-05T02:00:00.0000000",
            Some("2026-12-05T02:03:00.0000000"),
            Value::Null,
        ),
        job(
            FAILED_RUN,
            PIPELINE,
            "Failed",
            "Scheduled",
            "2026-12-05T03:00:00.0000000",
            Some("2026-12-05T03:02:45.0000000"),
            failure,
        ),
        job(
            OLD_RUN,
            PIPELINE,
            "Completed",
            "Manual",
            "2026-11-01T03:00:00.0000000",
            Some("2026-11-01T03:02:00.0000000"),
            Value::Null,
        ),
    ];
    let jobs_of = |item: &str| format!("/v1/workspaces/{WS}/items/{item}/jobs/instances");
    fake.route(
        "GET",
        &jobs_of(PIPELINE),
        None,
        vec![Reply::json(200, json!({"value": pipeline_jobs}))],
    );
    for j in &pipeline_jobs {
        let id = j["id"].as_str().unwrap();
        fake.route(
            "GET",
            &format!("{}/{id}", jobs_of(PIPELINE)),
            None,
            vec![Reply::json(200, j.clone())],
        );
    }
    let mut dataflow_job = job(
        DATAFLOW_RUN,
        DATAFLOW,
        "Failed",
        "Manual",
        "2026-12-05T03:10:00",
        Some("2026-12-05T03:11:00"),
        json!({"errorCode": "MashupDataSourceError", "message": "Credentials are required to connect to the SQL source."}),
    );
    // Dataflow Gen2 runs are `Execute` jobs (RunOnDemandDataflowExecuteJob).
    dataflow_job["jobType"] = json!("Execute");
    fake.route(
        "GET",
        &jobs_of(DATAFLOW),
        None,
        vec![Reply::json(200, json!({"value": [dataflow_job.clone()]}))],
    );
    fake.route(
        "GET",
        &format!("{}/{DATAFLOW_RUN}", jobs_of(DATAFLOW)),
        None,
        vec![Reply::json(200, dataflow_job)],
    );
    let copy_job = job(
        "8c0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        COPYJOB,
        "Throttled",
        "Scheduled",
        "2026-12-05T03:20:00",
        None,
        Value::Null,
    );
    fake.route(
        "GET",
        &jobs_of(COPYJOB),
        None,
        vec![Reply::json(200, json!({"value": [copy_job.clone()]}))],
    );
    fake.route(
        "GET",
        &format!("{}/8c0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", jobs_of(COPYJOB)),
        None,
        vec![Reply::json(200, copy_job)],
    );
    fake.route(
        "POST",
        &format!("/v1/workspaces/{WS}/datapipelines/pipelineruns/{FAILED_RUN}/queryactivityruns"),
        None,
        vec![Reply::json(
            200,
            own_fixture("queryactivityruns.failed.json"),
        )],
    );
    fake.route("GET", "/v1/capacities", None, vec![Reply::json(200, json!({"value": [
        {"id": CAPACITY, "displayName": "Sales F8", "sku": "F8", "region": "West Europe", "state": capacity_state}
    ]}))]);
    fake
}

fn clock() -> SharedClock {
    Arc::new(FixedClock(at("2026-12-05T04:00:00Z")))
}

fn backend_on(fake: &FakeApi, workspace: &str, authorizer: Arc<dyn Authorizer>) -> FabricBackend {
    FabricBackend::new(
        &settings(fake, workspace),
        authorizer,
        clock(),
        quick_retries(),
    )
    .unwrap()
}

fn backend(fake: &FakeApi) -> FabricBackend {
    backend_on(fake, "Sales Analytics", static_credential())
}

fn day_before(now: DateTime<Utc>) -> TimeWindow {
    TimeWindow {
        since: now - Duration::hours(24),
        until: now + Duration::seconds(1),
    }
}

fn query(pipelines: &[&str], statuses: Vec<RunStatus>) -> RunQuery {
    RunQuery {
        pipelines: pipelines.iter().map(|p| p.to_string()).collect(),
        statuses,
        window: day_before(at("2026-12-05T04:00:00Z")),
        limit: 50,
        continuation: None,
    }
}

#[tokio::test]
async fn the_catalogue_is_the_workspaces_pipelines_dataflows_and_copy_jobs() {
    let fake = estate_server("Active").await;
    let backend = backend(&fake);
    let catalog = backend.catalog().await.unwrap();
    let names: Vec<(&str, Option<&str>)> = catalog
        .pipelines
        .iter()
        .map(|p| (p.name.as_str(), p.folder.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("clean_customers", Some("Dataflow")),
            ("copy_sales", Some("CopyJob")),
            ("ingest_orders", Some("DataPipeline"))
        ]
    );
    assert!(
        catalog
            .pipelines
            .iter()
            .all(|p| p.backend == BackendKind::Fabric && p.environment == "prod")
    );
}

/// The job scheduler's "List item schedules" at its real path, per item's job
/// type: the vendor's data pipeline and platform examples, and a 403 for the
/// copy job (no access to its schedules).
fn serve_schedules(fake: &FakeApi) {
    let schedules_of = |item: &str, job_type: &str| {
        format!("/v1/workspaces/{WS}/items/{item}/jobs/{job_type}/schedules")
    };
    fake.route(
        "GET",
        &schedules_of(PIPELINE, "Pipeline"),
        None,
        vec![Reply::json(
            200,
            example("dataPipeline/examples/ListDataPipelineExecuteSchedules.json"),
        )],
    );
    fake.route(
        "GET",
        &schedules_of(DATAFLOW, "Execute"),
        None,
        vec![Reply::json(200, platform("ListItemSchedules"))],
    );
    fake.route(
        "GET",
        &schedules_of(COPYJOB, "CopyJob"),
        None,
        vec![Reply::json(
            403,
            json!({"errorCode": "InsufficientPrivileges", "message": "The caller does not have sufficient permissions."}),
        )],
    );
}

#[tokio::test]
async fn schedules_are_told_in_words_and_an_unreadable_one_is_left_out() {
    let fake = estate_server("Active").await;
    serve_schedules(&fake);
    let backend: Arc<FabricBackend> = Arc::new(backend(&fake));
    let tools = common::connect(
        opsdeck::backends::Backends {
            label: "fabric/prod".into(),
            pipelines: vec![backend],
            secrets: vec![],
            infra: vec![],
            logs: vec![],
            changes: Vec::new(),
            clock: clock(),
        },
        true,
    )
    .await;
    let listed = tools.ok("list_pipelines", json!({})).await;
    let schedule_of = |name: &str| {
        listed["pipelines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {listed}"))["schedule"]
            .clone()
    };
    let weekly = "weekly on Mon, Tue at 17:12, 18:09 (Central Standard Time)";
    assert_eq!(
        schedule_of("ingest_orders"),
        json!(format!("every 10 minutes; {weekly}"))
    );
    assert_eq!(
        schedule_of("clean_customers"),
        json!(format!(
            "every 10 minutes; {weekly}; daily at 17:12, 18:09 (Central Standard Time)"
        ))
    );
    // The 403 on the copy job's schedules leaves its schedule unknown, no more.
    assert!(schedule_of("copy_sales").is_null(), "{listed}");
    let status = tools
        .ok("get_pipeline_status", json!({"pipeline": "ingest_orders"}))
        .await;
    assert_eq!(
        status["schedule"],
        json!(format!("every 10 minutes; {weekly}")),
        "{status}"
    );
    let copy = tools
        .ok("get_pipeline_status", json!({"pipeline": "copy_sales"}))
        .await;
    assert!(copy["schedule"].is_null(), "{copy}");
    let asked: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/schedules"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        asked.len(),
        3,
        "schedules are read once per catalogue: {asked:?}"
    );
}

#[tokio::test]
async fn runs_are_job_instances_newest_first_in_the_window() {
    let fake = estate_server("Active").await;
    let backend = backend(&fake);
    let page = backend.query_runs(&query(&[], vec![])).await.unwrap();
    let got: Vec<(&str, RunStatus)> = page
        .runs
        .iter()
        .map(|r| (r.pipeline.as_str(), r.status.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("copy_sales", RunStatus::Other("Throttled".into())),
            ("clean_customers", RunStatus::Failed),
            ("ingest_orders", RunStatus::Failed),
            ("ingest_orders", RunStatus::Succeeded),
        ],
        "the month-old run is outside the window; unknown statuses are kept"
    );
    let failed = &page.runs[2];
    assert_eq!(failed.run_id, FAILED_RUN);
    assert_eq!(failed.invoked_by.kind, "Scheduled");
    assert!(
        failed.message.contains("Copy orders to lakehouse"),
        "{}",
        failed.message
    );

    let only_failed = backend
        .query_runs(&query(&["ingest_orders"], vec![RunStatus::Failed]))
        .await
        .unwrap();
    assert_eq!(only_failed.runs.len(), 1);
    assert_eq!(only_failed.runs[0].run_id, FAILED_RUN);

    match backend.query_runs(&query(&["nope"], vec![])).await {
        Err(BackendError::NotFound { hint, .. }) => {
            assert!(hint.contains("ingest_orders"), "{hint}")
        }
        other => panic!("{other:?}"),
    }
    let mut foreign = query(&[], vec![]);
    foreign.continuation = Some("abc".into());
    assert!(matches!(
        backend.query_runs(&foreign).await,
        Err(BackendError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_run_is_found_by_id_and_bad_ids_are_simply_unknown() {
    let fake = estate_server("Active").await;
    let backend = backend(&fake);
    let run = backend.get_run(FAILED_RUN).await.unwrap().expect("found");
    assert_eq!(run.pipeline, "ingest_orders");
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(backend.get_run("../../capacities").await.unwrap(), None);
    assert_eq!(
        backend
            .get_run("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        None
    );
    let dataflow = backend.get_run(DATAFLOW_RUN).await.unwrap().expect("found");
    assert_eq!(dataflow.pipeline, "clean_customers");
}

#[tokio::test]
async fn a_failed_pipeline_runs_activities_name_the_failing_one_and_its_error() {
    let fake = estate_server("Active").await;
    let backend = backend(&fake);
    let activities = backend.activity_runs(FAILED_RUN).await.unwrap();
    let names: Vec<(&str, RunStatus)> = activities
        .iter()
        .map(|a| (a.activity_name.as_str(), a.status.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("Lookup watermark", RunStatus::Succeeded),
            ("Copy orders to lakehouse", RunStatus::Failed)
        ]
    );
    let error = activities[1]
        .error
        .as_ref()
        .expect("the failed activity has its error");
    assert_eq!(error.code, "2200");
    assert!(
        error.message.contains("Login failed for user 'etl_reader'"),
        "{}",
        error.message
    );
    assert_eq!(error.failure_type.as_deref(), Some("UserError"));
    assert!(activities[0].error.is_none(), "an empty error is no error");

    let asked = fake.requests_to("/queryactivityruns");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method, "POST");
    let after = at(asked[0].body["lastUpdatedAfter"].as_str().unwrap());
    let before = at(asked[0].body["lastUpdatedBefore"].as_str().unwrap());
    assert!(
        after <= at("2026-12-05T03:00:00Z") && before >= at("2026-12-05T03:02:45Z"),
        "{after} {before}"
    );

    // A dataflow has no activity runs: its job instance is its one step, with its failureReason.
    let steps = backend.activity_runs(DATAFLOW_RUN).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].activity_type, "Dataflow");
    let error = steps[0].error.as_ref().unwrap();
    assert_eq!(error.code, "MashupDataSourceError");
    assert!(error.message.contains("Credentials are required"));

    assert!(matches!(
        backend
            .activity_runs("00000000-0000-4000-8000-000000000000")
            .await,
        Err(BackendError::NotFound { .. })
    ));
}

#[tokio::test]
async fn health_names_a_paused_capacity_and_an_active_one() {
    let paused = estate_server("Inactive").await;
    let health = backend(&paused).health().await;
    assert!(!health.ok, "{}", health.detail);
    assert!(
        health.detail.contains("Inactive") && health.detail.contains("paused"),
        "{}",
        health.detail
    );

    let active = estate_server("Active").await;
    let health = backend(&active).health().await;
    assert!(health.ok, "{}", health.detail);
    assert!(
        health.detail.contains("'Sales F8' (F8) is Active"),
        "{}",
        health.detail
    );
}

#[tokio::test]
async fn an_unknown_workspace_name_lists_the_known_ones() {
    let fake = estate_server("Active").await;
    let backend = backend_on(&fake, "Sales", static_credential());
    let err = backend.catalog().await.unwrap_err().to_string();
    assert!(
        err.contains("Sales Analytics") && err.contains("FABRIC_WORKSPACE"),
        "{err}"
    );
    // Case is forgiven when only one workspace matches.
    let folded = backend_on(&fake, "sales analytics", static_credential());
    assert_eq!(folded.catalog().await.unwrap().pipelines.len(), 3);
}

#[tokio::test]
async fn a_wrong_credential_gives_a_clear_error() {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![Reply::json(401, json!({"errorCode": "TokenExpired", "message": "Access token has expired, resubmit with a new access token"}))],
    );
    let backend = backend(&fake);
    let err = backend.catalog().await.unwrap_err().to_string();
    assert!(
        err.contains("did not accept the sign-in") && err.contains("TokenExpired"),
        "{err}"
    );
    let health = backend.health().await;
    assert!(!health.ok);
    assert!(
        health.detail.contains("did not accept the sign-in"),
        "{}",
        health.detail
    );
    assert_eq!(fake.requests().len(), 2, "a refused sign-in is not retried");
}

#[tokio::test]
async fn throttling_is_waited_out_on_reads() {
    let fake = estate_server("Active").await;
    fake.route(
        "GET",
        "/v1/workspaces",
        None,
        vec![
            Reply::json(429, json!({"errorCode": "RequestBlocked", "message": "Too many requests"})).header("Retry-After", "1"),
            Reply::json(200, json!({"value": [{"id": WS, "displayName": "Sales Analytics", "capacityId": CAPACITY}]})),
        ],
    );
    let started = std::time::Instant::now();
    let catalog = backend(&fake).catalog().await.unwrap();
    assert_eq!(catalog.pipelines.len(), 3);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(
        fake.requests_to("/v1/workspaces")
            .iter()
            .filter(|r| r.path == "/v1/workspaces")
            .count(),
        2
    );
}

// ---- remediation: run on demand and cancel through the job scheduler ----

/// A vendor example's 202 headers, with `Location` pointed at `job` of
/// `item` in the estate's workspace (the vendor's own path shape and id form).
fn accepted(example_path: &str, item: &str, job: &str) -> Reply {
    let file = common::vendor_dir()
        .join("fabric-rest-api-specs")
        .join(example_path);
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let headers = &parsed["responses"]["202"]["headers"];
    let vendor_location = headers["Location"].as_str().unwrap();
    let (origin, _) = vendor_location.split_once("/v1/").unwrap();
    let location = format!("{origin}/v1/workspaces/{WS}/items/{item}/jobs/instances/{job}");
    Reply::json(202, Value::Null)
        .header("Location", &location)
        .header("Retry-After", &headers["Retry-After"].to_string())
}

const NEW_RUN: &str = "bbbbbbbb-1111-2222-3333-cccccccccccc";
const RUNNING_COPY: &str = "8c0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

/// An item's job instances (listed with GET, one read by id below it).
fn instances_path(item: &str) -> String {
    format!("/v1/workspaces/{WS}/items/{item}/jobs/instances")
}

/// "Run on demand item job" as the specification documents it now: the job
/// type in the path.
fn run_on_demand_path(item: &str, job_type: &str) -> String {
    format!("/v1/workspaces/{WS}/items/{item}/jobs/{job_type}/instances")
}

fn posts(fake: &FakeApi) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        // Reads that Fabric takes as POSTs (activity runs, definitions) are not actions.
        .filter(|r| r.method == "POST" && r.path.contains("/jobs/"))
        .collect()
}

/// The estate, answering run on demand of ingest_orders as the vendor's
/// RunOnDemandItemJob example does, and a cancel as CancelItemJobInstance.
async fn remediation_server() -> FakeApi {
    let fake = estate_server("Active").await;
    fake.route(
        "POST",
        &run_on_demand_path(PIPELINE, "Pipeline"),
        None,
        vec![accepted(
            "platform/examples/platform/RunOnDemandItemJob.json",
            PIPELINE,
            NEW_RUN,
        )],
    );
    fake.route(
        "POST",
        &run_on_demand_path(DATAFLOW, "Execute"),
        None,
        vec![accepted(
            "dataflow/examples/RunOnDemandDataflowExecuteJob.json",
            DATAFLOW,
            NEW_RUN,
        )],
    );
    fake.route(
        "POST",
        &format!("/v1/workspaces/{WS}/items/{COPYJOB}/jobs/instances/{RUNNING_COPY}/cancel"),
        None,
        vec![accepted(
            "platform/examples/platform/CancelItemJobInstance.json",
            COPYJOB,
            RUNNING_COPY,
        )],
    );
    fake
}

async fn act_on(
    backend: &FabricBackend,
    plan: opsdeck::backends::RemediationPlan,
) -> Result<opsdeck::backends::RemediationOutcome, BackendError> {
    match plan.next(false) {
        opsdeck::backends::Next::Act(live) => backend.act(live).await,
        opsdeck::backends::Next::Describe(o) => panic!("a real request only described: {o:?}"),
    }
}

fn rerun(pipeline: &str, run: Option<&str>, dry_run: bool) -> opsdeck::backends::RerunRequest {
    opsdeck::backends::RerunRequest {
        pipeline: pipeline.into(),
        reference_run_id: run.map(str::to_string),
        from_failed_activity: false,
        dry_run,
    }
}

fn cancel(run: &str, dry_run: bool) -> opsdeck::backends::CancelRequest {
    opsdeck::backends::CancelRequest {
        run_id: run.into(),
        dry_run,
    }
}

#[tokio::test]
async fn a_rerun_runs_the_item_on_demand_once_and_names_the_new_job_instance() {
    let fake = remediation_server().await;
    let backend = backend(&fake);
    let plan = backend
        .plan_rerun(&rerun("ingest_orders", None, false))
        .await
        .unwrap();
    assert!(posts(&fake).is_empty(), "planning posts nothing");
    assert_eq!(plan.preview().target_run_id.as_deref(), Some(FAILED_RUN));
    let outcome = act_on(&backend, plan).await.unwrap();
    assert_eq!(outcome.new_run_id.as_deref(), Some(NEW_RUN), "{outcome:?}");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].path, run_on_demand_path(PIPELINE, "Pipeline"));

    // A dataflow runs as the job type its own runs carry.
    let plan = backend
        .plan_rerun(&rerun("clean_customers", Some(DATAFLOW_RUN), false))
        .await
        .unwrap();
    let outcome = act_on(&backend, plan).await.unwrap();
    assert_eq!(outcome.new_run_id.as_deref(), Some(NEW_RUN));
    let sent = posts(&fake);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].path, run_on_demand_path(DATAFLOW, "Execute"));
}

#[tokio::test]
async fn an_unknown_pipeline_or_a_foreign_run_is_refused_before_anything_is_sent() {
    let fake = remediation_server().await;
    let backend = backend(&fake);
    let err = backend
        .plan_rerun(&rerun("no_such", None, false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ingest_orders"), "{err}");
    let err = backend
        .plan_rerun(&rerun("ingest_orders", Some(DATAFLOW_RUN), false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("clean_customers"), "{err}");
    assert!(posts(&fake).is_empty());
}

#[tokio::test]
async fn a_failed_run_request_is_never_retried_and_may_have_executed() {
    for status in [500, 503, 429] {
        let fake = estate_server("Active").await;
        let posted = Arc::new(AtomicUsize::new(0));
        let counter = posted.clone();
        fake.route_fn(
            "POST",
            &run_on_demand_path(PIPELINE, "Pipeline"),
            move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Reply::arm_error(status, "InternalError", "try later").header("Retry-After", "0")
            },
        );
        // After the request, the service shows a job instance that was not there.
        let seen = posted.clone();
        let started = job(
            NEW_RUN,
            PIPELINE,
            "InProgress",
            "Manual",
            "2026-12-05T03:59:00",
            None,
            Value::Null,
        );
        let failed = job(
            FAILED_RUN,
            PIPELINE,
            "Failed",
            "Scheduled",
            "2026-12-05T03:00:00",
            Some("2026-12-05T03:02:45"),
            Value::Null,
        );
        fake.route_fn("GET", &instances_path(PIPELINE), move |_| {
            let mut jobs = vec![failed.clone()];
            if seen.load(Ordering::SeqCst) > 0 {
                jobs.push(started.clone());
            }
            Reply::json(200, json!({ "value": jobs }))
        });
        let backend = backend(&fake);
        let plan = backend
            .plan_rerun(&rerun("ingest_orders", None, false))
            .await
            .unwrap();
        let err = act_on(&backend, plan).await.unwrap_err().to_string();
        assert_eq!(
            posted.load(Ordering::SeqCst),
            1,
            "{status}: sent exactly once"
        );
        if status == 429 {
            assert!(!err.contains("MAY HAVE EXECUTED"), "{status}: {err}");
        } else {
            assert!(err.contains("MAY HAVE EXECUTED"), "{status}: {err}");
            assert!(
                err.contains(NEW_RUN),
                "{status}: names what started since: {err}"
            );
        }
    }
}

#[tokio::test]
async fn cancel_posts_once_for_a_running_job_and_refuses_a_finished_one() {
    let fake = remediation_server().await;
    let backend = backend(&fake);
    for finished in [FAILED_RUN, OK_RUN, DATAFLOW_RUN] {
        match backend.plan_cancel(&cancel(finished, false)).await {
            Err(BackendError::Refused(why)) => {
                assert!(
                    why.contains("nothing to cancel") && why.contains(finished),
                    "{why}"
                )
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert!(posts(&fake).is_empty());
    let plan = backend
        .plan_cancel(&cancel(RUNNING_COPY, false))
        .await
        .unwrap();
    assert!(posts(&fake).is_empty(), "planning posts nothing");
    let outcome = act_on(&backend, plan).await.unwrap();
    assert_eq!(outcome.target_run_id.as_deref(), Some(RUNNING_COPY));
    let sent = posts(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].path,
        format!("/v1/workspaces/{WS}/items/{COPYJOB}/jobs/instances/{RUNNING_COPY}/cancel")
    );
}

#[tokio::test]
async fn dry_runs_through_the_tools_post_nothing() {
    let fake = remediation_server().await;
    let backend: Arc<FabricBackend> = Arc::new(backend(&fake));
    let tools = common::connect(
        opsdeck::backends::Backends {
            label: "fabric/prod".into(),
            pipelines: vec![backend],
            secrets: vec![],
            infra: vec![],
            logs: vec![],
            changes: Vec::new(),
            clock: clock(),
        },
        false,
    )
    .await;
    for args in [
        json!({"pipeline": "ingest_orders"}),
        json!({"pipeline": "ingest_orders", "run_id": FAILED_RUN, "dry_run": true}),
        json!({"pipeline": "clean_customers", "dry_run": true}),
    ] {
        let out = tools.ok("rerun_pipeline", args.clone()).await;
        assert_eq!(out["dry_run"], true, "{args}: {out}");
        assert!(out["new_run_id"].is_null(), "{out}");
    }
    let out = tools
        .ok(
            "cancel_run",
            json!({"run_id": RUNNING_COPY, "dry_run": true}),
        )
        .await;
    assert_eq!(out["dry_run"], true, "{out}");
    assert!(posts(&fake).is_empty(), "{:?}", posts(&fake));
}

// ---- end to end: `opsdeck serve --backend fabric` and the Python MCP SDK ----

/// Runs the official Python MCP client against `opsdeck serve --backend fabric`
/// pointed at `fake`, signed in through azure_identity's Azure CLI credential
/// (an `az` printing the CLI's documented token JSON).
async fn python_client(fake: &FakeApi, workspace: &str, calls: &[(&str, Value)]) -> Vec<Value> {
    use common::azure::{fake_az_dir, path_with};
    use common::process::{OPSDECK, client_report, python_mcp_client, tempdir};
    let az = fake_az_dir();
    let logs = tempdir("fabric-serve-logs");
    let mut command = python_mcp_client("venv-mcp2", 90);
    for (tool, args) in calls {
        command.args(["--call", tool, &args.to_string()]);
    }
    command
        .args(["--stdio", "--", OPSDECK, "serve", "--backend", "fabric"])
        .args(["--frozen-clock", "2026-12-05T04:00:00Z"])
        .env("PATH", path_with(&az))
        .env("FABRIC_WORKSPACE", workspace)
        .env("OPSDECK_FABRIC_ENDPOINT", &fake.base)
        .env("OPSDECK_FABRIC_ENVIRONMENT", "prod")
        .env("OPSDECK_AZURE_CREDENTIALS", "azure_cli")
        .env("OPSDECK_LOG_DIR", &logs);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the python client runs");
    let scopes = std::fs::read_to_string(az.join("scopes.log")).unwrap_or_default();
    assert!(
        scopes
            .lines()
            .all(|s| s == "https://api.fabric.microsoft.com/.default")
            && !scopes.is_empty(),
        "tokens are asked for the Fabric scope only: {scopes}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_client_triages_a_failed_fabric_pipeline() {
    let fake = estate_server("Active").await;
    let calls = python_client(
        &fake,
        "Sales Analytics",
        &[
            ("list_pipeline_runs", json!({"since": "24h"})),
            ("get_run_details", json!({"run_id": FAILED_RUN})),
            ("get_failed_tasks_summary", json!({"since": "24h"})),
            ("triage_run", json!({"run_id": FAILED_RUN})),
            (
                "rerun_pipeline",
                json!({"pipeline": "ingest_orders", "dry_run": true}),
            ),
        ],
    )
    .await;
    let runs = call(&calls, "list_pipeline_runs");
    assert_eq!(runs["is_error"], false, "{runs}");
    let listed: Vec<&str> = runs["structured"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&FAILED_RUN) && listed.contains(&DATAFLOW_RUN),
        "{listed:?}"
    );
    assert!(!listed.contains(&OLD_RUN));
    assert!(
        text(runs).contains("fabric/prod"),
        "every answer names the environment"
    );

    let details = call(&calls, "get_run_details");
    assert_eq!(details["is_error"], false, "{details}");
    assert!(
        text(details).contains("Copy orders to lakehouse"),
        "{}",
        text(details)
    );

    let failures = call(&calls, "get_failed_tasks_summary");
    assert_eq!(failures["is_error"], false, "{failures}");
    let summary = text(failures);
    assert!(
        summary.contains("ingest_orders") && summary.contains("clean_customers"),
        "{summary}"
    );

    let triage = call(&calls, "triage_run");
    assert_eq!(triage["is_error"], false, "{triage}");
    let triage_text = text(triage);
    assert!(
        triage_text.contains("Copy orders to lakehouse") && triage_text.contains("Login failed"),
        "triage names the failing activity and its error: {triage_text}"
    );

    let rerun = call(&calls, "rerun_pipeline");
    assert_eq!(rerun["is_error"], false, "{rerun}");
    assert_eq!(rerun["structured"]["dry_run"], true, "{rerun}");
    assert_eq!(rerun["structured"]["target_run_id"], FAILED_RUN, "{rerun}");
    assert!(posts(&fake).is_empty(), "nothing was started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_is_reported_clearly_through_the_python_sdk() {
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
    let calls = python_client(
        &fake,
        "Sales Analytics",
        &[("list_pipeline_runs", json!({"since": "24h"}))],
    )
    .await;
    let runs = call(&calls, "list_pipeline_runs");
    assert_eq!(runs["is_error"], true, "{runs}");
    let said = text(runs);
    assert!(
        said.contains("did not accept the sign-in") && said.contains("InvalidToken"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_rerun_through_the_python_sdk_names_the_new_job_instance() {
    let fake = remediation_server().await;
    let calls = python_client(
        &fake,
        "Sales Analytics",
        &[
            (
                "rerun_pipeline",
                json!({"pipeline": "ingest_orders", "dry_run": true}),
            ),
            (
                "rerun_pipeline",
                json!({"pipeline": "ingest_orders", "dry_run": false, "approved_by": "dana"}),
            ),
        ],
    )
    .await;
    let reruns: Vec<&Value> = calls
        .iter()
        .filter(|c| c["tool"] == "rerun_pipeline")
        .collect();
    assert_eq!(reruns.len(), 2, "{calls:?}");
    assert_eq!(reruns[0]["structured"]["dry_run"], true, "{}", reruns[0]);
    let real = reruns[1];
    assert_eq!(real["is_error"], false, "{real}");
    assert_eq!(real["structured"]["dry_run"], false, "{real}");
    assert_eq!(real["structured"]["new_run_id"], NEW_RUN, "{real}");
    assert!(text(real).contains(NEW_RUN), "{}", text(real));
    let sent = posts(&fake);
    assert_eq!(
        sent.len(),
        1,
        "one run on demand, none for the dry run: {sent:?}"
    );
    assert_eq!(sent[0].path, run_on_demand_path(PIPELINE, "Pipeline"));
}

// ---- a run started through the server, followed by the console to its end ----

/// The console's follower, on the real `opsdeck serve --backend fabric` over
/// stdio: the run on demand a person approved is pinned on the board, looked
/// at through NotStarted and InProgress, and told when it completes — in the
/// chat and as a notification — with one POST only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_demand_is_followed_on_the_board_to_its_end() {
    use common::azure::{fake_az_dir, path_with};
    use common::process::{OPSDECK, tempdir};
    use opsdeck::agent::events::AgentEvent;
    use opsdeck::agent::policy::{ApprovalPolicy, SharedPolicy};
    use opsdeck::config::servers::{ServerSpec, ServerTransport};
    use opsdeck::console::app::update::{App, Effect, Msg, update};
    use opsdeck::console::runtime::follower::{FollowPace, HostLooks, follow};
    use opsdeck::mcp::McpHost;

    let fake = remediation_server().await;
    let new_run = instances_path(PIPELINE) + "/" + NEW_RUN;
    let state = |status: &str, end: Option<&str>| {
        Reply::json(
            200,
            job(
                NEW_RUN,
                PIPELINE,
                status,
                "Manual",
                "2026-12-05T04:00:05",
                end,
                Value::Null,
            ),
        )
    };
    fake.route(
        "GET",
        &new_run,
        None,
        vec![
            state("NotStarted", None),
            state("InProgress", None),
            state("InProgress", None),
            state("Completed", Some("2026-12-05T04:03:10")),
        ],
    );
    fake.route(
        "POST",
        &format!("/v1/workspaces/{WS}/datapipelines/pipelineruns/{NEW_RUN}/queryactivityruns"),
        None,
        vec![Reply::json(200, json!({"value": []}))],
    );

    let az = fake_az_dir();
    let logs = tempdir("fabric-follow-logs");
    let mut spec = ServerSpec::builtin(
        std::path::PathBuf::from(OPSDECK),
        vec![
            "--backend".into(),
            "fabric".into(),
            "--frozen-clock".into(),
            "2026-12-05T04:00:00Z".into(),
        ],
    );
    if let ServerTransport::Stdio { env, .. } = &mut spec.transport {
        for (name, value) in [
            ("PATH", path_with(&az)),
            ("FABRIC_WORKSPACE", "Sales Analytics".to_string()),
            ("OPSDECK_FABRIC_ENDPOINT", fake.base.clone()),
            ("OPSDECK_FABRIC_ENVIRONMENT", "prod".to_string()),
            ("OPSDECK_AZURE_CREDENTIALS", "azure_cli".to_string()),
            ("OPSDECK_LOG_DIR", logs.display().to_string()),
        ] {
            env.insert(name.to_string(), value);
        }
    }
    let host =
        std::sync::Arc::new(McpHost::start(vec![spec], std::time::Duration::from_secs(30)).await);
    let catalog = host.catalog().await;
    let rerun = catalog
        .iter()
        .find(|t| t.server_tool_name() == "rerun_pipeline")
        .unwrap_or_else(|| panic!("the server is up: {:?}", host.states()));

    // What the agent sends once the person said yes.
    let arguments = json!({"pipeline": "ingest_orders", "dry_run": false});
    let result = host
        .call_tool(rerun, arguments.as_object().cloned())
        .await
        .expect("the rerun is answered");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let finished = AgentEvent::ToolCallFinished {
        call_id: "c1".into(),
        server: rerun.server.clone(),
        tool: rerun.exposed_name.clone(),
        duration_ms: 10,
        is_error: false,
        result: json!({"content": [], "structured": result.structured_content}),
        truncated: false,
    };
    let mut app = App::default();
    let effects = update(&mut app, Msg::Agent(finished));
    let Some(Effect::Follow(target)) = effects.first().cloned() else {
        panic!("the started run is followed: {effects:?}");
    };
    assert_eq!(target.run_id, NEW_RUN);

    let (messages, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let looks = HostLooks {
        host: host.clone(),
        policy: SharedPolicy::from(ApprovalPolicy::default()),
    };
    let pace = FollowPace {
        every: std::time::Duration::from_millis(50),
        give_up_after: std::time::Duration::from_secs(60),
        max_failures: 5,
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(90),
        follow(looks, target, pace, messages),
    )
    .await
    .expect("the follower ends when the run does");

    let mut seen = Vec::new();
    let mut notified = Vec::new();
    while let Ok(msg) = inbox.try_recv() {
        if let Msg::Followed {
            news: opsdeck::console::app::follow::FollowNews::Run(run),
            ..
        } = &msg
        {
            seen.push(run.status.clone());
        }
        for effect in update(&mut app, msg) {
            if let Effect::Notify { title, body } = effect {
                notified.push((title, body));
            }
        }
    }
    // The service answers NotStarted, InProgress…, Completed; each state is
    // seen, and nothing after the end (how many looks each took is the pace's).
    let mut distinct = seen.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        [
            RunStatus::Queued,
            RunStatus::InProgress,
            RunStatus::Succeeded
        ],
        "looked at until it ended, then no more: {seen:?}"
    );
    let pinned = app.board.visible().next().expect("the board shows it");
    assert_eq!(
        (pinned.run_id.as_str(), &pinned.status),
        (NEW_RUN, &RunStatus::Succeeded)
    );
    assert!(app.board.is_pinned(NEW_RUN));
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0].0, "ingest_orders succeeded");
    assert_eq!(
        posts(&fake).len(),
        1,
        "one run on demand, however often it is looked at: {:?}",
        posts(&fake)
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    host.shutdown().await;
}

/// `opsdeck ask --follow`: the model (a scripted OpenAI stream over real
/// HTTP) asks for a run on demand, the person approved it up front, and ask
/// waits for the run to end before it exits — 0 when it completed, 1 when it
/// failed, with the end on stdout and the failure's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_follow_waits_for_the_run_it_started_and_exits_with_its_outcome() {
    use common::azure::{fake_az_dir, path_with};
    use common::openai_mock::{MockOpenAi, Reply as Llm, text_chunks, tool_call_chunks};
    use common::process::{OPSDECK, tempdir};

    for (ending, failure, code) in [
        ("Completed", Value::Null, 0),
        (
            "Failed",
            json!({"errorCode": "JobInstanceStatusFailed", "message": "Activity 'Copy orders' failed: password=hunter2secret"}),
            1,
        ),
    ] {
        let fake = remediation_server().await;
        let state = |status: &str, end: Option<&str>, failure: Value| {
            Reply::json(
                200,
                job(
                    NEW_RUN,
                    PIPELINE,
                    status,
                    "Manual",
                    "2026-12-05T04:00:05",
                    end,
                    failure,
                ),
            )
        };
        fake.route(
            "GET",
            &(instances_path(PIPELINE) + "/" + NEW_RUN),
            None,
            vec![
                state("NotStarted", None, Value::Null),
                state("InProgress", None, Value::Null),
                state(ending, Some("2026-12-05T04:03:10"), failure),
            ],
        );
        fake.route(
            "POST",
            &format!("/v1/workspaces/{WS}/datapipelines/pipelineruns/{NEW_RUN}/queryactivityruns"),
            None,
            vec![Reply::json(200, json!({"value": []}))],
        );
        let dir = tempdir("ask-follow");
        let az = fake_az_dir();
        let mcp = dir.join("mcp.json");
        std::fs::write(
            &mcp,
            json!({"mcpServers": {"fabric": {
                "command": OPSDECK,
                "args": ["serve", "--backend", "fabric", "--frozen-clock", "2026-12-05T04:00:00Z"],
                "env": {
                    "PATH": path_with(&az),
                    "FABRIC_WORKSPACE": "Sales Analytics",
                    "OPSDECK_FABRIC_ENDPOINT": fake.base,
                    "OPSDECK_FABRIC_ENVIRONMENT": "prod",
                    "OPSDECK_AZURE_CREDENTIALS": "azure_cli",
                    "OPSDECK_LOG_DIR": dir.join("serve-logs"),
                },
                "trusted": true
            }}})
            .to_string(),
        )
        .unwrap();
        let rerun = r#"{"pipeline": "ingest_orders", "dry_run": false}"#;
        let stream = |chunks| Llm::Stream {
            chunks,
            cut: false,
            delay_ms: 0,
        };
        let mock = MockOpenAi::start(vec![
            stream(tool_call_chunks(&[("call_a", "rerun_pipeline", rerun)], 2)),
            stream(text_chunks(&["Started ingest_orders again."])),
        ])
        .await;
        let base = mock.base_url.clone();
        let trace = dir.join("ask.jsonl");
        let output = {
            let trace = trace.clone();
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(OPSDECK)
                    .args(["ask", "--mcp-config"])
                    .arg(&mcp)
                    .args([
                        "--approve",
                        r#"rerun_pipeline:{"pipeline": "ingest_orders", "dry_run": false}"#,
                        "--follow",
                        "--follow-seconds",
                        "1",
                        "--trace",
                    ])
                    .arg(&trace)
                    .arg("rerun ingest_orders")
                    .env("OPENAI_BASE_URL", base)
                    .env("OPENAI_API_KEY", "sk-test")
                    .env("OPENAI_MODEL", "gpt-test")
                    .env("OPSDECK_LOG_DIR", dir.join("logs"))
                    .env_remove("AZURE_OPENAI_ENDPOINT")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!("following run {NEW_RUN} of ingest_orders")),
            "{stderr}"
        );
        let expected = if code == 0 { "Succeeded" } else { "Failed" };
        let end = format!("run {NEW_RUN} of ingest_orders (prod) {expected}");
        assert!(stdout.contains(&end), "{end} in {stdout}");
        if code == 1 {
            assert!(stdout.contains("Copy orders"), "the reason: {stdout}");
        }
        assert!(!stdout.contains("hunter2secret") && !stderr.contains("hunter2secret"));
        let recorded = std::fs::read_to_string(&trace).unwrap();
        assert!(recorded.contains("\"type\":\"run_followed\""), "{recorded}");
        assert!(!recorded.contains("hunter2secret"));
        assert_eq!(posts(&fake).len(), 1, "one run on demand");
    }
}

/// `get_resource_health` through `opsdeck serve --backend fabric`: the
/// workspace's capacity is a resource, and a paused one is unhealthy with the
/// reason that explains the failed runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_capacity_is_unhealthy_in_get_resource_health() {
    let fake = estate_server("Inactive").await;
    let calls = python_client(
        &fake,
        "Sales Analytics",
        &[("get_resource_health", json!({"resource": "Sales F8"}))],
    )
    .await;
    let health = call(&calls, "get_resource_health");
    assert_eq!(health["is_error"], false, "{health}");
    let said = text(health).to_lowercase();
    assert!(
        said.contains("sales f8") && said.contains("paused"),
        "the capacity, paused: {said}"
    );
    assert!(
        !fake.requests_to("/v1/capacities").is_empty(),
        "the capacity state is read"
    );
}
