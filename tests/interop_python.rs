//! Clients no one here wrote: the official Python MCP SDK (2.x and 1.x) and the
//! MCP Inspector CLI, against the real `opsdeck serve` over stdio and HTTP.

mod common;

use std::process::Command;

use common::process::{
    OPSDECK, client_report, peers_dir, pinned_serve_args, python_mcp_client, start_http_server,
    tempdir,
};
use serde_json::Value;

const CALLS: &[(&str, &str)] = &[
    ("list_pipeline_runs", r#"{"limit": 5, "status": "Failed"}"#),
    (
        "get_pipeline_status",
        r#"{"pipeline": "ingest_crm_customers"}"#,
    ),
    ("get_pipeline_status", r#"{"pipeline": "no_such_pipeline"}"#),
];

fn run_client(venv: &str, extra: &[&str], target: &[String]) -> Value {
    let mut command = python_mcp_client(venv, 60);
    command.args(extra);
    for (tool, args) in CALLS {
        command.args(["--call", tool, args]);
    }
    command
        .args(target)
        .env("OPSDECK_LOG_DIR", tempdir("py-logs"));
    client_report(&command.output().expect("python client runs"))
}

fn stdio_target() -> Vec<String> {
    let mut target = vec!["--stdio".to_string(), "--".to_string(), OPSDECK.to_string()];
    target.extend(pinned_serve_args());
    target
}

fn check(report: &Value, protocol: &str) {
    assert_eq!(report["protocol_version"], protocol, "{report:#}");
    assert_eq!(report["server_name"], "opsdeck");
    let tools = report["tools"].as_array().unwrap();
    assert!(tools.len() >= 19, "{} tools", tools.len());
    let rerun = tools
        .iter()
        .find(|t| t["name"] == "rerun_pipeline")
        .unwrap();
    assert_eq!(rerun["annotations"]["destructiveHint"], true);
    assert!(tools.iter().all(|t| t["has_output_schema"] == true));
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls[0]["is_error"], false, "{:#}", calls[0]);
    let runs = calls[0]["structured"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r["status"] == "Failed"));
    assert_eq!(calls[1]["is_error"], false);
    assert_eq!(calls[1]["structured"]["state"], "failing");
    assert_eq!(
        calls[2]["is_error"], true,
        "unknown pipeline is a tool error"
    );
    assert!(
        calls[2]["text"][0]
            .as_str()
            .unwrap()
            .contains("ingest_crm_customers"),
        "and lists the known ones"
    );
}

#[test]
fn python_sdk_2_over_stdio_negotiates_the_newest_protocol() {
    check(&run_client("venv-mcp2", &[], &stdio_target()), "2026-07-28");
}

#[test]
fn python_sdk_2_in_legacy_mode_over_stdio_uses_initialize() {
    let report = run_client(
        "venv-mcp2",
        &["--mode", "legacy", "--ping"],
        &stdio_target(),
    );
    check(&report, "2025-11-25");
    assert_eq!(report["ping"]["ok"], true);
}

#[test]
fn python_sdk_1_over_stdio() {
    let report = run_client("venv-mcp1", &["--ping"], &stdio_target());
    check(&report, "2025-11-25");
}

#[test]
fn python_sdk_2_over_http() {
    let (_server, url) = start_http_server(&[]);
    check(
        &run_client("venv-mcp2", &[], &["--http".into(), url]),
        "2026-07-28",
    );
}

#[test]
fn python_sdk_1_over_http_with_a_bearer_token() {
    let token_file = tempdir("token").join("token");
    std::fs::write(&token_file, "interop-token-0123456789abcdef\n").unwrap();
    let (_server, url) = start_http_server(&["--token-file", token_file.to_str().unwrap()]);
    let header = "Authorization: Bearer interop-token-0123456789abcdef";
    check(
        &run_client(
            "venv-mcp1",
            &["--header", header, "--ping"],
            &["--http".into(), url],
        ),
        "2025-11-25",
    );
}

fn inspector(args: &[String]) -> Value {
    let cli =
        peers_dir().join("node/node_modules/@modelcontextprotocol/inspector-cli/build/index.js");
    let output = Command::new("timeout")
        .arg("60")
        .arg("node")
        .arg(cli)
        .args(args)
        .env("OPSDECK_LOG_DIR", tempdir("inspector-logs"))
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "inspector failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "inspector output is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn mcp_inspector_cli_lists_tools_over_stdio_and_http() {
    let mut args = vec![OPSDECK.to_string()];
    args.extend(pinned_serve_args());
    args.extend(["--method".into(), "tools/list".into()]);
    let listed = inspector(&args);
    assert!(
        listed["tools"].as_array().unwrap().len() >= 19,
        "{listed:#}"
    );

    let (_server, url) = start_http_server(&[]);
    let listed = inspector(&[url.clone(), "--method".into(), "tools/list".into()]);
    assert!(
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "triage_run")
    );
    let called = inspector(&[
        url,
        "--transport".into(),
        "http".into(),
        "--method".into(),
        "tools/call".into(),
        "--tool-name".into(),
        "get_pipeline_status".into(),
        "--tool-arg".into(),
        "pipeline=ingest_crm_customers".into(),
    ]);
    assert_eq!(
        called["structuredContent"]["state"], "failing",
        "{called:#}"
    );
}
