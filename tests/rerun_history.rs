//! The rerun limit counted from the backend's own run history, so it holds
//! across servers (replicas) that share nothing but the backend: each test
//! gives every call a fresh server with its own policy guard, so no count can
//! come from process memory. The whole rerun chain counts (a rerun of a
//! rerun), an hour-old rerun does not, and a history that cannot be read
//! refuses the rerun (fail closed) without acting. Per backend: the sandbox,
//! Data Factory (run groups, over its vendor-shaped API), Databricks (repair
//! history, the vendor's `RepairHistoryItem`), and the audit on a stream.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use common::azure::{FAILED_RUN, FakeApi, Recorded, Reply, SALES_FACTORY_PATH};
use opsdeck::backends::{
    BackendError, BackendHealth, Backends, CancelRequest, LivePlan, PipelineBackend,
    RemediationOutcome, RemediationPlan, RerunRequest, RunPage, RunQuery,
};
use opsdeck::model::estate::EstateCatalog;
use opsdeck::model::run::{ActivityRun, BackendKind, PipelineRun};
use opsdeck::ops::policy::{PolicyGuard, RemediationPolicy};
use opsdeck::server::OpsdeckServer;

/// A guard with `max` reruns per hour auditing to `audit`.
fn limited(max: u32, audit: &std::path::Path) -> PolicyGuard {
    let policy = RemediationPolicy {
        max_reruns_per_run_per_hour: Some(max),
        audit_log: Some(audit.to_path_buf()),
        ..RemediationPolicy::default()
    };
    PolicyGuard::new(policy, audit.parent().unwrap())
}

/// A fresh server (a new replica: nothing remembered) over shared backends.
async fn replica(backends: &Backends, max: u32, audit: &std::path::Path) -> common::ToolClient {
    let server = OpsdeckServer::new(backends.clone(), false).with_policy(limited(max, audit));
    common::connect_server(server).await
}

