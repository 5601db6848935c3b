//! The Fabric backend's depth: the workspace's capacity in
//! `get_resource_health`, dependencies from data pipeline definitions
//! (`getDefinition`, a long-running operation when it answers 202),
//! `query_runs` paging, and calls that never answer. Microsoft's own examples
//! (../shared/fixtures/vendor/fabric-rest-api-specs) are served at their real
//! paths by a local stand-in; our own pipeline definition
//! (fixtures/fabric/pipeline-content.orchestrator.json, see fixtures/SOURCES.md)
//! is sent in the vendor's GetDataPipelineDefinition shape.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use common::azure::{FakeApi, Recorded, Reply, quick_retries, static_credential};
use opsdeck::backends::fabric::FabricBackend;
use opsdeck::backends::fabric::api::FabricApi;
use opsdeck::backends::fabric::definition::{PIPELINE_CONTENT, part_json};
use opsdeck::backends::fabric::limits::FabricLimits;
use opsdeck::backends::fabric::operation::{OperationError, OperationLimits};
use opsdeck::backends::fabric::settings::FabricSettings;
use opsdeck::backends::fabric::wire::{Item, Workspace};
use opsdeck::backends::{BackendError, Backends, PipelineBackend, RunQuery};
use opsdeck::model::run::RunStatus;
use opsdeck::model::time::{FixedClock, SharedClock, TimeWindow};

const WS: &str = "a0a0a0a0-bbbb-4ccc-8ddd-e1e1e1e1e1e1";
const ORCHESTRATOR: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const DATAFLOW: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
const COPYJOB: &str = "11111111-aaaa-4bbb-8ccc-000000000003";
const CHILD: &str = "11111111-aaaa-4bbb-8ccc-000000000004";
const BROKEN: &str = "11111111-aaaa-4bbb-8ccc-000000000005";
const OPERATION: &str = "431e8d7b-4a95-4c02-8ccd-6faef5ba1bd7";
/// The vendor's F8 capacity, Inactive in ListCapacities(WithContinuation).
const PAUSED_CAPACITY: &str = "0b9a4952-b5e7-4a55-8739-3e7251a2fd43";
const TOKEN: &str = "LDEsMTAwMDAwLDA%3D";

fn vendor(path: &str) -> Value {
    let file = common::vendor_dir()
        .join("fabric-rest-api-specs")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn body(path: &str) -> Value {
    vendor(path)["responses"]["200"]["body"].clone()
}

fn platform(name: &str) -> Value {
    body(&format!("platform/examples/platform/{name}.json"))
}

fn own_fixture(name: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fabric")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// The vendor's GetDataPipelineDefinition 200 body with its
/// pipeline-content.json payload replaced by `content` (base64, as the API sends it).
fn definition_with(content: &Value) -> Value {
    let mut answer = body("dataPipeline/examples/GetDataPipelineDefinition.json");
    for part in answer["definition"]["parts"].as_array_mut().unwrap() {
        if part["path"] == PIPELINE_CONTENT {
            part["payload"] =
                json!(base64::engine::general_purpose::STANDARD.encode(content.to_string()));
        }
    }
    answer
}

/// The vendor's GetDataPipelineDefinition 202: Location, x-ms-operation-id and
/// Retry-After as written, except the Retry-After given (the example's is 30 s).
fn accepted(retry_after: &str) -> Reply {
    let example = vendor("dataPipeline/examples/GetDataPipelineDefinition.json");
    let headers = &example["responses"]["202"]["headers"];
    Reply::json(202, Value::Null)
        .header("Location", headers["Location"].as_str().unwrap())
        .header(
            "x-ms-operation-id",
            headers["x-ms-operation-id"].as_str().unwrap(),
        )
        .header("Retry-After", retry_after)
}

fn operation_state(status: &str, retry_after: Option<&str>) -> Reply {
    let mut state = json!({"status": status, "createdTimeUtc": "2026-12-05T03:59:00Z",
        "lastUpdatedTimeUtc": "2026-12-05T03:59:01Z", "percentComplete": 50});
    if status == "Failed" {
        state["error"] = json!({"errorCode": "ItemDefinitionTooLarge", "message": "The definition could not be exported", "requestId": "r-9"});
    }
    let reply = Reply::json(200, state);
    match retry_after {
        Some(wait) => reply.header("Retry-After", wait),
        None => reply,
    }
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
    FabricApi::new(&settings(fake, WS), static_credential(), quick_retries()).unwrap()
}

/// Short waits, but every wait is at least the floor (1 s) whatever they say.
fn quick_operations() -> OperationLimits {
    OperationLimits {
        longest_wait: StdDuration::from_millis(200),
        default_wait: StdDuration::from_millis(20),
        deadline: StdDuration::from_secs(5),
    }
}

fn quick_limits() -> FabricLimits {
    FabricLimits {
        request_timeout: StdDuration::from_secs(2),
        schedule_reads: StdDuration::from_secs(1),
        definition_reads: StdDuration::from_secs(4),
        operation: quick_operations(),
    }
}

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

fn clock() -> SharedClock {
    Arc::new(FixedClock(at("2026-12-05T04:00:00Z")))
}

fn backend(fake: &FakeApi, workspace: &str) -> Arc<FabricBackend> {
    Arc::new(
        FabricBackend::with_limits(
            &settings(fake, workspace),
            static_credential(),
            clock(),
            quick_retries(),
            quick_limits(),
        )
        .unwrap(),
    )
}

fn backends_of(backend: Arc<FabricBackend>) -> Backends {
    Backends {
        label: "fabric/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![backend],
        logs: vec![],
        changes: Vec::new(),
        clock: clock(),
    }
}

fn definition_path(item: &str) -> String {
    format!("/v1/workspaces/{WS}/dataPipelines/{item}/getDefinition")
}

// ---- the long-running operation poller, through getDefinition ----

#[tokio::test]
async fn a_definition_answered_at_once_is_read_from_the_vendor_example() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![Reply::json(
            200,
            body("dataPipeline/examples/GetDataPipelineDefinition.json"),
        )],
    );
    let answer = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap();
    let content = part_json(&answer, PIPELINE_CONTENT).unwrap();
    assert_eq!(content, json!({"properties": {"activities": []}}));
    // `.platform` in the example is not JSON: asked for, it is a clear error.
    let err = part_json(&answer, ".platform").unwrap_err();
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(fake.requests_to("/operations").is_empty());
}

