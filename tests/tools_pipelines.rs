//! Pipeline and run tools through a real MCP client: happy paths and bad input.

mod common;

use std::collections::HashSet;

use common::{pinned, start};
use serde_json::json;

#[tokio::test]
async fn list_pipelines_shows_the_estate_with_schedules() {
    let h = start("none").await;
    let out = h.ok("list_pipelines", json!({})).await;
    let count = out["count"].as_u64().unwrap();
    assert!((8..=15).contains(&count), "{count} pipelines");
    let pos = out["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "orchestrate_sales_hourly")
        .unwrap();
    assert_eq!(pos["folder"], "orchestration");
    assert!(
        pos["schedule"]
            .as_str()
            .unwrap()
            .contains("every hour at :05"),
        "{pos}"
    );
    assert!(
        pos["activity_types"]
            .as_array()
            .unwrap()
            .contains(&json!("ExecutePipeline"))
    );
}

#[tokio::test]
async fn list_pipelines_filters_and_explains_an_empty_result() {
    let h = start("none").await;
    let out = h.ok("list_pipelines", json!({"folder": "ingestion"})).await;
    assert_eq!(out["count"], 4);
    let err = h.err("list_pipelines", json!({"folder": "nope"})).await;
    assert!(
        err.contains("ingestion") && err.contains("transformation"),
        "{err}"
    );
}

#[tokio::test]
async fn list_pipeline_runs_returns_newest_first_within_the_window() {
    let h = start("expired-secret").await;
    let out = h.ok("list_pipeline_runs", json!({"since": "6h"})).await;
    let runs = out["runs"].as_array().unwrap();
    assert!(!runs.is_empty());
    let starts: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["run_start"].as_str())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(starts, sorted, "newest first");
    let since = pinned() - chrono::Duration::hours(6) - chrono::Duration::minutes(1);
    for run in runs {
        assert_eq!(run["environment"], "prod");
        assert_eq!(run["backend"], "sandbox");
        if let Some(start) = run["run_start"].as_str() {
            let start = chrono::DateTime::parse_from_rfc3339(start).unwrap();
            assert!(start >= since, "{start} is before the window");
        }
    }
}

#[tokio::test]
async fn status_filter_returns_only_that_status() {
    let h = start("expired-secret").await;
    let failed = h.runs(json!({"status": "failed"})).await;
    assert!(failed.len() > 5, "the incident produces failures");
    assert!(failed.iter().all(|r| r["status"] == "Failed"));
    assert!(
        failed
            .iter()
            .all(|r| !r["message"].as_str().unwrap_or("").is_empty()),
        "failed runs carry the error"
    );
}

