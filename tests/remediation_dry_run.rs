//! A dry run never reaches a backend's `act`. Each backend is wrapped in one
//! that counts its plans and acts, then asked through the MCP tools for every
//! kind of dry-run rerun and cancel: each is planned, none is acted on, and
//! the service sees no action (the sandbox's runs stay as they were; the
//! HTTP fakes of ADF, Databricks, Airflow and Fabric receive no action request). One
//! real rerun and cancel at the end show that the count does move.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};

use common::azure::{FAILED_RUN, FakeApi, RUNNING_RUN, Recorded, Reply, SALES_FACTORY_PATH};
use common::{Harness, TestClock, ToolClient};
use opsdeck::backends::airflow::api::ApiVersion;
use opsdeck::backends::airflow::{AirflowBackend, AirflowSettings};
use opsdeck::backends::{
    BackendError, BackendHealth, Backends, CancelRequest, LivePlan, PipelineBackend,
    RemediationOutcome, RemediationPlan, RerunRequest, RunPage, RunQuery,
};
use opsdeck::model::estate::EstateCatalog;
use opsdeck::model::run::{ActivityRun, BackendKind, PipelineRun, TriggerRun};
use opsdeck::model::time::TimeWindow;

/// A backend that passes every call to the real one, counting plans and acts.
struct Counting {
    inner: Arc<dyn PipelineBackend>,
    plans: AtomicUsize,
    acts: AtomicUsize,
}

impl Counting {
    fn wrap(inner: Arc<dyn PipelineBackend>) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            plans: AtomicUsize::new(0),
            acts: AtomicUsize::new(0),
        })
    }

    fn plans(&self) -> usize {
        self.plans.load(Ordering::SeqCst)
    }

    fn acts(&self) -> usize {
        self.acts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl PipelineBackend for Counting {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn environment(&self) -> &str {
        self.inner.environment()
    }
    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        self.inner.catalog().await
    }
    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        self.inner.query_runs(query).await
    }
    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        self.inner.get_run(run_id).await
    }
    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        self.inner.activity_runs(run_id).await
    }
    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        self.inner.plan_rerun(request).await
    }
    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        self.inner.plan_cancel(request).await
    }
    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        self.acts.fetch_add(1, Ordering::SeqCst);
        self.inner.act(plan).await
    }
    async fn trigger_runs(
        &self,
        pipeline: &str,
        window: TimeWindow,
    ) -> Result<Vec<TriggerRun>, BackendError> {
        self.inner.trigger_runs(pipeline, window).await
    }
    async fn health(&self) -> BackendHealth {
        self.inner.health().await
    }
}

/// `backends` with its one pipeline backend counted.
fn counted(mut backends: Backends) -> (Arc<Counting>, Backends) {
    assert_eq!(backends.pipelines.len(), 1);
    let counting = Counting::wrap(backends.pipelines.remove(0));
    backends.pipelines = vec![counting.clone()];
    (counting, backends)
}

/// Every way to ask for a dry rerun of `pipeline` (its run `run_id`):
/// `dry_run` left out, or true, with and without a run and the recovery option.
fn dry_reruns(pipeline: &str, run_id: Option<&str>) -> Vec<Value> {
    let mut asks = vec![
        json!({"pipeline": pipeline}),
        json!({"pipeline": pipeline, "dry_run": true}),
        json!({"pipeline": pipeline, "from_failed_activity": false, "dry_run": true}),
    ];
    if let Some(run) = run_id {
        asks.push(json!({"pipeline": pipeline, "run_id": run}));
        asks.push(json!({"pipeline": pipeline, "run_id": run, "from_failed_activity": true, "dry_run": true}));
        asks.push(json!({"pipeline": pipeline, "run_id": run, "from_failed_activity": false}));
    }
    asks
}

/// Both ways to ask for a dry cancel of `run_id`.
fn dry_cancels(run_id: &str) -> Vec<Value> {
    vec![
        json!({"run_id": run_id}),
        json!({"run_id": run_id, "dry_run": true}),
    ]
}

