//! `triage_run` and `summarize_error_logs` on every sandbox scenario must reach
//! the scenario's true root cause, and the blast radius must cover the pipelines
//! the scenario takes down.

mod common;

use common::start;
use serde_json::{Value, json};

/// (scenario, a pipeline to triage, words the root cause must contain, pipelines the blast radius must include)
const CASES: &[(&str, &str, &[&str], &[&str])] = &[
    (
        "expired-secret",
        "transform_inventory",
        &["adls-sp-client-secret", "expired"],
        &[
            "ingest_pos_sales",
            "transform_sales",
            "publish_sales_mart",
            "transform_customer_360",
            "orchestrate_sales_hourly",
        ],
    ),
    (
        "late-partition",
        "orchestrate_sales_hourly",
        &["missing input", "ingest_pos_sales/CopyPosToRaw"],
        &[
            "transform_sales",
            "publish_sales_mart",
            "transform_inventory",
            "publish_finance_extract",
        ],
    ),
    (
        "schema-drift",
        "publish_finance_extract",
        &["schema drift", "discount_pct"],
        &[
            "publish_sales_mart",
            "transform_inventory",
            "transform_customer_360",
        ],
    ),
    (
        "cluster-oom",
        "transform_customer_360",
        &["out of memory", "BuildCustomer360"],
        &[],
    ),
];

async fn triage(scenario: &str, pipeline: &str) -> Value {
    let h = start(scenario).await;
    h.ok("triage_run", json!({"pipeline": pipeline})).await
}

#[tokio::test]
async fn triage_names_the_true_root_cause_in_every_scenario() {
    for (scenario, pipeline, words, _) in CASES {
        let report = triage(scenario, pipeline).await;
        let cause = report["root_cause"].as_str().unwrap();
        for word in *words {
            assert!(
                cause.to_lowercase().contains(&word.to_lowercase()),
                "{scenario}: '{word}' not in root cause: {cause}"
            );
        }
        assert_ne!(report["confidence"], "low", "{scenario}: {report:#}");
    }
}