fn outcomes(audit: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

const PIPELINE: &str = "ingest_crm_customers";

#[tokio::test]
async fn sandbox_reruns_of_a_chain_are_counted_across_replicas_for_an_hour() {
    let dir = common::process::tempdir("rerun-history-sandbox");
    let audit = dir.join("audit.jsonl");
    let clock = common::TestClock::at(common::pinned());
    let (_, backends) = common::sandbox_backends("expired-secret", 7, clock.clone());
    let real = |run: &str| json!({"pipeline": PIPELINE, "run_id": run, "dry_run": false});

    let first = replica(&backends, 2, &audit).await;
    let root = first.latest_failed(PIPELINE).await["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = first.ok("rerun_pipeline", real(&root)).await;
    let rerun_1 = done["new_run_id"].as_str().unwrap().to_string();

    // The rerun fails the same way (its cause is still there); another replica
    // re-runs the rerun: the chain has one rerun in the hour, so one more is allowed.
    clock.advance(Duration::minutes(30));
    let second = replica(&backends, 2, &audit).await;
    let run = second
        .ok("get_run_details", json!({"run_id": &rerun_1}))
        .await;
    assert_eq!(
        run["run"]["status"], "Failed",
        "the rerun failed again: {run}"
    );
    let done = second.ok("rerun_pipeline", real(&rerun_1)).await;
    let rerun_2 = done["new_run_id"].as_str().unwrap().to_string();

    // A third replica: the root, the rerun and the rerun of the rerun are one chain.
    clock.advance(Duration::minutes(20));
    let third = replica(&backends, 2, &audit).await;
    for reference in [&rerun_2, &rerun_1, &root] {
        let refused = third.err("rerun_pipeline", real(reference)).await;
        assert!(
            refused.contains("2 rerun(s)") && refused.contains("2 were made"),
            "{reference}: {refused}"
        );
    }
    assert!(
        third
            .ok(
                "rerun_pipeline",
                json!({"pipeline": PIPELINE, "run_id": &rerun_2})
            )
            .await["dry_run"]
            == true,
        "a dry run is never limited"
    );

    // An hour after the first rerun only the second counts.
    clock.advance(Duration::minutes(15));
    let fourth = replica(&backends, 2, &audit).await;
    fourth.ok("rerun_pipeline", real(&rerun_2)).await;

    assert_eq!(
        outcomes(&audit),
        [
            "done",
            "done",
            "blocked_by_policy",
            "blocked_by_policy",
            "blocked_by_policy",
            "previewed",
            "done"
        ]
    );
}

/// The sandbox with its history unreadable: `reruns_since` is the trait's
/// default, as for a backend that cannot read one.
struct NoHistory(Arc<dyn PipelineBackend>);

#[async_trait]
impl PipelineBackend for NoHistory {
    fn kind(&self) -> BackendKind {
        self.0.kind()
    }
    fn environment(&self) -> &str {
        self.0.environment()
    }
    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        self.0.catalog().await
    }
    async fn query_runs(&self, query: &RunQuery) -> Result<RunPage, BackendError> {
        self.0.query_runs(query).await
    }
    async fn get_run(&self, run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        self.0.get_run(run_id).await
    }
    async fn activity_runs(&self, run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        self.0.activity_runs(run_id).await
    }
    async fn plan_rerun(&self, request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        self.0.plan_rerun(request).await
    }
    async fn plan_cancel(&self, request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        self.0.plan_cancel(request).await
    }
    async fn act(&self, plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        self.0.act(plan).await
    }
    async fn health(&self) -> BackendHealth {
        self.0.health().await
    }
}

#[tokio::test]
async fn an_unreadable_history_refuses_a_limited_rerun_and_nothing_is_started() {
    let dir = common::process::tempdir("rerun-history-closed");
    let audit = dir.join("audit.jsonl");
    let clock = common::TestClock::at(common::pinned());
    let (sandbox, mut backends) = common::sandbox_backends("expired-secret", 7, clock.clone());
    backends.pipelines = vec![Arc::new(NoHistory(sandbox.clone()))];
    let tools = replica(&backends, 5, &audit).await;
    let root = tools.latest_failed(PIPELINE).await["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = tools.runs(json!({"pipeline": PIPELINE})).await.len();
    let refused = tools
        .err(
            "rerun_pipeline",
            json!({"pipeline": PIPELINE, "run_id": root, "dry_run": false}),
        )
        .await;
    assert!(
        refused.contains("could not be read") && refused.contains("cannot read the rerun history"),
        "{refused}"
    );
    assert_eq!(
        tools.runs(json!({"pipeline": PIPELINE})).await.len(),
        before,
        "no run started"
    );
    assert_eq!(outcomes(&audit), ["blocked_by_policy"]);

    // Without a limit the history is not needed.
    let unlimited = PolicyGuard::new(
        RemediationPolicy {
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        },
        &dir,
    );
    let tools =
        common::connect_server(OpsdeckServer::new(backends, false).with_policy(unlimited)).await;
    tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": PIPELINE, "run_id": root, "dry_run": false}),
        )
        .await;
}

/// Data Factory's runs as the service keeps them: the sales estate's runs
/// (vendor-shaped), and what `createRun` adds, with `runGroupId` set as the
/// API reference says (a recovery run joins its reference run's group).
#[derive(Clone)]
struct Factory {
    runs: Arc<Mutex<Vec<Value>>>,
}

const NEW_RUN_IDS: [&str; 3] = [
    "0a000000-0000-4000-8000-000000000001",
    "0a000000-0000-4000-8000-000000000002",
    "0a000000-0000-4000-8000-000000000003",
];

impl Factory {
    fn serve(fake: &FakeApi) -> Factory {
        fake.serve_sales_estate();
        let runs = common::azure::fixture(fake, "runs.json")["value"]
            .as_array()
            .unwrap()
            .clone();
        let factory = Factory {
            runs: Arc::new(Mutex::new(runs)),
        };
        let listing = factory.clone();
        fake.route_fn(
            "POST",
            &format!("{SALES_FACTORY_PATH}/queryPipelineRuns"),
            move |r| {
                let all = json!({"value": listing.runs.lock().unwrap().clone()});
                let groups: Vec<Value> = r.body["filters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["operand"] == "RunGroupId")
                    .flat_map(|f| f["values"].as_array().cloned().unwrap_or_default())
                    .collect();
                let value: Vec<Value> = common::azure::filter_runs(&all, &r.body)
                    .into_iter()
                    .filter(|run| groups.is_empty() || groups.contains(&run["runGroupId"]))
                    .collect();
                Reply::json(200, json!({"value": value}))
            },
        );
        for id in NEW_RUN_IDS {
            let reading = factory.clone();
            fake.route_fn(
                "GET",
                &format!("{SALES_FACTORY_PATH}/pipelineruns/{id}"),
                move |_| match reading.find(id) {
                    Some(run) => Reply::json(200, run),
                    None => Reply::arm_error(404, "PipelineRunNotFound", "no such run"),
                },
            );
        }
        let creating = factory.clone();
        fake.route_fn(
            "POST",
            &format!("{SALES_FACTORY_PATH}/pipelines/ingest_orders/createRun"),
            move |r| creating.create(r),
        );
        factory
    }

    fn find(&self, id: &str) -> Option<Value> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .find(|r| r["runId"] == id)
            .cloned()
    }

    fn create(&self, request: &Recorded) -> Reply {
        let mut runs = self.runs.lock().unwrap();
        let made = runs
            .iter()
            .filter(|r| r["invokedBy"]["name"] == "opsdeck-test")
            .count();
        let id = NEW_RUN_IDS[made];
        let reference = request.query_param("referencePipelineRunId");
        let group = match (&reference, request.query_param("isRecovery").as_deref()) {
            (Some(reference), Some("true")) => runs
                .iter()
                .find(|r| r["runId"] == reference.as_str())
                .map(|r| r["runGroupId"].clone())
                .unwrap_or(json!(reference)),
            _ => json!(id),
        };
        runs.push(json!({
            "runId": id, "pipelineName": "ingest_orders", "runGroupId": group, "isLatest": true,
            "invokedBy": {"id": "x", "name": "opsdeck-test", "invokedByType": "Manual"},
            "runStart": common::azure::SALES_NOW, "lastUpdated": common::azure::SALES_NOW,
            "status": "Failed", "message": "failed again", "parameters": {}
        }));
        Reply::json(200, json!({"runId": id}))
    }
}

async fn adf_replica(fake: &FakeApi, max: u32, audit: &std::path::Path) -> common::ToolClient {
    let settings = common::azure::settings(fake, &common::azure::sales_vars());
    let backends = common::azure::backends(&settings, common::azure::sales_clock()).await;
    replica(&backends, max, audit).await
}

#[tokio::test]
async fn data_factory_counts_the_recovery_runs_of_the_run_group_across_replicas() {
    let dir = common::process::tempdir("rerun-history-adf");
    let audit = dir.join("audit.jsonl");
    let fake = FakeApi::start().await;
    Factory::serve(&fake);
    let rerun = |run: &str| json!({"pipeline": "ingest_orders", "run_id": run, "dry_run": false});

    let first = adf_replica(&fake, 2, &audit).await;
    let done = first.ok("rerun_pipeline", rerun(FAILED_RUN)).await;
    assert_eq!(done["new_run_id"], NEW_RUN_IDS[0]);
    let created = fake.requests_to("/createRun");
    assert_eq!(
        created[0].query_param("isRecovery").as_deref(),
        Some("true"),
        "joins the group"
    );

    // A rerun of the rerun, from another replica, and without startFromFailure.
    let second = adf_replica(&fake, 2, &audit).await;
    let mut ask = rerun(NEW_RUN_IDS[0]);
    ask["from_failed_activity"] = json!(false);
    second.ok("rerun_pipeline", ask).await;
    let created = fake.requests_to("/createRun");
    assert_eq!(
        created[1].query_param("isRecovery").as_deref(),
        Some("true")
    );
    assert_eq!(created[1].query_param("startFromFailure"), None);

    let third = adf_replica(&fake, 2, &audit).await;
    for reference in [NEW_RUN_IDS[1], FAILED_RUN] {
        let refused = third.err("rerun_pipeline", rerun(reference)).await;
        assert!(refused.contains("2 were made"), "{reference}: {refused}");
    }
    assert_eq!(
        fake.requests_to("/createRun").len(),
        2,
        "refused before createRun"
    );
    let asked = fake
        .requests_to("/queryPipelineRuns")
        .into_iter()
        .rfind(|r| r.body.to_string().contains("RunGroupId"))
        .expect("the history is asked by run group");
    let filters = asked.body["filters"].as_array().unwrap();
    assert!(
        filters
            .iter()
            .any(|f| f["operand"] == "RunGroupId" && f["values"][0] == FAILED_RUN),
        "{}",
        asked.body
    );

    // The group's history unreadable: refused, nothing created.
    fake.route(
        "POST",
        &format!("{SALES_FACTORY_PATH}/queryPipelineRuns"),
        Some(Arc::new(|r: &Recorded| {
            r.body.to_string().contains("RunGroupId")
        })),
        vec![Reply::arm_error(503, "ServiceUnavailable", "try later")],
    );
    let fourth = adf_replica(&fake, 5, &audit).await;
    let refused = fourth.err("rerun_pipeline", rerun(NEW_RUN_IDS[1])).await;
    assert!(refused.contains("could not be read"), "{refused}");
    assert_eq!(fake.requests_to("/createRun").len(), 2);
}

/// `runs/get` of run 448812 with a repair made `minutes_ago`, shaped as the
/// vendor's `RepairHistoryItem` (Jobs API 2.1 OpenAPI).
fn with_repair(minutes_ago: i64) -> Value {
    let mut run = common::azure::databricks_fixture("runs-get.448812.json");
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(common::azure::SALES_NOW)
        .unwrap()
        .with_timezone(&Utc);
    let start = (now - Duration::minutes(minutes_ago)).timestamp_millis();
    run["repair_history"].as_array_mut().unwrap().push(json!({
        "type": "REPAIR",
        "start_time": start,
        "end_time": start + 402930,
        "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED"},
        "id": 734650698524281_i64,
        "task_run_ids": [1106460542112844_i64, 988297789683452_i64]
    }));
    run
}