#[tokio::test]
async fn a_202_is_polled_until_succeeded_and_the_result_read() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![accepted("0")],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}"),
        None,
        vec![
            operation_state("NotStarted", Some("0")),
            operation_state("Running", Some("0")),
            operation_state("Succeeded", None),
        ],
    );
    let content = own_fixture("pipeline-content.orchestrator.json");
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}/result"),
        None,
        vec![Reply::json(200, definition_with(&content))],
    );
    let answer = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap();
    assert_eq!(part_json(&answer, PIPELINE_CONTENT).unwrap(), content);
    let polls = fake.requests_to(&format!("/v1/operations/{OPERATION}"));
    assert_eq!(polls.len(), 4, "three states, then the result: {polls:?}");
    assert!(polls.iter().all(|r| r.method == "GET"));
    // Polled on our own endpoint: the vendor's Location names api.fabric.microsoft.com.
    assert_eq!(
        fake.requests_to("getDefinition").len(),
        1,
        "the first call is not repeated"
    );
}

#[tokio::test]
async fn a_throttled_definition_read_is_waited_out_as_a_read() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![
            Reply::json(
                429,
                json!({"errorCode": "RequestBlocked", "message": "Too many requests"}),
            )
            .header("Retry-After", "1"),
            Reply::json(
                200,
                body("dataPipeline/examples/GetDataPipelineDefinition.json"),
            ),
        ],
    );
    let started = Instant::now();
    let answer = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap();
    assert!(part_json(&answer, PIPELINE_CONTENT).is_ok());
    assert!(
        started.elapsed() >= StdDuration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(fake.requests_to("getDefinition").len(), 2);
}

#[tokio::test]
async fn a_failed_operation_gives_its_error_text() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![accepted("0")],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}"),
        None,
        vec![
            operation_state("Running", Some("0")),
            operation_state("Failed", None),
        ],
    );
    let err = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap_err();
    assert!(matches!(err, OperationError::Failed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("ItemDefinitionTooLarge: The definition could not be exported")
            && text.contains(OPERATION),
        "{text}"
    );
    assert!(
        fake.requests_to("/result").is_empty(),
        "no result is asked for"
    );
}

#[tokio::test]
async fn a_never_ending_operation_stops_at_the_deadline() {
    // "Retry now" in every form (zero, a date long past, no header at all,
    // with a default wait of 20 ms): each wait is still at least 1 s, so a
    // 3 s deadline allows at most 3 polls, not hundreds back to back.
    let past = "Wed, 21 Oct 2015 07:28:00 GMT";
    for retry_after in [Some("0"), Some(past), None] {
        let fake = FakeApi::start().await;
        fake.route(
            "POST",
            &definition_path(ORCHESTRATOR),
            None,
            vec![accepted(retry_after.unwrap_or("0"))],
        );
        fake.route(
            "GET",
            &format!("/v1/operations/{OPERATION}"),
            None,
            vec![operation_state("Running", retry_after)],
        );
        let limits = OperationLimits {
            deadline: StdDuration::from_secs(3),
            ..quick_operations()
        };
        let started = Instant::now();
        let err = api(&fake)
            .pipeline_definition(WS, ORCHESTRATOR, &limits)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < StdDuration::from_millis(4_500),
            "{retry_after:?}: {:?}",
            started.elapsed()
        );
        let text = err.to_string();
        assert!(
            text.contains("still Running") && text.contains("stopped waiting"),
            "{text}"
        );
        let polls = fake.requests_to("/operations").len();
        assert!(
            (1..=4).contains(&polls),
            "{retry_after:?}: {polls} polls in 3 s"
        );
    }
}

#[tokio::test]
async fn an_absurd_retry_after_is_clamped() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![accepted("1000000000000")],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}"),
        None,
        vec![
            operation_state("Running", Some("1000000000000")),
            operation_state("Succeeded", None),
        ],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}/result"),
        None,
        vec![Reply::json(
            200,
            body("dataPipeline/examples/GetDataPipelineDefinition.json"),
        )],
    );
    let started = Instant::now();
    let answer = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap();
    assert!(part_json(&answer, PIPELINE_CONTENT).is_ok());
    // Two waits of the floor (1 s; the 200 ms ceiling is below it), not 10^12 seconds.
    assert!(
        started.elapsed() < StdDuration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_202_naming_no_operation_is_a_clear_error() {
    let fake = FakeApi::start().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![Reply::json(202, Value::Null).header("Location", "https://evil.example/steal")],
    );
    let err = api(&fake)
        .pipeline_definition(WS, ORCHESTRATOR, &quick_operations())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("named no operation"), "{err}");
    assert_eq!(fake.requests().len(), 1);
}