#[tokio::test]
async fn triage_reports_the_blast_radius() {
    for (scenario, pipeline, _, affected) in CASES {
        let report = triage(scenario, pipeline).await;
        let radius: Vec<&str> = report["blast_radius"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for p in *affected {
            assert!(
                radius.contains(p),
                "{scenario}: {p} not in blast radius {radius:?}"
            );
        }
    }
}

#[tokio::test]
async fn stale_input_is_followed_upstream_to_the_writer() {
    let report = triage("late-partition", "transform_inventory").await;
    assert_eq!(report["root_cause_pipeline"], "ingest_pos_sales");
    assert_eq!(report["category"], "missing_input");
    let kinds: Vec<&str> = report["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"upstream"), "{kinds:?}");
    assert!(
        report["next_steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("re-run transform_inventory"))
    );
}

#[tokio::test]
async fn expired_secret_is_corroborated_by_key_vault_metadata() {
    let report = triage("expired-secret", "ingest_crm_customers").await;
    assert_eq!(report["category"], "expired_credential");
    assert_eq!(report["confidence"], "high");
    let secret = &report["secrets"][0];
    assert_eq!(secret["secret"], "adls-sp-client-secret");
    assert_eq!(secret["risk"], "critical");
    assert!(report["consecutive_failures"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn oom_triage_shows_the_volume_jump() {
    let report = triage("cluster-oom", "transform_customer_360").await;
    assert_eq!(report["category"], "out_of_memory");
    let volume = report["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "volume");
    assert!(volume.is_some(), "{report:#}");
}

#[tokio::test]
async fn triage_refuses_runs_that_did_not_fail() {
    let h = start("none").await;
    let runs = h.runs(json!({"status": "Succeeded"})).await;
    let err = h
        .err("triage_run", json!({"run_id": runs[0]["run_id"]}))
        .await;
    assert!(err.contains("not Failed"), "{err}");
    let err = h.err("triage_run", json!({})).await;
    assert!(err.contains("run_id") && err.contains("pipeline"), "{err}");
    let err = h
        .err("triage_run", json!({"pipeline": "refresh_powerbi"}))
        .await;
    assert!(err.contains("no failed run"), "{err}");
}

#[tokio::test]
async fn error_log_summary_puts_the_root_cause_template_on_top() {
    // (scenario, text the top error templates must contain)
    let cases = [
        ("expired-secret", "AADSTS7000222"),
        ("late-partition", "required Blob is missing"),
        ("schema-drift", "discount_pct"),
        ("cluster-oom", "OutOfMemoryError"),
    ];
    for (scenario, needle) in cases {
        let h = start(scenario).await;
        // From the incident's start: the equally long window before it is the quiet baseline.
        let since = h.sandbox.incident_start().to_rfc3339();
        let out = h
            .ok("summarize_error_logs", json!({"since": since, "top": 3}))
            .await;
        let clusters = out["clusters"].as_array().unwrap();
        let hit = clusters.iter().any(|c| {
            c["template"].as_str().unwrap().contains(needle)
                || c["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e.as_str().unwrap().contains(needle))
        });
        assert!(
            hit,
            "{scenario}: no top-3 cluster mentions {needle}: {clusters:#?}"
        );
        assert!(
            clusters.iter().any(|c| c["is_new"] == true),
            "{scenario}: the incident's templates are new against the baseline"
        );
    }
}

#[tokio::test]
async fn fetch_logs_filters_by_run_and_level() {
    let h = start("schema-drift").await;
    let run = h.latest_failed("transform_sales").await;
    let out = h
        .ok(
            "fetch_logs",
            json!({"run_id": run["run_id"], "level": "error"}),
        )
        .await;
    let lines = out["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l["run_id"] == run["run_id"]
                && (l["level"] == "ERROR" || l["level"] == "FATAL"))
    );
    let trace = lines
        .iter()
        .find(|l| l["source"] == "databricks/driver")
        .expect("driver stack trace");
    assert!(
        trace["message"]
            .as_str()
            .unwrap()
            .contains("\n\tat org.apache.spark"),
        "a stack trace stays one event"
    );
    let err = h.err("fetch_logs", json!({"level": "loud"})).await;
    assert!(err.contains("WARN"), "{err}");
    let out = h.ok("fetch_logs", json!({"limit": 5})).await;
    assert_eq!(out["lines"].as_array().unwrap().len(), 5);
    assert_eq!(out["truncated"], true);
}

#[tokio::test]
async fn triage_mentions_a_pending_plan_that_would_hit_the_failing_pipeline() {
    let h = start("risky-plan").await;
    // The quiet background still has the odd transient failure; triage one that uses the lake.
    let failed = h.runs(json!({"status": "Failed"})).await;
    let lake_users = [
        "ingest_crm_customers",
        "ingest_web_events",
        "ingest_inventory",
        "ingest_pos_sales",
        "transform_web_sessions",
        "transform_sales",
        "transform_customer_360",
        "transform_inventory",
        "publish_sales_mart",
        "publish_finance_extract",
    ];
    let run = failed
        .iter()
        .find(|r| lake_users.contains(&r["pipeline"].as_str().unwrap()))
        .expect("a transient failure on a lake pipeline");
    let report = h.ok("triage_run", json!({"run_id": run["run_id"]})).await;
    assert_eq!(report["category"], "transient", "{report:#}");
    let infra: Vec<&str> = report["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "infra")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        infra
            .iter()
            .any(|d| d.contains("prod-lake-encryption")
                && d.contains("azurerm_storage_account.lake")),
        "{infra:?}"
    );
}

#[tokio::test]
async fn application_log_files_are_served_and_keep_going_with_the_clock() {
    let h = start("none").await;
    let out = h
        .ok("fetch_logs", json!({"source": "app/", "limit": 2000}))
        .await;
    let lines = out["lines"].as_array().unwrap();
    let sources: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["app/lake-janitor", "app/sftp-gateway"]
            .into_iter()
            .collect()
    );
    let traceback = h
        .ok(
            "fetch_logs",
            json!({"source": "app/lake-janitor", "level": "ERROR"}),
        )
        .await;
    let event = traceback["lines"][0]["message"].as_str().unwrap();
    assert!(
        event.starts_with("lake_janitor.main: OPTIMIZE raw.pos_sales failed\nTraceback"),
        "{event}"
    );
    assert!(
        event.ends_with("to become RUNNING"),
        "the whole traceback is one event"
    );
    // A day later the services are still logging.
    h.clock.advance(chrono::Duration::hours(30));
    let later = h
        .ok(
            "fetch_logs",
            json!({"source": "app/sftp-gateway", "since": "2h"}),
        )
        .await;
    assert!(later["count"].as_u64().unwrap() >= 4, "{later}");
}