/// Asks for each dry run and checks that each was planned, described as a
/// dry run, and never acted on.
async fn ask_dry_runs(
    tools: &ToolClient,
    counting: &Counting,
    reruns: Vec<Value>,
    cancels: Vec<Value>,
) {
    let asked = reruns.len() + cancels.len();
    let calls = reruns
        .into_iter()
        .map(|a| ("rerun_pipeline", a))
        .chain(cancels.into_iter().map(|a| ("cancel_run", a)));
    for (tool, args) in calls {
        let out = tools.ok(tool, args.clone()).await;
        assert_eq!(out["dry_run"], true, "{tool} {args}: {out}");
        assert!(out["new_run_id"].is_null(), "{tool} {args}: {out}");
        assert_eq!(counting.acts(), 0, "{tool} {args} reached act");
    }
    assert_eq!(counting.plans(), asked, "every dry run was planned");
    assert_eq!(counting.acts(), 0, "no dry run reached act");
}

#[tokio::test]
async fn sandbox_dry_runs_are_planned_and_never_acted_on() {
    let clock = TestClock::at(common::pinned());
    let (sandbox, backends) = common::sandbox_backends("expired-secret", 7, clock.clone());
    let (counting, backends) = counted(backends);
    let h = Harness {
        tools: common::connect(backends, false).await,
        clock,
        sandbox,
    };
    let failed = h.latest_failed("ingest_crm_customers").await;
    let failed = failed["run_id"].as_str().unwrap().to_string();
    let running = h.wait_for_running().await;
    let running = running["run_id"].as_str().unwrap().to_string();
    let before = h.runs(json!({"since": "3h"})).await;

    ask_dry_runs(
        &h,
        &counting,
        dry_reruns("ingest_crm_customers", Some(&failed)),
        dry_cancels(&running),
    )
    .await;
    assert_eq!(
        h.runs(json!({"since": "3h"})).await,
        before,
        "no run started, none cancelled"
    );

    let done = h
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "dry_run": false}),
        )
        .await;
    assert!(done["new_run_id"].is_string(), "{done}");
    h.ok("cancel_run", json!({"run_id": running, "dry_run": false}))
        .await;
    assert_eq!(counting.acts(), 2, "real requests do reach act");
}

#[tokio::test]
async fn a_read_only_server_neither_plans_nor_acts_a_real_request() {
    let clock = TestClock::at(common::pinned());
    let (_, backends) = common::sandbox_backends("expired-secret", 7, clock);
    let (counting, backends) = counted(backends);
    let tools = common::connect(backends, true).await;
    let err = tools
        .err(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "dry_run": false}),
        )
        .await;
    assert!(err.contains("read-only"), "{err}");
    assert_eq!((counting.plans(), counting.acts()), (0, 0));
    ask_dry_runs(
        &tools,
        &counting,
        dry_reruns("ingest_crm_customers", None),
        vec![],
    )
    .await;
}

#[tokio::test]
async fn adf_dry_runs_send_no_create_run_and_no_cancel() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let settings = common::azure::settings(&fake, &common::azure::sales_vars());
    let backends = common::azure::backends(&settings, common::azure::sales_clock()).await;
    let (counting, backends) = counted(backends);
    let tools = common::connect(backends, false).await;

    ask_dry_runs(
        &tools,
        &counting,
        dry_reruns("ingest_orders", Some(FAILED_RUN)),
        dry_cancels(RUNNING_RUN),
    )
    .await;
    assert!(
        fake.requests_to("/createRun").is_empty(),
        "no createRun sent"
    );
    assert!(fake.requests_to("/cancel").is_empty(), "no cancel sent");

    fake.route(
        "POST",
        &format!("{SALES_FACTORY_PATH}/pipelines/ingest_orders/createRun"),
        None,
        vec![Reply::json(
            200,
            json!({"runId": "6f6f6f6f-0000-4000-8000-000000000002"}),
        )],
    );
    fake.route(
        "POST",
        &format!("{SALES_FACTORY_PATH}/pipelineruns/{RUNNING_RUN}/cancel"),
        None,
        vec![Reply::json(200, Value::Null)],
    );
    tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": false}),
        )
        .await;
    tools
        .ok(
            "cancel_run",
            json!({"run_id": RUNNING_RUN, "dry_run": false}),
        )
        .await;
    assert_eq!(counting.acts(), 2, "real requests do reach act");
    assert_eq!(fake.requests_to("/createRun").len(), 1);
    assert_eq!(fake.requests_to("/cancel").len(), 1);
}