// ---- dependencies from definitions, through the tools ----

fn item(id: &str, name: &str, item_type: &str) -> Value {
    json!({"id": id, "displayName": name, "type": item_type, "workspaceId": WS})
}

/// A workspace on the vendor's paused F8 capacity, with an orchestrator
/// pipeline whose definition (ours) starts a child pipeline, a dataflow and a
/// copy job, and a pipeline whose definition is unreadable.
async fn estate_server() -> FakeApi {
    let fake = FakeApi::start().await;
    let mut workspace = platform("GetWorkspace");
    workspace["id"] = json!(WS);
    workspace["displayName"] = json!("Sales Analytics");
    workspace["capacityId"] = json!(PAUSED_CAPACITY);
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}"),
        None,
        vec![Reply::json(200, workspace)],
    );
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}/items"),
        None,
        vec![Reply::json(
            200,
            json!({"value": [
                item(ORCHESTRATOR, "ingest_orders", "DataPipeline"),
                item(CHILD, "publish_orders", "DataPipeline"),
                item(BROKEN, "legacy_export", "DataPipeline"),
                item(DATAFLOW, "clean_customers", "Dataflow"),
                item(COPYJOB, "copy_sales", "CopyJob"),
                {"id": "22222222-aaaa-4bbb-8ccc-000000000009", "displayName": "lake", "type": "Lakehouse"}
            ]}),
        )],
    );
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![accepted("0")],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}"),
        None,
        vec![
            operation_state("Running", Some("0")),
            operation_state("Succeeded", None),
        ],
    );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}/result"),
        None,
        vec![Reply::json(
            200,
            definition_with(&own_fixture("pipeline-content.orchestrator.json")),
        )],
    );
    fake.route(
        "POST",
        &definition_path(CHILD),
        None,
        vec![Reply::json(
            200,
            body("dataPipeline/examples/GetDataPipelineDefinition.json"),
        )],
    );
    // A definition whose payload is not base64.
    let mut broken = body("dataPipeline/examples/GetDataPipelineDefinition.json");
    broken["definition"]["parts"][0]["payload"] = json!("%%% not base64 %%%");
    fake.route(
        "POST",
        &definition_path(BROKEN),
        None,
        vec![Reply::json(200, broken)],
    );
    fake.route(
        "GET",
        "/v1/capacities",
        None,
        vec![Reply::json(200, platform("ListCapacitiesWithContinuation"))],
    );
    fake.route(
        "GET",
        "/v1/capacities",
        Some(Arc::new(|r: &Recorded| {
            r.query.contains("continuationToken")
        })),
        vec![Reply::json(200, json!({"value": []}))],
    );
    fake
}

