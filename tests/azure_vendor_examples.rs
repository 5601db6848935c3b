//! The Azure backends against Microsoft's own published REST examples
//! (../shared/fixtures/vendor/azure-rest-api-specs), served at the paths and
//! api-versions of their specs by a local server: the client parses each one,
//! and the tools give the right answers from them.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use common::azure::{FakeApi, Reply, backends, quick_retries, settings, static_credential};
use opsdeck::backends::azure::adf::api::AdfApi;
use opsdeck::backends::azure::log_analytics::LogAnalyticsLogs;
use opsdeck::backends::http::RestClient;
use opsdeck::model::time::{FixedClock, SharedClock};

const SUBSCRIPTION: &str = "12345678-1234-1234-1234-12345678abc";
const WORKSPACE: &str = "63613592-b6f7-4c3d-a390-22ba13102111";

fn clock() -> SharedClock {
    let at = DateTime::parse_from_rfc3339("2018-06-16T00:45:00Z")
        .unwrap()
        .with_timezone(&Utc);
    Arc::new(FixedClock(at))
}

fn example_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION),
        ("AZURE_RESOURCE_GROUP", "exampleResourceGroup"),
        ("AZURE_DATA_FACTORY_NAME", "exampleFactoryName"),
        ("AZURE_KEY_VAULT_NAME", "myvault"),
        ("AZURE_LOG_ANALYTICS_WORKSPACE_ID", WORKSPACE),
        ("OPSDECK_ENVIRONMENT", "example"),
    ]
}

async fn vendor_server() -> FakeApi {
    let fake = FakeApi::start().await;
    let counts = fake.serve_vendor_examples();
    assert!(counts["datafactory"] >= 40, "{counts:?}");
    assert!(counts["keyvault"] >= 4, "{counts:?}");
    assert_eq!(counts["resources"], 2, "{counts:?}");
    assert!(counts["loganalytics"] >= 4, "{counts:?}");
    // The second pages the examples' nextLinks point at (the examples stop at page one).
    let with_skiptoken = |r: &common::azure::Recorded| r.query.contains("skiptoken");
    fake.route(
        "GET",
        "/secrets",
        Some(Arc::new(with_skiptoken)),
        vec![Reply::json(
            200,
            json!({"value": [{"id": "https://myvault.vault.azure.net/secrets/listsecrettest1",
                              "attributes": {"enabled": true, "created": 1482189048, "updated": 1482189048}}],
                   "nextLink": null}),
        )],
    );
    fake.route(
        "GET",
        "/secrets/listsecrettest0/versions",
        None,
        vec![Reply::json(200, json!({"value": []}))],
    );
    fake
}

#[tokio::test]
async fn runs_activity_runs_and_definitions_from_the_adf_examples() {
    let fake = vendor_server().await;
    let backends = backends(&settings(&fake, &example_vars()), clock()).await;
    let tools = common::connect(backends, false).await;

    let runs = tools.ok("list_pipeline_runs", json!({"since": "1h"})).await;
    let listed = runs["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{runs}");
    assert_eq!(listed[0]["run_id"], "16ac5348-ff82-4f95-a80d-638c1d47b721");
    assert_eq!(listed[0]["status"], "Cancelled");
    assert!(listed[0]["run_end"].is_null(), "a cancelled run has no end");
    assert_eq!(listed[1]["status"], "Succeeded");
    assert_eq!(listed[1]["duration_ms"], 28105);
    assert_eq!(listed[1]["environment"], "example");
    assert_eq!(listed[1]["backend"], "adf");
    assert_eq!(
        listed[1]["parameters"]["OutputBlobNameList"],
        json!(["exampleoutput.csv"]),
        "JSON-encoded parameter strings are decoded"
    );

    let details = tools
        .ok(
            "get_run_details",
            json!({"run_id": "2f7fdb90-5df1-4b8e-ac2f-064cfa58202b"}),
        )
        .await;
    let activities = details["activities"].as_array().unwrap();
    let names: Vec<&str> = activities
        .iter()
        .map(|a| a["activity_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ExampleForeachActivity", "ExampleCopyActivity"]);
    assert!(
        activities.iter().all(|a| a.get("error").is_none()),
        "succeeded activities with an empty error object have no error: {details}"
    );
    assert_eq!(activities[1]["output"]["dataRead"], 142000);
    assert_eq!(details["failed_activities"], json!([]));

    let status = tools
        .ok(
            "get_pipeline_status",
            json!({"pipeline": "examplePipeline"}),
        )
        .await;
    assert_eq!(status["environment"], "example");
    assert_eq!(
        status["last_success"]["run_id"],
        "2f7fdb90-5df1-4b8e-ac2f-064cfa58202b"
    );
    assert!(
        status["schedule"]
            .as_str()
            .unwrap()
            .contains("every 4 minutes"),
        "the example trigger's recurrence: {status}"
    );

    // Every request carried the Resource Manager token, and the filter ADF requires.
    let queries = fake.requests_to("/queryPipelineRuns");
    assert!(!queries.is_empty());
    for request in &queries {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer token-for:https://management.azure.com/.default")
        );
        assert!(request.body["lastUpdatedAfter"].is_string());
        assert!(request.body["lastUpdatedBefore"].is_string());
        assert_eq!(
            request.query_param("api-version").as_deref(),
            Some("2018-06-01")
        );
    }
}