#[tokio::test]
async fn databricks_dry_runs_send_no_repair_and_no_cancel() {
    let fake = FakeApi::start().await;
    fake.serve_databricks_workspace();
    let backend = common::azure::databricks_backend(&fake);
    let (counting, backends) = counted(Backends {
        label: "databricks/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![],
        logs: vec![backend],
        changes: Vec::new(),
        clock: common::azure::sales_clock(),
    });
    let tools = common::connect(backends, false).await;

    ask_dry_runs(
        &tools,
        &counting,
        dry_reruns("order_facts", Some("448812")),
        dry_cancels("448900"),
    )
    .await;
    assert!(
        fake.requests_to("/runs/repair").is_empty(),
        "no repair sent"
    );
    assert!(
        fake.requests_to("/runs/cancel").is_empty(),
        "no cancel sent"
    );

    tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "order_facts", "run_id": "448812", "dry_run": false}),
        )
        .await;
    tools
        .ok("cancel_run", json!({"run_id": "448900", "dry_run": false}))
        .await;
    assert_eq!(counting.acts(), 2, "real requests do reach act");
    assert_eq!(fake.requests_to("/runs/repair").len(), 1);
    assert_eq!(fake.requests_to("/runs/cancel").len(), 1);
}

const FAILED_DAG_RUN: &str = "manual__2026-11-23T02:00:00+00:00";
const RUNNING_DAG_RUN: &str = "manual__2026-11-23T03:30:00+00:00";

/// An Airflow 3 (REST API v2) with one DAG, one failed and one running run.
fn airflow(fake: &FakeApi) {
    // An unsigned JWT whose payload says it expires in 2099.
    let jwt = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJvbmNhbGwiLCJleHAiOjQwNzA5MDg4MDB9.c2ln";
    fake.route(
        "POST",
        "/auth/token",
        None,
        vec![Reply::json(201, json!({"access_token": jwt}))],
    );
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
        vec![Reply::json(
            200,
            json!({"dags": [{
                "dag_id": "nightly_orders", "dag_display_name": "nightly_orders", "is_paused": false,
                "is_stale": false, "fileloc": "/opt/airflow/dags/nightly_orders.py",
                "timetable_summary": "0 2 * * *", "tags": [], "owners": ["data"]
            }], "total_entries": 1}),
        )],
    );
    fake.route(
        "GET",
        "/api/v2/dags/nightly_orders/tasks",
        None,
        vec![Reply::json(200, json!({"tasks": [
            {"task_id": "extract", "operator_name": "PythonOperator", "downstream_task_ids": ["transform"], "retries": 1.0},
            {"task_id": "transform", "operator_name": "PythonOperator", "downstream_task_ids": [], "retries": 1.0}
        ], "total_entries": 2}))],
    );
    for (id, state, end) in [
        (FAILED_DAG_RUN, "failed", json!("2026-11-23T02:04:10Z")),
        (RUNNING_DAG_RUN, "running", Value::Null),
    ] {
        fake.route(
            "GET",
            &format!("/api/v2/dags/nightly_orders/dagRuns/{id}"),
            None,
            vec![Reply::json(
                200,
                json!({
                    "dag_run_id": id, "dag_id": "nightly_orders", "logical_date": "2026-11-23T02:00:00Z",
                    "queued_at": "2026-11-23T02:00:00.5Z", "start_date": "2026-11-23T02:00:01Z",
                    "end_date": end, "run_type": "manual", "state": state, "conf": {}
                }),
            )],
        );
    }
    // Airflow answers a clear with the task instances it cleared (or would clear).
    fake.route(
        "POST",
        "/api/v2/dags/nightly_orders/clearTaskInstances",
        None,
        vec![Reply::json(
            200,
            json!({"task_instances": [
            {"task_id": "transform", "dag_id": "nightly_orders", "dag_run_id": FAILED_DAG_RUN,
             "state": "failed", "try_number": 2, "map_index": -1}
        ], "total_entries": 1}),
        )],
    );
    fake.route(
        "PATCH",
        &format!("/api/v2/dags/nightly_orders/dagRuns/{RUNNING_DAG_RUN}"),
        None,
        vec![Reply::json(
            200,
            json!({"dag_run_id": RUNNING_DAG_RUN, "state": "failed"}),
        )],
    );
}

