//! How the Azure client behaves against a shared cloud: continuation-token and
//! nextLink paging, throttling with Retry-After, retries only for reads, no
//! retry of an action whose outcome is unknown (and an honest "may have
//! executed"), ARM error bodies turned into clear tool errors, and links that
//! would carry the token to another host refused.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::azure::{
    FAILED_RUN, FakeApi, RUNNING_RUN, Recorded, Reply, SALES_FACTORY_PATH, backends, fixture,
    sales_clock, sales_vars, settings,
};
use opsdeck::backends::azure::config::AzureSettings;
use opsdeck::backends::azure::credential::{AzureCredential, CredentialKind, candidates_from_env};

async fn sales() -> (FakeApi, common::ToolClient) {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let backends = backends(&settings(&fake, &sales_vars()), sales_clock()).await;
    (fake.clone(), common::connect(backends, false).await)
}

fn run_numbered(n: usize) -> Value {
    json!({
        "runId": format!("00000000-0000-4000-8000-{n:012}"),
        "pipelineName": "ingest_orders",
        "runStart": format!("2026-11-23T03:{:02}:00.1234567Z", 40 - n),
        "runEnd": format!("2026-11-23T03:{:02}:30Z", 40 - n),
        "durationInMs": 30000,
        "status": "Succeeded",
        "invokedBy": {"name": "nightly", "id": "x", "invokedByType": "ScheduleTrigger"},
        "lastUpdated": format!("2026-11-23T03:{:02}:30Z", 40 - n)
    })
}

#[tokio::test]
async fn continuation_tokens_page_through_every_run_exactly_once() {
    let (fake, tools) = sales().await;
    // Three ADF pages of 5, 5 and 2 runs, chained by continuationToken.
    let pages: Vec<Vec<Value>> = vec![
        (0..5).map(run_numbered).collect(),
        (5..10).map(run_numbered).collect(),
        (10..12).map(run_numbered).collect(),
    ];
    fake.route_fn(
        "POST",
        &format!("{SALES_FACTORY_PATH}/queryPipelineRuns"),
        move |r: &Recorded| {
            let page = match r.body["continuationToken"].as_str() {
                None => 0,
                Some("+RID:~page2") => 1,
                Some("+RID:~page3") => 2,
                Some(_) => return Reply::arm_error(400, "InvalidContinuationToken", "bad token"),
            };
            let mut body = json!({"value": pages[page]});
            if page < 2 {
                body["continuationToken"] = json!(format!("+RID:~page{}", page + 2));
            }
            Reply::json(200, body)
        },
    );
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let mut args = json!({"limit": 4, "since": "2h"});
        if let Some(t) = &token {
            args["continuation_token"] = json!(t);
        }
        let page = tools.ok("list_pipeline_runs", args).await;
        for run in page["runs"].as_array().unwrap() {
            seen.push(run["run_id"].as_str().unwrap().to_string());
        }
        token = page["continuation_token"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..12)
        .map(|n| format!("00000000-0000-4000-8000-{n:012}"))
        .collect();
    assert_eq!(seen, expected, "every run once, newest first");
    let bodies = fake.requests_to("/queryPipelineRuns");
    assert!(
        bodies
            .iter()
            .any(|r| r.body["continuationToken"] == "+RID:~page3")
    );
    let bad = tools
        .err(
            "list_pipeline_runs",
            json!({"continuation_token": "made-up"}),
        )
        .await;
    assert!(bad.contains("was not issued by this server"), "{bad}");
}

#[tokio::test]
async fn throttled_reads_wait_for_retry_after_and_then_succeed() {
    let (fake, tools) = sales().await;
    let run_path = format!("{SALES_FACTORY_PATH}/pipelineruns/{FAILED_RUN}");
    let run = fixture(&fake, "runs.json")["value"][1].clone();
    fake.route(
        "GET",
        &run_path,
        None,
        vec![
            Reply::arm_error(429, "TooManyRequests", "The request is being throttled.")
                .header("Retry-After", "1"),
            Reply::json(200, run),
        ],
    );
    let started = Instant::now();
    let details = tools
        .ok("get_run_details", json!({"run_id": FAILED_RUN}))
        .await;
    assert_eq!(details["run"]["status"], "Failed");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    // The throttled try and its retry, then the read activity_runs makes of the run.
    let gets = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == run_path)
        .count();
    assert_eq!(gets, 3);
}

