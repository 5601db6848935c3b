//! A trace written by opsdeck before conversations were kept (commit dcb700b,
//! `fixtures/traces/ask-before-conversations.jsonl`) resumes: the model gets
//! the earlier question, the triage call with its result and the answer; the
//! offline agent reads a follow-up against it. Written by that release's own
//! binary, not reconstructed, so the trace format's backward compatibility is
//! tested against a real old trace.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::openai_mock::{MockOpenAi, Reply, text_chunks};
use common::process::{OPSDECK, tempdir};
use serde_json::Value;

fn old_trace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/traces/ask-before-conversations.jsonl")
}

fn config() -> PathBuf {
    let path = tempdir("resume-old-config").join("mcp.json");
    let servers = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": ["serve", "--scenario", "expired-secret", "--seed", "7", "--frozen-clock", common::PINNED],
        "trusted": true
    }}});
    std::fs::write(&path, servers.to_string()).unwrap();
    path
}

fn ask(model: Option<&str>, question: &str) -> Output {
    let mut command = Command::new(OPSDECK);
    command
        .args(["ask", "--no-trace", "--mcp-config"])
        .arg(config())
        .arg("--resume")
        .arg(old_trace())
        .arg(question)
        .env("OPSDECK_LOG_DIR", tempdir("resume-old-logs"))
        .env("XDG_STATE_HOME", tempdir("resume-old-state"))
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .env_remove("AZURE_OPENAI_API_KEY")
        .env_remove("OPSDECK_CONTEXT_TOKENS")
        .env_remove("OPENAI_API_KEY");
    if let Some(base_url) = model {
        command
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_MODEL", "gpt-test");
    }
    command.output().unwrap()
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_from_before_conversations_gives_the_model_its_evidence() {
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&["Rotate the secret, then rerun upstream first."]),
        delay_ms: 0,
        cut: false,
    }])
    .await;
    let base_url = mock.base_url.clone();
    let output =
        tokio::task::spawn_blocking(move || ask(Some(&base_url), "what should I do next?"))
            .await
            .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("resumed 1 earlier turn from"), "{stderr}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let messages = requests[0].body["messages"].as_array().unwrap().clone();
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"],
        "{messages:#?}"
    );
    assert_eq!(text_of(&messages[1]), "why did transform_inventory fail?");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["name"],
        "triage_run"
    );
    let evidence = text_of(&messages[3]);
    assert!(
        evidence.contains("adls-sp-client-secret") && evidence.contains("transform_inventory"),
        "the old triage result reaches the model: {evidence}"
    );
    assert!(
        text_of(&messages[4]).contains("Why transform_inventory failed"),
        "the old answer: {}",
        text_of(&messages[4])
    );
    assert_eq!(text_of(&messages[5]), "what should I do next?");
}

#[test]
fn the_offline_agent_follows_up_on_a_trace_from_before_conversations() {
    let output = ask(None, "and downstream?");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Downstream of transform_inventory"),
        "{stdout}"
    );
}
