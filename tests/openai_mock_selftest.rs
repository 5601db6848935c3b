//! Proves `common::openai_mock` against the client the triage agent will use
//! (async-openai 0.43), and pins down how that client behaves on the wire:
//! streaming, tool-call reassembly, errors, retries, cuts, cancellation,
//! timeouts, and the OpenAI and Azure request shapes.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::{AzureConfig, OpenAIConfig};
use async_openai::error::{ApiError, OpenAIError, StreamError, WrappedError};
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestUserMessage, ChatCompletionResponseStream, ChatCompletionStreamOptions,
    ChatCompletionTool, ChatCompletionTools, CompletionUsage, CreateChatCompletionRequest,
    FinishReason, FunctionCall, FunctionObject,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use common::openai_mock::{MockOpenAi, Reply, error_body, text_chunks, tool_call_chunks};

// ---- what the agent will do: build a request, drain a stream ---------------

/// A request with every message role the agent sends, one tool, and usage on.
fn triage_request(model: &str) -> CreateChatCompletionRequest {
    let status_tool = FunctionObject {
        name: "get_pipeline_status".into(),
        description: Some("Status of one pipeline".into()),
        parameters: Some(json!({
            "type": "object",
            "properties": {"pipeline": {"type": "string"}},
            "required": ["pipeline"],
            "additionalProperties": false
        })),
        strict: Some(true),
    };
    let earlier_call = ChatCompletionMessageToolCall {
        id: "call_prev".into(),
        function: FunctionCall {
            name: "get_pipeline_status".into(),
            arguments: r#"{"pipeline":"transform_inventory"}"#.into(),
        },
    };
    CreateChatCompletionRequest {
        model: model.into(),
        messages: vec![
            ChatCompletionRequestSystemMessage::from("You triage pipeline incidents.").into(),
            ChatCompletionRequestUserMessage::from("Why did transform_inventory fail?").into(),
            ChatCompletionRequestAssistantMessage {
                tool_calls: Some(vec![earlier_call.into()]),
                ..Default::default()
            }
            .into(),
            ChatCompletionRequestToolMessage {
                content: r#"{"status":"Failed"}"#.into(),
                tool_call_id: "call_prev".into(),
            }
            .into(),
        ],
        tools: Some(vec![ChatCompletionTools::Function(ChatCompletionTool {
            function: status_tool,
        })]),
        stream_options: Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        ..Default::default()
    }
}

/// A tool call reassembled from its deltas.
#[derive(Debug, Default, PartialEq)]
struct Call {
    id: String,
    name: String,
    arguments: String,
}

/// Everything one streamed assistant turn produced.
#[derive(Debug, Default)]
struct Turn {
    text: String,
    calls: BTreeMap<u32, Call>,
    /// The `index` of every tool-call delta, in arrival order.
    delta_indices: Vec<u32>,
    finish: Option<FinishReason>,
    usage: Option<CompletionUsage>,
    errors: Vec<OpenAIError>,
}

/// Drains a stream to its end, gathering deltas by tool-call `index` (ids and
/// names come only in a call's first delta; arguments arrive in pieces).
async fn drain(mut stream: ChatCompletionResponseStream) -> Turn {
    let mut turn = Turn::default();
    while let Some(item) = stream.next().await {
        let chunk = match item {
            Ok(chunk) => chunk,
            Err(e) => {
                turn.errors.push(e);
                continue;
            }
        };
        if let Some(usage) = chunk.usage {
            turn.usage = Some(usage);
        }
        for choice in chunk.choices {
            turn.text
                .push_str(choice.delta.content.as_deref().unwrap_or_default());
            for delta in choice.delta.tool_calls.unwrap_or_default() {
                turn.delta_indices.push(delta.index);
                let call = turn.calls.entry(delta.index).or_default();
                call.id.push_str(delta.id.as_deref().unwrap_or_default());
                if let Some(function) = delta.function {
                    call.name
                        .push_str(function.name.as_deref().unwrap_or_default());
                    call.arguments
                        .push_str(function.arguments.as_deref().unwrap_or_default());
                }
            }
            turn.finish = choice.finish_reason.or(turn.finish);
        }
    }
    turn
}

/// The default client: async-openai's built-in retry layer is on.
fn default_client(mock: &MockOpenAi) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(&mock.base_url)
            .with_api_key("sk-test"),
    )
}