fn names(reached: &Value) -> Vec<String> {
    let mut names: Vec<String> = reached
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pipeline"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn dependencies_come_from_the_pipeline_definitions() {
    let fake = estate_server().await;
    let tools = common::connect(backends_of(backend(&fake, WS)), true).await;
    let out = tools
        .ok(
            "get_pipeline_dependencies",
            json!({"pipeline": "ingest_orders", "depth": 2}),
        )
        .await;
    assert_eq!(
        names(&out["downstream"]),
        [
            "77777777-6666-4555-8444-333333333333 (in workspace 9f9f9f9f-8e8e-4d7d-8c6c-5b5b5b5b5b5b)",
            "clean_customers",
            "copy_sales",
            "publish_orders"
        ],
        "{out}"
    );
    assert!(names(&out["upstream"]).is_empty(), "{out}");
    let dataflow = tools
        .ok(
            "get_pipeline_dependencies",
            json!({"pipeline": "clean_customers"}),
        )
        .await;
    assert_eq!(
        names(&dataflow["upstream"]),
        ["ingest_orders"],
        "{dataflow}"
    );
    let edge = &dataflow["upstream"][0]["edge"];
    assert_eq!(edge["activity"], "Refresh clean_customers", "{edge}");

    let catalog = backend(&fake, WS).catalog().await.unwrap();
    let info = |name: &str| catalog.pipeline(name).unwrap().clone();
    let orchestrator = info("ingest_orders");
    let publish = orchestrator
        .activities
        .iter()
        .find(|a| a.name == "Run publish_orders")
        .unwrap();
    assert_eq!(publish.depends_on[0].activity, "Copy orders to lakehouse");
    // The unreadable definition says why, and that its dependencies are unknown.
    let broken = info("legacy_export");
    let said = broken.description.unwrap_or_default();
    assert!(
        said.contains("not valid base64") && said.contains("dependencies are unknown"),
        "{said}"
    );
    assert!(broken.activities.is_empty());
    let unreadable = &catalog.unreadable;
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(
        unreadable[0].why.contains("1 of 3") && unreadable[0].why.contains("Item.ReadWrite.All"),
        "{unreadable:?}"
    );
    // Dataflows and copy jobs: no dependency invented, and said so.
    for name in ["clean_customers", "copy_sales"] {
        let said = info(name).description.unwrap_or_default();
        assert!(
            said.contains("names data sources, not other items"),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_definition_refused_for_a_viewer_leaves_the_catalogue_standing() {
    let fake = estate_server().await;
    fake.route(
        "POST",
        &definition_path(ORCHESTRATOR),
        None,
        vec![Reply::json(
            403,
            json!({"errorCode": "InsufficientPrivileges", "message": "The caller does not have sufficient permissions"}),
        )],
    );
    let backend = backend(&fake, WS);
    let catalog = backend.catalog().await.unwrap();
    assert_eq!(catalog.pipelines.len(), 5);
    let said = catalog
        .pipeline("ingest_orders")
        .unwrap()
        .description
        .clone()
        .unwrap_or_default();
    assert!(
        said.contains("InsufficientPrivileges") && said.contains("Contributor"),
        "{said}"
    );
    assert_eq!(
        fake.requests_to(&definition_path(ORCHESTRATOR)).len(),
        1,
        "a 403 is not retried"
    );
}

// ---- capacity in get_resource_health ----

#[tokio::test]
async fn a_paused_capacity_is_an_unhealthy_resource_that_explains_failed_runs() {
    let fake = estate_server().await;
    let tools = common::connect(backends_of(backend(&fake, WS)), true).await;
    let out = tools
        .ok("get_resource_health", json!({"resource": "F8 Capacity"}))
        .await;
    assert_eq!(out["healthy"], false, "{out}");
    let availability = out["resource"]["availability"].as_str().unwrap();
    assert!(
        availability.contains("Inactive (paused)") && availability.contains("Sales Analytics"),
        "{out}"
    );
    assert_eq!(out["resource"]["tags"]["sku"], "F8");
    assert_eq!(out["resource"]["location"], "West Central US");
    // Found by id as well, and the continuation was followed to its end.
    tools
        .ok("get_resource_health", json!({"resource": PAUSED_CAPACITY}))
        .await;
    assert!(
        fake.requests_to("/v1/capacities")
            .iter()
            .any(|r| r.query == format!("continuationToken={TOKEN}")),
        "the second page was asked for"
    );
}

#[tokio::test]
async fn an_invisible_or_unreadable_capacity_is_unknown_with_the_reason() {
    // The vendor's GetWorkspace names capacity 56bac802…, which the vendor's
    // ListCapacities does not hold: this identity cannot see it.
    let fake = FakeApi::start().await;
    let workspace = platform("GetWorkspace");
    let id = workspace["id"].as_str().unwrap().to_string();
    fake.route(
        "GET",
        &format!("/v1/workspaces/{id}"),
        None,
        vec![Reply::json(200, workspace.clone())],
    );
    fake.route(
        "GET",
        &format!("/v1/workspaces/{id}/items"),
        None,
        vec![Reply::json(200, json!({"value": []}))],
    );
    fake.route(
        "GET",
        "/v1/capacities",
        None,
        vec![Reply::json(200, platform("ListCapacities"))],
    );
    let backend = backend(&fake, &id);
    let tools = common::connect(backends_of(backend.clone()), true).await;
    let capacity = workspace["capacityId"].as_str().unwrap();
    let out = tools
        .ok("get_resource_health", json!({"resource": capacity}))
        .await;
    let availability = out["resource"]["availability"].as_str().unwrap();
    assert!(
        availability.starts_with("unknown:") && availability.contains("administers or contributes"),
        "{out}"
    );
    let health = backend.health().await;
    assert!(health.ok, "unknown is not unhealthy: {}", health.detail);
    assert!(health.detail.contains("state unknown"), "{}", health.detail);

    // The capacity list refused: still an answer, with the reason.
    fake.route(
        "GET",
        "/v1/capacities",
        None,
        vec![Reply::json(
            403,
            json!({"errorCode": "Unauthorized", "message": "scope Capacity.Read.All missing"}),
        )],
    );
    let fresh = common::connect(backends_of(self::backend(&fake, &id)), true).await;
    let out = fresh
        .ok("get_resource_health", json!({"resource": capacity}))
        .await;
    let availability = out["resource"]["availability"].as_str().unwrap();
    assert!(availability.contains("Capacity.Read.All missing"), "{out}");
}

// ---- vendor examples not exercised elsewhere ----

#[tokio::test]
async fn vendor_item_type_listings_workspace_and_capacity_pages_are_read() {
    for (path, kind, count) in [
        (
            "dataPipeline/examples/ListDataPipelinesInWorkspace.json",
            "DataPipeline",
            1,
        ),
        (
            "dataflow/examples/ListDataflowsInWorkspace.json",
            "Dataflow",
            2,
        ),
        (
            "copyJob/examples/ListCopyJobsInWorkspace.json",
            "CopyJob",
            2,
        ),
    ] {
        let items: Vec<Item> = serde_json::from_value(body(path)["value"].clone()).unwrap();
        assert_eq!(items.len(), count, "{path}");
        assert!(
            items
                .iter()
                .all(|i| i.is_pipeline() && i.item_type == kind && i.description.is_some()),
            "{path}"
        );
    }
    let fake = FakeApi::start().await;
    let example = vendor("platform/examples/platform/GetWorkspace.json");
    let id = example["parameters"]["workspaceId"].as_str().unwrap();
    fake.route(
        "GET",
        &format!("/v1/workspaces/{id}"),
        None,
        vec![Reply::json(200, platform("GetWorkspace"))],
    );
    let workspace: Workspace = api(&fake).workspace(id).await.unwrap();
    assert_eq!(workspace.display_name, "New workspace");
    assert_eq!(
        workspace.capacity_id.as_deref(),
        Some("56bac802-080d-4f73-8a42-1b406eb1fcac")
    );
    fake.route(
        "GET",
        "/v1/capacities",
        None,
        vec![Reply::json(200, platform("ListCapacitiesWithContinuation"))],
    );
    let mut second = platform("ListCapacities");
    second["value"] = json!([{"id": "c0c0c0c0-1111-4222-8333-444444444444", "displayName": "F2 Capacity", "sku": "F2", "region": "West Europe", "state": "Active"}]);
    fake.route(
        "GET",
        "/v1/capacities",
        Some(Arc::new(|r: &Recorded| {
            r.query.contains("continuationToken")
        })),
        vec![Reply::json(200, second)],
    );
    let capacities = api(&fake).capacities().await.unwrap();
    let skus: Vec<&str> = capacities
        .iter()
        .map(|c| c.sku.as_deref().unwrap())
        .collect();
    assert_eq!(skus, ["F4", "F8", "F16", "F2"]);
    assert_eq!(
        capacities[3].region.as_deref(),
        Some("West Europe"),
        "the page after the continuation token is read"
    );
}

// ---- query_runs paging ----

fn job(id: &str, item: &str, status: &str, start: &str) -> Value {
    json!({"id": id, "itemId": item, "jobType": "Pipeline", "invokeType": "Scheduled",
           "status": status, "startTimeUtc": start, "endTimeUtc": null, "failureReason": null})
}

fn run_id(n: usize) -> String {
    format!("5f0c1a2b-3c4d-4e5f-8a9b-{n:012}")
}

fn jobs_path(item: &str) -> String {
    format!("/v1/workspaces/{WS}/items/{item}/jobs/instances")
}

fn paging_query(limit: usize, continuation: Option<String>) -> RunQuery {
    RunQuery {
        pipelines: vec![],
        statuses: vec![],
        window: TimeWindow {
            since: at("2026-12-04T04:00:00Z"),
            until: at("2026-12-05T04:00:01Z"),
        },
        limit,
        continuation,
    }
}

/// The estate with seven runs over two items (one not started yet, four
/// starting at the same moment, so ties are cut by id); returns the
/// orchestrator's job instances as served.
async fn paging_server() -> (FakeApi, Vec<Value>) {
    let fake = estate_server().await;
    let mut orchestrator = vec![job(&run_id(1), ORCHESTRATOR, "NotStarted", "")];
    for n in 2..=4 {
        orchestrator.push(job(
            &run_id(n),
            ORCHESTRATOR,
            "Completed",
            &format!("2026-12-05T0{n}:00:00"),
        ));
    }
    let copy: Vec<Value> = (5..=7)
        .map(|n| job(&run_id(n), COPYJOB, "Failed", "2026-12-05T03:00:00"))
        .collect();
    fake.route(
        "GET",
        &jobs_path(ORCHESTRATOR),
        None,
        vec![Reply::json(200, json!({"value": orchestrator.clone()}))],
    );
    fake.route(
        "GET",
        &jobs_path(COPYJOB),
        None,
        vec![Reply::json(200, json!({"value": copy}))],
    );
    for quiet in [CHILD, BROKEN, DATAFLOW] {
        fake.route(
            "GET",
            &jobs_path(quiet),
            None,
            vec![Reply::json(200, json!({"value": []}))],
        );
    }
    (fake, orchestrator)
}

#[tokio::test]
async fn runs_page_through_a_sealed_continuation_without_gaps_or_repeats() {
    let (fake, orchestrator) = paging_server().await;
    let backend = backend(&fake, WS);
    let everything = backend.query_runs(&paging_query(50, None)).await.unwrap();
    assert_eq!(everything.runs.len(), 7);
    assert!(everything.continuation.is_none());
    let mut paged = Vec::new();
    let mut continuation = None;
    for _ in 0..10 {
        let page = backend
            .query_runs(&paging_query(3, continuation.clone()))
            .await
            .unwrap();
        assert!(page.runs.len() <= 3);
        paged.extend(page.runs.iter().map(|r| r.run_id.clone()));
        continuation = page.continuation;
        if continuation.is_none() {
            break;
        }
    }
    let all: Vec<String> = everything.runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(paged, all, "pages are the one list, cut in order");
    assert_eq!(all[0], run_id(1), "not started yet comes first");

    // A token is refused when altered or when the query asks for other things.
    let page = backend.query_runs(&paging_query(2, None)).await.unwrap();
    let token = page.continuation.unwrap();
    let mut altered = token.clone();
    altered.insert(3, 'x');
    for bad in [altered, "not-a-token".to_string()] {
        match backend.query_runs(&paging_query(2, Some(bad))).await {
            Err(BackendError::InvalidArgument(why)) => {
                assert!(why.contains("ask again without it"), "{why}")
            }
            other => panic!("{:?}", other.map(|p| p.runs.len())),
        }
    }
    let mut failed_only = paging_query(2, Some(token.clone()));
    failed_only.statuses = vec![RunStatus::Failed];
    assert!(matches!(
        backend.query_runs(&failed_only).await,
        Err(BackendError::InvalidArgument(_))
    ));
    // A run arriving between pages does not shift the next page.
    let next_before = backend
        .query_runs(&paging_query(2, Some(token.clone())))
        .await
        .unwrap();
    let mut newer = vec![job(
        &run_id(9),
        ORCHESTRATOR,
        "InProgress",
        "2026-12-05T04:00:00.5",
    )];
    newer.extend(orchestrator);
    fake.route(
        "GET",
        &jobs_path(ORCHESTRATOR),
        None,
        vec![Reply::json(200, json!({"value": newer}))],
    );
    let next_after = backend
        .query_runs(&paging_query(2, Some(token)))
        .await
        .unwrap();
    let ids = |p: &opsdeck::backends::RunPage| -> Vec<String> {
        p.runs.iter().map(|r| r.run_id.clone()).collect()
    };
    assert_eq!(ids(&next_before), ids(&next_after));
}

#[tokio::test]
async fn list_pipeline_runs_pages_through_the_tools() {
    let (fake, _) = paging_server().await;
    let tools = common::connect(backends_of(backend(&fake, WS)), true).await;
    let window =
        json!({"since": "2026-12-04T04:00:00Z", "until": "2026-12-05T04:00:01Z", "limit": 4});
    let first = tools.ok("list_pipeline_runs", window.clone()).await;
    assert_eq!(first["count"], 4, "{first}");
    let token = first["continuation_token"]
        .as_str()
        .expect("more runs")
        .to_string();
    let mut next_args = window.clone();
    next_args["continuation_token"] = json!(token);
    let next = tools.ok("list_pipeline_runs", next_args).await;
    assert_eq!(next["count"], 3, "{next}");
    assert!(next["continuation_token"].is_null(), "{next}");
    let mut ids: Vec<String> = [&first, &next]
        .iter()
        .flat_map(|page| page["runs"].as_array().unwrap().clone())
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7, "no run twice, none left out");
    let mut forged = window;
    forged["continuation_token"] = json!("eyJmb3JnZWQiOnRydWV9");
    let err = tools.err("list_pipeline_runs", forged).await;
    assert!(err.contains("ask again without it"), "{err}");
}

// ---- calls that never answer ----

#[tokio::test]
async fn a_run_request_that_times_out_may_have_executed_and_is_sent_once() {
    let fake = estate_server().await;
    let failed = job(&run_id(1), ORCHESTRATOR, "Failed", "2026-12-05T03:00:00");
    fake.route(
        "GET",
        &jobs_path(ORCHESTRATOR),
        None,
        vec![Reply::json(200, json!({"value": [failed.clone()]}))],
    );
    fake.route(
        "GET",
        &format!("{}/{}", jobs_path(ORCHESTRATOR), run_id(1)),
        None,
        vec![Reply::json(200, failed)],
    );
    let posted = Arc::new(AtomicUsize::new(0));
    let counter = posted.clone();
    fake.route_fn(
        "POST",
        &format!("/v1/workspaces/{WS}/items/{ORCHESTRATOR}/jobs/Pipeline/instances"),
        move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            // Longer than the 2 s request timeout: no answer.
            Reply::json(202, Value::Null).after(StdDuration::from_secs(4))
        },
    );
    let backend = backend(&fake, WS);
    let plan = backend
        .plan_rerun(&opsdeck::backends::RerunRequest {
            pipeline: "ingest_orders".into(),
            reference_run_id: None,
            from_failed_activity: false,
            dry_run: false,
        })
        .await
        .unwrap();
    let live = match plan.next(false) {
        opsdeck::backends::Next::Act(live) => live,
        opsdeck::backends::Next::Describe(o) => panic!("{o:?}"),
    };
    let err = backend.act(live).await.unwrap_err().to_string();
    assert!(err.contains("MAY HAVE EXECUTED"), "{err}");
    assert!(err.contains("not retried"), "{err}");
    assert_eq!(posted.load(Ordering::SeqCst), 1, "sent exactly once");
}

/// A server that reads one request per connection and closes it unanswered.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            if socket.read(&mut buffer).await.unwrap_or(0) > 0 {
                count.fetch_add(1, Ordering::SeqCst);
            }
            drop(socket);
        }
    });
    (base, seen)
}

