//! The HTTP layer under async-openai: plain reqwest (no built-in retries), but
//! a throttled or failed answer keeps its status and `Retry-After`, which
//! async-openai's own error type drops, so the agent can retry properly.

use std::time::Duration;

use async_openai::error::{ApiError, OpenAIError, WrappedError};
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use tower::ServiceExt;

use crate::support::retry::retry_after;

/// A 429 or 5xx answer, as the agent needs to see it.
#[derive(Debug, Clone)]
pub struct HttpFailure {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub error: Option<ApiError>,
    /// The start of the body when it was not an OpenAI error object.
    pub body: String,
}

impl HttpFailure {
    /// `insufficient_quota` is a billing problem: retrying never helps.
    pub fn is_quota(&self) -> bool {
        self.error.as_ref().is_some_and(|e| {
            e.code.as_deref() == Some("insufficient_quota")
                || e.r#type.as_deref() == Some("insufficient_quota")
        })
    }
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => write!(f, "HTTP {}: {}", self.status, e.message),
            None if self.body.is_empty() => write!(f, "HTTP {}", self.status),
            None => write!(f, "HTTP {}: {}", self.status, self.body),
        }
    }
}

impl std::error::Error for HttpFailure {}

/// The service async-openai sends requests through.
pub fn retry_aware_service(
    http: reqwest::Client,
) -> impl tower::Service<
    HttpRequestFactory,
    Response = reqwest::Response,
    Error = OpenAIError,
    Future = impl Send,
> + Clone
+ Send
+ Sync
+ 'static {
    let transport = ReqwestService::new(http);
    tower::service_fn(move |request: HttpRequestFactory| {
        let transport = transport.clone();
        async move {
            let response = transport.oneshot(request).await?;
            let status = response.status();
            if status.as_u16() != 429 && !status.is_server_error() {
                return Ok(response);
            }
            // Every form a server may send: milliseconds, seconds or an HTTP-date.
            let retry_after = retry_after(response.headers(), chrono::Utc::now());
            let body = response.bytes().await.map_err(OpenAIError::Reqwest)?;
            let error = serde_json::from_slice::<WrappedError>(&body)
                .ok()
                .map(|w| w.error);
            let text = if error.is_none() {
                String::from_utf8_lossy(&body).chars().take(300).collect()
            } else {
                String::new()
            };
            Err(OpenAIError::Boxed(Box::new(HttpFailure {
                status: status.as_u16(),
                retry_after,
                error,
                body: text,
            })))
        }
    })
}
