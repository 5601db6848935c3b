//! `opsdeck ask` with an LLM: the real binary talks real HTTP and SSE to a
//! scripted OpenAI-compatible server, and real MCP to the built-in server.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::openai_mock::{MockOpenAi, Reply, error_body, text_chunks, tool_call_chunks};
use common::process::{OPSDECK, tempdir};
use serde_json::Value;

fn config(scenario: &str) -> std::path::PathBuf {
    let path = tempdir("llm-config").join("mcp.json");
    let config = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": ["serve", "--scenario", scenario, "--frozen-clock", common::PINNED],
        "trusted": true
    }}});
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Runs `opsdeck ask` on a blocking thread so the mock keeps serving meanwhile.
async fn ask(env: Vec<(&'static str, String)>, extra: Vec<&'static str>, question: &str) -> Output {
    let question = question.to_string();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(OPSDECK);
        command
            .arg("ask")
            .arg("--mcp-config")
            .arg(config("expired-secret"))
            .args(extra)
            .arg(question);
        command.env("OPSDECK_LOG_DIR", tempdir("llm-logs"));
        for name in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OPENAI_MODEL",
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_DEPLOYMENT_NAME",
            "AZURE_OPENAI_API_VERSION",
            "OPENAI_ORG_ID",
            "OPENAI_PROJECT_ID",
        ] {
            command.env_remove(name);
        }
        command.envs(env);
        command.output().unwrap()
    })
    .await
    .unwrap()
}

fn openai_env(mock: &MockOpenAi) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_BASE_URL", mock.base_url.clone()),
        ("OPENAI_API_KEY", "sk-test".into()),
        ("OPENAI_MODEL", "gpt-test".into()),
    ]
}