#[tokio::test]
async fn a_cut_connection_on_a_run_request_is_ambiguous_and_not_retried() {
    let (base, seen) = dropping_server().await;
    let vars = [
        ("FABRIC_WORKSPACE", WS.to_string()),
        ("OPSDECK_FABRIC_ENDPOINT", base),
    ];
    let settings = FabricSettings::from_env(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let api = FabricApi::new(&settings, static_credential(), quick_retries()).unwrap();
    let err = api
        .run_on_demand(WS, ORCHESTRATOR, "Pipeline")
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "sent exactly once");
}

#[tokio::test]
async fn a_silent_schedule_endpoint_cannot_hold_the_catalogue() {
    let fake = estate_server().await;
    for (item, job_type) in [
        (ORCHESTRATOR, "Pipeline"),
        (CHILD, "Pipeline"),
        (BROKEN, "Pipeline"),
        (DATAFLOW, "Execute"),
        (COPYJOB, "CopyJob"),
    ] {
        fake.route(
            "GET",
            &format!("/v1/workspaces/{WS}/items/{item}/jobs/{job_type}/schedules"),
            None,
            vec![Reply::json(200, json!({"value": []})).after(StdDuration::from_secs(30))],
        );
    }
    let started = Instant::now();
    let catalog = backend(&fake, WS).catalog().await.unwrap();
    // The schedule knob is 1 s here (20 s by default); definitions follow,
    // within their own 4 s: not the 30 s the schedule endpoint would take.
    assert!(
        started.elapsed() < StdDuration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(catalog.pipelines.len(), 5);
    assert!(catalog.pipelines.iter().all(|p| p.schedule.is_none()));
}

// ---- definitions kept between catalogue loads ----

/// A backend whose catalogue is loaded afresh on every call, as after the
/// five-minute cache expires; what was read of definitions is kept as ever.
fn reloading_backend(fake: &FakeApi, limits: FabricLimits) -> FabricBackend {
    FabricBackend::with_limits(
        &settings(fake, WS),
        static_credential(),
        clock(),
        quick_retries(),
        limits,
    )
    .unwrap()
    .with_catalog_ttl(StdDuration::ZERO)
}

fn posts_to(fake: &FakeApi, item: &str) -> usize {
    fake.requests_to(&definition_path(item))
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

fn description_of(catalog: &opsdeck::model::estate::EstateCatalog, name: &str) -> String {
    catalog
        .pipeline(name)
        .unwrap_or_else(|| panic!("{name} not in the catalogue"))
        .description
        .clone()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_second_load_asks_for_no_definition_already_read() {
    let fake = estate_server().await;
    let backend = reloading_backend(&fake, quick_limits());
    let first = backend.catalog().await.unwrap();
    for item in [ORCHESTRATOR, CHILD, BROKEN] {
        assert_eq!(posts_to(&fake, item), 1, "{item}");
    }
    let second = backend.catalog().await.unwrap();
    assert!(
        fake.requests_to(&format!("/v1/workspaces/{WS}/items"))
            .len()
            >= 2,
        "the second load listed the items again"
    );
    assert_eq!(posts_to(&fake, ORCHESTRATOR), 1, "kept, not asked again");
    assert_eq!(posts_to(&fake, CHILD), 1, "kept, not asked again");
    assert_eq!(
        posts_to(&fake, BROKEN),
        2,
        "a definition that could not be read is asked for again"
    );
    let activities = |c: &opsdeck::model::estate::EstateCatalog| {
        c.pipeline("ingest_orders").unwrap().activities.clone()
    };
    assert!(!activities(&first).is_empty());
    assert_eq!(activities(&first), activities(&second));

    // The listing says something new of the child (a new description): read again.
    let mut changed = item(CHILD, "publish_orders", "DataPipeline");
    changed["description"] = json!("now publishes returns too");
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}/items"),
        None,
        vec![Reply::json(
            200,
            json!({"value": [
                item(ORCHESTRATOR, "ingest_orders", "DataPipeline"),
                changed,
                item(BROKEN, "legacy_export", "DataPipeline"),
                item(DATAFLOW, "clean_customers", "Dataflow"),
                item(COPYJOB, "copy_sales", "CopyJob"),
            ]}),
        )],
    );
    backend.catalog().await.unwrap();
    assert_eq!(posts_to(&fake, CHILD), 2, "its listing changed");
    assert_eq!(posts_to(&fake, ORCHESTRATOR), 1, "its listing did not");
}

/// A workspace of `count` data pipelines (`pipe_00`…), each definition
/// answered by `reply` (the vendor's, an empty activity list).
async fn many_pipelines_server(count: usize, reply: Reply) -> (FakeApi, Vec<(String, String)>) {
    let fake = FakeApi::start().await;
    let mut workspace = platform("GetWorkspace");
    workspace["id"] = json!(WS);
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}"),
        None,
        vec![Reply::json(200, workspace)],
    );
    let pipelines: Vec<(String, String)> = (0..count)
        .map(|n| {
            (
                format!("22222222-aaaa-4bbb-8ccc-{n:012}"),
                format!("pipe_{n:02}"),
            )
        })
        .collect();
    let listed: Vec<Value> = pipelines
        .iter()
        .map(|(id, name)| item(id, name, "DataPipeline"))
        .collect();
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}/items"),
        None,
        vec![Reply::json(200, json!({ "value": listed }))],
    );
    for (id, _) in &pipelines {
        fake.route("POST", &definition_path(id), None, vec![reply.clone()]);
    }
    (fake, pipelines)
}

