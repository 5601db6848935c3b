//! The LLM agent: streaming chat completions with tool calls. Text deltas go out
//! as events as they arrive; tool-call deltas are assembled by index; the calls of
//! one round run concurrently through the [`ToolRunner`]; the loop stops after a
//! set number of rounds with an honest message. Cancelling is dropping the turn's
//! future: the HTTP stream and pending tool calls go with it.

mod assemble;
pub mod entra;
pub mod http;
mod prompt;
pub mod provider;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequest, FunctionCall, FunctionObject,
};
use futures::StreamExt;
use serde_json::Value;

use super::conversation::budget::{ChatMessage, data_tokens, prose_tokens};
use super::conversation::{Budget, ContextWindow, Conversation, SharedConversation};
use super::events::AgentEvent;
use super::runner::ToolRunner;
use crate::support::retry::backoff;
use crate::support::sync::lock;
use assemble::ToolCallAssembler;
use async_openai::traits::RequestOptionsBuilder;
pub use entra::BearerSource;
use http::HttpFailure;
pub use provider::{AzureAuth, Provider};

/// How a turn behaves.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub max_rounds: u32,
    /// Attempts per model request on 429, 5xx and connection errors.
    pub max_attempts: u32,
    /// The longest `Retry-After` the agent waits for; longer means give up and say so.
    pub max_retry_wait: Duration,
    /// A silence on the stream this long ends the request.
    pub read_timeout: Duration,
    /// The model's context window: the conversation gets what the system
    /// prompt, the tool definitions and the answer's room leave of it.
    pub context: ContextWindow,
    /// At most this much for the conversation, whatever the window leaves
    /// (a deliberately smaller history; tests).
    pub history_limit: Option<Budget>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings {
            max_rounds: 10,
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(60),
            read_timeout: Duration::from_secs(120),
            context: ContextWindow::default(),
            history_limit: None,
        }
    }
}

pub struct LlmAgent {
    client: Client<Box<dyn Config>>,
    model: String,
    settings: LlmSettings,
    /// Entra ID: a fresh `Authorization: Bearer` and the `api-version` on each request.
    bearer: Option<(std::sync::Arc<dyn BearerSource>, String)>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub answer: String,
    /// False when the turn ended on an error (the partial answer is kept).
    pub ok: bool,
}

impl LlmAgent {
    pub fn new(provider: &Provider, settings: LlmSettings) -> Result<LlmAgent, String> {
        let bearer: Option<std::sync::Arc<dyn BearerSource>> = match provider {
            Provider::Azure {
                auth: AzureAuth::EntraId,
                ..
            } => Some(std::sync::Arc::new(entra::AzureIdentityBearer::from_env(
                &|n| std::env::var(n).ok(),
            )?)),
            _ => None,
        };
        LlmAgent::with_bearer(provider, settings, bearer)
    }

    /// Like [`LlmAgent::new`], with the bearer-token source given (tests, other credentials).
    pub fn with_bearer(
        provider: &Provider,
        settings: LlmSettings,
        bearer: Option<std::sync::Arc<dyn BearerSource>>,
    ) -> Result<LlmAgent, String> {
        let bearer = match (provider, bearer) {
            (
                Provider::Azure {
                    auth: AzureAuth::EntraId,
                    api_version,
                    ..
                },
                Some(source),
            ) => Some((source, api_version.clone())),
            (
                Provider::Azure {
                    auth: AzureAuth::EntraId,
                    ..
                },
                None,
            ) => {
                return Err("Azure OpenAI without a key needs an Entra ID credential".into());
            }
            _ => None,
        };
        Ok(LlmAgent {
            client: provider.client(settings.read_timeout)?,
            model: provider.model(),
            settings,
            bearer,
        })
    }

    /// Answers one question with no earlier conversation.
    pub async fn run_turn(
        &self,
        runner: &ToolRunner<'_>,
        question: &str,
        events: &tokio::sync::mpsc::UnboundedSender<AgentEvent>,
    ) -> TurnOutcome {
        let conversation = Conversation::default().shared();
        lock(&conversation).begin(question);
        self.continue_turn(runner, &conversation, events).await
    }

