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

/// The agent against the scripted model; `history_limit` caps the
/// conversation's share of each request (`Budget::default()`: no cap).
fn agent(mock: &MockOpenAi, history_limit: Budget) -> LlmAgent {
    let provider = Provider::OpenAi {
        base_url: mock.base_url.clone(),
        api_key: "sk-test".into(),
        model: "m".into(),
    };
    let settings = LlmSettings {
        history_limit: Some(history_limit),
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
    // Nothing closes the dropped turn by hand: the next question does.
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

/// The tool calls' ids and names of every assistant message.
fn calls_sent(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .filter_map(|m| m["tool_calls"].as_array())
        .flatten()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["function"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The chunks with every tool call's `id` taken out (some servers omit it).
fn without_ids(mut chunks: Vec<Value>) -> Vec<Value> {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(object) => {
                if let Some(Value::Array(calls)) = object.get_mut("tool_calls") {
                    for call in calls {
                        if let Some(call) = call.as_object_mut() {
                            call.remove("id");
                        }
                    }
                }
                object.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    chunks.iter_mut().for_each(strip);
    chunks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tool_names_and_missing_ids_never_reach_a_later_request_as_they_came() {
    let mock = MockOpenAi::start(vec![
        stream(without_ids(tool_call_chunks(
            &[
                ("", "multi_tool_use.parallel", "{}"),
                (
                    "",
                    "get_pipeline_status",
                    r#"{"pipeline": "transform_inventory"}"#,
                ),
            ],
            1,
        ))),
        stream(without_ids(tool_call_chunks(
            &[("", "triage_run", r#"{"pipeline": "transform_inventory"}"#)],
            1,
        ))),
        stream(text_chunks(&["first done"])),
        stream(without_ids(tool_call_chunks(
            &[(
                "",
                "get_pipeline_status",
                r#"{"pipeline": "transform_inventory"}"#,
            )],
            1,
        ))),
        stream(text_chunks(&["second done"])),
        stream(text_chunks(&["third done"])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let llm = agent(&mock, Budget::default());
    let conversation = Conversation::default().shared();
    for question in ["first?", "second?", "third?"] {
        let (ok, answer) = turn(&host, Some(&llm), &conversation, question).await;
        assert!(ok, "{answer}");
    }
    host.shutdown().await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 6);
    let last = messages(&requests[5].body);
    assert_paired(last);
    let calls = calls_sent(last);
    assert_eq!(calls.len(), 4, "{calls:?}");
    let ids: std::collections::BTreeSet<&str> = calls.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 4, "every call has an id of its own: {calls:?}");
    for (_, name) in &calls {
        assert!(
            (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "the chat API rejects the name {name:?}"
        );
    }
    assert_eq!(calls[0].1, "multi_tool_use_parallel");
    // The call under a bad name still told the model it failed.
    let first_result = last
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == calls[0].0.as_str())
        .map(text_of)
        .unwrap();
    assert!(
        first_result.contains("multi_tool_use.parallel"),
        "{first_result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stalls_after_a_tool_round_leaves_a_history_the_next_request_accepts() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[(
                "call_s",
                "get_pipeline_status",
                r#"{"pipeline": "transform_inventory"}"#,
            )],
            1,
        )),
        // The answer that never comes.
        Reply::Stream {
            chunks: text_chunks(&["never sent"]),
            cut: false,
            delay_ms: 60_000,
        },
        stream(text_chunks(&["after the stall"])),
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
            Box::new(RefuseUnapproved),
            events.clone(),
        );
        let running = opsdeck::agent::turn::run(
            Some(&llm),
            "m",
            &runner,
            &conversation,
            "status of transform_inventory?",
            &events,
        );
        // The engineer gives up on the silent model: the turn's future is dropped.
        let dropped = tokio::time::timeout(Duration::from_secs(5), running).await;
        assert!(dropped.is_err(), "the turn waited on the stalled stream");
    }
    let (ok, answer) = turn(&host, Some(&llm), &conversation, "what now?").await;
    assert!(ok, "{answer}");
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
    assert!(text_of(&sent[3]).contains("transform_inventory"));
    assert!(text_of(&sent[4]).contains("cancelled by the engineer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_length_error_is_retried_once_with_half_the_history() {
    let too_long = Reply::Error {
        status: 400,
        headers: Vec::new(),
        body: common::openai_mock::error_body(
            "context_length_exceeded",
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens.",
        ),
    };
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
        too_long,
        stream(text_chunks(&["second answer"])),
    ])
    .await;
    let host = McpHost::start(vec![sandbox_server()], Duration::from_secs(30)).await;
    let conversation = Conversation::default().shared();
    let first = agent(&mock, Budget::default());
    let (ok, answer) = turn(
        &host,
        Some(&first),
        &conversation,
        "why did transform_inventory fail?",
    )
    .await;
    assert!(ok, "{answer}");
    // A history budget the first turn fits whole, but not in half.
    let whole = conversation
        .lock()
        .unwrap()
        .messages(Budget { tokens: usize::MAX })
        .tokens;
    let second = agent(&mock, Budget { tokens: whole + 50 });
    let (ok, answer) = turn(&host, Some(&second), &conversation, "and next?").await;
    assert!(ok, "{answer}");
    assert!(
        answer.contains("maximum context length")
            && answer.contains("retrying once with half the conversation budget"),
        "the retry is said: {answer}"
    );
    host.shutdown().await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 4, "one retry, no more");
    let tool_text = |body: &Value| {
        messages(body)
            .iter()
            .find(|m| m["role"] == "tool")
            .map(text_of)
            .unwrap()
    };
    let full = tool_text(&requests[1].body);
    assert_eq!(
        tool_text(&requests[2].body),
        full,
        "first try: the whole result"
    );
    let retried = tool_text(&requests[3].body);
    assert!(
        retried.contains("[earlier result clipped:") && retried.len() < full.len(),
        "{retried}"
    );
    assert_paired(messages(&requests[3].body));
}

/// A trace from an older opsdeck, or edited by hand: secrets it never redacted.
const SECRET_TRACE: &str = r#"{"type":"header","schema":1,"opsdeck_version":"0.0.1","started_at":"2026-11-23T03:00:00Z","host":"h","process":"ask","agent_mode":"gpt-test","read_only":false,"backend":"sandbox","servers":[]}
{"seq":1,"at":"2026-11-23T03:00:01Z","type":"agent","event":{"event":"user_message","text":"is DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net valid?"}}
{"seq":2,"at":"2026-11-23T03:00:02Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-1","server":"opsdeck","tool":"get_pipeline_status","arguments":{"password":"hunter2-very-secret","url":"https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdEFG%3D"}}}
{"seq":3,"at":"2026-11-23T03:00:03Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-1","server":"opsdeck","tool":"get_pipeline_status","duration_ms":5,"is_error":false,"result":{"content":["conn: password=hunter2-very-secret sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdEFG%3D"]},"truncated":false}}
{"seq":4,"at":"2026-11-23T03:00:04Z","type":"agent","event":{"event":"text_delta","text":"It works with pass"}}
{"seq":5,"at":"2026-11-23T03:00:05Z","type":"agent","event":{"event":"text_delta","text":"word=hunter2-very-secret."}}
{"seq":6,"at":"2026-11-23T03:00:06Z","type":"agent","event":{"event":"turn_finished","answer":"It works with password=hunter2-very-secret.","tool_calls":1,"ok":true}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_trace_with_secrets_gives_them_to_nobody() {
    let mock = MockOpenAi::start(vec![stream(text_chunks(&["Carry on."]))]).await;
    let dir = tempdir("conversation-resume-secrets");
    let old = dir.join("old.jsonl");
    let new = dir.join("new.jsonl");
    std::fs::write(&old, SECRET_TRACE).unwrap();
    let output = ask(
        &mock,
        vec![
            "--resume".into(),
            old.display().to_string(),
            "--trace".into(),
            new.display().to_string(),
        ],
        "what next?",
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let sent = requests[0].body.to_string();
    let written = std::fs::read_to_string(&new).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    for secret in [
        "c2VjcmV0a2V5c2VjcmV0a2V5",
        "hunter2-very-secret",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ] {
        assert!(!sent.contains(secret), "{secret} reaches the model: {sent}");
        assert!(
            !written.contains(secret),
            "{secret} in the new trace: {written}"
        );
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    // The conversation itself came along, redacted.
    let texts: Vec<String> = messages(&requests[0].body).iter().map(text_of).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("is ") && t.contains("[redacted")),
        "{texts:?}"
    );
    assert!(written.contains("[redacted"), "{written}");
    assert_paired(messages(&requests[0].body));
}
