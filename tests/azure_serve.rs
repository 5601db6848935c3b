//! End to end: `opsdeck serve --backend adf` as a child process, its endpoints
//! pointed at the local Azure stand-in, signed in through azure_identity's own
//! Azure CLI credential (with an `az` that prints the CLI's documented token
//! JSON), answering the official Python MCP SDK's client over stdio, and its
//! health endpoint naming the credential it used.

mod common;

use std::process::{Command, Stdio};

use serde_json::Value;

use common::azure::{FAILED_RUN, FakeApi, SALES_NOW, fake_az_dir, path_with, sales_config_file};
use common::process::{ChildGuard, OPSDECK, client_report, python_mcp_client, tempdir};

const CALLS: &[(&str, &str)] = &[
    ("list_pipeline_runs", r#"{"since": "24h"}"#),
    ("get_pipeline_status", r#"{"pipeline": "ingest_orders"}"#),
    (
        "get_run_details",
        r#"{"run_id": "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d"}"#,
    ),
    ("get_failed_tasks_summary", r#"{"since": "24h"}"#),
    ("list_secrets", r#"{}"#),
    ("get_secret_usage", r#"{"secret": "sql-orders-password"}"#),
    (
        "triage_run",
        r#"{"run_id": "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d"}"#,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_client_gets_answers_from_the_azure_backend() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let dir = tempdir("azure-serve");
    let az = fake_az_dir();
    let config = sales_config_file(&fake, &dir);

    let mut command = python_mcp_client("venv-mcp2", 90);
    for (tool, args) in CALLS {
        command.args(["--call", tool, args]);
    }
    command
        .args(["--stdio", "--", OPSDECK, "serve", "--backend", "adf"])
        .args(["--azure-config", config.to_str().unwrap()])
        .args(["--frozen-clock", SALES_NOW])
        // The SDK passes PATH on to the server, so the server's `az` is ours.
        .env("PATH", path_with(&az))
        .env("OPSDECK_LOG_DIR", dir.join("logs"));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the python client runs");
    let report = client_report(&output);
    let calls = report["calls"].as_array().unwrap();
    for call in calls {
        assert_eq!(call["is_error"], false, "{call}");
        assert!(
            call["text"][0].as_str().unwrap().contains("azure/prod"),
            "every answer names the environment: {call}"
        );
    }
    let result = |tool: &str| {
        calls
            .iter()
            .find(|c| c["tool"] == tool)
            .map(|c| c["structured"].clone())
            .unwrap()
    };
    let runs = result("list_pipeline_runs");
    // The run in progress and tonight's failure; yesterday's success is 25 h old.
    assert_eq!(runs["count"], 2, "{runs}");
    assert!(
        runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["environment"] == "prod")
    );
    assert_eq!(
        result("get_pipeline_status")["last_failure"]["run_id"],
        FAILED_RUN
    );
    assert_eq!(
        result("get_run_details")["failed_activities"][0],
        "CopyOrders"
    );
    assert_eq!(result("get_failed_tasks_summary")["failed_runs"], 1);
    assert_eq!(result("list_secrets")["count"], 2);
    assert_eq!(
        result("get_secret_usage")["pipelines_direct"][0],
        "ingest_orders"
    );
    assert_eq!(
        result("triage_run")["failing_path"][0]["activity"],
        "CopyOrders"
    );

    // azure_identity ran our `az` once per scope (tokens are cached), and the
    // tokens it printed are the ones Azure received.
    let scopes = std::fs::read_to_string(az.join("scopes.log")).unwrap();
    let mut asked: Vec<&str> = scopes.lines().collect();
    asked.sort();
    asked.dedup();
    assert_eq!(
        asked,
        [
            "https://api.loganalytics.io/.default",
            "https://management.azure.com/.default",
            "https://vault.azure.net/.default"
        ]
    );
    assert_eq!(scopes.lines().count(), 3, "one token per scope: {scopes}");
    assert!(fake.requests().iter().all(|r| {
        r.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer cli-token:https://"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_credential_and_a_bad_config_fails_clearly() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let dir = tempdir("azure-health");
    let az = fake_az_dir();
    let config = sales_config_file(&fake, &dir);
    let mut child = Command::new(OPSDECK)
        .args(["serve", "--backend", "adf", "--http", "127.0.0.1:0"])
        .args(["--azure-config", config.to_str().unwrap()])
        .env("PATH", path_with(&az))
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opsdeck starts");
    let stderr = child.stderr.take().unwrap();
    let _guard = ChildGuard(child);
    let url = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader};
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
                let url = url.to_string();
                std::thread::spawn(move || for _ in reader.lines() {});
                return url;
            }
            line.clear();
        }
        panic!("no address reported: {line}");
    })
    .await
    .unwrap();
    let ready = url.replace("/mcp", "/health/ready");
    let body: Value = reqwest::get(&ready).await.unwrap().json().await.unwrap();
    let text = body.to_string();
    assert!(text.contains("adf/prod/adf-sales-prod"), "{text}");
    assert!(text.contains("signed in with azure_cli"), "{text}");
    assert!(text.contains("westeurope"), "{text}");
    // Probes (or anyone hammering the endpoint) share one look at the backends.
    let looked = fake.requests().len();
    for _ in 0..20 {
        let again = reqwest::get(&ready).await.unwrap();
        assert!(again.status().is_success());
    }
    assert_eq!(
        fake.requests().len(),
        looked,
        "twenty more probes within ten seconds cost Azure no request"
    );

    // A config naming an environment that is not there stops at once, saying why.
    let output = Command::new(OPSDECK)
        .args(["serve", "--backend", "adf", "--environment", "staging"])
        .args(["--azure-config", config.to_str().unwrap()])
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment 'staging' is not in the Azure config; known: prod"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout, which belongs to MCP"
    );
}