fn stream(chunks: Vec<Value>) -> Reply {
    Reply::Stream {
        chunks,
        cut: false,
        delay_ms: 0,
    }
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_tool_calls_run_concurrently_and_the_answer_streams() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[
                (
                    "call_a",
                    "get_pipeline_status",
                    r#"{"pipeline": "ingest_crm_customers"}"#,
                ),
                ("call_b", "list_secrets", r#"{"min_risk": "critical"}"#),
            ],
            5,
        )),
        stream(text_chunks(&[
            "The root cause is ",
            "the expired secret ",
            "adls-sp-client-secret.",
        ])),
    ])
    .await;
    let output = ask(
        openai_env(&mock),
        vec![],
        "why is ingest_crm_customers failing?",
    )
    .await;
    let (stdout, stderr) = out(&output);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("The root cause is the expired secret adls-sp-client-secret."),
        "{stdout}"
    );
    assert!(
        stdout.contains("get_pipeline_status") && stdout.contains("list_secrets"),
        "tool table: {stdout}"
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0].body;
    assert_eq!(first["model"], "gpt-test");
    assert_eq!(first["stream"], true);
    assert!(
        first["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "triage_run"),
        "the catalogue is offered"
    );
    assert!(
        first["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("evidence"),
        "the system prompt"
    );
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    let tool_messages: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_messages.len(), 2);
    let status = tool_messages
        .iter()
        .find(|m| m["tool_call_id"] == "call_a")
        .unwrap();
    assert!(
        status["content"].as_str().unwrap().contains("is failing"),
        "{status}"
    );
    let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(
        assistant["tool_calls"][1]["function"]["arguments"], r#"{"min_risk": "critical"}"#,
        "reassembled from 5 pieces"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_arguments_become_an_error_result_for_the_model() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[("call_x", "get_pipeline_status", r#"{"pipeline": "ingest_"#)],
            3,
        )),
        stream(text_chunks(&["Sorry, let me fix that."])),
    ])
    .await;
    let output = ask(openai_env(&mock), vec![], "status?").await;
    assert!(output.status.success(), "{:?}", out(&output));
    let second = &mock.requests()[1].body;
    let tool = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        tool["content"].as_str().unwrap().contains("not valid JSON"),
        "{tool}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_after_retry_after_and_server_errors_with_backoff() {
    let mock = MockOpenAi::start(vec![
        Reply::Error {
            status: 429,
            headers: vec![("retry-after".into(), "1".into())],
            body: error_body("rate_limit_exceeded", "Rate limit reached"),
        },
        Reply::Error {
            status: 500,
            headers: vec![],
            body: error_body("server_error", "The server had an error"),
        },
        stream(text_chunks(&["All good now."])),
    ])
    .await;
    let started = Instant::now();
    let output = ask(openai_env(&mock), vec![], "anything failing?").await;
    let (stdout, stderr) = out(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(mock.requests().len(), 3);
    assert!(stdout.contains("All good now."));
    assert!(
        stderr.contains("retrying in 1.0s") && stderr.contains("HTTP 500"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_quota_is_not_retried_and_fails_clearly() {
    let mock = MockOpenAi::start(vec![Reply::Error {
        status: 429,
        headers: vec![],
        body: error_body("insufficient_quota", "You exceeded your current quota"),
    }])
    .await;
    let output = ask(openai_env(&mock), vec![], "anything failing?").await;
    let (_, stderr) = out(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(mock.requests().len(), 1);
    assert!(stderr.contains("out of quota"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_answer_keeps_the_partial_text_and_fails() {
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&["The cause is ", "the exp"]),
        cut: true,
        delay_ms: 0,
    }])
    .await;
    let output = ask(openai_env(&mock), vec![], "why?").await;
    let (stdout, stderr) = out(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("The cause is the exp"), "{stdout}");
    assert!(
        stderr.contains("cut off") || stderr.contains("ended before"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_openai_requests_have_the_deployment_path_version_and_key() {
    let mock = MockOpenAi::start(vec![stream(text_chunks(&["Hello from Azure."]))]).await;
    let env = vec![
        ("AZURE_OPENAI_ENDPOINT", mock.azure_endpoint.clone()),
        ("AZURE_OPENAI_API_KEY", "azure-key-123".into()),
        ("AZURE_OPENAI_DEPLOYMENT_NAME", "triage-gpt".into()),
        ("AZURE_OPENAI_API_VERSION", "2024-10-21".into()),
    ];
    let output = ask(env, vec![], "hi").await;
    assert!(output.status.success(), "{:?}", out(&output));
    let request = &mock.requests()[0];
    assert_eq!(
        request.path,
        "/openai/deployments/triage-gpt/chat/completions"
    );
    assert_eq!(request.query_param("api-version"), Some("2024-10-21"));
    assert_eq!(request.header("api-key"), Some("azure-key-123"));
    assert_eq!(request.header_count("authorization"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destructive_call_is_refused_headless_unless_approved() {
    let rerun = r#"{"pipeline": "ingest_crm_customers", "dry_run": false}"#;
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(&[("call_r", "rerun_pipeline", rerun)], 2)),
        stream(text_chunks(&["I could not rerun it."])),
        stream(tool_call_chunks(&[("call_r", "rerun_pipeline", rerun)], 2)),
        stream(text_chunks(&["Rerun started."])),
    ])
    .await;
    let refused = ask(openai_env(&mock), vec![], "rerun ingest_crm_customers").await;
    assert!(refused.status.success());
    let tool = |i: usize| {
        mock.requests()[i].body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "tool")
            .cloned()
            .unwrap()
    };
    assert!(
        tool(1)["content"]
            .as_str()
            .unwrap()
            .contains("not approved"),
        "{}",
        tool(1)
    );
    let approved = ask(
        openai_env(&mock),
        vec![
            "--approve",
            r#"rerun_pipeline:{"pipeline": "ingest_crm_customers", "dry_run": false}"#,
        ],
        "rerun ingest_crm_customers",
    )
    .await;
    assert!(approved.status.success());
    assert!(
        tool(3)["content"].as_str().unwrap().contains("Started run"),
        "{}",
        tool(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_after_the_round_limit_and_says_so() {
    let round = || stream(tool_call_chunks(&[("c", "list_pipelines", "{}")], 1));
    let mock = MockOpenAi::start((0..3).map(|_| round()).collect()).await;
    let output = ask(openai_env(&mock), vec!["--max-rounds", "3"], "loop forever").await;
    let (stdout, _) = out(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(mock.requests().len(), 3);
    assert!(stdout.contains("Stopped after 3 rounds"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_results_sent_to_the_model_are_capped_with_a_marker() {
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[("c", "list_pipeline_runs", r#"{"limit": 50}"#)],
            1,
        )),
        stream(text_chunks(&["Done."])),
    ])
    .await;
    let output = ask(
        openai_env(&mock),
        vec!["--max-result-bytes", "1000"],
        "list runs",
    )
    .await;
    assert!(output.status.success(), "{:?}", out(&output));
    let second = &mock.requests()[1].body;
    let tool = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    let content = tool["content"].as_str().unwrap();
    assert!(
        content.len() < 1_200 && content.contains("[… truncated: 1000 of"),
        "{content}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_without_a_key_tries_entra_id_and_says_why_it_failed() {
    let mock = MockOpenAi::start(vec![]).await;
    let env = vec![
        ("AZURE_OPENAI_ENDPOINT", mock.azure_endpoint.clone()),
        ("AZURE_OPENAI_DEPLOYMENT_NAME", "triage-gpt".into()),
        // No az or azd on this machine's PATH: the developer sign-in cannot produce a token.
        ("PATH", "/nonexistent".into()),
    ];
    let output = ask(env, vec![], "hi").await;
    let (_, stderr) = out(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Entra ID sign-in for Azure OpenAI failed"),
        "{stderr}"
    );
    assert!(
        mock.requests().is_empty(),
        "nothing was sent without a token"
    );
}

/// Secrets planted in the model's text and in a tool call's arguments reach
/// neither stdout (plain and `--json`) nor the log file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_reach_neither_the_screen_nor_the_log() {
    const SECRETS: &[&str] = &[
        "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
        "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
        "hunter2pass",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
    ];
    let arguments = r#"{"pipeline": "ingest_web_events", "contains": "AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4"}"#;
    for json_output in [false, true] {
        let mock = MockOpenAi::start(vec![
            stream(tool_call_chunks(&[("call_a", "fetch_logs", arguments)], 2)),
            stream(text_chunks(&[
                "Use postgres://etl:hunter2pass@db:5432/w and the key ",
                "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789, or the SAS ",
                "https://st.blob.core.windows.net/c/f?sv=1&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D%3D",
            ])),
        ])
        .await;
        let logs = tempdir("redaction-logs");
        let mut env = openai_env(&mock);
        env.push(("OPSDECK_LOG_DIR", logs.display().to_string()));
        env.push(("OPSDECK_LOG", "debug".into()));
        let trace = tempdir("redaction-trace").join("t.jsonl");
        // `ask` takes static arguments; one small string per test run.
        let trace_arg: &'static str = Box::leak(trace.display().to_string().into_boxed_str());
        let mut extra = vec!["--trace", trace_arg];
        if json_output {
            extra.push("--json");
        }
        let output = ask(env, extra, "where is the data?").await;
        let (stdout, stderr) = out(&output);
        assert!(output.status.success(), "{stderr}\n{stdout}");
        assert!(stdout.contains("[redacted: password in URL]"), "{stdout}");
        assert!(stdout.contains("[redacted: OpenAI key]"), "{stdout}");
        let mut log_text = String::new();
        for entry in std::fs::read_dir(&logs).unwrap().flatten() {
            log_text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        assert!(
            !log_text.is_empty(),
            "debug logging wrote something to check"
        );
        for secret in SECRETS {
            assert!(!stdout.contains(secret), "{secret} on stdout: {stdout}");
            assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
            assert!(
                !log_text.contains(secret),
                "{secret} in the log: {log_text}"
            );
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Secrets in a tool's *result* (log lines the server returns, from a sandbox
/// estate with planted secrets) reach neither the trace, nor the log file, nor
/// the export, nor the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_tool_results_are_redacted_everywhere() {
    let estate = tempdir("planted-estate");
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox"),
        &estate,
    );
    let log = estate.join("logs/sftp-gateway.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("2026-01-14T03:00:00.000Z ERROR [sftp] upload failed with DefaultEndpointsProtocol=https;AccountName=stlake;AccountKey=UExBTlRFRGtleVBMQU5URURrZXlQTEFOVEVEa2V5UExBTlRFRA==;EndpointSuffix=core.windows.net\n");
    text.push_str("2026-01-14T03:00:01.000Z WARN  [sftp] retrying upload via https://stlake.blob.core.windows.net/c/f?sv=2022-11-02&sig=UExBTlRFRHNpZ25hdHVyZQ%3D%3D and token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLXVzZXIifQ.cGxhbnRlZC1zaWduYXR1cmU\n");
    std::fs::write(&log, text).unwrap();
    let config = tempdir("planted-config").join("mcp.json");
    std::fs::write(
        &config,
        serde_json::json!({"mcpServers": {"opsdeck": {
            "command": OPSDECK,
            "args": ["serve", "--sandbox-dir", estate, "--frozen-clock", common::PINNED],
            "trusted": true
        }}})
        .to_string(),
    )
    .unwrap();
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[(
                "call_a",
                "fetch_logs",
                r#"{"contains": "core.windows.net"}"#,
            )],
            2,
        )),
        stream(text_chunks(&[
            "The upload credentials leaked into the logs.",
        ])),
    ])
    .await;
    let logs = tempdir("planted-logs");
    let trace = tempdir("planted-trace").join("t.jsonl");
    let env = openai_env(&mock);
    let (logs_dir, trace_path, config_path) = (logs.clone(), trace.clone(), config.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(OPSDECK)
            .args(["ask", "--json", "--trace"])
            .arg(&trace_path)
            .arg("--mcp-config")
            .arg(&config_path)
            .arg("what is wrong with the sftp uploads?")
            .env("OPSDECK_LOG_DIR", &logs_dir)
            .env("OPSDECK_LOG", "debug")
            .env_remove("AZURE_OPENAI_ENDPOINT")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = out(&output);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("upload failed with"),
        "the planted lines came back: {stdout}"
    );
    assert!(
        stdout.contains("[redacted: storage account key]"),
        "{stdout}"
    );
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    let export = Command::new(OPSDECK)
        .arg("--replay")
        .arg(&trace)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    let export = String::from_utf8_lossy(&export.stdout).into_owned();
    let mut log_text = String::new();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        log_text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    for secret in [
        "UExBTlRFRGtleVBMQU5URURrZXlQTEFOVEVEa2V5UExBTlRFRA",
        "UExBTlRFRHNpZ25hdHVyZQ",
        "cGxhbnRlZC1zaWduYXR1cmU",
    ] {
        for (place, text) in [
            ("stdout", &stdout),
            ("trace", &trace_text),
            ("export", &export),
            ("log", &log_text),
        ] {
            assert!(!text.contains(secret), "{secret} in the {place}: {text}");
        }
    }
}