/// The clears Airflow was asked for that were not its own dry runs.
fn real_clears(fake: &FakeApi) -> Vec<Recorded> {
    fake.requests_to("/clearTaskInstances")
        .into_iter()
        .filter(|r| r.body["dry_run"] != true)
        .collect()
}

#[tokio::test]
async fn airflow_dry_runs_clear_nothing_and_stop_nothing() {
    let fake = FakeApi::start().await;
    airflow(&fake);
    let url = fake.base.clone();
    let settings = AirflowSettings::from_env(&|name| match name {
        "AIRFLOW_URL" => Some(url.clone()),
        "AIRFLOW_USERNAME" => Some("oncall".into()),
        "AIRFLOW_PASSWORD" => Some("s3cret".into()),
        "OPSDECK_AIRFLOW_ENVIRONMENT" => Some("prod".into()),
        _ => None,
    })
    .unwrap();
    let backend = Arc::new(
        AirflowBackend::new(
            &settings,
            ApiVersion::V2,
            common::azure::sales_clock(),
            common::azure::quick_retries(),
        )
        .unwrap(),
    );
    let (counting, backends) = counted(Backends {
        label: "airflow/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![],
        logs: vec![backend],
        changes: Vec::new(),
        clock: common::azure::sales_clock(),
    });
    let tools = common::connect(backends, false).await;
    let failed = format!("nightly_orders/{FAILED_DAG_RUN}");
    let running = format!("nightly_orders/{RUNNING_DAG_RUN}");
    // Airflow re-runs a named run: only the asks that name one apply.
    let reruns = dry_reruns("nightly_orders", Some(&failed))
        .into_iter()
        .filter(|a| a.get("run_id").is_some())
        .collect();

    ask_dry_runs(&tools, &counting, reruns, dry_cancels(&running)).await;
    assert!(
        !fake.requests_to("/clearTaskInstances").is_empty(),
        "the plan asks Airflow what a clear would touch"
    );
    assert!(real_clears(&fake).is_empty(), "no task was cleared");
    assert!(
        fake.requests().iter().all(|r| r.method != "PATCH"),
        "no run was marked failed"
    );

    tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "nightly_orders", "run_id": failed, "dry_run": false}),
        )
        .await;
    tools
        .ok("cancel_run", json!({"run_id": running, "dry_run": false}))
        .await;
    assert_eq!(counting.acts(), 2, "real requests do reach act");
    assert_eq!(real_clears(&fake).len(), 1);
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        1
    );
}

const FABRIC_WS: &str = "cfafbeb1-8037-4d0c-896e-a46fb27ff229";
const FABRIC_ITEM: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const FABRIC_FAILED: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const FABRIC_RUNNING: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5c";