    /// Answers the open turn of `conversation` (begun with its question),
    /// calling tools as the model asks. Each request carries the earlier turns
    /// within the budget; the text, calls and results are recorded into the
    /// conversation as they happen, so a cancelled turn leaves them behind.
    pub async fn continue_turn(
        &self,
        runner: &ToolRunner<'_>,
        conversation: &SharedConversation,
        events: &tokio::sync::mpsc::UnboundedSender<AgentEvent>,
    ) -> TurnOutcome {
        let (question, recent, turn) = {
            let conversation = lock(conversation);
            let question = conversation
                .turns()
                .last()
                .map(|t| t.question.clone())
                .unwrap_or_default();
            (
                question,
                conversation.recent(RECENT_FOR_OFFER),
                conversation.turn_number(),
            )
        };
        let recent: Vec<&str> = recent.iter().map(String::as_str).collect();
        let offer = super::offer::tools_for_turn(runner, &question, &recent).await;
        offer.announce(events);
        let tools: Vec<ChatCompletionTools> = offer
            .tools
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.exposed_name.clone(),
                        description: t.tool.description.as_ref().map(|d| d.to_string()),
                        parameters: Some(Value::Object(t.tool.input_schema.as_ref().clone())),
                        strict: None,
                    },
                })
            })
            .collect();
        let system = prompt::system(runner, &offer.tools).await;
        let mut budget = history_budget(self.settings.context, &system, &tools);
        if let Some(limit) = self.settings.history_limit {
            budget.tokens = budget.tokens.min(limit.tokens);
        }
        let mut answer = String::new();
        for round in 1..=self.settings.max_rounds {
            // A copy taken under the lock and fitted outside it: the console
            // locks the conversation too (Esc, `:new`).
            let snapshot = lock(conversation).clone();
            let mut retried = false;
            let opened = loop {
                let request = self.request(&system, &tools, snapshot.messages(budget).messages);
                match self.open_stream(request, events).await {
                    Err(failure) if failure.context_too_long && !retried => {
                        // The estimate was short of the model's count: the
                        // rest of this turn gets half the history.
                        retried = true;
                        budget = budget.halved();
                        let _ = events.send(AgentEvent::Error {
                            message: format!(
                                "{}; retrying once with half the conversation budget ({} tokens)",
                                failure.message, budget.tokens
                            ),
                        });
                    }
                    other => break other,
                }
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(failure) => {
                    let _ = events.send(AgentEvent::Error {
                        message: failure.message,
                    });
                    return TurnOutcome { answer, ok: false };
                }
            };
            let mut text = String::new();
            let mut calls = ToolCallAssembler::default();
            let mut finished = false;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => {
                        if let Some(usage) = chunk.usage {
                            let _ = events.send(AgentEvent::Usage {
                                prompt_tokens: usage.prompt_tokens,
                                completion_tokens: usage.completion_tokens,
                            });
                        }
                        for choice in chunk.choices {
                            if let Some(delta) = choice.delta.content.filter(|d| !d.is_empty()) {
                                text.push_str(&delta);
                                if let Some(c) = lock(conversation).if_current(turn) {
                                    c.add_text(&delta);
                                }
                                let _ = events.send(AgentEvent::TextDelta { text: delta });
                            }
                            for delta in choice.delta.tool_calls.unwrap_or_default() {
                                calls.push(&delta);
                            }
                            finished |= choice.finish_reason.is_some();
                        }
                    }
                    Err(OpenAIError::JSONDeserialize(error, raw)) => {
                        // One malformed chunk (an error event, a vendor's extra enum value) is reported, not fatal.
                        tracing::warn!(%error, raw = %raw.chars().take(300).collect::<String>(), "unreadable stream chunk");
                    }
                    Err(error) => {
                        answer.push_str(&text);
                        let _ = events.send(AgentEvent::Error {
                            message: format!("the model's answer was cut off ({error}); the partial answer is kept"),
                        });
                        return TurnOutcome { answer, ok: false };
                    }
                }
            }
            if !finished && calls.is_empty() {
                answer.push_str(&text);
                let _ = events.send(AgentEvent::Error {
                    message:
                        "the model's stream ended before it finished; the partial answer is kept"
                            .into(),
                });
                return TurnOutcome { answer, ok: false };
            }
            answer.push_str(&text);
            let prefix = format!("call_t{}_r{round}", snapshot.turn_number());
            let calls = assemble::unique_ids(calls.finish(&prefix), &prefix, |id| {
                snapshot
                    .turns()
                    .iter()
                    .any(|t| t.calls().any(|c| c.id == id))
            });
            if calls.is_empty() {
                return TurnOutcome { answer, ok: true };
            }
            tracing::info!(round, calls = calls.len(), "model asked for tools");
            if let Some(c) = lock(conversation).if_current(turn) {
                c.add_calls(
                    calls
                        .iter()
                        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str())),
                );
            }
            // Independent calls of one round run concurrently; each result is
            // recorded as it comes, so a cancel keeps the ones that finished.
            futures::future::join_all(calls.iter().map(|call| async move {
                let content =
                    match serde_json::from_str::<Value>(if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        &call.arguments
                    }) {
                        Ok(arguments @ Value::Object(_)) => {
                            runner.call(&call.name, arguments).await.for_model
                        }
                        Ok(other) => format!(
                            "error: the arguments for {} must be a JSON object, got {other}",
                            call.name
                        ),
                        Err(e) => format!(
                            "error: the arguments for {} are not valid JSON ({e}): {}",
                            call.name, call.arguments
                        ),
                    };
                if let Some(c) = lock(conversation).if_current(turn) {
                    c.set_result(&call.id, &content);
                }
            }))
            .await;
        }
        let note = format!(
            "\n\n(Stopped after {} rounds of tool calls without a final answer. The tool results above are what I found; ask a narrower question to go on.)",
            self.settings.max_rounds
        );
        if let Some(c) = lock(conversation).if_current(turn) {
            c.add_text(&note);
        }
        let _ = events.send(AgentEvent::TextDelta { text: note.clone() });
        answer.push_str(&note);
        TurnOutcome { answer, ok: false }
    }

    /// One streamed request: the system prompt, the conversation's messages, the tools.
    fn request(
        &self,
        system: &str,
        tools: &[ChatCompletionTools],
        conversation: Vec<ChatMessage>,
    ) -> CreateChatCompletionRequest {
        let mut messages: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(system).into()];
        messages.extend(conversation.into_iter().map(chat_message));
        CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            tools: (!tools.is_empty()).then(|| tools.to_vec()),
            stream: Some(true),
            stream_options: Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            ..Default::default()
        }
    }

    /// Opens the stream, retrying 429, 5xx and connection failures with backoff
    /// (honouring `Retry-After`), never `insufficient_quota`.
    async fn open_stream(
        &self,
        request: CreateChatCompletionRequest,
        events: &tokio::sync::mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<async_openai::types::chat::ChatCompletionResponseStream, OpenFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut chat = self.client.chat();
            if let Some((source, api_version)) = &self.bearer {
                // Asked per request: the credential caches the token and refreshes it before expiry.
                let token = source.bearer().await.map_err(OpenFailure::other)?;
                chat = chat
                    .query(&[("api-version", api_version.as_str())])
                    .and_then(|c| {
                        c.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
                    })
                    .map_err(|e| {
                        OpenFailure::other(format!("cannot prepare the Azure OpenAI request: {e}"))
                    })?;
            }
            let error = match chat.create_stream(request.clone()).await {
                Ok(stream) => return Ok(stream),
                Err(error) => error,
            };
            let wait = match retry_delay(&error, attempt) {
                Some(wait)
                    if attempt < self.settings.max_attempts
                        && wait <= self.settings.max_retry_wait =>
                {
                    wait
                }
                Some(wait) if wait > self.settings.max_retry_wait => {
                    return Err(OpenFailure::other(format!(
                        "the model is rate limited for {}s (Retry-After); try again later: {}",
                        wait.as_secs(),
                        describe(&error)
                    )));
                }
                _ => {
                    return Err(OpenFailure {
                        message: format!("the model request failed: {}", describe(&error)),
                        context_too_long: is_context_too_long(&error),
                    });
                }
            };
            let _ = events.send(AgentEvent::Error {
                message: format!(
                    "the model request failed ({}); retrying in {:.1}s (attempt {attempt} of {})",
                    describe(&error),
                    wait.as_secs_f64(),
                    self.settings.max_attempts
                ),
            });
            tokio::time::sleep(wait).await;
        }
    }
}