/// A client without the built-in retries: a bare `ReqwestService` replaces the
/// default executor (`with_http_client` / `Client::build` would keep retries).
fn no_retry_client(mock: &MockOpenAi) -> Client<OpenAIConfig> {
    default_client(mock).with_http_service(ReqwestService::new(reqwest::Client::new()))
}

fn api_error(err: &OpenAIError) -> (u16, &ApiError) {
    match err {
        OpenAIError::ApiError(e) => (e.status_code.as_u16(), &e.api_error),
        other => panic!("expected OpenAIError::ApiError, got {other:?}"),
    }
}

fn error_reply(status: u16, headers: &[(&str, &str)], body: Value) -> Reply {
    Reply::Error {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn stream_reply(chunks: Vec<Value>) -> Reply {
    Reply::Stream {
        chunks,
        cut: false,
        delay_ms: 0,
    }
}

// ---- streaming --------------------------------------------------------------

#[tokio::test]
async fn text_stream_reassembles_with_usage_and_request_is_recorded() {
    let pieces = ["Key Vault secret ", "adls-sp-client-secret ", "expired."];
    let mock = MockOpenAi::start(vec![stream_reply(text_chunks(&pieces))]).await;

    let stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("stream opens");
    let turn = drain(stream).await;

    assert!(turn.errors.is_empty(), "{:?}", turn.errors);
    assert_eq!(turn.text, pieces.concat());
    assert_eq!(turn.finish, Some(FinishReason::Stop));
    let usage = turn.usage.expect("include_usage gives a usage chunk");
    assert_eq!(usage.completion_tokens, 3);
    assert_eq!(usage.total_tokens, usage.prompt_tokens + 3);

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    // What async-openai put on the wire for each role and for the tools.
    let body = &req.body;
    assert_eq!(body["stream"], true, "create_stream forces stream: true");
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    assert_eq!(
        body["messages"][2]["tool_calls"][0],
        json!({"type": "function", "id": "call_prev", "function": {
            "name": "get_pipeline_status", "arguments": r#"{"pipeline":"transform_inventory"}"#}})
    );
    assert!(
        body["messages"][2].get("content").is_none(),
        "content omitted, not null"
    );
    assert_eq!(body["messages"][3]["tool_call_id"], "call_prev");
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "get_pipeline_status");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["required"],
        json!(["pipeline"])
    );
}

/// The framing itself, read raw: every event is `data: <json>\n\n`, the last is
/// `data: [DONE]\n\n`, and usage appears only when asked for.
#[tokio::test]
async fn sse_framing_on_the_wire() {
    let mock = MockOpenAi::start(vec![
        stream_reply(text_chunks(&["a", "b"])),
        stream_reply(text_chunks(&["a", "b"])),
    ])
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url);
    for include_usage in [true, false] {
        let request = json!({"model": "m", "messages": [], "stream": true,
                             "stream_options": {"include_usage": include_usage}});
        let response = http.post(&url).json(&request).send().await.expect("sent");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().expect("ascii");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        let body = response.text().await.expect("body");

        let events: Vec<&str> = body.split_terminator("\n\n").collect();
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
        assert_eq!(events.last(), Some(&"data: [DONE]"));
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data: prefix")))
            .collect::<Result<_, _>>()
            .expect("every event is JSON");
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk")
        );
        let with_usage = chunks.iter().filter(|c| c["usage"].is_object()).count();
        if include_usage {
            // role, "a", "b", stop: `usage: null`; then the usage-only chunk.
            assert_eq!(chunks.len(), 5);
            assert_eq!(with_usage, 1);
            assert!(chunks[..4].iter().all(|c| c["usage"].is_null()));
            assert_eq!(chunks[4]["choices"], json!([]));
        } else {
            assert_eq!(chunks.len(), 4);
            assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        }
    }
}

#[tokio::test]
async fn two_tool_calls_split_and_interleaved_reassemble_by_index() {
    let status_args = r#"{"pipeline":"transform_inventory"}"#;
    let logs_args = r#"{"pipeline":"ingest_inventory","since":"3h","level":"error"}"#;
    let chunks = tool_call_chunks(
        &[
            ("call_status", "get_pipeline_status", status_args),
            ("call_logs", "fetch_logs", logs_args),
        ],
        4,
    );
    let mock = MockOpenAi::start(vec![stream_reply(chunks)]).await;

    let stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("stream opens");
    let turn = drain(stream).await;

    assert!(turn.errors.is_empty(), "{:?}", turn.errors);
    assert_eq!(turn.finish, Some(FinishReason::ToolCalls));
    assert_eq!(turn.text, "");
    // One opening delta plus four argument pieces per call, alternating.
    assert_eq!(turn.delta_indices, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    let expect = |id: &str, name: &str, arguments: &str| Call {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    };
    assert_eq!(
        turn.calls[&0],
        expect("call_status", "get_pipeline_status", status_args)
    );
    assert_eq!(turn.calls[&1], expect("call_logs", "fetch_logs", logs_args));
    for call in turn.calls.values() {
        serde_json::from_str::<Value>(&call.arguments).expect("arguments are JSON again");
    }
    assert_eq!(turn.usage.map(|u| u.completion_tokens), Some(10));
}

// ---- errors and retries -----------------------------------------------------

#[tokio::test]
async fn rate_limit_is_retried_by_default_honouring_retry_after() {
    let limited = || {
        error_reply(
            429,
            &[("retry-after", "1")],
            error_body("rate_limit_exceeded", "Rate limit reached for gpt-4o-mini"),
        )
    };
    let mock = MockOpenAi::start(vec![limited(), stream_reply(text_chunks(&["ok"]))]).await;
    let started = Instant::now();
    let stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("the built-in retry hides the 429");
    assert_eq!(drain(stream).await.text, "ok");
    assert_eq!(mock.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );

    // Three retries (four requests), then the 429 itself comes back.
    let zero_wait = || {
        error_reply(
            429,
            &[("retry-after", "0")],
            error_body("rate_limit_exceeded", "Rate limit reached"),
        )
    };
    let mock = MockOpenAi::start((0..5).map(|_| zero_wait()).collect()).await;
    let err = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("gives up");
    assert_eq!(api_error(&err).0, 429);
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test]
async fn rate_limit_without_builtin_retries_is_an_api_error() {
    let mock = MockOpenAi::start(vec![error_reply(
        429,
        &[("retry-after", "20")],
        error_body("rate_limit_exceeded", "Rate limit reached for gpt-4o-mini"),
    )])
    .await;
    let err = no_retry_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("429 surfaces at once");
    let (status, api) = api_error(&err);
    assert_eq!(status, 429);
    assert_eq!(api.r#type.as_deref(), Some("tokens"));
    assert_eq!(api.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(api.message, "Rate limit reached for gpt-4o-mini");
    assert_eq!(mock.requests().len(), 1);
    // Retry-After is not in `ApiErrorResponse`: see the next test for how to get it.
}

/// The caller's own retry policy needs `Retry-After`, which `OpenAIError`
/// drops. A tower service in place of the default executor can keep it.
#[tokio::test]
async fn a_custom_http_service_exposes_retry_after_to_the_caller() {
    #[derive(Debug)]
    struct Throttled {
        status: u16,
        retry_after: Option<Duration>,
        error: Option<ApiError>,
    }
    impl std::fmt::Display for Throttled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "HTTP {} (retry after {:?})",
                self.status, self.retry_after
            )
        }
    }
    impl std::error::Error for Throttled {}

    let mock = MockOpenAi::start(vec![error_reply(
        429,
        &[("retry-after", "20")],
        error_body("rate_limit_exceeded", "Rate limit reached"),
    )])
    .await;
    let transport = ReqwestService::new(reqwest::Client::new());
    let service = tower::service_fn(move |request: HttpRequestFactory| {
        let transport = transport.clone();
        async move {
            let response = transport.oneshot(request).await?;
            let status = response.status();
            if status.as_u16() != 429 && !status.is_server_error() {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.bytes().await?;
            let error = serde_json::from_slice::<WrappedError>(&body)
                .ok()
                .map(|w| w.error);
            let throttled = Throttled {
                status: status.as_u16(),
                retry_after,
                error,
            };
            Err::<reqwest::Response, _>(OpenAIError::Boxed(Box::new(throttled)))
        }
    });
    let client = default_client(&mock).with_http_service(service);
    let err = client
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("429");
    let OpenAIError::Boxed(boxed) = &err else {
        panic!("expected OpenAIError::Boxed, got {err:?}")
    };
    let throttled = boxed.downcast_ref::<Throttled>().expect("our error type");
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.retry_after, Some(Duration::from_secs(20)));
    let code = throttled.error.as_ref().and_then(|e| e.code.as_deref());
    assert_eq!(code, Some("rate_limit_exceeded"));
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn insufficient_quota_is_never_retried() {
    let mock = MockOpenAi::start(vec![
        error_reply(
            429,
            &[],
            error_body("insufficient_quota", "You exceeded your current quota"),
        ),
        stream_reply(text_chunks(&["never sent"])),
    ])
    .await;
    let err = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("quota error");
    let (status, api) = api_error(&err);
    assert_eq!(status, 429);
    assert_eq!(api.r#type.as_deref(), Some("insufficient_quota"));
    assert_eq!(api.code.as_deref(), Some("insufficient_quota"));
    assert_eq!(
        mock.requests().len(),
        1,
        "the built-in retry knows this one is permanent"
    );
}

#[tokio::test]
async fn server_error_is_retried_then_surfaces_with_the_raw_body() {
    let failing = || {
        error_reply(
            500,
            &[],
            error_body(
                "server_error",
                "The server had an error processing your request.",
            ),
        )
    };
    let mock = MockOpenAi::start((0..4).map(|_| failing()).collect()).await;
    let started = Instant::now();
    let err = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("500");
    // Backoff 100 + 200 + 400 ms between the four attempts.
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(mock.requests().len(), 4);
    let (status, api) = api_error(&err);
    assert_eq!(status, 500);
    // 5xx bodies are not parsed: the JSON text lands in `message`, type/code are lost.
    assert_eq!((api.r#type.as_deref(), api.code.as_deref()), (None, None));
    let parsed: WrappedError = serde_json::from_str(&api.message).expect("raw JSON body");
    assert_eq!(parsed.error.r#type.as_deref(), Some("server_error"));

    let mock = MockOpenAi::start(vec![failing()]).await;
    let err = no_retry_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .err()
        .expect("500");
    assert_eq!(api_error(&err).0, 500);
    assert_eq!(mock.requests().len(), 1);
}

// ---- broken and abandoned streams --------------------------------------------

#[tokio::test]
async fn cut_stream_yields_one_stream_error_then_ends() {
    let mut chunks = text_chunks(&["Partial ", "answer"]);
    chunks.truncate(3); // role chunk and both pieces: no finish_reason, no usage
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks,
        cut: true,
        delay_ms: 0,
    }])
    .await;
    let stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("stream opens");
    let turn = drain(stream).await;

    assert_eq!(turn.text, "Partial answer", "events before the cut arrive");
    assert_eq!(turn.finish, None);
    assert!(turn.usage.is_none());
    assert_eq!(turn.errors.len(), 1, "{:?}", turn.errors);
    // The transport error is flattened to a string.
    match &turn.errors[0] {
        OpenAIError::StreamError(e) => match e.as_ref() {
            StreamError::EventStream(message) => {
                assert!(message.contains("Transport error"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("expected StreamError, got {other:?}"),
    }
}

#[tokio::test]
async fn error_event_mid_stream_is_a_deserialize_error_with_the_raw_data() {
    let mut chunks = text_chunks(&["Working on it"]);
    chunks.truncate(2);
    chunks.push(error_body(
        "server_error",
        "The model produced invalid content.",
    ));
    let mock = MockOpenAi::start(vec![stream_reply(chunks)]).await;
    let stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("stream opens");
    let turn = drain(stream).await;

    assert_eq!(turn.text, "Working on it");
    assert_eq!(turn.errors.len(), 1);
    let OpenAIError::JSONDeserialize(_, raw) = &turn.errors[0] else {
        panic!("expected JSONDeserialize, got {:?}", turn.errors[0])
    };
    let wrapped: WrappedError = serde_json::from_str(raw).expect("the raw event is an error body");
    assert_eq!(wrapped.error.message, "The model produced invalid content.");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let pieces: Vec<String> = (0..50).map(|i| format!("token{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&pieces),
        cut: false,
        delay_ms: 30,
    }])
    .await;
    let mut stream = default_client(&mock)
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await
        .expect("stream opens");
    stream.next().await.expect("one chunk").expect("ok chunk");
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.abandoned_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        mock.abandoned_streams(),
        1,
        "the server saw the client go away"
    );
}

#[tokio::test]
async fn read_timeout_of_a_custom_reqwest_client_ends_a_stalled_stream() {
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&["slow"]),
        cut: false,
        delay_ms: 2_000,
    }])
    .await;
    // `read_timeout` bounds each read (a stall), unlike `timeout`, which bounds
    // the whole response and so would cut long, healthy streams.
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_millis(300))
        .build()
        .expect("reqwest client");
    let client = Client::build(
        http,
        OpenAIConfig::new()
            .with_api_base(&mock.base_url)
            .with_api_key("sk-test"),
    );
    let started = Instant::now();
    let result = client
        .chat()
        .create_stream(triage_request("gpt-4o-mini"))
        .await;
    // Response headers go out at once, so the stall is met inside the stream.
    let turn = drain(result.expect("headers arrive before the first event")).await;
    assert!(started.elapsed() < Duration::from_millis(1_500));
    assert_eq!(turn.text, "");
    assert_eq!(turn.errors.len(), 1, "{:?}", turn.errors);
    assert!(
        matches!(&turn.errors[0], OpenAIError::StreamError(e)
                 if matches!(e.as_ref(), StreamError::EventStream(m) if m.contains("Transport error"))),
        "{:?}",
        turn.errors[0]
    );
}