async fn databricks_replica(fake: &FakeApi, audit: &std::path::Path) -> common::ToolClient {
    let backend = common::azure::databricks_backend(fake);
    let backends = Backends {
        pipelines: vec![backend],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: vec![],
        clock: common::azure::sales_clock(),
        label: "databricks".into(),
    };
    replica(&backends, 1, audit).await
}

#[tokio::test]
async fn databricks_counts_the_repairs_in_the_runs_repair_history() {
    let dir = common::process::tempdir("rerun-history-databricks");
    let audit = dir.join("audit.jsonl");
    let fake = FakeApi::start().await;
    fake.serve_databricks_workspace();
    let repair = json!({"pipeline": "order_facts", "run_id": "448812", "dry_run": false});
    let run_of = |minutes_ago| {
        let run = with_repair(minutes_ago);
        move |r: &Recorded| {
            if r.query_param("run_id").as_deref() == Some("448812") {
                Reply::json(200, run.clone())
            } else {
                Reply::json(404, json!({"error_code": "RESOURCE_DOES_NOT_EXIST"}))
            }
        }
    };

    fake.route_fn("GET", "/api/2.1/jobs/runs/get", run_of(20));
    let refused = databricks_replica(&fake, &audit)
        .await
        .err("rerun_pipeline", repair.clone())
        .await;
    assert!(refused.contains("1 rerun(s)"), "{refused}");
    assert!(
        fake.requests_to("/runs/repair").is_empty(),
        "refused before repairing"
    );

    // A repair older than an hour no longer counts.
    fake.route_fn("GET", "/api/2.1/jobs/runs/get", run_of(90));
    databricks_replica(&fake, &audit)
        .await
        .ok("rerun_pipeline", repair)
        .await;
    assert_eq!(fake.requests_to("/runs/repair").len(), 1);
    assert_eq!(outcomes(&audit), ["blocked_by_policy", "done"]);
}

