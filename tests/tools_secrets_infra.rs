//! Secret metadata and infrastructure tools through a real MCP client.

mod common;

use common::start;
use serde_json::json;

#[tokio::test]
async fn list_secrets_flags_the_expired_secret_first() {
    let h = start("expired-secret").await;
    let out = h.ok("list_secrets", json!({})).await;
    let secrets = out["secrets"].as_array().unwrap();
    assert!(secrets.len() >= 10);
    assert_eq!(secrets[0]["name"], "adls-sp-client-secret");
    assert_eq!(secrets[0]["risk"]["level"], "critical");
    assert!(
        secrets[0]["risk"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("expired")
    );
    assert_eq!(
        secrets[0]["used_by"],
        json!(["ls_adls_lake", "ls_databricks"])
    );
    let disabled = secrets
        .iter()
        .find(|s| s["name"] == "legacy-ftp-password")
        .unwrap();
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["used_by"], json!([]));
}

#[tokio::test]
async fn secrets_never_carry_a_value() {
    let h = start("expired-secret").await;
    let result = h.call("list_secrets", json!({})).await;
    let text = serde_json::to_string(&result).unwrap();
    assert!(!text.contains("\"value\""), "no field named value anywhere");
    for secret in result.structured_content.unwrap()["secrets"]
        .as_array()
        .unwrap()
    {
        let keys: Vec<&String> = secret.as_object().unwrap().keys().collect();
        for key in keys {
            assert!(
                [
                    "name",
                    "vault",
                    "enabled",
                    "created",
                    "updated",
                    "expires",
                    "not_before",
                    "content_type",
                    "tags",
                    "risk",
                    "used_by"
                ]
                .contains(&key.as_str()),
                "unexpected field {key}"
            );
        }
    }
}

#[tokio::test]
async fn expiring_within_and_min_risk_filter() {
    let h = start("none").await;
    let out = h.ok("list_secrets", json!({"expiring_within": "7d"})).await;
    let names: Vec<&str> = out["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["clickstream-api-key"],
        "only the key that expires in five days"
    );
    let out = h.ok("list_secrets", json!({"min_risk": "medium"})).await;
    assert!(out["secrets"].as_array().unwrap().iter().all(|s| ["medium", "high", "critical"].contains(&s["risk"]["level"].as_str().unwrap())));
    let err = h
        .err("list_secrets", json!({"expiring_within": "soon"}))
        .await;
    assert!(err.contains("30d"), "{err}");
    let err = h.err("list_secrets", json!({"min_risk": "scary"})).await;
    assert!(err.contains("critical"), "{err}");
}

