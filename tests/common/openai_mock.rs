//! A scripted OpenAI-compatible server for tests: real HTTP on 127.0.0.1, real
//! SSE framing, so the client under test runs its whole network path.
//!
//! Every chat request, on any of the paths OpenAI and Azure OpenAI use, takes
//! the next [`Reply`] of the script. Every request, chat or not, is recorded.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

/// What the server answers to one chat request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Stream these chunks (each a full `chat.completion.chunk` JSON value; a
    /// JSON string is sent verbatim, to fake malformed data), then `[DONE]`
    /// unless `cut` is true: then the connection is dropped mid-stream.
    /// `delay_ms` is waited before every event.
    ///
    /// As OpenAI does, `usage` appears only when the request asked for it
    /// (`stream_options.include_usage`): otherwise the mock strips `usage` from
    /// every chunk and drops the usage-only final chunk.
    Stream {
        chunks: Vec<Value>,
        cut: bool,
        delay_ms: u64,
    },
    /// A non-2xx answer with headers (e.g. `Retry-After`) and an error body.
    Error {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
}

/// One request as it arrived on the wire.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, undecoded ("" when absent).
    pub query: String,
    /// Names lower-cased, in arrival order; a repeated header appears twice.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body (a JSON string holding the raw text if it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        self.headers.iter().filter(|(n, _)| *n == name).count()
    }

    /// A raw (undecoded) query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    abandoned: AtomicUsize,
}

