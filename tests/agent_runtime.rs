//! The agent at run time: cancelling a turn is dropping it (the model's HTTP stream
//! and a pending tool call are abandoned, the host stays usable), and a tool whose
//! definition changes mid-session needs approval again.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::openai_mock::{MockOpenAi, Reply, text_chunks, tool_call_chunks};
use common::process::{peer_script, python, tempdir};
use opsdeck::agent::events::AgentEvent;
use opsdeck::agent::llm::{LlmAgent, LlmSettings, Provider};
use opsdeck::agent::policy::ApprovalPolicy;
use opsdeck::agent::runner::{RefuseUnapproved, ToolRunner};
use opsdeck::config::servers::{ServerSpec, ServerTransport};
use opsdeck::mcp::McpHost;

fn python_server() -> ServerSpec {
    python_server_with(BTreeMap::new())
}

fn python_server_with(extra_env: BTreeMap<String, String>) -> ServerSpec {
    let mut env = BTreeMap::from([(
        "OPSDECK_LOG_DIR".to_string(),
        tempdir("cancel").display().to_string(),
    )]);
    env.extend(extra_env);
    ServerSpec {
        name: "py".into(),
        transport: ServerTransport::Stdio {
            command: python("venv-mcp2").display().to_string(),
            args: vec![peer_script("test_server.py").display().to_string()],
            env: BTreeMap::from([(
                "OPSDECK_LOG_DIR".to_string(),
                tempdir("cancel").display().to_string(),
            )]),
            cwd: None,
            pass_env: vec![],
        },
        trusted: true,
        read_only: false,
        allowed_tools: None,
        denied_tools: vec![],
        always_allow: Vec::new(),
        call_timeout: Duration::from_secs(60),
        init_timeout: Duration::from_secs(30),
    }
}

fn agent(mock: &MockOpenAi) -> LlmAgent {
    let provider = Provider::OpenAi {
        base_url: mock.base_url.clone(),
        api_key: "sk-test".into(),
        model: "m".into(),
    };
    LlmAgent::new(&provider, LlmSettings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_turn_abandons_the_model_stream() {
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&["a", "b", "c", "d", "e", "f"]),
        cut: false,
        delay_ms: 400,
    }])
    .await;
    let host = McpHost::start(vec![python_server()], Duration::from_secs(30)).await;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let agent = agent(&mock);
    {
        let runner = ToolRunner::new(
            &host,
            ApprovalPolicy::default(),
            Box::new(RefuseUnapproved),
            events.clone(),
        );
        let turn = agent.run_turn(&runner, "hi", &events);
        // Esc after the first delta.
        let cancelled = tokio::time::timeout(Duration::from_millis(1_500), turn).await;
        assert!(cancelled.is_err(), "the turn was still streaming");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.abandoned_streams(), 1, "the HTTP stream was dropped");
    let mut deltas = 0;
    while let Ok(event) = received.try_recv() {
        deltas += usize::from(matches!(event, AgentEvent::TextDelta { .. }));
    }
    assert!(
        (1..6).contains(&deltas),
        "some text arrived before the cancel: {deltas}"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_turn_abandons_a_pending_tool_call_and_the_host_stays_usable() {
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: tool_call_chunks(&[("c1", "hang", "{}")], 1),
        cut: false,
        delay_ms: 0,
    }])
    .await;
    let host = McpHost::start(vec![python_server()], Duration::from_secs(30)).await;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let agent = agent(&mock);
    {
        let runner = ToolRunner::new(
            &host,
            ApprovalPolicy::default(),
            Box::new(RefuseUnapproved),
            events.clone(),
        );
        let cancelled = tokio::time::timeout(
            Duration::from_secs(2),
            agent.run_turn(&runner, "hang please", &events),
        )
        .await;
        assert!(cancelled.is_err(), "the tool call was still pending");
    }
    let mut started = false;
    let mut finished = false;
    while let Ok(event) = received.try_recv() {
        started |= matches!(event, AgentEvent::ToolCallStarted { ref tool, .. } if tool == "hang");
        finished |= matches!(event, AgentEvent::ToolCallFinished { .. });
    }
    assert!(
        started && !finished,
        "the call started and was abandoned, not finished"
    );
    let echoed = tokio::time::timeout(
        Duration::from_secs(5),
        host.call(
            "echo",
            serde_json::json!({"text": "alive"}).as_object().cloned(),
        ),
    )
    .await
    .expect("the server answers right away")
    .unwrap();
    assert_eq!(echoed.content[0].as_text().unwrap().text, "alive");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_whose_definition_changes_mid_session_needs_approval_again() {
    let host = McpHost::start(vec![python_server()], Duration::from_secs(30)).await;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let runner = ToolRunner::new(
        &host,
        ApprovalPolicy::default(),
        Box::new(RefuseUnapproved),
        events,
    );
    let first = runner
        .call("echo", serde_json::json!({"text": "one"}))
        .await;
    assert!(!first.is_error, "{}", first.summary);
    assert!(
        !runner
            .call("change_definition", serde_json::json!({}))
            .await
            .is_error
    );
    host.refresh_tools().await;
    let second = runner
        .call("echo", serde_json::json!({"text": "two"}))
        .await;
    assert!(second.is_error, "the changed tool was not re-approved");
    assert!(
        second.summary.contains("changed its definition")
            && second.summary.contains("not approved"),
        "{}",
        second.summary
    );
    let mut asked = false;
    while let Ok(event) = received.try_recv() {
        asked |= matches!(event, AgentEvent::ApprovalNeeded { ref tool, .. } if tool == "echo");
    }
    assert!(asked, "an approval was asked for");
    drop(runner);
    host.shutdown().await;
}