/// Questions, answers and tools called (about two turns) given to the tool choice.
const RECENT_FOR_OFFER: usize = 6;

/// A request that could not be opened, and whether the model said it was
/// longer than its context (worth one retry with less history).
struct OpenFailure {
    message: String,
    context_too_long: bool,
}

impl OpenFailure {
    fn other(message: String) -> OpenFailure {
        OpenFailure {
            message,
            context_too_long: false,
        }
    }
}

/// The conversation's budget in a request with this system prompt and these
/// tool definitions (counted as the JSON that is sent).
fn history_budget(context: ContextWindow, system: &str, tools: &[ChatCompletionTools]) -> Budget {
    // No tools: no `tools` field is sent.
    let definitions = if tools.is_empty() {
        String::new()
    } else {
        serde_json::to_string(tools).unwrap_or_default()
    };
    context.history(prose_tokens(system) + data_tokens(&definitions))
}

/// OpenAI's answer to a request over the model's context: a 400 with code
/// `context_length_exceeded`, or (Azure, older deployments) only the message
/// "This model's maximum context length is … tokens".
fn is_context_too_long(error: &OpenAIError) -> bool {
    let said = |code: Option<&str>, message: &str| {
        code == Some("context_length_exceeded")
            || message
                .to_ascii_lowercase()
                .contains("maximum context length")
    };
    match error {
        OpenAIError::ApiError(e) => said(e.api_error.code.as_deref(), &e.api_error.message),
        OpenAIError::Boxed(boxed) => boxed
            .downcast_ref::<HttpFailure>()
            .and_then(|f| f.error.as_ref())
            .is_some_and(|e| said(e.code.as_deref(), &e.message)),
        _ => false,
    }
}