#[tokio::test]
async fn one_refused_definition_stops_the_rest_of_that_load() {
    let refused = Reply::json(
        403,
        json!({"errorCode": "InsufficientPrivileges", "message": "The caller does not have sufficient permissions"}),
    );
    let (fake, pipelines) = many_pipelines_server(12, refused).await;
    let backend = reloading_backend(&fake, quick_limits());
    let catalog = backend.catalog().await.unwrap();
    let asked: usize = pipelines.iter().map(|(id, _)| posts_to(&fake, id)).sum();
    assert_eq!(asked, 1, "one refusal, then no more asking");
    assert_eq!(catalog.pipelines.len(), 12, "the catalogue stands");
    assert_eq!(catalog.unreadable.len(), 1, "{:?}", catalog.unreadable);
    let why = &catalog.unreadable[0].why;
    assert!(
        why.contains("InsufficientPrivileges")
            && why.contains("Contributor")
            && why.contains("Item.ReadWrite.All")
            && why.contains("other 11 were not asked"),
        "{why}"
    );
    for (_, name) in &pipelines {
        let said = description_of(&catalog, name);
        assert!(said.contains("dependencies are unknown"), "{name}: {said}");
    }
    // The next load asks again (the role may have been granted), once.
    backend.catalog().await.unwrap();
    let asked: usize = pipelines.iter().map(|(id, _)| posts_to(&fake, id)).sum();
    assert_eq!(asked, 2);
}