#[tokio::test]
async fn secret_usage_gives_the_blast_radius_and_what_fails_now() {
    let h = start("expired-secret").await;
    let out = h
        .ok(
            "get_secret_usage",
            json!({"secret": "adls-sp-client-secret"}),
        )
        .await;
    let direct: Vec<&str> = out["pipelines_direct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in [
        "ingest_pos_sales",
        "ingest_crm_customers",
        "transform_sales",
        "transform_customer_360",
        "publish_sales_mart",
    ] {
        assert!(direct.contains(&p), "{p} not in {direct:?}");
    }
    let downstream: Vec<&str> = out["pipelines_downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pipeline"].as_str().unwrap())
        .collect();
    assert!(
        downstream.contains(&"orchestrate_sales_hourly")
            || direct.contains(&"orchestrate_sales_hourly")
            || downstream.contains(&"refresh_powerbi"),
        "{downstream:?}"
    );
    let failing: Vec<&str> = out["failing_now"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(failing.contains(&"ingest_crm_customers"), "{failing:?}");
    let props: Vec<&str> = out["linked_services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["property"].as_str().unwrap())
        .collect();
    assert!(props.contains(&"servicePrincipalCredential"), "{props:?}");
    let err = h
        .err("get_secret_usage", json!({"secret": "adls-secret"}))
        .await;
    assert!(
        err.contains("adls-sp-client-secret"),
        "lists the known secrets: {err}"
    );
}

#[tokio::test]
async fn explain_plan_flags_the_lake_replacement_and_who_it_hits() {
    let h = start("risky-plan").await;
    let out = h
        .ok("explain_plan_diff", json!({"plan": "prod-lake-encryption"}))
        .await;
    let risky = out["risky"].as_array().unwrap();
    let lake = risky
        .iter()
        .find(|r| r["address"] == "azurerm_storage_account.lake")
        .expect("lake replacement flagged");
    assert_eq!(lake["severity"], "high");
    assert!(
        lake["forced_by"]
            .as_array()
            .unwrap()
            .contains(&json!("infrastructure_encryption_enabled"))
    );
    let hit: Vec<&str> = lake["affected_pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        hit.contains(&"ingest_crm_customers") && hit.contains(&"transform_sales"),
        "{hit:?}"
    );
    let policy = risky
        .iter()
        .find(|r| r["address"] == "azurerm_key_vault_access_policy.adf_msi")
        .expect("access policy delete flagged");
    assert_eq!(policy["severity"], "high");
    assert!(out["headline"].as_str().unwrap().contains("to destroy"));
}

#[tokio::test]
async fn plans_are_chosen_by_name_and_listed_when_ambiguous() {
    let h = start("risky-plan").await;
    let err = h.err("explain_plan_diff", json!({})).await;
    assert!(
        err.contains("prod-lake-encryption") && err.contains("prod-tags"),
        "{err}"
    );
    let err = h
        .err("parse_terraform_plan", json!({"plan": "prod-nope"}))
        .await;
    assert!(err.contains("prod-tags"), "{err}");
    let quiet = start("none").await;
    let out = quiet.ok("parse_terraform_plan", json!({})).await;
    assert_eq!(out["plan"], "prod-tags", "the only plan is used by default");
    assert_eq!(out["resource_changes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn parse_plan_redacts_sensitive_values() {
    let h = start("risky-plan").await;
    let result = h
        .call(
            "parse_terraform_plan",
            json!({"plan": "prod-lake-encryption"}),
        )
        .await;
    let text = serde_json::to_string(&result).unwrap();
    assert!(
        !text.contains("c2FuZGJveC1ub3QtYS1yZWFsLWtleS1sYWtlLXByaW1hcnk="),
        "the access key never leaves the server"
    );
    assert!(text.contains("(sensitive)"));
}

#[tokio::test]
async fn inline_plans_from_vendor_fixtures_parse() {
    let h = start("none").await;
    let path = common::vendor_dir().join("terraform/show-json/requires-replace/output.json");
    let plan = std::fs::read_to_string(path).unwrap();
    let out = h.ok("explain_plan_diff", json!({"plan_json": plan})).await;
    assert_eq!(out["plan"], "inline");
    assert_eq!(out["summary"]["counts"]["replace"], 1);
    let err = h
        .err(
            "parse_terraform_plan",
            json!({"plan_json": "{\"values\": {}}"}),
        )
        .await;
    assert!(err.contains("plan_json"), "{err}");
    let err = h
        .err("parse_terraform_plan", json!({"plan_json": "not json"}))
        .await;
    assert!(err.contains("JSON"), "{err}");
}

#[tokio::test]
async fn drift_finds_manual_changes_missing_and_unmanaged_resources() {
    let h = start("risky-plan").await;
    let out = h
        .ok(
            "detect_infra_drift",
            json!({"plan": "prod-lake-encryption"}),
        )
        .await;
    let drift: Vec<&str> = out["drift_in_plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    assert!(
        drift.contains(&"azurerm_mssql_firewall_rule.crm_office"),
        "{drift:?}"
    );
    let missing: Vec<&str> = out["missing_in_cloud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    assert_eq!(missing, vec!["azurerm_storage_account.archive"]);
    let unmanaged: Vec<&str> = out["unmanaged_in_cloud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(unmanaged.contains(&"stcontosoadhocprod"), "{unmanaged:?}");
    assert!(
        !unmanaged.contains(&"stcontosolakeprod"),
        "the lake is in state"
    );
}

#[tokio::test]
async fn resources_by_tag_and_health() {
    let h = start("none").await;
    let out = h
        .ok("list_resources_by_tag", json!({"tag": "tier=storage"}))
        .await;
    let names: Vec<&str> = out["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"stcontosolakeprod") && names.contains(&"stcontosolandingprod"),
        "{names:?}"
    );
    let out = h
        .ok(
            "list_resources_by_tag",
            json!({"tag": "MANAGED-BY", "resource_type": "microsoft.sql/servers"}),
        )
        .await;
    assert_eq!(
        out["count"], 2,
        "tag names and types match case-insensitively"
    );
    let err = h
        .err("list_resources_by_tag", json!({"tag": "colour=blue"}))
        .await;
    assert!(
        err.contains("cost-center"),
        "lists the tag names in use: {err}"
    );
    let err = h.err("list_resources_by_tag", json!({"tag": ""})).await;
    assert!(err.contains("key=value"), "{err}");
    let out = h
        .ok(
            "get_resource_health",
            json!({"resource": "stcontosolakeprod"}),
        )
        .await;
    assert_eq!(out["healthy"], true);
    assert!(
        out["linked_services"]
            .as_array()
            .unwrap()
            .contains(&json!("ls_adls_lake"))
    );
    assert!(
        out["pipelines"]
            .as_array()
            .unwrap()
            .contains(&json!("ingest_crm_customers"))
    );
    let err = h
        .err("get_resource_health", json!({"resource": "stcontoso"}))
        .await;
    assert!(err.contains("stcontosolakeprod"), "{err}");
}
