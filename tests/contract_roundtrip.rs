//! The tool-result contract against the server's real output: every result a
//! reader reads (the console's details view, the offline agent) is read back as
//! its contract type on every sandbox scenario, and writing that type again
//! gives exactly what the server sent, both as `structuredContent` and as the
//! JSON text block. A field the server writes but the contract lacks, or one
//! named differently, fails here.

mod common;

use common::{Harness, start, text_of};
use opsdeck::model::contract::{
    CompareResult, DependenciesResult, FailuresResult, FetchLogsResult, ListPipelinesResult,
    ListRunsResult, ListSecretsResult, PipelineStatus, PlansResult, RemediationOutcome,
    ResourceHealth, ResourcesResult, RunDetails, SecretUsage, SummarizeResult, TriageReport,
};
use opsdeck::model::run::RunStatus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const SCENARIOS: &[&str] = &[
    "expired-secret",
    "late-partition",
    "schema-drift",
    "cluster-oom",
    "risky-plan",
    "none",
];

/// Calls `tool`, reads its result as `T`, and checks that writing `T` again
/// reproduces the server's answer byte for byte, structured and as text.
async fn round_trip<T: DeserializeOwned + Serialize>(h: &Harness, tool: &str, args: Value) -> T {
    let result = h.call(tool, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(false),
        "{tool} {args} failed: {}",
        text_of(&result)
    );
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    let typed: T = serde_json::from_value(structured.clone())
        .unwrap_or_else(|e| panic!("{tool} {args}: the contract does not read it: {e}"));
    let written = serde_json::to_value(&typed).expect("the contract type writes");
    assert_eq!(
        written, structured,
        "{tool} {args}: the contract type loses or changes fields"
    );
    let json_text = result
        .content
        .get(1)
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .expect("the JSON text block");
    // The text block carries the same JSON. (Compared as values: serde_json
    // reads a float to within one unit in the last place, not exactly.)
    let text_value: Value = serde_json::from_str(&json_text).expect("the text block is JSON");
    assert_eq!(written, text_value, "{tool} {args}: the JSON text differs");
    typed
}

#[tokio::test]
async fn every_read_result_round_trips_through_its_contract_type_on_every_scenario() {
    for scenario in SCENARIOS {
        let h = start(scenario).await;
        let listed: ListPipelinesResult = round_trip(&h, "list_pipelines", json!({})).await;
        assert!(!listed.pipelines.is_empty(), "{scenario}");
        let runs: ListRunsResult = round_trip(
            &h,
            "list_pipeline_runs",
            json!({"since": "2d", "limit": 500}),
        )
        .await;
        round_trip::<FailuresResult>(&h, "get_failed_tasks_summary", json!({"since": "2d"})).await;
        for pipeline in listed.pipelines.iter().map(|p| p.name.as_str()) {
            let status: PipelineStatus =
                round_trip(&h, "get_pipeline_status", json!({"pipeline": pipeline})).await;
            round_trip::<DependenciesResult>(
                &h,
                "get_pipeline_dependencies",
                json!({"pipeline": pipeline, "depth": 10}),
            )
            .await;
            if status.last_failure.is_some() {
                round_trip::<TriageReport>(&h, "triage_run", json!({"pipeline": pipeline})).await;
            }
        }
        let failed = runs.runs.iter().filter(|r| r.status == RunStatus::Failed);
        for run in failed.take(4).chain(runs.runs.iter().take(2)) {
            round_trip::<RunDetails>(&h, "get_run_details", json!({"run_id": run.run_id})).await;
            round_trip::<FetchLogsResult>(&h, "fetch_logs", json!({"run_id": run.run_id})).await;
            // A run without an earlier success has no baseline: nothing to compare.
            let compared = h.call("compare_runs", json!({"run_id": run.run_id})).await;
            if compared.is_error != Some(true) {
                round_trip::<CompareResult>(&h, "compare_runs", json!({"run_id": run.run_id}))
                    .await;
            }
        }
        round_trip::<SummarizeResult>(&h, "summarize_error_logs", json!({"since": "12h"})).await;
        let secrets: ListSecretsResult = round_trip(&h, "list_secrets", json!({})).await;
        for secret in &secrets.secrets {
            round_trip::<SecretUsage>(&h, "get_secret_usage", json!({"secret": secret.meta.name}))
                .await;
        }
        round_trip::<PlansResult>(&h, "list_terraform_plans", json!({})).await;
        let tagged: ResourcesResult =
            round_trip(&h, "list_resources_by_tag", json!({"tag": "env"})).await;
        for resource in tagged.resources.iter().take(3) {
            round_trip::<ResourceHealth>(
                &h,
                "get_resource_health",
                json!({"resource": resource.name}),
            )
            .await;
        }
        let pipeline = &listed.pipelines[0].name;
        let preview: RemediationOutcome = round_trip(
            &h,
            "rerun_pipeline",
            json!({"pipeline": pipeline, "dry_run": true}),
        )
        .await;
        assert!(preview.dry_run, "{scenario}");
    }
}

/// The shapes that only some scenarios produce are there at least once, so
/// the test above exercised them (not only empty lists).
#[tokio::test]
async fn the_round_trip_covers_the_rich_shapes() {
    let h = start("expired-secret").await;
    let report: TriageReport =
        round_trip(&h, "triage_run", json!({"pipeline": "transform_inventory"})).await;
    assert!(!report.failing_path.is_empty());
    assert!(!report.evidence.is_empty());
    assert!(!report.secrets.is_empty());
    assert!(!report.blast_radius.is_empty());
    let deps: DependenciesResult = round_trip(
        &h,
        "get_pipeline_dependencies",
        json!({"pipeline": "transform_sales", "depth": 3}),
    )
    .await;
    assert!(!deps.upstream.is_empty() && !deps.downstream.is_empty());
    let usage: SecretUsage = round_trip(
        &h,
        "get_secret_usage",
        json!({"secret": "adls-sp-client-secret"}),
    )
    .await;
    assert!(!usage.pipelines_downstream.is_empty());
    let oom = start("cluster-oom").await;
    let logs: SummarizeResult =
        round_trip(&oom, "summarize_error_logs", json!({"since": "6h"})).await;
    assert!(
        logs.clusters
            .iter()
            .any(|c| c.rate_ratio.is_some() || c.is_new)
    );
}