#[tokio::test]
async fn a_load_cut_by_its_deadline_is_finished_by_the_next() {
    // Each definition takes 1 s; 2.5 s allow the first one alone, then four
    // at a time: five of ten per load.
    let slow = Reply::json(
        200,
        body("dataPipeline/examples/GetDataPipelineDefinition.json"),
    )
    .after(StdDuration::from_secs(1));
    let (fake, pipelines) = many_pipelines_server(10, slow).await;
    let limits = FabricLimits {
        definition_reads: StdDuration::from_millis(2_500),
        ..quick_limits()
    };
    let backend = reloading_backend(&fake, limits);
    let unread = |catalog: &opsdeck::model::estate::EstateCatalog| -> Vec<String> {
        pipelines
            .iter()
            .filter(|(_, name)| description_of(catalog, name).contains("definition not read"))
            .map(|(_, name)| name.clone())
            .collect()
    };
    let first = backend.catalog().await.unwrap();
    let cut = unread(&first);
    assert!(
        !cut.is_empty() && cut.len() < pipelines.len(),
        "the first load is cut, after reading some: {cut:?}"
    );
    let read_first: Vec<&String> = pipelines
        .iter()
        .filter(|(_, name)| !cut.contains(name))
        .map(|(id, _)| id)
        .collect();
    let second = backend.catalog().await.unwrap();
    assert!(
        unread(&second).is_empty(),
        "the second load reads what the first did not: {:?}",
        unread(&second)
    );
    for id in read_first {
        assert_eq!(posts_to(&fake, id), 1, "{id} was kept, not asked again");
    }
}

