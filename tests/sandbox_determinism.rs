//! The sandbox is deterministic from seed and clock, and live on the clock.

mod common;

use std::collections::HashMap;

use chrono::Duration;
use common::{start, start_with};
use serde_json::json;

#[tokio::test]
async fn same_seed_and_clock_give_identical_runs() {
    let a = start_with("expired-secret", 42, false).await;
    let b = start_with("expired-secret", 42, false).await;
    let runs_a = a.runs(json!({})).await;
    let runs_b = b.runs(json!({})).await;
    assert!(!runs_a.is_empty());
    assert_eq!(runs_a, runs_b);
    let details_a = a
        .ok("get_run_details", json!({"run_id": runs_a[3]["run_id"]}))
        .await;
    let details_b = b
        .ok("get_run_details", json!({"run_id": runs_a[3]["run_id"]}))
        .await;
    assert_eq!(details_a, details_b);
}

#[tokio::test]
async fn a_different_seed_gives_different_runs() {
    let a = start_with("none", 1, false).await;
    let b = start_with("none", 2, false).await;
    let ids_a: Vec<_> = a
        .runs(json!({}))
        .await
        .into_iter()
        .map(|r| r["run_id"].clone())
        .collect();
    let ids_b: Vec<_> = b
        .runs(json!({}))
        .await
        .into_iter()
        .map(|r| r["run_id"].clone())
        .collect();
    assert_ne!(ids_a, ids_b);
}

#[tokio::test]
async fn query_order_does_not_change_the_estate() {
    let a = start("late-partition").await;
    let b = start("late-partition").await;
    // b looks at logs and one pipeline before listing everything.
    b.ok("fetch_logs", json!({"since": "2h"})).await;
    b.ok(
        "get_pipeline_status",
        json!({"pipeline": "transform_inventory"}),
    )
    .await;
    assert_eq!(a.runs(json!({})).await, b.runs(json!({})).await);
}

#[tokio::test]
async fn a_board_polling_sees_runs_start_progress_and_finish() {
    let h = start("none").await;
    let mut history: HashMap<String, Vec<String>> = HashMap::new();
    let initial: Vec<String> = h
        .runs(json!({"since": "3h"}))
        .await
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    // Poll every 10 seconds of sandbox time for 40 minutes, as a board would.
    for _ in 0..240 {
        for run in h.runs(json!({"since": "3h"})).await {
            let statuses = history
                .entry(run["run_id"].as_str().unwrap().to_string())
                .or_default();
            let status = run["status"].as_str().unwrap().to_string();
            if statuses.last() != Some(&status) {
                statuses.push(status);
            }
        }
        h.clock.advance(Duration::seconds(10));
    }
    let lived_through: Vec<_> = history
        .iter()
        .filter(|(id, s)| {
            !initial.contains(id)
                && s.first().is_some_and(|f| f == "Queued")
                && s.contains(&"InProgress".to_string())
        })
        .filter(|(_, s)| s.last().is_some_and(|l| l == "Succeeded" || l == "Failed"))
        .collect();
    assert!(
        lived_through.len() >= 3,
        "runs went Queued → InProgress → finished: {lived_through:?}"
    );
    for statuses in history.values() {
        for pair in statuses.windows(2) {
            let ok = matches!(
                (pair[0].as_str(), pair[1].as_str()),
                ("Queued", "InProgress") | ("InProgress", "Succeeded") | ("InProgress", "Failed")
            );
            assert!(ok, "impossible transition {pair:?}");
        }
    }
}

#[tokio::test]
async fn runs_respect_their_schedules() {
    let h = start("none").await;
    let runs = h
        .runs(json!({"pipeline": "ingest_web_events", "since": "6h"}))
        .await;
    // Every 15 minutes: 24 slots in six hours (the slot at the window's start may be excluded).
    assert!((23..=25).contains(&runs.len()), "{} runs", runs.len());
    let hourly = h
        .runs(json!({"pipeline": "orchestrate_sales_hourly", "since": "6h"}))
        .await;
    assert!((5..=6).contains(&hourly.len()), "{}", hourly.len());
    for run in &hourly {
        let start = run["run_start"].as_str().unwrap_or("");
        assert!(
            start.is_empty() || start[14..16] == *"05",
            "hourly at :05, got {start}"
        );
    }
}