#[tokio::test]
async fn secret_listings_follow_next_links_exactly_and_never_read_a_value() {
    let fake = vendor_server().await;
    let backends = backends(&settings(&fake, &example_vars()), clock()).await;
    let tools = common::connect(backends, false).await;

    let listed = tools.ok("list_secrets", json!({})).await;
    let names: Vec<&str> = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names.contains(&"listsecrettest0") && names.contains(&"listsecrettest1"));

    let pages = fake.requests_to("/secrets");
    let second = pages
        .iter()
        .find(|r| r.query.contains("skiptoken"))
        .expect("the nextLink was followed");
    assert_eq!(
        second.query_param("api-version").as_deref(),
        Some("7.2"),
        "the nextLink is followed as given, its api-version included"
    );
    assert!(second.query.contains("maxresults=1"));
    assert_eq!(
        second.authorization.as_deref(),
        Some("Bearer token-for:https://vault.azure.net/.default")
    );

    let usage = tools
        .ok("get_secret_usage", json!({"secret": "listsecrettest0"}))
        .await;
    assert_eq!(usage["versions"], json!([]));
    assert_eq!(usage["linked_services"], json!([]));

    // Only listings were ever requested: no GET of a secret (the value endpoint).
    for request in fake.requests() {
        let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        assert!(
            matches!(parts.as_slice(), ["secrets"] | ["secrets", _, "versions"])
                || parts[0] != "secrets",
            "a value endpoint was requested: {request:?}"
        );
    }
}

#[tokio::test]
async fn the_versions_example_parses_with_its_version_ids() {
    let fake = vendor_server().await;
    fake.route(
        "GET",
        "/secrets/listsecretversionstest/versions",
        Some(Arc::new(|r: &common::azure::Recorded| {
            r.query.contains("skiptoken")
        })),
        vec![Reply::json(200, json!({"value": []}))],
    );
    let backends = backends(&settings(&fake, &example_vars()), clock()).await;
    let versions = backends.secrets[0]
        .secret_versions("listsecretversionstest")
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(
        versions[0].version.as_deref(),
        Some("11a536561da34d6b8b452d880df58f3a")
    );
    assert_eq!(versions[0].created.unwrap().timestamp(), 1481851699);
}

#[tokio::test]
async fn factories_are_discovered_and_trigger_runs_parse() {
    let fake = vendor_server().await;
    let mut vars = example_vars();
    vars.retain(|(k, _)| *k != "AZURE_DATA_FACTORY_NAME");
    let settings = settings(&fake, &vars);
    let backends = backends(&settings, clock()).await;
    let factories: Vec<&str> = backends.pipelines.iter().map(|b| b.environment()).collect();
    assert_eq!(
        factories.len(),
        3,
        "the three factories of Factories_ListByResourceGroup"
    );

    let client = Arc::new(
        RestClient::new(
            "Azure",
            static_credential(),
            settings.request_timeout,
            quick_retries(),
        )
        .unwrap(),
    );
    let api = AdfApi::new(
        client.clone(),
        &settings.cloud.resource_manager,
        &settings.cloud.resource_manager_scope,
        SUBSCRIPTION,
        "exampleResourceGroup",
        "exampleFactoryName",
    );
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let page = api
        .query_trigger_runs(t("2018-06-16T00:36:44Z"), t("2018-06-16T00:49:48Z"), None)
        .await
        .unwrap();
    assert_eq!(page.value[0]["triggerName"], "exampleTrigger");
    assert_eq!(
        page.value[0]["triggeredPipelines"]["examplePipeline"],
        "9f3ce8b3-37d7-43eb-96ac-a656c0476283"
    );

    let logs = LogAnalyticsLogs::new(
        client,
        &settings.cloud.log_analytics,
        &settings.cloud.log_analytics_scope,
        WORKSPACE,
    );
    let table = logs
        .run(
            "Usage | take 10",
            t("2018-06-16T00:00:00Z"),
            t("2018-06-16T12:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(table.name, "PrimaryResult");
    assert!(
        table
            .columns
            .iter()
            .any(|c| c.name == "TimeGenerated" && c.column_type == "datetime")
    );
    assert!(!table.rows.is_empty());
    assert_eq!(table.records().count(), table.rows.len());
    let posted = fake.requests_to(&format!("/v1/workspaces/{WORKSPACE}/query"));
    assert_eq!(
        posted[0].body["timespan"],
        "2018-06-16T00:00:00Z/2018-06-16T12:00:00Z"
    );
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some("Bearer token-for:https://api.loganalytics.io/.default")
    );
}
