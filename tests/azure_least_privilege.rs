//! A least-privilege identity on Azure: allowed to read runs and activity
//! runs, refused (403, Azure's own `AuthorizationFailed` body) on linked
//! services, the vault, the Log Analytics workspace or the resource group.
//! `triage_run` answers with what it could read and names what it could not;
//! only a run it cannot read fails the call.

mod common;

use serde_json::{Value, json};

use common::azure::{
    FAILED_RUN, FakeApi, Reply, SALES_FACTORY_PATH, SALES_SUBSCRIPTION, SALES_WORKSPACE, backends,
    sales_clock, sales_vars, settings,
};

async fn sales_with(deny: impl FnOnce(&FakeApi)) -> (FakeApi, common::ToolClient) {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    deny(&fake);
    let backends = backends(&settings(&fake, &sales_vars()), sales_clock()).await;
    (fake.clone(), common::connect(backends, false).await)
}

/// ARM's answer to an identity without `action`, as Azure words it.
fn authorization_failed(action: &str) -> Reply {
    Reply::arm_error(
        403,
        "AuthorizationFailed",
        &format!(
            "The client 'a1b2c3d4-0000-4000-8000-00000000c0de' with object id 'a1b2c3d4-0000-4000-8000-00000000c0de' does not have authorization to perform action '{action}' over scope '{SALES_FACTORY_PATH}/linkedservices' or the scope is invalid. If access was recently granted, please refresh your credentials."
        ),
    )
}

fn deny_linked_services(fake: &FakeApi) {
    fake.route(
        "GET",
        &format!("{SALES_FACTORY_PATH}/linkedservices"),
        None,
        vec![authorization_failed(
            "Microsoft.DataFactory/factories/linkedservices/read",
        )],
    );
}

