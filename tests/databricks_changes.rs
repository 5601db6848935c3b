//! What changed in a Databricks workspace, served locally with payloads
//! shaped by Databricks' documents (Clusters API `clusters/events` and
//! `clusters/list`, Jobs API 2.1 `jobs/list`; fixtures/databricks/README.md):
//! the events of the clusters jobs run on and of the all-purpose clusters,
//! paged by token, bounded, with who and why; jobs created in the window;
//! `what_changed` scoped to a job lists its cluster's changes and no others.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use common::azure::{
    FakeApi, Recorded, Reply, databricks_backend, databricks_fixture, sales_clock,
};
use opsdeck::backends::{Backends, ChangeSource, ChangeWindow};
use opsdeck::model::change::ChangeKind;

const SHARED: &str = "0923-164208-meows279";
const ADHOC: &str = "1105-093015-adhoc42";
const JOB_CLUSTER: &str = "1123-020001-job448812";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn night(limit: usize) -> ChangeWindow {
    ChangeWindow {
        from: at("2026-11-22T20:00:00Z"),
        to: at("2026-11-23T03:42:00Z"),
        limit,
    }
}

/// The jobs of fixtures/databricks/jobs-list.json with `order_facts` running
/// on the shared cluster, and a job created tonight.
fn jobs() -> Value {
    let mut jobs = databricks_fixture("jobs-list.json");
    for task in jobs["jobs"][0]["settings"]["tasks"].as_array_mut().unwrap() {
        task["existing_cluster_id"] = json!(SHARED);
    }
    jobs["jobs"].as_array_mut().unwrap().push(json!({
        "job_id": 1024,
        "creator_user_name": "sam@contoso.com",
        "created_time": at("2026-11-23T01:00:00Z").timestamp_millis(),
        "settings": {"name": "adhoc_export", "tasks": [{"task_key": "export", "notebook_task": {"notebook_path": "/Users/sam/export"}}]}
    }));
    jobs
}

/// A workspace whose clusters answer from the fixtures, paged by token.
async fn workspace() -> FakeApi {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/api/2.1/jobs/list",
        None,
        vec![Reply::json(200, jobs())],
    );
    fake.route(
        "GET",
        "/api/2.1/clusters/list",
        None,
        vec![Reply::json(200, databricks_fixture("clusters-list.json"))],
    );
    let page1 = databricks_fixture(&format!("cluster-events.{SHARED}.page1.json"));
    let page2 = databricks_fixture(&format!("cluster-events.{SHARED}.page2.json"));
    let adhoc = databricks_fixture(&format!("cluster-events.{ADHOC}.json"));
    fake.route_fn("POST", "/api/2.1/clusters/events", move |r: &Recorded| {
        let token = r.body["page_token"].as_str();
        match (r.body["cluster_id"].as_str(), token) {
            (Some(SHARED), None) => Reply::json(200, page1.clone()),
            (Some(SHARED), Some(t)) if Some(t) == page1["next_page_token"].as_str() => {
                Reply::json(200, page2.clone())
            }
            (Some(ADHOC), None) => Reply::json(200, adhoc.clone()),
            (id, _) => Reply::json(
                400,
                json!({"error_code": "INVALID_PARAMETER_VALUE", "message": format!("Cluster {id:?} does not exist")}),
            ),
        }
    });
    fake
}

#[tokio::test]
async fn cluster_events_and_new_jobs_are_listed_newest_first_with_who_and_why() {
    let fake = workspace().await;
    let backend = databricks_backend(&fake);
    let changes = backend.changes(&night(100)).await.unwrap();
    let listed: Vec<(String, &str, &str)> = changes
        .iter()
        .map(|c| (c.at.to_rfc3339(), c.operation.as_str(), c.resource.as_str()))
        .collect();
    assert!(
        changes.windows(2).all(|w| w[0].at >= w[1].at),
        "{listed:#?}"
    );
    assert_eq!(changes.len(), 11, "{listed:#?}");

    let edit = changes.iter().find(|c| c.operation == "EDITED").unwrap();
    assert_eq!(edit.actor, "dana@contoso.com");
    assert_eq!(edit.kind, ChangeKind::Configuration);
    assert_eq!(edit.resource, "etl-shared", "named from clusters/list");
    assert!(
        edit.touches.contains(&"order_facts".to_string()),
        "{:?}",
        edit.touches
    );
    assert!(
        edit.summary.contains("num_workers 8 → 2"),
        "{}",
        edit.summary
    );
    // Every change names its workspace: another cluster known only by its id
    // is still in the workspace (and the quota) a pipeline's connection uses.
    let host = reqwest::Url::parse(&fake.base)
        .unwrap()
        .host_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        changes.iter().all(|c| c.touches.contains(&host)),
        "{host}: {listed:#?}"
    );

    let quota = changes
        .iter()
        .find(|c| c.resource == "sam-adhoc" && c.operation == "TERMINATING")
        .unwrap();
    assert!(
        quota.summary.contains("CLOUD_PROVIDER_LAUNCH_FAILURE"),
        "{}",
        quota.summary
    );

    let created = changes
        .iter()
        .find(|c| c.resource == "adhoc_export")
        .unwrap();
    assert_eq!(created.kind, ChangeKind::Lifecycle);
    assert_eq!(created.actor, "sam@contoso.com");
    assert!(
        !changes.iter().any(|c| c.resource == "order_facts"),
        "a job created last year is outside the window"
    );

    // What was asked: the window in epoch ms, newest first, only change types,
    // the second page by its token; the job cluster is never asked about.
    let asked = fake.requests_to("/clusters/events");
    let first = &asked[0].body;
    assert_eq!(first["start_time"], night(1).from.timestamp_millis());
    assert_eq!(first["end_time"], night(1).to.timestamp_millis());
    assert_eq!(first["order"], "DESC");
    let types: Vec<&str> = first["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(types.contains(&"EDITED") && types.contains(&"TERMINATING"));
    assert!(!types.contains(&"AUTOSCALING_STATS_REPORT") && !types.contains(&"RUNNING"));
    assert!(asked.iter().any(|r| r.body["page_token"].is_string()));
    assert!(asked.iter().all(|r| r.body["cluster_id"] != JOB_CLUSTER));
    assert_eq!(
        asked.len(),
        3,
        "two pages of the shared cluster, one of the ad hoc one"
    );
}