/// A Fabric workspace with one data pipeline, one failed and one running job
/// instance, answering run on demand and cancel with 202 and `Location`.
fn fabric(fake: &FakeApi) {
    fake.route(
        "GET",
        &format!("/v1/workspaces/{FABRIC_WS}"),
        None,
        vec![Reply::json(
            200,
            json!({
                "id": FABRIC_WS, "displayName": "Sales Analytics", "type": "Workspace"
            }),
        )],
    );
    fake.route("GET", &format!("/v1/workspaces/{FABRIC_WS}/items"), None, vec![Reply::json(200, json!({"value": [
        {"id": FABRIC_ITEM, "displayName": "ingest_orders", "type": "DataPipeline", "workspaceId": FABRIC_WS}
    ]}))]);
    let jobs = format!("/v1/workspaces/{FABRIC_WS}/items/{FABRIC_ITEM}/jobs/instances");
    let instance = |id: &str, status: &str, start: &str, end: Option<&str>| {
        json!({"id": id, "itemId": FABRIC_ITEM, "jobType": "Pipeline", "invokeType": "Scheduled",
               "status": status, "startTimeUtc": start, "endTimeUtc": end, "failureReason": null})
    };
    let failed = instance(
        FABRIC_FAILED,
        "Failed",
        "2026-11-23T02:00:00",
        Some("2026-11-23T02:05:00"),
    );
    let running = instance(FABRIC_RUNNING, "InProgress", "2026-11-23T03:30:00", None);
    fake.route(
        "GET",
        &jobs,
        None,
        vec![Reply::json(
            200,
            json!({"value": [failed.clone(), running.clone()]}),
        )],
    );
    fake.route(
        "GET",
        &format!("{jobs}/{FABRIC_FAILED}"),
        None,
        vec![Reply::json(200, failed)],
    );
    fake.route(
        "GET",
        &format!("{jobs}/{FABRIC_RUNNING}"),
        None,
        vec![Reply::json(200, running)],
    );
    let location =
        format!("https://api.fabric.microsoft.com{jobs}/bbbbbbbb-1111-2222-3333-cccccccccccc");
    fake.route(
        "POST",
        &format!("/v1/workspaces/{FABRIC_WS}/items/{FABRIC_ITEM}/jobs/Pipeline/instances"),
        None,
        vec![
            Reply::json(202, Value::Null)
                .header("Location", &location)
                .header("Retry-After", "60"),
        ],
    );
    fake.route(
        "POST",
        &format!("{jobs}/{FABRIC_RUNNING}/cancel"),
        None,
        vec![Reply::json(202, Value::Null).header("Retry-After", "60")],
    );
}

#[tokio::test]
async fn fabric_dry_runs_run_nothing_on_demand_and_cancel_nothing() {
    use opsdeck::backends::fabric::FabricBackend;
    use opsdeck::backends::fabric::settings::FabricSettings;
    let fake = FakeApi::start().await;
    fabric(&fake);
    let vars = [
        ("FABRIC_WORKSPACE", FABRIC_WS.to_string()),
        ("OPSDECK_FABRIC_ENDPOINT", fake.base.clone()),
        ("OPSDECK_ENVIRONMENT", "prod".to_string()),
    ];
    let settings = FabricSettings::from_env(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let clock: opsdeck::model::time::SharedClock = TestClock::at(
        chrono::DateTime::parse_from_rfc3339("2026-11-23T04:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    let backend = FabricBackend::new(
        &settings,
        common::azure::static_credential(),
        clock.clone(),
        common::azure::quick_retries(),
    )
    .unwrap();
    let (counting, backends) = counted(Backends {
        label: "fabric/prod".into(),
        pipelines: vec![Arc::new(backend)],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: Vec::new(),
        clock,
    });
    let tools = common::connect(backends, false).await;
    // Fabric reads some things with POST (definitions, activity runs); the
    // actions are the job scheduler's POSTs.
    let posts = || {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("/jobs/"))
            .count()
    };

    ask_dry_runs(
        &tools,
        &counting,
        dry_reruns("ingest_orders", Some(FABRIC_FAILED)),
        dry_cancels(FABRIC_RUNNING),
    )
    .await;
    assert_eq!(posts(), 0, "no run on demand and no cancel sent");

    let done = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "run_id": FABRIC_FAILED, "dry_run": false}),
        )
        .await;
    assert_eq!(
        done["new_run_id"], "bbbbbbbb-1111-2222-3333-cccccccccccc",
        "{done}"
    );
    tools
        .ok(
            "cancel_run",
            json!({"run_id": FABRIC_RUNNING, "dry_run": false}),
        )
        .await;
    assert_eq!(counting.acts(), 2, "real requests do reach act");
    assert_eq!(posts(), 2);
}
