//! The conversation (issue #17): a follow-up question reaches the model with
//! the earlier questions, tool calls, results and answers; old results give
//! way to the budget with a marker; `:new` starts empty; a cancelled turn
//! leaves a history the next request can send; `--resume` hands a recorded
//! session's conversation to the model. Real HTTP and SSE to a scripted model,
//! real MCP to the built-in server on the sandbox.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use common::openai_mock::{MockOpenAi, Reply, text_chunks, tool_call_chunks};
use common::process::{OPSDECK, pinned_serve_args, tempdir};
use opsdeck::agent::conversation::{Budget, CANCELLED_RESULT, Conversation, SharedConversation};
use opsdeck::agent::events::AgentEvent;
use opsdeck::agent::llm::{LlmAgent, LlmSettings, Provider};
use opsdeck::agent::policy::ApprovalPolicy;
use opsdeck::agent::runner::{ApprovalRequest, Approver, Decision, RefuseUnapproved, ToolRunner};
use opsdeck::config::servers::{ServerSpec, ServerTransport};
use opsdeck::mcp::McpHost;
use serde_json::Value;

fn sandbox_server() -> ServerSpec {
    ServerSpec {
        name: "opsdeck".into(),
        transport: ServerTransport::Stdio {
            command: OPSDECK.into(),
            args: pinned_serve_args(),
            env: BTreeMap::from([(
                "OPSDECK_LOG_DIR".to_string(),
                tempdir("conversation-server").display().to_string(),
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

fn agent(mock: &MockOpenAi, budget: Budget) -> LlmAgent {
    let provider = Provider::OpenAi {
        base_url: mock.base_url.clone(),
        api_key: "sk-test".into(),
        model: "m".into(),
    };
    let settings = LlmSettings {
        budget,
        ..LlmSettings::default()
    };
    LlmAgent::new(&provider, settings).unwrap()
}

fn stream(chunks: Vec<Value>) -> Reply {
    Reply::Stream {
        chunks,
        cut: false,
        delay_ms: 0,
    }
}

/// One turn through the real agent, with a runner of its own (as the console makes one per turn).
async fn turn(
    host: &McpHost,
    llm: Option<&LlmAgent>,
    conversation: &SharedConversation,
    question: &str,
) -> (bool, String) {
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let runner = ToolRunner::new(
        host,
        ApprovalPolicy::default(),
        Box::new(RefuseUnapproved),
        events.clone(),
    );
    let mode = if llm.is_some() { "m" } else { "offline" };
    let ok = opsdeck::agent::turn::run(llm, mode, &runner, conversation, question, &events).await;
    drop(runner);
    drop(events);
    let mut answer = String::new();
    while let Some(event) = received.recv().await {
        match event {
            AgentEvent::TurnFinished { answer: text, .. } => answer.push_str(&text),
            AgentEvent::Error { message } => answer.push_str(&message),
            _ => {}
        }
    }
    (ok, answer)
}

fn messages(body: &Value) -> &Vec<Value> {
    body["messages"].as_array().expect("messages")
}

/// Every tool message answers a call of the assistant message before it, and
/// every call is answered before the next non-tool message.
fn assert_paired(messages: &[Value]) {
    let mut open: Vec<String> = Vec::new();
    for message in messages {
        match message["role"].as_str() {
            Some("tool") => {
                let id = message["tool_call_id"].as_str().unwrap().to_string();
                let at = open.iter().position(|o| *o == id);
                assert!(at.is_some(), "orphan tool message {id}: {messages:#?}");
                open.remove(at.unwrap());
            }
            role => {
                assert!(
                    open.is_empty(),
                    "calls {open:?} unanswered before a {role:?} message"
                );
                if let Some(calls) = message["tool_calls"].as_array() {
                    open = calls
                        .iter()
                        .map(|c| c["id"].as_str().unwrap().to_string())
                        .collect();
                }
            }
        }
    }
    assert!(open.is_empty(), "calls {open:?} never answered");
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_request_carries_the_first_question_its_tool_results_and_its_answer() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[(
                "call_a",
                "triage_run",
                r#"{"pipeline": "transform_inventory"}"#,
            )],
            3,
        )),
        stream(text_chunks(&[
            "The secret ",
            "adls-sp-client-secret expired.",
        ])),
        stream(text_chunks(&["publish_sales_mart goes stale next."])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let llm = agent(&mock, Budget::default());
    let conversation = Conversation::default().shared();
    let first = turn(
        &host,
        Some(&llm),
        &conversation,
        "why did transform_inventory fail?",
    )
    .await;
    assert!(first.0, "{first:?}");
    let second = turn(
        &host,
        Some(&llm),
        &conversation,
        "and what does that break downstream?",
    )
    .await;
    assert!(second.0, "{second:?}");
    host.shutdown().await;

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let sent = messages(&requests[2].body);
    assert_paired(sent);
    let roles: Vec<&str> = sent.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    assert_eq!(text_of(&sent[1]), "why did transform_inventory fail?");
    assert_eq!(sent[2]["tool_calls"][0]["id"], "call_a");
    assert_eq!(sent[2]["tool_calls"][0]["function"]["name"], "triage_run");
    assert_eq!(sent[3]["tool_call_id"], "call_a");
    let result = text_of(&sent[3]);
    assert!(
        result.contains("transform_inventory") && result.contains("root_cause"),
        "the triage result the model read: {result}"
    );
    // The result is what the first turn's second request carried, unchanged.
    assert_eq!(text_of(&messages(&requests[1].body)[3]), result);
    assert_eq!(
        text_of(&sent[4]),
        "The secret adls-sp-client-secret expired."
    );
    assert_eq!(text_of(&sent[5]), "and what does that break downstream?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_clips_old_results_with_a_marker_and_keeps_recent_turns() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[(
                "call_big",
                "triage_run",
                r#"{"pipeline": "transform_inventory"}"#,
            )],
            1,
        )),
        stream(text_chunks(&["first answer"])),
        stream(text_chunks(&["second answer"])),
        stream(text_chunks(&["third answer"])),
        stream(text_chunks(&["fourth answer"])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    // Small enough that the old triage result cannot stay whole.
    let budget = Budget { tokens: 500 };
    let llm = agent(&mock, budget);
    let conversation = Conversation::default().shared();
    for question in [
        "why did transform_inventory fail?",
        "second?",
        "third?",
        "fourth?",
    ] {
        let (ok, answer) = turn(&host, Some(&llm), &conversation, question).await;
        assert!(ok, "{answer}");
    }
    host.shutdown().await;
    let requests = mock.requests();
    let full = text_of(&messages(&requests[1].body)[3]);
    assert!(
        full.chars().count() > 2_000,
        "the result is large: {}",
        full.len()
    );
    let last = messages(&requests[4].body);
    assert_paired(last);
    let tool = last
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the old call keeps its result, clipped");
    let clipped = text_of(tool);
    let marker = format!(
        "[earlier result clipped: {} chars → 600; call the tool again for the full result]",
        grouped(full.chars().count())
    );
    assert!(clipped.ends_with(&marker), "{clipped}");
    assert!(clipped.starts_with(&full.chars().take(600).collect::<String>()));
    let texts: Vec<String> = last.iter().map(text_of).collect();
    for kept in [
        "second?",
        "second answer",
        "third?",
        "third answer",
        "fourth?",
    ] {
        assert!(
            texts.iter().any(|t| t == kept),
            "{kept} is sent verbatim: {texts:?}"
        );
    }
    let sent: usize = last.iter().map(|m| text_of(m).chars().count()).sum();
    assert!(sent < full.chars().count(), "{sent} chars sent");
}

/// `18400` as `18 400`, as the marker writes it.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_conversation_sends_only_the_new_question() {
    let mock = MockOpenAi::start(vec![
        stream(text_chunks(&["one"])),
        stream(text_chunks(&["two"])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let llm = agent(&mock, Budget::default());
    let conversation = Conversation::default().shared();
    assert!(turn(&host, Some(&llm), &conversation, "first?").await.0);
    // What `:new` (and its key) makes the console do.
    conversation.lock().unwrap().clear();
    assert!(turn(&host, Some(&llm), &conversation, "second?").await.0);
    host.shutdown().await;
    let sent = messages(&mock.requests()[1].body).clone();
    let roles: Vec<&str> = sent.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user"]);
    assert_eq!(text_of(&sent[1]), "second?");
}

/// A person who never answers the dialog: the call waits until the turn is dropped.
struct NeverAnswers;

#[async_trait::async_trait]
impl Approver for NeverAnswers {
    async fn decide(&self, _: ApprovalRequest) -> Decision {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_turn_leaves_a_history_the_next_request_accepts() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[
                (
                    "call_status",
                    "get_pipeline_status",
                    r#"{"pipeline": "transform_inventory"}"#,
                ),
                (
                    "call_rerun",
                    "rerun_pipeline",
                    r#"{"pipeline": "transform_inventory", "dry_run": false}"#,
                ),
            ],
            2,
        )),
        stream(text_chunks(&["after the cancel"])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let llm = agent(&mock, Budget::default());
    let conversation = Conversation::default().shared();
    {
        let (events, _received) = tokio::sync::mpsc::unbounded_channel();
        let runner = ToolRunner::new(
            &host,
            ApprovalPolicy::default(),
            Box::new(NeverAnswers),
            events.clone(),
        );
        let running = opsdeck::agent::turn::run(
            Some(&llm),
            "m",
            &runner,
            &conversation,
            "fix transform_inventory",
            &events,
        );
        // Esc while the rerun waits for its approval.
        let dropped = tokio::time::timeout(Duration::from_secs(5), running).await;
        assert!(dropped.is_err(), "the turn waited for the dialog");
    }
    // What the console does on Esc.
    conversation.lock().unwrap().cancel();
    let (ok, answer) = turn(&host, Some(&llm), &conversation, "what now?").await;
    assert!(ok, "{answer}");
    host.shutdown().await;
    let sent = messages(&mock.requests()[1].body).clone();
    assert_paired(&sent);
    let tools: BTreeMap<String, String> = sent
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| (m["tool_call_id"].as_str().unwrap().to_string(), text_of(m)))
        .collect();
    assert!(
        tools["call_status"].contains("transform_inventory"),
        "the finished call keeps its result: {tools:?}"
    );
    assert_eq!(tools["call_rerun"], CANCELLED_RESULT);
    let after_calls = &sent[sent.len() - 2];
    assert_eq!(after_calls["role"], "assistant");
    assert!(text_of(after_calls).contains("cancelled by the engineer"));
    assert_eq!(text_of(&sent[sent.len() - 1]), "what now?");
}

/// `opsdeck ask` on a blocking thread so the mock keeps serving meanwhile.
async fn ask(mock: &MockOpenAi, extra: Vec<String>, question: &str) -> Output {
    let question = question.to_string();
    let base_url = mock.base_url.clone();
    let config = tempdir("conversation-config").join("mcp.json");
    let servers = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": pinned_serve_args(),
        "trusted": true
    }}});
    std::fs::write(&config, servers.to_string()).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(OPSDECK);
        command
            .arg("ask")
            .arg("--mcp-config")
            .arg(config)
            .args(extra)
            .arg(question)
            .env("OPSDECK_LOG_DIR", tempdir("conversation-logs"))
            .env("XDG_STATE_HOME", tempdir("conversation-state"))
            .env_remove("AZURE_OPENAI_ENDPOINT")
            .env_remove("AZURE_OPENAI_API_KEY")
            .env_remove("OPSDECK_CONTEXT_TOKENS")
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_MODEL", "gpt-test");
        command.output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_trace_gives_the_model_the_earlier_conversation() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[(
                "call_t",
                "triage_run",
                r#"{"pipeline": "transform_inventory"}"#,
            )],
            2,
        )),
        stream(text_chunks(&["The secret expired."])),
        stream(text_chunks(&["Rotate it, then rerun."])),
        stream(text_chunks(&["Third shift here."])),
    ])
    .await;
    let dir = tempdir("conversation-resume");
    let first_trace = dir.join("first.jsonl");
    let second_trace = dir.join("second.jsonl");
    let trace_flag =
        |path: &std::path::Path| vec!["--trace".to_string(), path.display().to_string()];
    let first = ask(
        &mock,
        trace_flag(&first_trace),
        "why did transform_inventory fail?",
    )
    .await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let mut extra = vec!["--resume".to_string(), first_trace.display().to_string()];
    extra.extend(trace_flag(&second_trace));
    let second = ask(&mock, extra, "what should I do next?").await;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(stderr.contains("resumed 1 earlier turn from"), "{stderr}");
    // The next shift resumes the second trace: both earlier turns come along.
    let third = ask(
        &mock,
        vec!["--resume".to_string(), second_trace.display().to_string()],
        "anything else?",
    )
    .await;
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    let first_result = text_of(&messages(&requests[1].body)[3]);
    let resumed = messages(&requests[2].body);
    assert_paired(resumed);
    let roles: Vec<&str> = resumed
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    assert_eq!(text_of(&resumed[1]), "why did transform_inventory fail?");
    assert_eq!(
        resumed[2]["tool_calls"][0]["function"]["name"],
        "triage_run"
    );
    assert_eq!(
        text_of(&resumed[3]),
        first_result,
        "the model reads the same evidence as the first shift did"
    );
    assert_eq!(text_of(&resumed[4]), "The secret expired.");
    assert_eq!(text_of(&resumed[5]), "what should I do next?");
    let third_sent: Vec<String> = messages(&requests[3].body).iter().map(text_of).collect();
    for earlier in [
        "why did transform_inventory fail?",
        "The secret expired.",
        "what should I do next?",
        "Rotate it, then rerun.",
        "anything else?",
    ] {
        assert!(
            third_sent.iter().any(|t| t == earlier),
            "{earlier}: {third_sent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_missing_trace_and_replay_together() {
    let mock = MockOpenAi::start(Vec::new()).await;
    let missing = ask(
        &mock,
        vec!["--resume".into(), "/nonexistent/opsdeck.jsonl".into()],
        "q",
    )
    .await;
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("cannot open the trace /nonexistent/opsdeck.jsonl"),
        "{stderr}"
    );
    assert!(
        mock.requests().is_empty(),
        "no model request without the conversation"
    );
    let both = Command::new(OPSDECK)
        .args(["--replay", "a.jsonl", "--resume", "a.jsonl"])
        .env("OPSDECK_LOG_DIR", tempdir("conversation-logs"))
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(
        stderr.contains("--resume") && stderr.contains("--replay"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_context_setting_is_a_usage_error() {
    let mock = MockOpenAi::start(Vec::new()).await;
    let output = tokio::task::spawn_blocking(move || {
        Command::new(OPSDECK)
            .args(["ask", "q"])
            .env("OPSDECK_LOG_DIR", tempdir("conversation-logs"))
            .env("OPSDECK_CONTEXT_TOKENS", "a lot")
            .env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_BASE_URL", mock.base_url.clone())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OPSDECK_CONTEXT_TOKENS is \"a lot\", not a number of tokens"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_agent_resolves_follow_ups_from_the_conversation() {
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let conversation = Conversation::default().shared();
    let (ok, first) = turn(
        &host,
        None,
        &conversation,
        "why did transform_inventory fail?",
    )
    .await;
    assert!(
        ok && first.contains("## Why transform_inventory failed"),
        "{first}"
    );
    let (ok, downstream) = turn(&host, None, &conversation, "and downstream?").await;
    assert!(
        ok && downstream.contains("## Downstream of transform_inventory"),
        "{downstream}"
    );
    let (ok, rerun) = turn(&host, None, &conversation, "rerun it").await;
    assert!(
        ok && rerun.contains("## Rerun transform_inventory: dry run only"),
        "{rerun}"
    );
    assert!(rerun.contains("Nothing was started"), "{rerun}");
    let (ok, yesterday) = turn(&host, None, &conversation, "what about yesterday?").await;
    assert!(
        ok && yesterday.contains("## What is failing (transform_inventory, from 48h to 24h ago)"),
        "{yesterday}"
    );
    // The offline turns are in the conversation as calls with results, as a model's would be.
    let tools: Vec<String> = conversation
        .lock()
        .unwrap()
        .turns()
        .iter()
        .flat_map(|t| t.calls().map(|c| c.name.clone()).collect::<Vec<_>>())
        .collect();
    for tool in [
        "triage_run",
        "get_pipeline_dependencies",
        "rerun_pipeline",
        "get_failed_tasks_summary",
    ] {
        assert!(tools.iter().any(|t| t == tool), "{tool} in {tools:?}");
    }
    // A fresh conversation has nothing for "it" to mean, and says so.
    let fresh = Conversation::default().shared();
    let (ok, nothing) = turn(&host, None, &fresh, "rerun it").await;
    assert!(
        !ok && nothing.contains("has not named a pipeline yet"),
        "{nothing}"
    );
    host.shutdown().await;
}

#[test]
fn new_and_its_key_clear_the_conversation_and_cancel_a_running_turn() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use opsdeck::console::app::chat::ChatEntry;
    use opsdeck::console::app::update::{App, Effect, Msg, update};
    let press = |code| Msg::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let mut app = App::default();
    let _ = update(
        &mut app,
        Msg::Asked {
            question: "why did transform_inventory fail?".into(),
        },
    );
    // Ctrl-N while the turn runs: the turn is cancelled, then the conversation cleared.
    let effects = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL)),
    );
    assert_eq!(effects, [Effect::CancelTurn, Effect::NewConversation]);
    let noted = |app: &App| {
        app.chat
            .entries
            .iter()
            .filter(|e| matches!(e, ChatEntry::Notice { text, .. } if text.starts_with("new conversation")))
            .count()
    };
    assert_eq!(
        noted(&app),
        1,
        "the chat shows where the new conversation starts"
    );
    // `:new` typed on the command line does the same (nothing runs now).
    app.focus = opsdeck::console::app::pane::Pane::Board;
    for code in [
        KeyCode::Char(':'),
        KeyCode::Char('n'),
        KeyCode::Char('e'),
        KeyCode::Char('w'),
    ] {
        let _ = update(&mut app, press(code));
    }
    assert_eq!(
        update(&mut app, press(KeyCode::Enter)),
        [Effect::NewConversation]
    );
    assert_eq!(noted(&app), 2);
}