#[tokio::test]
async fn paging_with_continuation_tokens_covers_every_run_once() {
    let h = start("none").await;
    let all = h.runs(json!({})).await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..200 {
        let mut args = json!({"limit": 7});
        if let Some(t) = &token {
            args["continuation_token"] = json!(t);
        }
        let page = h.ok("list_pipeline_runs", args).await;
        for run in page["runs"].as_array().unwrap() {
            seen.push(run["run_id"].as_str().unwrap().to_string());
        }
        match page["continuation_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no run appears on two pages");
    assert_eq!(seen.len(), all.len(), "pages add up to the whole list");
}

#[tokio::test]
async fn bad_run_filters_say_what_is_accepted() {
    let h = start("none").await;
    let err = h
        .err("list_pipeline_runs", json!({"status": "exploded"}))
        .await;
    assert!(
        err.contains("InProgress") && err.contains("Failed"),
        "{err}"
    );
    let err = h
        .err("list_pipeline_runs", json!({"since": "last tuesday"}))
        .await;
    assert!(err.contains("RFC 3339") && err.contains("6h"), "{err}");
    let err = h
        .err("list_pipeline_runs", json!({"since": "1h", "until": "3h"}))
        .await;
    assert!(err.contains("empty"), "{err}");
    let err = h.err("list_pipeline_runs", json!({"limit": 5000})).await;
    assert!(err.contains("500"), "{err}");
    let err = h
        .err(
            "list_pipeline_runs",
            json!({"continuation_token": "garbage"}),
        )
        .await;
    assert!(err.contains("continuation_token"), "{err}");
}

#[tokio::test]
async fn unknown_pipeline_lists_the_known_ones() {
    let h = start("none").await;
    for tool in [
        "list_pipeline_runs",
        "get_pipeline_status",
        "get_pipeline_dependencies",
    ] {
        let err = h.err(tool, json!({"pipeline": "transfrom_sales"})).await;
        assert!(
            err.contains("transfrom_sales") && err.contains("transform_sales"),
            "{tool}: {err}"
        );
    }
}

#[tokio::test]
async fn wrongly_typed_arguments_come_back_as_a_readable_tool_error() {
    let h = start("none").await;
    let err = h.err("list_pipeline_runs", json!({"limit": "lots"})).await;
    assert!(
        err.contains("limit") && err.contains("Parameters:"),
        "{err}"
    );
    let err = h.err("get_pipeline_status", json!({})).await;
    assert!(err.contains("pipeline (string, required)"), "{err}");
}

#[tokio::test]
async fn pipeline_status_reports_the_failure_streak_and_last_error() {
    let h = start("expired-secret").await;
    let out = h
        .ok(
            "get_pipeline_status",
            json!({"pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert_eq!(out["state"], "failing");
    assert!(out["consecutive_failures"].as_u64().unwrap() >= 3, "{out}");
    assert!(
        out["last_failure"]["message"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000222")
    );
    assert!(
        out["last_success"]["run_id"].is_string(),
        "it worked before the incident"
    );
    let rate = out["success_rate_24h"].as_f64().unwrap();
    assert!(rate > 0.0 && rate < 1.0, "{rate}");
}

#[tokio::test]
async fn a_quiet_pipeline_is_healthy() {
    let h = start("expired-secret").await;
    let out = h
        .ok(
            "get_pipeline_status",
            json!({"pipeline": "refresh_powerbi"}),
        )
        .await;
    assert_ne!(out["state"], "failing", "{out}");
}

#[tokio::test]
async fn run_details_show_attempts_errors_and_child_runs() {
    let h = start("expired-secret").await;
    let run = h.latest_failed("orchestrate_sales_hourly").await;
    let out = h
        .ok("get_run_details", json!({"run_id": run["run_id"]}))
        .await;
    assert_eq!(out["run"]["status"], "Failed");
    let child = &out["child_runs"][0];
    assert_eq!(child["pipeline"], "ingest_pos_sales");
    assert_eq!(child["status"], "Failed");
    let child_out = h
        .ok("get_run_details", json!({"run_id": child["run_id"]}))
        .await;
    assert_eq!(
        child_out["parent_run"]["pipeline"],
        "orchestrate_sales_hourly"
    );
    assert_eq!(child_out["failed_activities"], json!(["CopyPosToRaw"]));
    let attempts: Vec<_> = child_out["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["activity_name"] == "CopyPosToRaw")
        .collect();
    assert_eq!(attempts.len(), 3, "initial attempt plus two retries");
    assert_eq!(attempts[2]["error"]["code"], "2200");
}

#[tokio::test]
async fn run_details_of_an_unknown_run_says_where_ids_come_from() {
    let h = start("none").await;
    let err = h
        .err(
            "get_run_details",
            json!({"run_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert!(err.contains("list_pipeline_runs"), "{err}");
}

#[tokio::test]
async fn failed_tasks_summary_groups_by_activity_and_error_code() {
    let h = start("expired-secret").await;
    let out = h
        .ok("get_failed_tasks_summary", json!({"since": "24h"}))
        .await;
    let groups = out["groups"].as_array().unwrap();
    assert!(out["failed_runs"].as_u64().unwrap() >= 10);
    let crm = groups
        .iter()
        .find(|g| g["pipeline"] == "ingest_crm_customers")
        .unwrap();
    assert_eq!(crm["error_code"], "2200");
    assert!(crm["count"].as_u64().unwrap() >= 4);
    assert!(
        crm["sample_message"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000222")
    );
    assert!(
        groups
            .iter()
            .all(|g| g["activity_type"] != "ExecutePipeline"),
        "wrappers are not double-counted"
    );
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "largest group first"
    );
}

#[tokio::test]
async fn quiet_night_has_few_failures_and_they_are_transient() {
    let h = start("none").await;
    let out = h.ok("get_failed_tasks_summary", json!({})).await;
    for group in out["groups"].as_array().unwrap() {
        assert!(group["count"].as_u64().unwrap() <= 3, "{group}");
    }
}

#[tokio::test]
async fn dependencies_follow_datasets_and_execute_pipeline() {
    let h = start("none").await;
    let out = h
        .ok(
            "get_pipeline_dependencies",
            json!({"pipeline": "transform_sales"}),
        )
        .await;
    let up: Vec<&str> = out["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pipeline"].as_str().unwrap())
        .collect();
    let down: Vec<&str> = out["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pipeline"].as_str().unwrap())
        .collect();
    assert!(
        up.contains(&"ingest_pos_sales") && up.contains(&"ingest_crm_customers"),
        "{up:?}"
    );
    assert!(
        up.contains(&"orchestrate_sales_hourly"),
        "the parent that runs it"
    );
    for p in [
        "publish_sales_mart",
        "transform_inventory",
        "transform_customer_360",
        "publish_finance_extract",
    ] {
        assert!(down.contains(&p), "{p} missing from {down:?}");
    }
    assert!(
        out["secrets"]
            .as_array()
            .unwrap()
            .contains(&json!("adls-sp-client-secret"))
    );
    assert!(
        out["datasets_written"]
            .as_array()
            .unwrap()
            .contains(&json!("ds_curated_sales"))
    );
    let err = h
        .err(
            "get_pipeline_dependencies",
            json!({"pipeline": "transform_sales", "depth": 99}),
        )
        .await;
    assert!(err.contains("1 to 10"), "{err}");
}

#[tokio::test]
async fn compare_runs_finds_what_changed_in_a_failed_run() {
    let h = start("cluster-oom").await;
    let run = h.latest_failed("transform_customer_360").await;
    let out = h.ok("compare_runs", json!({"run_id": run["run_id"]})).await;
    assert_eq!(out["baseline"]["status"], "Succeeded");
    let diffs = out["differences"].as_array().unwrap();
    assert!(
        diffs
            .iter()
            .any(|d| d.as_str().unwrap().contains("BuildCustomer360 was Failed")),
        "{diffs:?}"
    );
    let err = h.err("compare_runs", json!({"run_id": run["run_id"], "baseline_run_id": h.runs(json!({"pipeline": "ingest_web_events"})).await[0]["run_id"]})).await;
    assert!(err.contains("same pipeline"), "{err}");
}