fn gaps(report: &Value) -> Vec<(String, String)> {
    report["gaps"]
        .as_array()
        .map(|gaps| {
            gaps.iter()
                .map(|g| {
                    (
                        g["what"].as_str().unwrap_or_default().to_string(),
                        g["why"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn triage_answers_without_linked_services_and_names_the_missing_permission() {
    let (fake, tools) = sales_with(deny_linked_services).await;
    let result = tools
        .call("triage_run", json!({"run_id": FAILED_RUN}))
        .await;
    let text = common::text_of(&result);
    assert_eq!(result.is_error, Some(false), "{text}");
    assert!(
        text.contains(
            "linked services: not readable (403 Forbidden: the identity lacks Microsoft.DataFactory/factories/linkedservices/read)"
        ),
        "{text}"
    );
    let report = result.structured_content.clone().unwrap();
    assert_eq!(
        gaps(&report),
        [(
            "linked services".to_string(),
            "403 Forbidden: the identity lacks Microsoft.DataFactory/factories/linkedservices/read"
                .to_string()
        )]
    );
    // What it could read is all there: the failing path down to the copy's error.
    let step = &report["failing_path"][0];
    assert_eq!(step["activity"], "CopyOrders");
    assert!(
        step["message"]
            .as_str()
            .unwrap()
            .contains("Login failed for user 'etl'"),
        "{report}"
    );
    assert!(
        report["next_steps"]
            .to_string()
            .contains("could not be read"),
        "{report}"
    );
    assert!(!fake.requests_to("/linkedservices").is_empty());

    // By pipeline name too: finding the pipeline needs no linked services.
    let by_name = tools
        .ok("triage_run", json!({"pipeline": "ingest_orders"}))
        .await;
    assert_eq!(by_name["run_id"], FAILED_RUN);
    assert_eq!(gaps(&by_name).len(), 1, "{by_name}");
}

#[tokio::test]
async fn every_optional_read_that_fails_becomes_a_named_gap() {
    let (_fake, tools) = sales_with(|fake| {
        deny_linked_services(fake);
        fake.route(
            "GET",
            &format!("{SALES_FACTORY_PATH}/datasets"),
            None,
            vec![Reply::arm_error(
                404,
                "ResourceNotFound",
                "The Resource 'Microsoft.DataFactory/factories/adf-sales-prod/datasets' was not found.",
            )],
        );
        fake.route(
            "GET",
            "/secrets",
            None,
            vec![Reply::json(
                403,
                json!({"error": {
                    "code": "Forbidden",
                    "message": "The user, group or application 'appid=a1b2c3d4;oid=c0de' does not have secrets list permission on key vault 'kv-sales-prod;location=westeurope'.",
                    "innererror": {"code": "AccessDenied"}
                }}),
            )],
        );
        fake.route(
            "POST",
            &format!("/v1/workspaces/{SALES_WORKSPACE}/query"),
            None,
            vec![Reply::json(
                403,
                json!({"error": {
                    "message": "The provided credentials have insufficient access to perform the requested operation",
                    "code": "InsufficientAccessError",
                    "correlationId": "5f0d2c1e-0000-4000-8000-000000000000"
                }}),
            )],
        );
        fake.route(
            "GET",
            &format!("/subscriptions/{SALES_SUBSCRIPTION}/resourceGroups/rg-data-prod/resources"),
            None,
            vec![Reply::arm_error(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            )],
        );
    })
    .await;
    let report = tools.ok("triage_run", json!({"run_id": FAILED_RUN})).await;
    let named: Vec<String> = gaps(&report).into_iter().map(|(what, _)| what).collect();
    for expected in [
        "linked services",
        "datasets",
        "secrets in vault kv-sales-prod",
        "logs",
        "resources",
    ] {
        assert!(
            named.iter().any(|n| n == expected),
            "{expected} missing from {named:?}"
        );
    }
    let reasons = report["gaps"].to_string();
    assert!(reasons.contains("InsufficientAccessError"), "{reasons}");
    assert!(reasons.contains("secrets list permission"), "{reasons}");
    assert_eq!(report["failing_path"][0]["activity"], "CopyOrders");
    assert_eq!(report["log_clusters"], json!([]));
    assert_eq!(report["secrets"], json!([]));
}

#[tokio::test]
async fn a_run_that_cannot_be_read_still_fails_the_call() {
    let (_fake, tools) = sales_with(|fake| {
        fake.route(
            "GET",
            &format!("{SALES_FACTORY_PATH}/pipelineruns/{FAILED_RUN}"),
            None,
            vec![authorization_failed(
                "Microsoft.DataFactory/factories/pipelineruns/read",
            )],
        );
    })
    .await;
    let refused = tools.err("triage_run", json!({"run_id": FAILED_RUN})).await;
    assert!(refused.contains("pipelineruns/read"), "{refused}");
}

#[tokio::test]
async fn a_fully_readable_estate_leaves_no_gaps() {
    let (_fake, tools) = sales_with(|_| {}).await;
    let report = tools.ok("triage_run", json!({"run_id": FAILED_RUN})).await;
    assert!(report.get("gaps").is_none(), "{report}");
    let text = common::text_of(
        &tools
            .call("triage_run", json!({"run_id": FAILED_RUN}))
            .await,
    );
    assert!(!text.contains("Not read"), "{text}");
    let mut triaged = 0;
    for (scenario, pipeline) in [
        ("expired-secret", "transform_inventory"),
        ("late-partition", "orchestrate_sales_hourly"),
        ("schema-drift", "publish_finance_extract"),
        ("cluster-oom", "transform_customer_360"),
        ("risky-plan", "ingest_crm_customers"),
    ] {
        let sandbox = common::start(scenario).await;
        let result = sandbox
            .call("triage_run", json!({"pipeline": pipeline}))
            .await;
        if result.is_error == Some(true) {
            // A scenario where that pipeline has no failure has nothing to triage.
            continue;
        }
        let report = result.structured_content.unwrap();
        assert!(report.get("gaps").is_none(), "{scenario}: {report}");
        triaged += 1;
    }
    assert!(triaged >= 4, "only {triaged} sandbox scenarios triaged");
}