#[tokio::test]
async fn reads_give_up_after_the_retries_with_a_clear_error() {
    let (fake, tools) = sales().await;
    let run_path = format!("{SALES_FACTORY_PATH}/pipelineruns/{FAILED_RUN}");
    fake.route(
        "GET",
        &run_path,
        None,
        vec![Reply::arm_error(
            503,
            "ServiceUnavailable",
            "Try again later.",
        )],
    );
    let err = tools
        .err("get_run_details", json!({"run_id": FAILED_RUN}))
        .await;
    assert!(err.contains("503 ServiceUnavailable"), "{err}");
    assert!(err.contains("adf-sales-prod"), "{err}");
    assert_eq!(
        fake.requests_to(&run_path).len(),
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn an_ambiguous_create_run_is_not_retried_and_says_it_may_have_executed() {
    let (fake, tools) = sales().await;
    let create = format!("{SALES_FACTORY_PATH}/pipelines/ingest_orders/createRun");
    fake.route(
        "POST",
        &create,
        None,
        vec![Reply::arm_error(
            503,
            "ServiceUnavailable",
            "Try again later.",
        )],
    );
    // The run createRun may have started shows up in the next query.
    let mut runs = fixture(&fake, "runs.json");
    runs["value"].as_array_mut().unwrap().insert(
        0,
        json!({"runId": "5e5e5e5e-0000-4000-8000-000000000001", "pipelineName": "ingest_orders",
               "runStart": "2026-11-23T03:42:00Z", "status": "Queued",
               "invokedBy": {"name": "Manual", "id": "m", "invokedByType": "Manual"},
               "lastUpdated": "2026-11-23T03:42:00Z"}),
    );
    fake.route_fn(
        "POST",
        &format!("{SALES_FACTORY_PATH}/queryPipelineRuns"),
        move |r| {
            Reply::json(
                200,
                json!({"value": common::azure::filter_runs(&runs, &r.body)}),
            )
        },
    );
    let err = tools
        .err(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": false}),
        )
        .await;
    assert!(err.contains("MAY HAVE EXECUTED"), "{err}");
    assert!(
        err.contains("5e5e5e5e-0000-4000-8000-000000000001 (Queued)"),
        "{err}"
    );
    assert_eq!(
        fake.requests_to("/createRun").len(),
        1,
        "createRun is never retried"
    );
    let sent = &fake.requests_to("/createRun")[0];
    assert_eq!(
        sent.query_param("referencePipelineRunId").as_deref(),
        Some(FAILED_RUN)
    );
    assert_eq!(sent.query_param("isRecovery").as_deref(), Some("true"));
    assert_eq!(
        sent.query_param("startFromFailure").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn create_run_and_cancel_when_azure_answers_plainly() {
    let (fake, tools) = sales().await;
    fake.route(
        "POST",
        &format!("{SALES_FACTORY_PATH}/pipelines/ingest_orders/createRun"),
        None,
        vec![Reply::json(
            200,
            json!({"runId": "6f6f6f6f-0000-4000-8000-000000000002"}),
        )],
    );
    let dry = tools
        .ok("rerun_pipeline", json!({"pipeline": "ingest_orders"}))
        .await;
    assert_eq!(dry["dry_run"], true);
    assert!(
        fake.requests_to("/createRun").is_empty(),
        "a dry run sends nothing"
    );
    let started = tools
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_orders", "dry_run": false}),
        )
        .await;
    assert_eq!(
        started["new_run_id"],
        "6f6f6f6f-0000-4000-8000-000000000002"
    );
    assert_eq!(started["environment"], "prod");

    let cancel = format!("{SALES_FACTORY_PATH}/pipelineruns/{RUNNING_RUN}/cancel");
    fake.route(
        "POST",
        &cancel,
        None,
        vec![Reply::json(200, Value::Null).after(Duration::from_secs(4))],
    );
    let err = tools
        .err(
            "cancel_run",
            json!({"run_id": RUNNING_RUN, "dry_run": false}),
        )
        .await;
    assert!(err.contains("MAY HAVE EXECUTED"), "{err}");
    assert!(err.contains("the run now shows InProgress"), "{err}");
    assert_eq!(
        fake.requests_to("/cancel").len(),
        1,
        "cancel is never retried"
    );
    assert_eq!(
        fake.requests_to("/cancel")[0]
            .query_param("isRecursive")
            .as_deref(),
        Some("true")
    );
    let refused = tools
        .err(
            "cancel_run",
            json!({"run_id": FAILED_RUN, "dry_run": false}),
        )
        .await;
    assert!(refused.contains("already Failed"), "{refused}");
}

#[tokio::test]
async fn arm_errors_become_tool_errors_that_say_what_to_do() {
    let (fake, tools) = sales().await;
    fake.route(
        "GET",
        &format!("{SALES_FACTORY_PATH}/pipelines"),
        None,
        vec![Reply::arm_error(
            403,
            "AuthorizationFailed",
            "The client 'c0ffee' with object id 'c0ffee' does not have authorization to perform action 'Microsoft.DataFactory/factories/pipelines/read' over scope '/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-data-prod/providers/Microsoft.DataFactory/factories/adf-sales-prod'.",
        )],
    );
    let forbidden = tools
        .err("get_pipeline_status", json!({"pipeline": "ingest_orders"}))
        .await;
    assert!(forbidden.contains("AuthorizationFailed"), "{forbidden}");
    assert!(forbidden.contains("pipelines/read"), "{forbidden}");
    assert!(
        forbidden.contains("Data Factory Contributor or Reader"),
        "{forbidden}"
    );

    let missing_run = "0badc0de-0000-4000-8000-000000000000";
    fake.route(
        "GET",
        &format!("{SALES_FACTORY_PATH}/pipelineruns/{missing_run}"),
        None,
        vec![Reply::arm_error(
            404,
            "PipelineRunNotFound",
            "Pipeline run not found.",
        )],
    );
    let not_found = tools
        .err("get_run_details", json!({"run_id": missing_run}))
        .await;
    assert!(
        not_found.contains(missing_run) && not_found.contains("list_pipeline_runs"),
        "{not_found}"
    );

    fake.route(
        "GET",
        "/secrets",
        None,
        vec![Reply::arm_error(
            401,
            "Unauthorized",
            "AKV10032: Invalid issuer.",
        )],
    );
    let unauthorized = tools.err("list_secrets", json!({})).await;
    assert!(
        unauthorized.contains("did not accept the sign-in"),
        "{unauthorized}"
    );
    assert!(unauthorized.contains("AKV10032"), "{unauthorized}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let (fake, tools) = sales().await;
    let elsewhere = FakeApi::start().await;
    fake.route(
        "GET",
        "/secrets",
        None,
        vec![Reply::json(
            200,
            json!({"value": [], "nextLink": format!("{}/secrets?api-version=7.4&$skiptoken=x", elsewhere.base)}),
        )],
    );
    let err = tools.err("list_secrets", json!({})).await;
    assert!(err.contains("another host"), "{err}");
    assert!(
        elsewhere.requests().is_empty(),
        "the token never left for the other host"
    );

    fake.route(
        "GET",
        "/secrets",
        None,
        vec![Reply::json(
            200,
            json!({"value": [], "nextLink": format!("{}/secrets/sql-orders-password?api-version=7.4", fake.base)}),
        )],
    );
    let err = tools.err("list_secrets", json!({})).await;
    assert!(err.contains("unexpected path"), "{err}");
    assert!(
        fake.requests_to("/secrets/sql-orders-password")
            .iter()
            .all(|r| r.path.ends_with("/versions")),
        "the value endpoint was never requested"
    );
}

#[tokio::test]
async fn when_no_credential_works_the_error_names_each_one_tried() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let settings: AzureSettings = settings(&fake, &sales_vars());
    let empty = |_: &str| None;
    let candidates = candidates_from_env(
        &[
            CredentialKind::ClientSecret,
            CredentialKind::WorkloadIdentity,
        ],
        &settings.cloud,
        &empty,
    );
    let credential = Arc::new(AzureCredential::new(candidates, Duration::from_secs(2)));
    let backends = opsdeck::backends::azure::build(
        &settings,
        sales_clock(),
        credential,
        common::azure::quick_retries(),
    )
    .await
    .unwrap();
    let health = backends.health().await;
    assert!(!health[0].ok);
    assert!(
        health[0].detail.contains("client_secret: not configured"),
        "{:?}",
        health[0]
    );
    let tools = common::connect(backends, false).await;
    let err = tools
        .err("get_pipeline_status", json!({"pipeline": "ingest_orders"}))
        .await;
    assert!(err.contains("client_secret: not configured (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set)"), "{err}");
    assert!(err.contains("workload_identity: not configured"), "{err}");
    assert!(
        fake.requests().is_empty(),
        "nothing is sent without a token"
    );
}

#[tokio::test]
async fn details_of_many_runs_are_fetched_a_few_at_a_time() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    // Twenty failed runs, each of whose requests takes a moment to answer.
    let failed: Vec<Value> = (0..20)
        .map(|n| {
            let mut run = run_numbered(n);
            run["status"] = json!("Failed");
            run
        })
        .collect();
    let listing = json!({ "value": failed });
    fake.route_fn(
        "POST",
        &format!("{SALES_FACTORY_PATH}/queryPipelineRuns"),
        move |r| {
            Reply::json(
                200,
                json!({"value": common::azure::filter_runs(&listing, &r.body)}),
            )
        },
    );
    for run in &failed {
        let id = run["runId"].as_str().unwrap();
        let slow = |body: Value| vec![Reply::json(200, body).after(Duration::from_millis(50))];
        fake.route(
            "GET",
            &format!("{SALES_FACTORY_PATH}/pipelineruns/{id}"),
            None,
            slow(run.clone()),
        );
        fake.route(
            "POST",
            &format!("{SALES_FACTORY_PATH}/pipelineruns/{id}/queryActivityruns"),
            None,
            slow(json!({"value": [{"activityRunId": format!("a-{id}"), "activityName": "CopyOrders",
                "activityType": "Copy", "status": "Failed", "activityRunStart": run["runStart"],
                "error": {"errorCode": "2200", "message": "Login failed", "failureType": "UserError"}}]})),
        );
    }
    let backends = backends(&settings(&fake, &sales_vars()), sales_clock()).await;
    let tools = common::connect(backends, false).await;
    let summary = tools
        .ok("get_failed_tasks_summary", json!({"since": "2h"}))
        .await;
    assert_eq!(summary["failed_runs"], 20);
    assert_eq!(summary["groups"][0]["count"], 20);
    let most = fake.max_in_flight();
    assert!(
        (2..=6).contains(&most),
        "run details are fetched concurrently but at most 6 at once (saw {most})"
    );
}

#[tokio::test]
async fn a_low_arm_request_budget_slows_the_next_request() {
    let (fake, tools) = sales().await;
    let run_path = format!("{SALES_FACTORY_PATH}/pipelineruns/{FAILED_RUN}");
    let run = fixture(&fake, "runs.json")["value"][1].clone();
    fake.route(
        "GET",
        &run_path,
        None,
        vec![Reply::json(200, run).header("x-ms-ratelimit-remaining-subscription-reads", "3")],
    );
    tools
        .ok("get_run_details", json!({"run_id": FAILED_RUN}))
        .await;
    let started = Instant::now();
    tools
        .ok("get_run_details", json!({"run_id": FAILED_RUN}))
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the client paused before spending more of a nearly spent budget"
    );
}

#[tokio::test]
async fn a_workspace_without_the_adf_tables_says_how_to_send_them() {
    let (fake, tools) = sales().await;
    fake.route(
        "POST",
        &format!("/v1/workspaces/{}/query", common::azure::SALES_WORKSPACE),
        None,
        vec![Reply::arm_error(
            400,
            "BadArgumentError",
            "'union' operator: Failed to resolve table expression named 'ADFActivityRun'",
        )],
    );
    let err = tools.err("fetch_logs", json!({"since": "1h"})).await;
    assert!(err.contains("ADFActivityRun"), "{err}");
    assert!(err.contains("diagnostic settings"), "{err}");
}
