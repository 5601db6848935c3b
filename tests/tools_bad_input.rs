//! Every tool answers bad input with a tool error that says what was wrong and
//! what to do — never a panic, a protocol error or a silent empty answer.

mod common;

use common::start;
use serde_json::{Value, json};

/// (tool, arguments, words the error must contain)
fn cases() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    vec![
        (
            "list_pipelines",
            json!({"folder": 7}),
            vec!["'folder' must be string", "Parameters:"],
        ),
        (
            "list_pipeline_runs",
            json!({"since": "the dawn of time"}),
            vec!["RFC 3339", "30m"],
        ),
        (
            "get_pipeline_status",
            json!({"pipelines": "x"}),
            vec![
                "unknown parameter 'pipelines'",
                "missing required parameter 'pipeline'",
            ],
        ),
        (
            "get_run_details",
            json!({"run_id": "nope"}),
            vec!["run 'nope' not found", "list_pipeline_runs"],
        ),
        (
            "get_failed_tasks_summary",
            json!({"until": "3h", "since": "1h"}),
            vec!["empty"],
        ),
        (
            "get_failed_tasks_summary",
            json!({"pipeline": "ghost"}),
            vec!["ghost", "ingest_pos_sales"],
        ),
        (
            "get_pipeline_dependencies",
            json!({"pipeline": "ghost"}),
            vec!["ghost", "transform_sales"],
        ),
        ("compare_runs", json!({"run_id": "nope"}), vec!["not found"]),
        ("fetch_logs", json!({"run_id": "nope"}), vec!["not found"]),
        (
            "fetch_logs",
            json!({"limit": 0}),
            vec!["between 1 and 2000"],
        ),
        (
            "summarize_error_logs",
            json!({"top": 1000}),
            vec!["1 to 100"],
        ),
        (
            "fetch_logs",
            json!({"since": "91d"}),
            vec!["spans 91 days", "at most 90 days"],
        ),
        (
            "fetch_logs",
            json!({"limit": -1}),
            vec!["'limit' must be a whole number from 1 to 2000"],
        ),
        (
            "summarize_error_logs",
            json!({"since": "2026-01-01T00:00:00Z"}),
            vec!["at most 90 days"],
        ),
        (
            "summarize_error_logs",
            json!({"since": "99999999999999999999w"}),
            vec!["further than any date", "at most 90 days"],
        ),
        (
            "list_pipeline_runs",
            json!({"since": "1900-01-01T00:00:00Z"}),
            vec!["at most 90 days", "since=7d"],
        ),
        (
            "get_failed_tasks_summary",
            json!({"since": "91d"}),
            vec!["at most 90 days"],
        ),
        (
            "list_secrets",
            json!({"expiring_within": "3651d"}),
            vec!["too long", "3650d"],
        ),
        (
            "summarize_error_logs",
            json!({"level": "chatty"}),
            vec!["WARN"],
        ),
        (
            "list_secrets",
            json!({"expiring_within": "a while"}),
            vec!["7d"],
        ),
        (
            "what_changed",
            json!({"since": "40d"}),
            vec!["31 days", "narrow"],
        ),
        (
            "get_secret_usage",
            json!({"secret": "ghost"}),
            vec!["ghost", "adls-sp-client-secret"],
        ),
        (
            "parse_terraform_plan",
            json!({"plan": "x", "plan_json": "{}"}),
            vec!["not both"],
        ),
        (
            "explain_plan_diff",
            json!({"plan_json": "{\"format_version\": \"9.0\", \"resource_changes\": []}"}),
            vec!["9.0"],
        ),
        (
            "detect_infra_drift",
            json!({"plan": "ghost"}),
            vec!["ghost", "prod-tags"],
        ),
        (
            "list_terraform_plans",
            json!({"plan": "x"}),
            vec!["unknown parameter 'plan'", "takes no parameters"],
        ),
        (
            "list_resources_by_tag",
            json!({}),
            vec!["missing required parameter 'tag'"],
        ),
        (
            "get_resource_health",
            json!({"resource": "ghost"}),
            vec!["ghost", "kv-contoso-dataops-prod"],
        ),
        (
            "triage_run",
            json!({"run_id": 42}),
            vec!["'run_id' must be string"],
        ),
        (
            "rerun_pipeline",
            json!({"pipeline": "ghost"}),
            vec!["ghost", "ingest_pos_sales"],
        ),
        (
            "rerun_pipeline",
            json!({"pipeline": "ingest_pos_sales", "dry_run": "no"}),
            vec!["'dry_run' must be boolean"],
        ),
        ("cancel_run", json!({"run_id": "nope"}), vec!["not found"]),
        (
            "no_such_tool",
            json!({}),
            vec!["no tool named 'no_such_tool'", "triage_run"],
        ),
    ]
}

#[tokio::test]
async fn every_tool_explains_bad_input() {
    let h = start("expired-secret").await;
    let mut covered = std::collections::BTreeSet::new();
    for (tool, args, words) in cases() {
        let err = h.err(tool, args.clone()).await;
        for word in words {
            assert!(err.contains(word), "{tool} {args}: '{word}' not in: {err}");
        }
        covered.insert(tool);
    }
    for tool in h.tools().await {
        assert!(
            covered.contains(tool.name.as_ref()),
            "{} has no bad-input case",
            tool.name
        );
    }
}

#[tokio::test]
async fn empty_results_say_so_rather_than_return_nothing() {
    let h = start("none").await;
    let result = h
        .call("get_failed_tasks_summary", json!({"since": "10m"}))
        .await;
    assert_eq!(result.is_error, Some(false));
    assert!(
        common::text_of(&result).contains("no failed runs between"),
        "{}",
        common::text_of(&result)
    );
    let result = h
        .call("list_pipeline_runs", json!({"status": "Cancelled"}))
        .await;
    assert!(
        common::text_of(&result).contains("0 runs between"),
        "{}",
        common::text_of(&result)
    );
}