/// A running mock; the server stops when this is dropped.
pub struct MockOpenAi {
    /// For `OpenAIConfig::with_api_base`, e.g. `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// For `AzureConfig::with_api_base`, e.g. `http://127.0.0.1:PORT`.
    pub azure_endpoint: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl MockOpenAi {
    /// Binds 127.0.0.1:0 and serves `script`. Panics on a malformed script, so
    /// a test typo fails the test instead of becoming a confusing 500.
    pub async fn start(script: Vec<Reply>) -> MockOpenAi {
        for reply in &script {
            if let Reply::Error {
                status, headers, ..
            } = reply
            {
                assert!(StatusCode::from_u16(*status).is_ok(), "bad status {status}");
                for (name, value) in headers {
                    assert!(
                        HeaderName::try_from(name.as_str()).is_ok()
                            && HeaderValue::try_from(value.as_str()).is_ok(),
                        "bad header {name}: {value}"
                    );
                }
            }
        }
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockOpenAi {
            base_url: format!("http://{addr}/v1"),
            azure_endpoint: format!("http://{addr}"),
            shared,
            server,
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Replies not yet consumed.
    pub fn remaining(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }

    /// Streams whose connection went away before their last event was sent
    /// (the client dropped the stream): proves cancellation reaches the wire.
    pub fn abandoned_streams(&self) -> usize {
        self.shared.abandoned.load(Ordering::SeqCst)
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// OpenAI `/v1/chat/completions`, Azure `/openai/deployments/{d}/chat/completions`
/// and Azure's newer `/openai/v1/chat/completions`.
fn is_chat_path(path: &str) -> bool {
    if path == "/v1/chat/completions" || path == "/openai/v1/chat/completions" {
        return true;
    }
    path.strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.strip_suffix("/chat/completions"))
        .is_some_and(|deployment| !deployment.is_empty() && !deployment.contains('/'))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let recorded = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: body.clone(),
    };
    let number = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(recorded);
        requests.len()
    };
    let request_id = format!("req_mock{number}");

    if method != Method::POST || !is_chat_path(uri.path()) {
        let message = format!("Invalid URL ({method} {})", uri.path());
        return json_error(
            404,
            &[],
            &error_body("invalid_request_error", &message),
            &request_id,
        );
    }
    let next = shared.script.lock().unwrap().pop_front();
    match next {
        None => json_error(
            400,
            &[],
            &error_body(
                "mock_script_exhausted",
                &format!("openai_mock: no reply scripted for request {number}"),
            ),
            &request_id,
        ),
        Some(Reply::Error {
            status,
            headers,
            body,
        }) => json_error(status, &headers, &body, &request_id),
        Some(Reply::Stream { .. }) if body["stream"] != json!(true) => json_error(
            400,
            &[],
            &error_body(
                "invalid_request_error",
                "openai_mock: a Stream reply needs a request with \"stream\": true",
            ),
            &request_id,
        ),
        Some(Reply::Stream {
            chunks,
            cut,
            delay_ms,
        }) => {
            let include_usage = body["stream_options"]["include_usage"] == json!(true);
            let events = chunks
                .into_iter()
                .filter_map(|chunk| shape_usage(chunk, include_usage))
                .map(|chunk| match chunk {
                    Value::String(raw) => format!("data: {raw}\n\n"),
                    chunk => format!("data: {chunk}\n\n"),
                })
                .map(Bytes::from)
                .chain((!cut).then_some(Bytes::from_static(b"data: [DONE]\n\n")))
                .collect();
            sse(
                shared,
                events,
                cut,
                Duration::from_millis(delay_ms),
                &request_id,
            )
        }
    }
}

/// Applies OpenAI's `include_usage` rule to one chunk (`None`: not sent).
fn shape_usage(mut chunk: Value, include_usage: bool) -> Option<Value> {
    if include_usage {
        return Some(chunk);
    }
    let usage_only = chunk["choices"].as_array().is_some_and(Vec::is_empty)
        && chunk.get("usage").is_some_and(|u| !u.is_null());
    if usage_only {
        return None;
    }
    if let Some(object) = chunk.as_object_mut() {
        object.remove("usage");
    }
    Some(chunk)
}

fn json_error(
    status: u16,
    headers: &[(String, String)],
    body: &Value,
    request_id: &str,
) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", request_id);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("start() validated the scripted status and headers")
}

/// Counts a stream as abandoned if dropped before its last event went out.
struct Finish {
    shared: Arc<Shared>,
    done: bool,
}

impl Drop for Finish {
    fn drop(&mut self) {
        if !self.done {
            self.shared.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct Events {
    queue: VecDeque<Bytes>,
    cut: bool,
    delay: Duration,
    finish: Finish,
}

fn sse(
    shared: Arc<Shared>,
    queue: VecDeque<Bytes>,
    cut: bool,
    delay: Duration,
    request_id: &str,
) -> Response {
    let events = Events {
        queue,
        cut,
        delay,
        finish: Finish {
            shared,
            done: false,
        },
    };
    let stream = futures::stream::unfold(events, |mut ev| async move {
        if let Some(event) = ev.queue.pop_front() {
            if !ev.delay.is_zero() {
                tokio::time::sleep(ev.delay).await;
            }
            return Some((Ok(event), ev));
        }
        ev.finish.done = true;
        if ev.cut {
            ev.cut = false;
            // Pause first: hyper flushes what it has while the body is pending,
            // so the client gets every event before the connection dies.
            tokio::time::sleep(Duration::from_millis(20)).await;
            // A body error makes hyper drop the connection without the final
            // zero-length chunk: the client sees a truncated response.
            let cut =
                std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "openai_mock: cut");
            return Some((Err(cut), ev));
        }
        None
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-request-id", request_id)
        .body(Body::from_stream(stream))
        .expect("static status and headers")
}

// ---- chunk builders -------------------------------------------------------

const MODEL: &str = "gpt-4o-mini-2024-07-18";
/// 2026-11-23T03:42:00Z, the instant the sandbox clock is pinned to.
const CREATED: u64 = 1_795_405_320;
const PROMPT_TOKENS: u64 = 42;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Builds the chunks of one completion: all share an id, as on the wire.
struct Completion {
    id: String,
}

impl Completion {
    fn new() -> Completion {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Completion {
            id: format!("chatcmpl-mock{n:06}"),
        }
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        self.envelope(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]),
            Value::Null,
        )
    }

    /// The final chunk of an `include_usage` stream: no choices, only usage.
    fn usage(&self, completion_tokens: u64) -> Value {
        self.envelope(
            json!([]),
            json!({
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": completion_tokens,
                "total_tokens": PROMPT_TOKENS + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
                }
            }),
        )
    }

    fn envelope(&self, choices: Value, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
            "choices": choices,
            "usage": usage,
        })
    }
}

