//! Guarded remediation and the annotations every tool carries.

mod common;

use chrono::Duration;
use common::{start, start_with};
use serde_json::json;

#[tokio::test]
async fn every_read_tool_is_read_only_and_remediation_is_destructive() {
    let h = start("none").await;
    let tools = h.tools().await;
    assert!(tools.len() >= 19, "{} tools", tools.len());
    for tool in &tools {
        let annotations = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no annotations", tool.name));
        let destructive = ["rerun_pipeline", "cancel_run"].contains(&tool.name.as_ref());
        if destructive {
            assert_eq!(annotations.read_only_hint, Some(false), "{}", tool.name);
            assert_eq!(annotations.destructive_hint, Some(true), "{}", tool.name);
        } else {
            assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        }
        assert!(
            tool.output_schema.is_some(),
            "{} has an output schema",
            tool.name
        );
        assert!(
            tool.description.as_ref().is_some_and(|d| d.len() > 40),
            "{} is described",
            tool.name
        );
        let props = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object());
        for (name, spec) in props.into_iter().flatten() {
            assert!(
                spec.get("description").is_some(),
                "{}.{name} has a description",
                tool.name
            );
        }
    }
}

#[tokio::test]
async fn rerun_defaults_to_a_dry_run_that_changes_nothing() {
    let h = start("expired-secret").await;
    let before = h
        .runs(json!({"pipeline": "ingest_crm_customers"}))
        .await
        .len();
    let out = h
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert_eq!(out["dry_run"], true);
    assert!(out["new_run_id"].is_null());
    let steps = out["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("Start at the failed activity CopyCrmCustomers")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.as_str().unwrap().contains("still present")),
        "warns the cause is not fixed: {steps:?}"
    );
    assert_eq!(
        h.runs(json!({"pipeline": "ingest_crm_customers"}))
            .await
            .len(),
        before
    );
}

#[tokio::test]
async fn a_real_rerun_starts_a_run_that_progresses_with_the_clock() {
    let h = start("none").await;
    let out = h
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "transform_sales", "dry_run": false, "from_failed_activity": false}),
        )
        .await;
    let new_id = out["new_run_id"].as_str().unwrap().to_string();
    let run = h.ok("get_run_details", json!({"run_id": new_id})).await;
    assert_eq!(run["run"]["status"], "Queued");
    assert_eq!(run["run"]["invoked_by"]["kind"], "Manual");
    h.clock.advance(Duration::seconds(40));
    let run = h.ok("get_run_details", json!({"run_id": new_id})).await;
    assert_eq!(run["run"]["status"], "InProgress");
    assert_eq!(run["activities"][0]["status"], "InProgress");
    h.clock.advance(Duration::minutes(30));
    let run = h.ok("get_run_details", json!({"run_id": new_id})).await;
    assert!(["Succeeded", "Failed"].contains(&run["run"]["status"].as_str().unwrap()));
    assert!(run["run"]["duration_ms"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn read_only_refuses_real_remediation_but_allows_a_preview() {
    let h = start_with("expired-secret", 7, true).await;
    let err = h
        .err(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "dry_run": false}),
        )
        .await;
    assert!(
        err.contains("read-only") && err.contains("dry_run=true"),
        "{err}"
    );
    let out = h
        .ok(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert_eq!(out["dry_run"], true);
    let run = h.wait_for_running().await;
    let err = h
        .err(
            "cancel_run",
            json!({"run_id": run["run_id"], "dry_run": false}),
        )
        .await;
    assert!(err.contains("read-only"), "{err}");
}

#[tokio::test]
async fn cancel_stops_a_running_run_and_refuses_a_finished_one() {
    let h = start("none").await;
    let running = h.wait_for_running().await;
    let id = running["run_id"].clone();
    let runs = h.runs(json!({})).await;
    let preview = h.ok("cancel_run", json!({"run_id": id})).await;
    assert_eq!(preview["dry_run"], true);
    let out = h
        .ok("cancel_run", json!({"run_id": id, "dry_run": false}))
        .await;
    assert_eq!(out["dry_run"], false);
    let run = h.ok("get_run_details", json!({"run_id": id})).await;
    assert_eq!(run["run"]["status"], "Canceling");
    h.clock.advance(Duration::seconds(10));
    let run = h.ok("get_run_details", json!({"run_id": id})).await;
    assert_eq!(run["run"]["status"], "Cancelled");
    let finished = runs.iter().find(|r| r["status"] == "Succeeded").unwrap();
    let err = h
        .err(
            "cancel_run",
            json!({"run_id": finished["run_id"], "dry_run": false}),
        )
        .await;
    assert!(err.contains("already Succeeded"), "{err}");
}

#[tokio::test]
async fn rerun_of_another_pipelines_run_is_refused() {
    let h = start("expired-secret").await;
    let other = h.latest_failed("ingest_web_events").await;
    let err = h
        .err(
            "rerun_pipeline",
            json!({"pipeline": "ingest_crm_customers", "run_id": other["run_id"]}),
        )
        .await;
    assert!(
        err.contains("belongs to pipeline ingest_web_events"),
        "{err}"
    );
}