#[tokio::test]
async fn the_window_and_the_limit_are_kept() {
    let fake = workspace().await;
    let backend = databricks_backend(&fake);
    let window = ChangeWindow {
        from: at("2026-11-23T01:12:00Z"),
        to: at("2026-11-23T02:06:00Z"),
        limit: 100,
    };
    let changes = backend.changes(&window).await.unwrap();
    assert!(
        changes.iter().all(|c| window.contains(c.at)),
        "{changes:#?}"
    );
    assert!(changes.iter().any(|c| c.operation == "EDITED"));
    let newest = backend.changes(&night(2)).await.unwrap();
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0].operation, "TERMINATING");
    assert_eq!(newest[0].at, at("2026-11-23T02:40:00Z"));
    let empty = ChangeWindow {
        from: window.to,
        to: window.from,
        limit: 10,
    };
    assert!(backend.changes(&empty).await.unwrap().is_empty());
}

#[tokio::test]
async fn endless_pages_are_bounded_and_a_refusal_says_what_to_do() {
    let fake = FakeApi::start().await;
    fake.route(
        "GET",
        "/api/2.1/jobs/list",
        None,
        vec![Reply::json(200, jobs())],
    );
    fake.route(
        "GET",
        "/api/2.1/clusters/list",
        None,
        vec![Reply::json(
            403,
            json!({"error_code": "PERMISSION_DENIED", "message": "no"}),
        )],
    );
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    fake.route_fn("POST", "/api/2.1/clusters/events", move |_r: &Recorded| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        Reply::json(
            200,
            json!({"events": [{"cluster_id": SHARED, "type": "DRIVER_HEALTHY", "timestamp": 1_795_000_000_000_i64 + n as i64}],
                   "next_page_token": format!("t{n}")}),
        )
    });
    let backend = databricks_backend(&fake);
    let changes = backend.changes(&night(100)).await.unwrap();
    assert!(
        changes.iter().all(|c| c.resource == "adhoc_export"),
        "{changes:#?}"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        5,
        "pages per cluster are bounded"
    );

    let refused = FakeApi::start().await;
    refused.route(
        "GET",
        "/api/2.1/jobs/list",
        None,
        vec![Reply::json(200, jobs())],
    );
    refused.route(
        "POST",
        "/api/2.1/clusters/events",
        None,
        vec![Reply::json(
            403,
            json!({"error_code": "PERMISSION_DENIED", "message": "User does not have permission to view cluster"}),
        )],
    );
    let error = databricks_backend(&refused)
        .changes(&night(10))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(SHARED), "{error}");
    assert!(
        error.to_lowercase().contains("permission") || error.contains("403"),
        "{error}"
    );
}

#[tokio::test]
async fn what_changed_scoped_to_a_job_lists_its_clusters_changes() {
    let fake = workspace().await;
    let backend = databricks_backend(&fake);
    let backends = Backends {
        label: "databricks/prod".into(),
        pipelines: vec![backend.clone()],
        secrets: vec![],
        infra: vec![],
        logs: vec![backend.clone()],
        changes: vec![backend],
        clock: sales_clock(),
    };
    let tools = common::connect(backends, true).await;
    let scoped = tools
        .ok(
            "what_changed",
            json!({"since": "2026-11-22T20:00:00Z", "pipeline": "order_facts"}),
        )
        .await;
    let changes = scoped["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{scoped}");
    assert!(
        changes.iter().all(|c| c["resource"] == "etl-shared"),
        "only the job's cluster: {scoped}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["operation"] == "EDITED" && c["actor"] == "dana@contoso.com")
    );
    let everything = tools
        .ok("what_changed", json!({"since": "2026-11-22T20:00:00Z"}))
        .await;
    assert!(
        everything["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["resource"] == "sam-adhoc"),
        "{everything}"
    );
}