/// A text answer: a role chunk, one content delta per piece, a `stop` chunk,
/// then the usage chunk.
pub fn text_chunks(text_pieces: &[&str]) -> Vec<Value> {
    let c = Completion::new();
    let mut chunks = vec![c.chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    chunks.extend(
        text_pieces
            .iter()
            .map(|piece| c.chunk(json!({"content": piece}), None)),
    );
    chunks.push(c.chunk(json!({}), Some("stop")));
    chunks.push(c.usage(text_pieces.len() as u64));
    chunks
}

/// One assistant turn calling several tools. Each call opens with a delta
/// carrying its `id`, `type` and `name` (and empty `arguments`); its arguments
/// then follow in `split_into` pieces. Calls are interleaved round by round
/// (call 0, call 1, call 0, …) so only reassembly by `index` gets them right.
pub fn tool_call_chunks(calls: &[(&str, &str, &str)], split_into: usize) -> Vec<Value> {
    let c = Completion::new();
    let mut chunks = vec![c.chunk(
        json!({"role": "assistant", "content": null, "refusal": null}),
        None,
    )];
    let per_call: Vec<Vec<Value>> = calls
        .iter()
        .enumerate()
        .map(|(index, (id, name, arguments))| {
            let opening = json!({"index": index, "id": id, "type": "function",
                                 "function": {"name": name, "arguments": ""}});
            std::iter::once(opening)
                .chain(
                    split_chars(arguments, split_into)
                        .into_iter()
                        .map(|piece| json!({"index": index, "function": {"arguments": piece}})),
                )
                .collect()
        })
        .collect();
    let rounds = per_call.iter().map(Vec::len).max().unwrap_or(0);
    let mut deltas = 0;
    for round in 0..rounds {
        for call in &per_call {
            if let Some(tool_call) = call.get(round) {
                chunks.push(c.chunk(json!({"tool_calls": [tool_call]}), None));
                deltas += 1;
            }
        }
    }
    chunks.push(c.chunk(json!({}), Some("tool_calls")));
    chunks.push(c.usage(deltas));
    chunks
}

/// `text` cut on char boundaries into `parts` pieces of near-equal length
/// (fewer when it has fewer chars; none when it is empty).
fn split_chars(text: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let parts = parts.clamp(1, chars.len().max(1));
    let (base, extra) = (chars.len() / parts, chars.len() % parts);
    let mut rest = chars.as_slice();
    let mut pieces = Vec::new();
    for i in 0..parts {
        let (piece, tail) = rest.split_at(base + usize::from(i < extra));
        if !piece.is_empty() {
            pieces.push(piece.iter().collect());
        }
        rest = tail;
    }
    pieces
}

/// An OpenAI error body, `{"error": {message, type, param, code}}`, with the
/// `type`/`code` pair OpenAI uses for `kind`.
pub fn error_body(kind: &str, message: &str) -> Value {
    let (kind_type, code) = match kind {
        "insufficient_quota" => ("insufficient_quota", json!("insufficient_quota")),
        // OpenAI puts the exhausted limit ("tokens" or "requests") in `type`.
        "rate_limit_exceeded" => ("tokens", json!("rate_limit_exceeded")),
        "server_error" => ("server_error", Value::Null),
        "invalid_request_error" => ("invalid_request_error", Value::Null),
        other => ("invalid_request_error", json!(other)),
    };
    json!({"error": {"message": message, "type": kind_type, "param": null, "code": code}})
}