/// A conversation message as the chat API takes it.
fn chat_message(message: ChatMessage) -> ChatCompletionRequestMessage {
    match message {
        ChatMessage::User(text) => ChatCompletionRequestUserMessage::from(text.as_str()).into(),
        ChatMessage::Assistant { text, calls } => ChatCompletionRequestAssistantMessage {
            content: (!text.is_empty() || calls.is_empty()).then(|| text.into()),
            tool_calls: (!calls.is_empty()).then(|| {
                calls
                    .into_iter()
                    .map(|c| {
                        ChatCompletionMessageToolCall {
                            id: c.id,
                            function: FunctionCall {
                                name: c.name,
                                arguments: c.arguments,
                            },
                        }
                        .into()
                    })
                    .collect()
            }),
            ..Default::default()
        }
        .into(),
        ChatMessage::Tool { call_id, content } => ChatCompletionRequestToolMessage {
            content: content.into(),
            tool_call_id: call_id,
        }
        .into(),
    }
}

/// Our own wait after the first failed attempt; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest our own backoff grows (a server's `Retry-After` may ask for more).
const LONGEST_BACKOFF: Duration = Duration::from_secs(32);

/// How long to wait after failed attempt `attempt` (1 for the first) before
/// retrying, or `None` when retrying cannot help.
fn retry_delay(error: &OpenAIError, attempt: u32) -> Option<Duration> {
    let backoff = backoff(FIRST_BACKOFF, attempt.saturating_sub(1), LONGEST_BACKOFF);
    match error {
        OpenAIError::Boxed(boxed) => {
            let failure = boxed.downcast_ref::<HttpFailure>()?;
            if failure.is_quota() {
                return None;
            }
            // A zero wait (`Retry-After: 0`, or a date already past on a
            // skewed clock) is no reason to hammer a throttled service.
            Some(
                failure
                    .retry_after
                    .filter(|wait| !wait.is_zero())
                    .unwrap_or(backoff),
            )
        }
        OpenAIError::Reqwest(e) if e.is_connect() || e.is_timeout() => Some(backoff),
        _ => None,
    }
}

