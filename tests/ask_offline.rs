//! `opsdeck ask` with the offline agent, end to end: the real binary, the real
//! built-in server as a stdio child, on every sandbox scenario.

mod common;

use std::process::Command;

use common::process::{OPSDECK, tempdir};
use opsdeck::backends::sandbox::{FixtureFiles, Sandbox};
use serde_json::Value;

/// An mcpServers file that starts `opsdeck serve` on `scenario` with a pinned clock.
fn config_for(scenario: &str) -> std::path::PathBuf {
    let path = tempdir(&format!("ask-{scenario}")).join("mcp.json");
    let config = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": ["serve", "--scenario", scenario, "--seed", "7", "--frozen-clock", common::PINNED],
        "trusted": true
    }}});
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn ask(scenario: &str, extra: &[&str], question: &str) -> (i32, String, String) {
    let output = Command::new(OPSDECK)
        .arg("ask")
        .arg("--mcp-config")
        .arg(config_for(scenario))
        .args(extra)
        .arg(question)
        .env("OPSDECK_LOG_DIR", tempdir("ask-logs"))
        .env("XDG_STATE_HOME", tempdir("ask-state"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_scenario_question_gets_the_true_root_cause_and_blast_radius() {
    // A downstream pipeline per scenario, so the agent must follow the failure upstream.
    let asked = [
        ("expired-secret", "why did transform_inventory fail?"),
        (
            "late-partition",
            "why did transform_inventory fail last night?",
        ),
        ("schema-drift", "what broke in publish_finance_extract?"),
        ("cluster-oom", "why did transform_customer_360 fail?"),
        (
            "risky-plan",
            "explain the terraform plan prod-lake-encryption",
        ),
    ];
    let scenarios = Sandbox::scenarios(&FixtureFiles::Embedded).unwrap();
    for (name, question) in asked {
        let truth = &scenarios.iter().find(|s| s.name == name).unwrap().truth;
        let (code, stdout, stderr) = ask(name, &[], question);
        assert_eq!(code, 0, "{name}: {stderr}");
        let answer = stdout.to_lowercase();
        for word in &truth.keywords {
            assert!(
                answer.contains(&word.to_lowercase()),
                "{name}: '{word}' not in the answer:\n{stdout}"
            );
        }
        for pipeline in &truth.affected_pipelines {
            assert!(
                stdout.contains(pipeline.as_str()),
                "{name}: affected {pipeline} not named:\n{stdout}"
            );
        }
        assert!(
            stdout.contains("Offline mode"),
            "{name}: says it is offline"
        );
    }
}

#[test]
fn the_tool_table_follows_the_answer() {
    let (code, stdout, _) = ask("expired-secret", &[], "status of ingest_crm_customers");
    assert_eq!(code, 0);
    assert!(
        stdout.contains("ingest_crm_customers is failing"),
        "{stdout}"
    );
    let table = stdout
        .split("server       tool")
        .nth(1)
        .expect("a tool table");
    assert!(
        table.contains("get_pipeline_status") && table.contains(" ok "),
        "{table}"
    );
}

#[test]
fn unknown_questions_get_help_with_examples() {
    let (code, stdout, _) = ask("none", &[], "tell me a joke");
    assert_eq!(code, 0);
    assert!(
        stdout.contains("offline agent")
            && stdout.contains("why did")
            && stdout.contains("transform_sales"),
        "{stdout}"
    );
}

#[test]
fn json_mode_prints_every_event_as_a_line() {
    let (code, stdout, _) = ask("schema-drift", &["--json"], "what is failing?");
    assert_eq!(code, 0);
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "user_message");
    assert_eq!(kinds[1], "agent_mode");
    assert!(
        kinds.contains(&"tool_call_started")
            && kinds.contains(&"tool_call_finished")
            && kinds.contains(&"text_delta")
    );
    assert_eq!(*kinds.last().unwrap(), "turn_finished");
    let finished = events
        .iter()
        .find(|e| e["event"] == "tool_call_finished")
        .unwrap();
    assert_eq!(finished["tool"], "get_failed_tasks_summary");
    assert!(
        finished["duration_ms"].is_u64() && finished["result"]["structured"]["groups"].is_array()
    );
}

#[test]
fn a_rerun_question_only_ever_dry_runs() {
    for extra in [&[][..], &["--read-only"][..]] {
        let (code, stdout, stderr) = ask("expired-secret", extra, "rerun ingest_crm_customers");
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("DRY RUN") && stdout.contains("Nothing was started"),
            "{stdout}"
        );
    }
}

#[test]
fn a_broken_config_is_a_usage_error_and_a_dead_server_a_failure() {
    let bad = tempdir("bad-config").join("mcp.json");
    std::fs::write(&bad, "{\"mcpServers\": {\"x\": {}}}").unwrap();
    let output = Command::new(OPSDECK)
        .args(["ask", "--mcp-config"])
        .arg(&bad)
        .arg("why?")
        .env("OPSDECK_LOG_DIR", tempdir("l"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("neither command"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dead = tempdir("dead-config").join("mcp.json");
    std::fs::write(
        &dead,
        "{\"mcpServers\": {\"gone\": {\"command\": \"/nonexistent/server\"}}}",
    )
    .unwrap();
    let output = Command::new(OPSDECK)
        .args(["ask", "--mcp-config"])
        .arg(&dead)
        .arg("why?")
        .env("OPSDECK_LOG_DIR", tempdir("l"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no MCP server is reachable") && stderr.contains("/nonexistent/server"),
        "{stderr}"
    );
}

/// `ask` records its session: a header with the tool catalogue, then the
/// question, the tool calls and the answer, in order, and the session end.
#[test]
fn ask_records_a_trace_of_the_session() {
    let path = tempdir("ask-trace").join("session.jsonl");
    let (code, stdout, stderr) = ask(
        "expired-secret",
        &["--trace", path.to_str().unwrap()],
        "why did ingest_web_events fail?",
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&path).expect("the trace was written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["schema"], 1);
    assert_eq!(lines[0]["process"], "ask");
    assert!(
        lines[0]["servers"][0]["tools"]
            .as_array()
            .is_some_and(|tools| tools
                .iter()
                .any(|t| t["name"] == "rerun_pipeline" && t["destructive"] == true)),
        "the catalogue with destructive flags: {}",
        lines[0]
    );
    let kinds: Vec<String> = lines[1..]
        .iter()
        .map(|l| match l["type"].as_str() {
            Some("agent") => l["event"]["event"].as_str().unwrap_or("?").to_string(),
            other => other.unwrap_or("?").to_string(),
        })
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("user_message"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("session_end"),
        "{kinds:?}"
    );
    let started = kinds
        .iter()
        .position(|k| k == "tool_call_started")
        .expect("a tool call");
    let finished = kinds
        .iter()
        .position(|k| k == "tool_call_finished")
        .expect("its result");
    let answer = kinds
        .iter()
        .position(|k| k == "turn_finished")
        .expect("the answer");
    assert!(started < finished && finished < answer, "{kinds:?}");
    let seqs: Vec<u64> = lines[1..]
        .iter()
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "numbered in order"
    );
    let final_answer = lines[answer + 1]["event"]["answer"]
        .as_str()
        .unwrap_or_default();
    assert!(
        stdout.contains(final_answer.lines().next().unwrap_or("?")),
        "the trace has the printed answer"
    );

    let state = tempdir("ask-no-trace");
    let output = Command::new(OPSDECK)
        .args(["ask", "--no-trace", "--mcp-config"])
        .arg(config_for("expired-secret"))
        .arg("what is failing?")
        .env("OPSDECK_LOG_DIR", tempdir("ask-logs"))
        .env("XDG_STATE_HOME", &state)
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        !state.join("opsdeck/traces").exists(),
        "--no-trace writes nothing"
    );
}

/// Round trip: each scenario's `ask` session, recorded and replayed, shows the
/// same answer and the same tool calls in the same order — offline, with no server.
#[test]
fn replaying_each_scenario_shows_the_same_answer_and_tool_calls() {
    for (scenario, question) in [
        ("expired-secret", "why did ingest_web_events fail?"),
        ("late-partition", "what is failing?"),
        ("schema-drift", "why did transform_sales fail?"),
        ("cluster-oom", "what is failing?"),
        ("risky-plan", "explain the terraform plan"),
        ("none", "what is failing?"),
    ] {
        let path = tempdir("replay-trace").join("session.jsonl");
        let (code, stdout, stderr) = ask(scenario, &["--trace", path.to_str().unwrap()], question);
        assert_eq!(code, 0, "{scenario}: {stderr}");
        let calls: Vec<String> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("server "))
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        assert!(
            !calls.is_empty(),
            "{scenario}: ask listed its tool calls\n{stdout}"
        );
        let replay = Command::new(OPSDECK)
            .arg("--replay")
            .arg(&path)
            .env("OPSDECK_LOG_DIR", tempdir("replay-logs"))
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&replay.stdout).into_owned();
        assert!(
            replay.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&replay.stderr)
        );
        assert!(
            text.contains(&format!("you: {question}")),
            "{scenario}: {text}"
        );
        // The answer, as printed by ask, appears whole in the replay.
        let answer = stdout.split("\nserver ").next().unwrap_or(&stdout).trim();
        assert!(
            text.contains(answer),
            "{scenario}: the replay has the answer\n{text}"
        );
        // The tool calls, in the order ask listed them.
        let replayed: Vec<String> = text
            .lines()
            .filter(|l| l.contains("  call call-"))
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
            .collect();
        assert_eq!(replayed, calls, "{scenario}: same calls, same order");
        assert!(text.contains("session end: finished"), "{scenario}");
    }
}

/// `--verify` re-runs a trace's read-only calls: against the same frozen
/// sandbox every result is the same; against another scenario some differ; a
/// destructive call is never re-run even when the trace's header calls it safe.
#[test]
fn verify_reruns_read_only_calls_and_never_a_destructive_one() {
    let path = tempdir("verify-trace").join("session.jsonl");
    let (code, _, stderr) = ask(
        "expired-secret",
        &["--trace", path.to_str().unwrap()],
        "why did ingest_web_events fail?",
    );
    assert_eq!(code, 0, "{stderr}");
    let verify = |scenario: &str, trace: &std::path::Path| {
        let output = Command::new(OPSDECK)
            .arg("--replay")
            .arg(trace)
            .arg("--verify")
            .arg("--mcp-config")
            .arg(config_for(scenario))
            .env("OPSDECK_LOG_DIR", tempdir("verify-logs"))
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = verify("expired-secret", &path);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("triage_run") && stdout.contains("same"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 different"), "{stdout}");

    let (code, stdout, _) = verify("none", &path);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("differs at") || stdout.contains("error:"),
        "{stdout}"
    );

    // A trace whose header (wrongly) calls rerun_pipeline read-only.
    let lying = tempdir("verify-lying").join("t.jsonl");
    std::fs::write(
        &lying,
        concat!(
            r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"ask","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[{"name":"opsdeck","tools":[{"name":"rerun_pipeline","definition_hash":"0","destructive":false}]}]}"#,
            "\n",
            r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-1","server":"opsdeck","tool":"rerun_pipeline","arguments":{"pipeline":"ingest_web_events","dry_run":false}}}"#,
            "\n",
            r#"{"seq":2,"at":"2026-11-23T03:42:02Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-1","server":"opsdeck","tool":"rerun_pipeline","duration_ms":3,"is_error":false,"result":{"content":["started"]},"truncated":false}}"#,
            "\n"
        ),
    )
    .unwrap();
    let (code, stdout, _) = verify("expired-secret", &lying);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("skipped: destructive: never re-run"),
        "{stdout}"
    );
}