/// `opsdeck serve` over stdio with its audit on standard error and no
/// `HOME` (a container): two calls, each audited as one JSON line, redacted.
fn stdio_session_audit(extra: &[&str], policy: &str) -> (Vec<Value>, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = common::process::tempdir("rerun-history-stream");
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let mut child = Command::new(common::process::OPSDECK)
        .args(common::process::pinned_serve_args())
        .arg("--policy")
        .arg(&policy_path)
        .args(extra)
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("OPSDECK_LOG_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "rerun_pipeline",
            "arguments": {"pipeline": PIPELINE, "approved_by": "dana\u{1b}[2J password=hunter2secret"}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "rerun_pipeline",
            "arguments": {"pipeline": PIPELINE, "run_id": "no-such-run", "dry_run": false}}}),
    ];
    let mut stdin = child.stdin.take().unwrap();
    for request in requests {
        writeln!(stdin, "{request}").unwrap();
    }
    // The answers come before the end of input is read: wait for them.
    let stdout = child.stdout.take().unwrap();
    let answers = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut ids = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let answer: Value = serde_json::from_str(&line).expect("stdout is only MCP");
            ids.push(answer["id"].clone());
            if ids.len() == 3 {
                break;
            }
        }
        ids
    });
    let mut ids = answers.join().unwrap();
    // Calls are served concurrently: answers come in any order.
    ids.sort_by_key(|id| id.as_i64());
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let records = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["record"] == "opsdeck.audit")
        .collect();
    (records, stderr)
}