// ---- Azure OpenAI ---------------------------------------------------------------

#[tokio::test]
async fn azure_api_key_config_on_the_wire() {
    let mock = MockOpenAi::start(vec![stream_reply(text_chunks(&["azure"]))]).await;
    let config = AzureConfig::new()
        .with_api_base(&mock.azure_endpoint)
        .with_deployment_id("gpt4o-triage")
        .with_api_version("2024-10-21")
        .with_api_key("azure-key");
    let stream = Client::with_config(config)
        .chat()
        .create_stream(triage_request("ignored-by-azure"))
        .await
        .expect("stream opens");
    assert_eq!(drain(stream).await.text, "azure");

    let req = &mock.requests()[0];
    assert_eq!(
        req.path,
        "/openai/deployments/gpt4o-triage/chat/completions"
    );
    assert_eq!(req.query, "api-version=2024-10-21");
    assert_eq!(req.header("api-key"), Some("azure-key"));
    assert_eq!(req.header("authorization"), None);
}

/// `AzureConfig` has no bearer option and always sends `api-key`; an Entra ID
/// token goes through `OpenAIConfig` (which sends `Authorization: Bearer`)
/// pointed at the deployment, with `api-version` added per request.
#[tokio::test]
async fn azure_entra_bearer_token_on_the_wire() {
    let mock = MockOpenAi::start(vec![
        stream_reply(text_chunks(&["one"])),
        stream_reply(text_chunks(&["two"])),
        stream_reply(text_chunks(&["three"])),
    ])
    .await;
    let deployment_base = format!("{}/openai/deployments/gpt4o-triage", mock.azure_endpoint);
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(deployment_base)
            .with_api_key("entra-token-1"),
    );
    let stream = client
        .chat()
        .query(&[("api-version", "2024-10-21")])
        .expect("query")
        .create_stream(triage_request("ignored-by-azure"))
        .await
        .expect("stream opens");
    assert_eq!(drain(stream).await.text, "one");

    // A refreshed token per request, without rebuilding the client: the
    // per-request header replaces the config's one.
    let stream = client
        .chat()
        .query(&[("api-version", "2024-10-21")])
        .expect("query")
        .header(reqwest::header::AUTHORIZATION, "Bearer entra-token-2")
        .expect("header")
        .create_stream(triage_request("ignored-by-azure"))
        .await
        .expect("stream opens");
    assert_eq!(drain(stream).await.text, "two");

    // Azure's v1 API: an OpenAI-shaped base, no api-version, model = deployment.
    let v1 = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/openai/v1", mock.azure_endpoint))
            .with_api_key("entra-token-3"),
    );
    let stream = v1
        .chat()
        .create_stream(triage_request("gpt4o-triage"))
        .await
        .expect("stream opens");
    assert_eq!(drain(stream).await.text, "three");

    let requests = mock.requests();
    for req in &requests[..2] {
        assert_eq!(
            req.path,
            "/openai/deployments/gpt4o-triage/chat/completions"
        );
        assert_eq!(req.query_param("api-version"), Some("2024-10-21"));
        assert_eq!(req.header("api-key"), None);
        assert_eq!(req.header_count("authorization"), 1);
    }
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer entra-token-1")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer entra-token-2")
    );
    assert_eq!(requests[2].path, "/openai/v1/chat/completions");
    assert_eq!(requests[2].query, "");
    assert_eq!(
        requests[2].header("authorization"),
        Some("Bearer entra-token-3")
    );
    assert_eq!(requests[2].body["model"], "gpt4o-triage");
}
