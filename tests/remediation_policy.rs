//! The server's remediation policy through a real MCP client: in an
//! environment that needs approval a real rerun must say who approved it, a
//! preview must come first, reruns of one run are limited per hour, and every
//! attempt lands in the audit log with who, what, when and the outcome.

mod common;

use serde_json::{Value, json};

use opsdeck::ops::policy::{PolicyGuard, RemediationPolicy};
use opsdeck::server::OpsdeckServer;

#[tokio::test]
async fn approval_preview_and_rate_limit_are_enforced_and_audited() {
    let dir = common::process::tempdir("policy");
    let path = dir.join("policy.toml");
    let audit = dir.join("audit.jsonl");
    std::fs::write(
        &path,
        format!(
            "[remediation]\nenvironments = {{ prod = \"approval\", dr = \"forbidden\" }}\nrequire_preview = true\nmax_reruns_per_run_per_hour = 1\naudit_log = \"{}\"\n",
            audit.display()
        ),
    )
    .unwrap();
    let policy = RemediationPolicy::from_file(&path).unwrap();
    let clock = common::TestClock::at(common::pinned());
    let (_, backends) = common::sandbox_backends("expired-secret", 7, clock.clone());
    let server = OpsdeckServer::new(backends, false).with_policy(PolicyGuard::new(policy, &dir));
    let tools = common::connect_server(server).await;
    let run = tools.latest_failed("ingest_crm_customers").await;
    let run_id = run["run_id"].as_str().unwrap();
    let call = |dry_run: bool, approved_by: Option<&str>| {
        let mut args =
            json!({"pipeline": "ingest_crm_customers", "run_id": run_id, "dry_run": dry_run});
        if let Some(who) = approved_by {
            args["approved_by"] = json!(who);
        }
        args
    };

    let unapproved = tools.err("rerun_pipeline", call(false, None)).await;
    assert!(
        unapproved.contains("requires a person's approval") && unapproved.contains("prod"),
        "{unapproved}"
    );
    let unpreviewed = tools.err("rerun_pipeline", call(false, Some("dana"))).await;
    assert!(unpreviewed.contains("preview first"), "{unpreviewed}");
    let preview = tools.ok("rerun_pipeline", call(true, None)).await;
    assert_eq!(preview["dry_run"], true);
    let done = tools.ok("rerun_pipeline", call(false, Some("dana"))).await;
    assert!(done["new_run_id"].is_string(), "{done}");
    let again = tools.err("rerun_pipeline", call(false, Some("dana"))).await;
    assert!(again.contains("1 rerun(s)"), "{again}");

    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "blocked_by_policy",
            "blocked_by_policy",
            "previewed",
            "done",
            "blocked_by_policy"
        ]
    );
    assert_eq!(lines[3]["who"]["approved_by"], "dana");
    assert_eq!(lines[3]["environment"], "prod");
    assert_eq!(lines[3]["tool"], "rerun_pipeline");
    assert!(
        lines[3]["time"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-23T03:42")
    );
    assert!(lines[0]["detail"].as_str().unwrap().contains("approval"));
}

/// `opsdeck ask --approve 'rerun_pipeline:{…}'`: the host tells the server who
/// approved, so a server whose policy wants approval for prod lets it through
/// and its audit log names the operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_says_who_approved_a_destructive_call() {
    use common::openai_mock::{MockOpenAi, Reply, text_chunks, tool_call_chunks};
    let dir = common::process::tempdir("policy-ask");
    let audit = dir.join("audit.jsonl");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[remediation]\nenvironments = {{ prod = \"approval\" }}\naudit_log = \"{}\"\n",
            audit.display()
        ),
    )
    .unwrap();
    let mcp = dir.join("mcp.json");
    std::fs::write(
        &mcp,
        json!({"mcpServers": {"opsdeck": {
            "command": common::process::OPSDECK,
            "args": ["serve", "--scenario", "expired-secret", "--frozen-clock", common::PINNED,
                     "--policy", policy],
            "trusted": true
        }}})
        .to_string(),
    )
    .unwrap();
    let rerun = r#"{"pipeline": "ingest_crm_customers", "dry_run": false}"#;
    let stream = |chunks| Reply::Stream {
        chunks,
        cut: false,
        delay_ms: 0,
    };
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(&[("call_a", "rerun_pipeline", rerun)], 2)),
        stream(text_chunks(&["Rerun started."])),
    ])
    .await;
    let base = mock.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::process::OPSDECK)
            .args(["ask", "--mcp-config"])
            .arg(&mcp)
            .args([
                "--approve",
                r#"rerun_pipeline:{"pipeline": "ingest_crm_customers", "dry_run": false}"#,
                "--no-trace",
                "rerun ingest_crm_customers",
            ])
            .env("OPENAI_BASE_URL", base)
            .env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_MODEL", "gpt-test")
            .env("USER", "dana")
            .env("OPSDECK_LOG_DIR", dir.join("logs"))
            .env_remove("AZURE_OPENAI_ENDPOINT")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "done", "{}", lines[0]);
    assert_eq!(lines[0]["who"]["approved_by"], "dana (--approve)");
}
