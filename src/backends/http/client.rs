//! The client: one request at a time with a timeout, the token asked for per
//! request, reads sent again as [`RetryPolicy`] allows, redirects never
//! followed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;

use super::budget::RequestBudget;
use super::error::{describe_transport, error_body};
use super::retry::retry_after;
use super::{Authorizer, Call, RestError, RetryPolicy, Safety};

/// A successful answer: its status, headers and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

pub struct RestClient {
    /// Named in errors: `Azure`, `Airflow`, `Databricks`.
    service: &'static str,
    http: reqwest::Client,
    authorizer: Arc<dyn Authorizer>,
    retry: RetryPolicy,
    budget: RequestBudget,
}

impl RestClient {
    pub fn new(
        service: &'static str,
        authorizer: Arc<dyn Authorizer>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<RestClient, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            // Redirects would re-send the token to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(RestClient {
            service,
            http,
            authorizer,
            retry,
            budget: RequestBudget::default(),
        })
    }

    pub fn authorizer(&self) -> &dyn Authorizer {
        self.authorizer.as_ref()
    }

    /// Sends a request (retrying reads as the policy allows) and returns the
    /// JSON body; an empty body is `null`.
    pub async fn send(&self, call: &Call<'_>) -> Result<Value, RestError> {
        let text = self.send_accepting(call, "application/json").await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| RestError::Unreadable(format!("not JSON ({e})")))
    }

    /// The body as text, asking for `accept`: for endpoints whose answer comes
    /// in several shapes that the caller reads leniently (Airflow's logs).
    pub async fn send_accepting(&self, call: &Call<'_>, accept: &str) -> Result<String, RestError> {
        Ok(self.send_for_answer(call, accept).await?.text)
    }

    /// Like [`RestClient::send_accepting`], with the status and headers of the
    /// answer: for APIs that say what to do next in them (a 202 with
    /// `Location` and `Retry-After`, Fabric's long-running operations).
    pub async fn send_for_answer(
        &self,
        call: &Call<'_>,
        accept: &str,
    ) -> Result<Answer, RestError> {
        let mut retry = 0;
        loop {
            self.budget.wait().await;
            let outcome = self.send_once(call, accept).await;
            let wait = match &outcome {
                Err(error) if call.safety == Safety::Read => {
                    self.retry.wait_before_retry(error, retry)
                }
                _ => None,
            };
            match wait {
                Some(wait) => {
                    tracing::info!(
                        "retrying {} {} in {:?} after: {}",
                        call.method,
                        redacted(&call.url),
                        wait,
                        outcome
                            .as_ref()
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default()
                    );
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                None => return outcome,
            }
        }
    }

    /// Sends an action exactly once, never retried whatever the failure, and
    /// returns its JSON body (`null` when empty) with its `Location` header:
    /// for APIs that answer 202 and name what they started only there.
    pub async fn send_action_once(
        &self,
        call: &Call<'_>,
    ) -> Result<(Value, Option<String>), RestError> {
        self.budget.wait().await;
        let (text, location) = self
            .send_once_with_location(call, "application/json")
            .await?;
        if text.trim().is_empty() {
            return Ok((Value::Null, location));
        }
        let body = serde_json::from_str(&text)
            .map_err(|e| RestError::Unreadable(format!("not JSON ({e})")))?;
        Ok((body, location))
    }

    async fn send_once_with_location(
        &self,
        call: &Call<'_>,
        accept: &str,
    ) -> Result<(String, Option<String>), RestError> {
        let answer = self.send_once(call, accept).await?;
        let location = answer
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((answer.text, location))
    }

    async fn send_once(&self, call: &Call<'_>, accept: &str) -> Result<Answer, RestError> {
        let authorization = self
            .authorizer
            .authorization(call.scope)
            .await
            .map_err(RestError::SignIn)?;
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, accept);
        if let Some(body) = call.body {
            request = request.json(body);
        } else if call.method == Method::POST {
            request = request.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let response = request.send().await.map_err(|e| RestError::Transport {
            service: self.service,
            message: describe_transport(&e),
            // A request that never connected cannot have been carried out.
            maybe_sent: !e.is_connect(),
        })?;
        let status = response.status();
        self.budget.note(response.headers());
        let retry_after = retry_after(response.headers());
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| RestError::Transport {
            service: self.service,
            message: format!("the answer was cut off: {}", describe_transport(&e)),
            maybe_sent: true,
        })?;
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                headers,
                text,
            });
        }
        if status.is_redirection() {
            return Err(RestError::Status {
                service: self.service,
                status: status.as_u16(),
                code: "Redirect".into(),
                message: "the API answered with a redirect, which opsdeck does not follow (it would carry the credentials elsewhere); check the endpoint".into(),
                retry_after: None,
            });
        }
        let (code, message) = error_body(status, &text);
        Err(RestError::Status {
            service: self.service,
            status: status.as_u16(),
            code,
            message,
            retry_after,
        })
    }
}

/// A URL for the log: without its query (skip tokens are long and opaque).
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}