/// A token source that hands out a new token each time, like a refreshing credential.
struct RotatingTokens(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl opsdeck::agent::llm::BearerSource for RotatingTokens {
    async fn bearer(&self) -> Result<String, String> {
        Ok(format!(
            "entra-token-{}",
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
        ))
    }
    fn describe(&self) -> String {
        "test tokens".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_openai_with_entra_id_sends_a_fresh_bearer_and_no_api_key() {
    let mock = MockOpenAi::start(vec![
        Reply::Stream {
            chunks: tool_call_chunks(&[("c1", "echo", r#"{"text": "x"}"#)], 1),
            cut: false,
            delay_ms: 0,
        },
        Reply::Stream {
            chunks: text_chunks(&["done"]),
            cut: false,
            delay_ms: 0,
        },
    ])
    .await;
    let provider = Provider::Azure {
        endpoint: mock.azure_endpoint.clone(),
        auth: opsdeck::agent::llm::AzureAuth::EntraId,
        deployment: "triage-gpt".into(),
        api_version: "2024-10-21".into(),
    };
    let tokens = std::sync::Arc::new(RotatingTokens(std::sync::atomic::AtomicUsize::new(0)));
    let agent = LlmAgent::with_bearer(&provider, LlmSettings::default(), Some(tokens)).unwrap();
    let host = McpHost::start(vec![python_server()], Duration::from_secs(30)).await;
    let (events, _received) = tokio::sync::mpsc::unbounded_channel();
    let runner = ToolRunner::new(
        &host,
        ApprovalPolicy::default(),
        Box::new(RefuseUnapproved),
        events.clone(),
    );
    let turn = agent.run_turn(&runner, "hi", &events).await;
    assert!(turn.ok, "{turn:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(
            request.path,
            "/openai/deployments/triage-gpt/chat/completions"
        );
        assert_eq!(request.query_param("api-version"), Some("2024-10-21"));
        assert_eq!(request.header_count("authorization"), 1);
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer entra-token-{}", i + 1).as_str())
        );
        assert_eq!(request.header_count("api-key"), 0);
    }
    drop(runner);
    host.shutdown().await;
}

#[test]
fn azure_without_a_key_or_credential_says_how_to_sign_in() {
    let provider = Provider::Azure {
        endpoint: "https://r.openai.azure.com".into(),
        auth: opsdeck::agent::llm::AzureAuth::EntraId,
        deployment: "d".into(),
        api_version: "2024-10-21".into(),
    };
    let err = LlmAgent::with_bearer(&provider, LlmSettings::default(), None)
        .err()
        .unwrap();
    assert!(err.contains("Entra ID"), "{err}");
}