#[test]
fn the_audit_goes_to_standard_error_as_redacted_json_lines_without_home() {
    for (extra, policy) in [
        (&["--audit-log", "stderr"][..], "[remediation]\n"),
        (&[][..], "[remediation]\naudit_log = \"stderr\"\n"),
    ] {
        let (records, stderr) = stdio_session_audit(extra, policy);
        assert_eq!(records.len(), 2, "{stderr}");
        let of = |dry_run: bool| records.iter().find(|r| r["dry_run"] == dry_run).unwrap();
        assert_eq!(of(true)["outcome"], "previewed");
        assert_eq!(of(false)["outcome"], "failed");
        assert_eq!(of(false)["arguments"]["run_id"], "no-such-run");
        assert!(!stderr.contains("hunter2secret"), "redacted: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "no control characters: {stderr}"
        );
    }
}

#[test]
fn an_audit_on_standard_output_is_refused_when_stdout_carries_mcp() {
    for (extra, policy) in [
        (&["--audit-log", "stdout"][..], "[remediation]\n"),
        (&[][..], "[remediation]\naudit_log = \"stdout\"\n"),
    ] {
        let dir = common::process::tempdir("rerun-history-stdout");
        let policy_path = dir.join("policy.toml");
        std::fs::write(&policy_path, policy).unwrap();
        let output = std::process::Command::new(common::process::OPSDECK)
            .args(common::process::pinned_serve_args())
            .arg("--policy")
            .arg(&policy_path)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("standard output"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

/// A stateless server cannot keep `require_preview`: it refuses to start.
#[test]
fn a_stateless_server_refuses_a_policy_that_requires_a_preview() {
    let dir = common::process::tempdir("rerun-history-stateless");
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, "[remediation]\nrequire_preview = true\n").unwrap();
    let output = std::process::Command::new(common::process::OPSDECK)
        .args(common::process::pinned_serve_args())
        .args([
            "--http",
            "127.0.0.1:0",
            "--stateless",
            "--audit-log",
            "stderr",
            "--policy",
        ])
        .arg(&policy_path)
        .env("OPSDECK_HTTP_TOKEN", "a-token-of-at-least-16-chars")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("require_preview") && stderr.contains("stateless"),
        "{stderr}"
    );
}

static ONE_AIRFLOW_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Airflow re-runs in place by clearing tasks, so the history is its audit
/// log: on the real Airflow 2 and 3 (event names as each writes them), one
/// clear counts, the dry-run clears opsdeck makes while planning do not, and
/// another server then refuses a second rerun within the hour.
fn airflow_counts_clears_from_its_audit_log(
    release: common::airflow::Release,
    version: opsdeck::backends::airflow::api::ApiVersion,
) {
    use opsdeck::backends::airflow::{AirflowBackend, AirflowSettings};
    const DAG: &str = "nightly_orders";
    const RUN: &str = "manual__limit_1";
    let run_key = format!("{DAG}/{RUN}");
    let _turn = ONE_AIRFLOW_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = common::process::tempdir("rerun-history-airflow");
    let audit = dir.join("audit.jsonl");
    let airflow = common::airflow::RealAirflow::start_release(release);
    let run = airflow.run_to_completion(DAG, RUN);
    assert_eq!(run["state"], "failed", "the DAG fails as designed: {run}");
    let backend = || {
        let url = airflow.url.clone();
        let settings = AirflowSettings::from_env(&|name| match name {
            "AIRFLOW_URL" => Some(url.clone()),
            "AIRFLOW_USERNAME" => Some(common::airflow::USER.to_string()),
            "AIRFLOW_PASSWORD" => Some(common::airflow::PASSWORD.to_string()),
            _ => None,
        })
        .expect("settings");
        let clock = Arc::new(opsdeck::model::time::SystemClock);
        Arc::new(
            AirflowBackend::new(&settings, version, clock, Default::default()).expect("backend"),
        )
    };
    let backends = || Backends {
        label: "airflow/test".into(),
        pipelines: vec![backend()],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: vec![],
        clock: Arc::new(opsdeck::model::time::SystemClock),
    };
    let real = json!({"pipeline": DAG, "run_id": &run_key, "dry_run": false});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let first = replica(&backends(), 1, &audit).await;
        let preview = first
            .ok(
                "rerun_pipeline",
                json!({"pipeline": DAG, "run_id": &run_key}),
            )
            .await;
        assert_eq!(preview["dry_run"], true);
        first.ok("rerun_pipeline", real.clone()).await;
    });
    airflow.wait_until(
        "the cleared run has failed again",
        Duration::seconds(180).to_std().unwrap(),
        |a| {
            let task = a.task(DAG, RUN, "transform_on_databricks");
            task["try_number"].as_u64().unwrap_or(0) > 2 && task["state"] == "failed"
        },
    );
    airflow.wait_for_end(DAG, RUN);
    runtime.block_on(async {
        let backend = backend();
        let reference = backend.get_run(&run_key).await.unwrap().expect("the run");
        let since = Utc::now() - Duration::hours(1);
        let clears = backend
            .reruns_since(&reference, since)
            .await
            .expect("the audit log reads");
        assert_eq!(
            clears.len(),
            1,
            "one real clear; dry runs do not count: {clears:?}"
        );
        let second = replica(&backends(), 1, &audit).await;
        let refused = second.err("rerun_pipeline", real.clone()).await;
        assert!(refused.contains("1 rerun(s)"), "{refused}");
        let unlimited = replica(&backends(), 2, &audit).await;
        unlimited.ok("rerun_pipeline", real).await;
    });
    assert_eq!(
        outcomes(&audit),
        ["previewed", "done", "blocked_by_policy", "done"]
    );
}