// ---- children not on the board ----

#[tokio::test]
async fn a_child_not_on_the_board_is_told_not_walked_as_a_pipeline() {
    let fake = estate_server().await;
    let retired = "99999999-aaaa-4bbb-8ccc-000000000099";
    let mut content = own_fixture("pipeline-content.orchestrator.json");
    content["properties"]["activities"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"name": "Run retired_job", "type": "InvokePipeline", "dependsOn": [],
            "typeProperties": {"operationType": "InvokeFabricPipeline", "workspaceId": WS,
                               "pipelineId": retired, "waitOnCompletion": true}}),
        );
    fake.route(
        "GET",
        &format!("/v1/operations/{OPERATION}/result"),
        None,
        vec![Reply::json(200, definition_with(&content))],
    );
    let backend = backend(&fake, WS);
    let tools = common::connect(backends_of(backend.clone()), true).await;
    let out = tools
        .ok(
            "get_pipeline_dependencies",
            json!({"pipeline": "ingest_orders", "depth": 3}),
        )
        .await;
    let downstream = names(&out["downstream"]);
    assert!(
        downstream.iter().all(|n| !n.contains(retired)),
        "{downstream:?}"
    );
    assert!(downstream.contains(&"publish_orders".to_string()), "{out}");
    let catalog = backend.catalog().await.unwrap();
    let said = description_of(&catalog, "ingest_orders");
    assert!(
        said.contains(&format!("'Run retired_job' starts {retired}"))
            && said.contains("not in this workspace's catalogue"),
        "{said}"
    );
    let edges = catalog.pipeline_edges();
    assert!(edges.iter().all(|e| !e.to.contains(retired)), "{edges:?}");
}

// ---- names from the service in prose ----

#[tokio::test]
async fn a_hostile_workspace_name_is_neutralised_and_clipped_in_prose() {
    let fake = estate_server().await;
    let mut workspace = platform("GetWorkspace");
    workspace["id"] = json!(WS);
    workspace["displayName"] = json!(format!(
        "Sales\u{1b}]52;c;ZXZpbA==\u{7}\nFAKE LINE\u{202e}{}",
        "w".repeat(20_000)
    ));
    workspace["capacityId"] = json!(PAUSED_CAPACITY);
    fake.route(
        "GET",
        &format!("/v1/workspaces/{WS}"),
        None,
        vec![Reply::json(200, workspace)],
    );
    let backend = backend(&fake, WS);
    let tools = common::connect(backends_of(backend.clone()), true).await;
    let out = tools
        .ok("get_resource_health", json!({"resource": PAUSED_CAPACITY}))
        .await;
    let availability = out["resource"]["availability"].as_str().unwrap();
    for text in [availability.to_string(), backend.health().await.detail] {
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("Sales\\x1b]52"), "{text:?}");
        assert!(text.chars().count() < 2_000, "{}", text.chars().count());
    }
}

// ---- runs beyond the per-item cap ----

/// Log lines written while it is held, for the test's thread.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_item_with_more_runs_than_are_read_is_said_to_be_cut() {
    let (fake, _) = paging_server().await;
    let many: Vec<Value> = (0..opsdeck::backends::fabric::RUNS_PER_ITEM + 5)
        .map(|n| job(&run_id(100 + n), COPYJOB, "Failed", "2026-12-05T03:00:00"))
        .collect();
    fake.route(
        "GET",
        &jobs_path(COPYJOB),
        None,
        vec![Reply::json(200, json!({ "value": many }))],
    );
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let page = backend(&fake, WS)
        .query_runs(&paging_query(10, None))
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 10);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let cut: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("older runs were not read"))
        .collect();
    assert_eq!(cut.len(), 1, "{log}");
    assert!(
        cut[0].contains("copy_sales") && !cut[0].contains("ingest_orders"),
        "only the item cut is named: {}",
        cut[0]
    );
}