/// A sentence about a failed request, with the vendor's code when there is one.
fn describe(error: &OpenAIError) -> String {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast_ref::<HttpFailure>() {
            Some(f) if f.is_quota() => format!(
                "{f} — the account is out of quota (insufficient_quota); add credit or use another key"
            ),
            Some(f) => f.to_string(),
            None => boxed.to_string(),
        },
        OpenAIError::ApiError(e) => format!(
            "HTTP {}: {}{}",
            e.status_code.as_u16(),
            e.api_error.message,
            e.api_error
                .code
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn tool(name: &str, description_bytes: usize) -> ChatCompletionTools {
        ChatCompletionTools::Function(ChatCompletionTool {
            function: FunctionObject {
                name: name.into(),
                description: Some("d".repeat(description_bytes)),
                parameters: Some(serde_json::json!({"type": "object"})),
                strict: None,
            },
        })
    }

    #[test]
    fn the_history_budget_leaves_room_for_the_system_prompt_and_the_tools() {
        let window = ContextWindow { tokens: 128_000 };
        let bare = history_budget(window, "", &[]);
        assert_eq!(bare.tokens, 128_000 - 4_096);
        let system = "s".repeat(40_000);
        let with_system = history_budget(window, &system, &[]);
        assert_eq!(
            bare.tokens - with_system.tokens,
            10_000,
            "prose: 4 bytes a token"
        );
        let tools = vec![tool("a", 30_000), tool("b", 30_000)];
        let definitions = serde_json::to_string(&tools).unwrap().len();
        let with_tools = history_budget(window, &system, &tools);
        assert_eq!(
            with_system.tokens - with_tools.tokens,
            definitions.div_ceil(3),
            "definitions: 3 bytes a token"
        );
        assert!(definitions > 60_000);
        // Definitions larger than the window leave the conversation nothing, not a wrap.
        let huge = vec![tool("a", 600_000)];
        assert_eq!(history_budget(window, "", &huge).tokens, 0);
    }

    #[test]
    fn a_context_length_error_is_recognised_by_code_or_message() {
        let api = |code: Option<&str>, message: &str| {
            let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": "messages", "code": code}});
            let wrapped: async_openai::error::WrappedError = serde_json::from_value(body).unwrap();
            OpenAIError::Boxed(Box::new(HttpFailure {
                status: 400,
                retry_after: None,
                error: Some(wrapped.error),
                body: String::new(),
            }))
        };
        assert!(is_context_too_long(&api(
            Some("context_length_exceeded"),
            "too long"
        )));
        assert!(is_context_too_long(&api(
            None,
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
        )));
        assert!(!is_context_too_long(&api(
            Some("rate_limit_exceeded"),
            "slow down"
        )));
        assert!(!is_context_too_long(&throttled(None)));
    }

    fn throttled(retry_after: Option<Duration>) -> OpenAIError {
        OpenAIError::Boxed(Box::new(HttpFailure {
            status: 503,
            retry_after,
            error: None,
            body: String::new(),
        }))
    }

    #[test]
    fn a_zero_retry_after_waits_the_backoff_instead() {
        assert_eq!(
            retry_delay(&throttled(Some(Duration::ZERO)), 3),
            Some(Duration::from_secs(4))
        );
    }

    #[test]
    fn without_retry_after_the_backoff_doubles_from_one_second_to_32() {
        let waits: Vec<u64> = (1..=8)
            .map(|attempt| retry_delay(&throttled(None), attempt).map_or(0, |w| w.as_secs()))
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 32, 32]);
        assert_eq!(
            retry_delay(&throttled(None), u32::MAX),
            Some(LONGEST_BACKOFF)
        );
        let asked = Some(Duration::from_millis(1_500));
        assert_eq!(retry_delay(&throttled(asked), 3), asked);
    }

    /// One answer, whatever the request: enough of a server for a 429.
    async fn answer_once(response: String) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // Read the whole request (headers, then Content-Length bytes) before answering.
            loop {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if read == 0 {
                    break;
                }
            }
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        address
    }

    /// Before the shared parser, the agent read `Retry-After` only as seconds:
    /// a date fell back to a 1 s backoff and hammered a throttled service.
    #[tokio::test]
    async fn a_retry_after_date_on_a_429_is_the_wait() {
        let at = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let body = r#"{"error":{"message":"slow down","type":"rate_limit","code":"rate_limit_exceeded","param":null}}"#;
        let response = format!(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            at.format("%a, %d %b %Y %H:%M:%S GMT"),
            body.len()
        );
        let address = answer_once(response).await;
        let provider = Provider::OpenAi {
            base_url: format!("http://{address}/v1"),
            api_key: "sk-test".into(),
            model: "m".into(),
        };
        let client = provider.client(Duration::from_secs(5)).unwrap();
        let request = CreateChatCompletionRequest {
            model: "m".into(),
            messages: vec![ChatCompletionRequestUserMessage::from("hi").into()],
            stream: Some(true),
            ..Default::default()
        };
        let Err(error) = client.chat().create_stream(request).await else {
            panic!("a 429 must be an error");
        };
        let wait = retry_delay(&error, 1).unwrap();
        assert!(
            wait > Duration::from_secs(3_500) && wait <= Duration::from_secs(3_600),
            "{wait:?}"
        );
        // Longer than the agent waits: it says so instead of retrying.
        assert!(wait > LlmSettings::default().max_retry_wait);
    }
}