#[test]
fn airflow_2_counts_clears_from_its_audit_log() {
    airflow_counts_clears_from_its_audit_log(
        common::airflow::Release::Airflow2,
        opsdeck::backends::airflow::api::ApiVersion::V1,
    );
}

#[test]
fn airflow_3_counts_clears_from_its_audit_log() {
    airflow_counts_clears_from_its_audit_log(
        common::airflow::Release::Airflow3,
        opsdeck::backends::airflow::api::ApiVersion::V2,
    );
}

const FABRIC_WS: &str = "4b218778-e7a5-4d73-8187-f10824047715";
const FABRIC_ITEM: &str = "431e8d7b-4a95-4c02-8ccd-6faef5ba1bd7";

/// A vendor example's file under `fabric-rest-api-specs/platform/examples/platform`.
fn fabric_example(name: &str) -> Value {
    let file = common::vendor_dir()
        .join("fabric-rest-api-specs/platform/examples/platform")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// The vendor's workspace, item job instances and run-on-demand answer, at
/// their real paths: one item whose two job instances were both run by hand.
async fn fabric_server() -> FakeApi {
    let fake = FakeApi::start().await;
    let mut workspace = fabric_example("GetWorkspace")["responses"]["200"]["body"].clone();
    workspace["id"] = json!(FABRIC_WS);
    let base = format!("/v1/workspaces/{FABRIC_WS}");
    fake.route("GET", &base, None, vec![Reply::json(200, workspace)]);
    fake.route(
        "GET",
        &format!("{base}/items"),
        None,
        vec![Reply::json(
            200,
            json!({"value": [{"id": FABRIC_ITEM, "displayName": "load_sales",
                              "type": "DataPipeline", "workspaceId": FABRIC_WS}]}),
        )],
    );
    let listing = fabric_example("ListItemJobInstances")["responses"]["200"]["body"].clone();
    let instances = format!("{base}/items/{FABRIC_ITEM}/jobs/instances");
    for instance in listing["value"].as_array().unwrap() {
        let id = instance["id"].as_str().unwrap();
        fake.route(
            "GET",
            &format!("{instances}/{id}"),
            None,
            vec![Reply::json(200, instance.clone())],
        );
    }
    fake.route("GET", &instances, None, vec![Reply::json(200, listing)]);
    let accepted = fabric_example("RunOnDemandItemJob")["responses"]["202"]["headers"].clone();
    fake.route(
        "POST",
        &format!("{base}/items/{FABRIC_ITEM}/jobs/DefaultJob/instances"),
        None,
        vec![
            Reply::json(202, Value::Null)
                .header("Location", accepted["Location"].as_str().unwrap())
                .header("Retry-After", &accepted["Retry-After"].to_string()),
        ],
    );
    fake
}

async fn fabric_replica(fake: &FakeApi, max: u32, audit: &std::path::Path) -> common::ToolClient {
    use opsdeck::backends::fabric::FabricBackend;
    use opsdeck::backends::fabric::settings::FabricSettings;
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
    let now = DateTime::parse_from_rfc3339("2024-06-22T07:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock: opsdeck::model::time::SharedClock = Arc::new(opsdeck::model::time::FixedClock(now));
    let backend = FabricBackend::new(
        &settings,
        common::azure::static_credential(),
        clock.clone(),
        common::azure::quick_retries(),
    )
    .unwrap();
    let backends = Backends {
        pipelines: vec![Arc::new(backend)],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: vec![],
        clock,
        label: "fabric".into(),
    };
    replica(&backends, max, audit).await
}

#[tokio::test]
async fn fabric_counts_the_items_manual_job_instances_of_the_hour() {
    let dir = common::process::tempdir("rerun-history-fabric");
    let audit = dir.join("audit.jsonl");
    let fake = fabric_server().await;
    let rerun = json!({"pipeline": "load_sales", "dry_run": false,
                       "run_id": "c0c99aed-be56-4fe0-a6e5-6de5fe277f16"});
    let run_on_demand = |fake: &FakeApi| {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/jobs/DefaultJob/instances"))
            .count()
    };
    // Both manual instances of the hour count, the run asked about among them
    // (another replica's rerun is still a rerun): Fabric links no rerun to its run.
    let refused = fabric_replica(&fake, 2, &audit)
        .await
        .err("rerun_pipeline", rerun.clone())
        .await;
    assert!(refused.contains("2 rerun(s)"), "{refused}");
    assert_eq!(run_on_demand(&fake), 0, "refused before running anything");
    fabric_replica(&fake, 3, &audit)
        .await
        .ok("rerun_pipeline", rerun)
        .await;
    assert_eq!(run_on_demand(&fake), 1);
    assert_eq!(outcomes(&audit), ["blocked_by_policy", "done"]);
}
