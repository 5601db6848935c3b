//! One HTTP client for every REST API opsdeck calls (Azure's, Airflow's,
//! Databricks'), with the manners a shared service expects: a timeout on every request; retries with backoff only for
//! reads, honouring `Retry-After`; never a retry of an action (`createRun`,
//! `cancel`), whose failure may hide a success; a pause when ARM says the
//! subscription's request budget is nearly spent; `nextLink` paging that only
//! follows links back to the same service (a link elsewhere would carry our
//! token away).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::backends::BackendError;

/// Where the `Authorization` header comes from: an Azure credential chain, a
/// personal access token, basic auth…
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync {
    /// The header value for a request to a service with token scope `scope`.
    async fn authorization(&self, scope: &str) -> Result<String, String>;
    /// Which identity is in use, for health output (never a secret).
    fn status(&self) -> String;
}

/// An endpoint a credential will be sent to: HTTPS anywhere; plain HTTP only
/// to this machine, or anywhere when `allow_plain_http` (an operator's explicit
/// choice for a trusted network). `what` names it in errors.
pub fn checked_endpoint(what: &str, raw: &str, allow_plain_http: bool) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{what} '{raw}' is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback || allow_plain_http => Ok(url),
        "http" => Err(format!(
            "{what} '{raw}' is plain HTTP to another machine; credentials would travel in clear text. Use https://, or http:// only to localhost"
        )),
        other => Err(format!("{what} '{raw}' has scheme '{other}'; use https://")),
    }
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    /// Reads and queries: sending twice changes nothing.
    Read,
    /// Actions: a second send could start a second run.
    Action,
}

/// How reads are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubled each retry.
    pub base_delay: Duration,
    /// A `Retry-After` longer than this is reported instead of waited out.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// ARM's remaining-request headers below this make the client pause a little.
const LOW_BUDGET: u64 = 25;
const LOW_BUDGET_PAUSE: Duration = Duration::from_secs(1);
/// Most pages one listing follows.
const MAX_PAGES: usize = 500;

/// Why a request failed, before it is put in the words of the resource asked about.
#[derive(Debug, Clone)]
pub enum RestError {
    SignIn(String),
    /// The service answered with an error status.
    Status {
        /// `Azure`, `Airflow`, `Databricks`.
        service: &'static str,
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: the request may or may not have reached the service.
    Transport {
        service: &'static str,
        message: String,
        maybe_sent: bool,
    },
    /// An answer that is not what the API documents.
    Unreadable(String),
}

impl RestError {
    /// True when an action may have been carried out although it reported failure.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            RestError::Transport { maybe_sent, .. } => *maybe_sent,
            RestError::Status { status, .. } => *status >= 500,
            RestError::Unreadable(_) => true,
            RestError::SignIn(_) => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error in terms of what was asked for: `what` `name` (a factory, a
    /// run…), and the role that grants access, for 403s.
    pub fn about(self, what: &'static str, name: &str, role: &str) -> BackendError {
        match self {
            RestError::SignIn(message) => BackendError::Unavailable(message),
            RestError::Status {
                service,
                status: 404,
                code,
                message,
                ..
            } => BackendError::NotFound {
                what,
                name: name.to_string(),
                hint: format!("{service} says: {code}: {message}"),
            },
            RestError::Status {
                service,
                status: 401,
                code,
                message,
                ..
            } => BackendError::Unavailable(format!(
                "{service} did not accept the sign-in for {what} '{name}' (401 {code}: {message}). Check the credentials, and that they are for this {service}"
            )),
            RestError::Status {
                status: 403,
                code,
                message,
                ..
            } => BackendError::Refused(format!(
                "the signed-in identity may not do this on {what} '{name}' (403 {code}: {message}). It needs {role}"
            )),
            RestError::Status {
                service,
                status: 429,
                code,
                retry_after,
                ..
            } => BackendError::Unavailable(format!(
                "{service} is throttling requests for {what} '{name}' (429 {code}); try again in {}",
                retry_after
                    .map(|d| format!("{}s", d.as_secs().max(1)))
                    .unwrap_or_else(|| "a minute".into())
            )),
            RestError::Status {
                service,
                status,
                code,
                message,
                ..
            } if (400..500).contains(&status) => BackendError::InvalidArgument(format!(
                "{service} refused the request for {what} '{name}' ({status} {code}: {message})"
            )),
            RestError::Status {
                service,
                status,
                code,
                message,
                ..
            } => BackendError::Unavailable(format!(
                "{service} failed to answer for {what} '{name}' ({status} {code}: {message}); try again shortly"
            )),
            RestError::Transport {
                service, message, ..
            } => BackendError::Unavailable(format!(
                "could not reach {service} for {what} '{name}': {message}"
            )),
            RestError::Unreadable(message) => BackendError::Unavailable(format!(
                "the answer for {what} '{name}' could not be read: {message}"
            )),
        }
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::SignIn(m) | RestError::Unreadable(m) => f.write_str(m),
            RestError::Status {
                status,
                code,
                message,
                ..
            } => write!(f, "{status} {code}: {message}"),
            RestError::Transport { message, .. } => f.write_str(message),
        }
    }
}

/// One request.
pub struct Call<'a> {
    pub method: Method,
    pub url: Url,
    /// The token scope of the service (`https://management.azure.com/.default`…).
    pub scope: &'a str,
    pub body: Option<&'a Value>,
    pub safety: Safety,
}

impl<'a> Call<'a> {
    pub fn get(url: Url, scope: &'a str) -> Call<'a> {
        Call {
            method: Method::GET,
            url,
            scope,
            body: None,
            safety: Safety::Read,
        }
    }

    /// A POST that only reads (ADF run queries, Log Analytics queries).
    pub fn query(url: Url, scope: &'a str, body: &'a Value) -> Call<'a> {
        Call {
            method: Method::POST,
            url,
            scope,
            body: Some(body),
            safety: Safety::Read,
        }
    }

    /// A POST that changes something; never retried.
    pub fn action(url: Url, scope: &'a str, body: Option<&'a Value>) -> Call<'a> {
        Call {
            method: Method::POST,
            url,
            scope,
            body,
            safety: Safety::Action,
        }
    }
}

pub struct RestClient {
    /// Named in errors: `Azure`, `Airflow`, `Databricks`.
    service: &'static str,
    http: reqwest::Client,
    authorizer: Arc<dyn Authorizer>,
    retry: RetryPolicy,
    /// Set when ARM reports the request budget nearly spent.
    pause_until: Mutex<Option<Instant>>,
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
            pause_until: Mutex::new(None),
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
        let mut retry = 0;
        loop {
            self.wait_for_budget().await;
            let outcome = self.send_once(call, accept).await;
            let wait = match &outcome {
                Err(error) if call.safety == Safety::Read && retry < self.retry.retries => {
                    self.retry_wait(error, retry)
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

    /// How long to wait before retrying a read, or `None` to give up.
    fn retry_wait(&self, error: &RestError, retry: u32) -> Option<Duration> {
        let backoff = self.retry.base_delay * 2u32.saturating_pow(retry);
        match error {
            RestError::Status {
                status: 429 | 500 | 502 | 503 | 504,
                retry_after,
                ..
            } => {
                let wait = retry_after.unwrap_or(backoff);
                (wait <= self.retry.max_wait).then_some(wait)
            }
            RestError::Transport { .. } => Some(backoff),
            _ => None,
        }
    }

    async fn send_once(&self, call: &Call<'_>, accept: &str) -> Result<String, RestError> {
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
        self.note_budget(response.headers());
        let retry_after = retry_after(response.headers());
        let text = response.text().await.map_err(|e| RestError::Transport {
            service: self.service,
            message: format!("the answer was cut off: {}", describe_transport(&e)),
            maybe_sent: true,
        })?;
        if status.is_success() {
            return Ok(text);
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

    /// Every item of a listing, following `nextLink` (only back to the same
    /// service, and only to paths `allowed` accepts) up to `max_items`.
    pub async fn list(
        &self,
        first: Url,
        scope: &str,
        allowed: &(dyn Fn(&Url) -> bool + Sync),
        max_items: usize,
    ) -> Result<Vec<Value>, RestError> {
        let mut items = Vec::new();
        let mut next = Some(first.clone());
        let mut seen: Vec<String> = Vec::new();
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES {
                return Err(RestError::Unreadable(format!(
                    "the listing went on for more than {MAX_PAGES} pages"
                )));
            }
            seen.push(url.as_str().to_string());
            let page = self.send(&Call::get(url, scope)).await?;
            match page.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(RestError::Unreadable(
                        "the listing's `value` is not a list".into(),
                    ));
                }
            }
            if items.len() >= max_items {
                items.truncate(max_items);
                break;
            }
            next = next_link(&page, &first, allowed, &seen)?;
        }
        Ok(items)
    }

    async fn wait_for_budget(&self) {
        let until = *lock(&self.pause_until);
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    fn note_budget(&self, headers: &HeaderMap) {
        let lowest = headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-ms-ratelimit-remaining-"))
            .filter_map(|(name, value)| {
                let remaining = value.to_str().ok()?.trim().parse::<u64>().ok()?;
                Some((remaining, name.as_str().to_string()))
            })
            .min();
        if let Some((remaining, header)) = lowest
            && remaining < LOW_BUDGET
        {
            tracing::warn!("ARM request budget low ({header}: {remaining}); slowing down");
            *lock(&self.pause_until) = Some(Instant::now() + LOW_BUDGET_PAUSE);
        }
    }
}

/// Adds path segments (percent-encoded) and the api-version to a URL.
pub fn url_with(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    // `query_pairs_mut` leaves a bare `?` even when nothing is appended.
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value);
        }
    }
    url
}

/// The `nextLink` of a page, if it is one we may follow.
fn next_link(
    page: &Value,
    first: &Url,
    allowed: &(dyn Fn(&Url) -> bool + Sync),
    seen: &[String],
) -> Result<Option<Url>, RestError> {
    let Some(raw) = page.get("nextLink").and_then(Value::as_str) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(raw)
        .map_err(|e| RestError::Unreadable(format!("nextLink '{raw}' is not a URL: {e}")))?;
    if url.origin() != first.origin() {
        return Err(RestError::Unreadable(format!(
            "nextLink points at another host ({}); refusing to send our token there",
            url.origin().ascii_serialization()
        )));
    }
    if !allowed(&url) {
        return Err(RestError::Unreadable(format!(
            "nextLink points at an unexpected path ({}); refusing to follow it",
            url.path()
        )));
    }
    if seen.iter().any(|s| s == url.as_str()) {
        return Err(RestError::Unreadable(
            "nextLink repeats an earlier page; stopping instead of looping".into(),
        ));
    }
    Ok(Some(url))
}

/// `Retry-After` in seconds or as an HTTP date, or `x-ms-retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("x-ms-retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Code and message from the error formats opsdeck meets: ARM, Key Vault and
/// Log Analytics (`{"error": {"code", "message", "innererror"}}`), Databricks
/// (`{"error_code", "message"}`), Airflow (problem JSON: `{"title", "detail"}`);
/// else the status and the raw text.
fn error_body(status: StatusCode, text: &str) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let top = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let fallback_code = || status.canonical_reason().unwrap_or("Error").to_string();
    if let Some(error) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    {
        let field = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_string);
        let inner = error
            .get("innererror")
            .and_then(|i| i.get("code"))
            .and_then(Value::as_str);
        let code = match (field("code"), inner) {
            (Some(code), Some(inner)) if inner != code => format!("{code}/{inner}"),
            (Some(code), _) => code,
            (None, _) => fallback_code(),
        };
        let message = field("message").unwrap_or_else(|| text.to_string());
        return (code, clean(&message));
    }
    if let Some(code) = top("error_code") {
        return (code, clean(&top("message").unwrap_or_default()));
    }
    if let Some(detail) = top("detail") {
        return (top("title").unwrap_or_else(fallback_code), clean(&detail));
    }
    (fallback_code(), clean(text))
}

/// An error message from the network, flattened and clipped for one line.
fn clean(text: &str) -> String {
    let flat = one_line(text);
    if flat.is_empty() {
        "(no message)".into()
    } else {
        flat
    }
}

/// Text from elsewhere (an error body, an SDK's error) as one line: control
/// characters and line breaks become single spaces; clipped at 600 characters.
pub(crate) fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match flat.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

fn describe_transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // reqwest's message includes the URL; ours never has secrets in it, but keep it short.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        detail = format!("{detail}: {inner}");
        source = inner.source();
    }
    format!("{kind} ({})", clean(&detail))
}

/// A URL for the log: without its query (skip tokens are long and opaque).
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

/// A std mutex's guard; a panic elsewhere while it was held does not make the
/// data unusable here (it is plain bookkeeping).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_and_key_vault_error_bodies_give_code_and_message() {
        let (code, message) = error_body(
            StatusCode::FORBIDDEN,
            r#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' does not have authorization to perform action 'Microsoft.DataFactory/factories/read'."}}"#,
        );
        assert_eq!(code, "AuthorizationFailed");
        assert!(message.contains("Microsoft.DataFactory/factories/read"));
        let (code, _) = error_body(
            StatusCode::FORBIDDEN,
            r#"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#,
        );
        assert_eq!(code, "Forbidden/ForbiddenByRbac");
        let (code, message) = error_body(
            StatusCode::NOT_FOUND,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 42 does not exist."}"#,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("RESOURCE_DOES_NOT_EXIST", "Run 42 does not exist.")
        );
        let (code, message) = error_body(
            StatusCode::NOT_FOUND,
            r#"{"detail":"DAG with dag_id: 'x' not found","status":404,"title":"DAG not found","type":"https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/NotFound"}"#,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("DAG not found", "DAG with dag_id: 'x' not found")
        );
        let (code, message) = error_body(StatusCode::BAD_GATEWAY, "<html>\n bad gateway</html>");
        assert_eq!(code, "Bad Gateway");
        assert_eq!(message, "<html> bad gateway</html>");
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut dated = HeaderMap::new();
        dated.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&dated), Some(Duration::ZERO));
    }

    #[test]
    fn next_links_must_stay_on_the_same_service() {
        let first = Url::parse("https://kv.vault.azure.net/secrets?api-version=7.4").unwrap();
        let any = |_: &Url| true;
        let page = |link: &str| serde_json::json!({"value": [], "nextLink": link});
        let same = next_link(
            &page("https://kv.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=a"),
            &first,
            &any,
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(same.query(), Some("api-version=7.4&$skiptoken=a"));
        let err = next_link(&page("https://evil.example.com/secrets"), &first, &any, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("another host"), "{err}");
        let only_list = |u: &Url| u.path() == "/secrets";
        let err = next_link(
            &page("https://kv.vault.azure.net/secrets/db-password/abc"),
            &first,
            &only_list,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unexpected path"), "{err}");
        let looping = next_link(
            &page("https://kv.vault.azure.net/secrets?x=1"),
            &first,
            &any,
            &["https://kv.vault.azure.net/secrets?x=1".to_string()],
        );
        assert!(looping.is_err());
        assert!(next_link(&page(""), &first, &any, &[]).unwrap().is_none());
    }

    #[test]
    fn errors_read_as_what_was_asked_for() {
        let forbidden = RestError::Status {
            service: "Azure",
            status: 403,
            code: "AuthorizationFailed".into(),
            message: "no read".into(),
            retry_after: None,
        };
        let text = forbidden
            .about(
                "data factory",
                "adf-prod",
                "Data Factory Contributor or Reader",
            )
            .to_string();
        assert!(
            text.contains("adf-prod") && text.contains("Data Factory Contributor"),
            "{text}"
        );
        let missing = RestError::Status {
            service: "Azure",
            status: 404,
            code: "ResourceNotFound".into(),
            message: "gone".into(),
            retry_after: None,
        };
        assert!(matches!(
            missing.about("pipeline", "p", ""),
            BackendError::NotFound { .. }
        ));
        let throttled = RestError::Status {
            service: "Azure",
            status: 429,
            code: "TooManyRequests".into(),
            message: String::new(),
            retry_after: Some(Duration::from_secs(40)),
        };
        assert!(
            throttled
                .about("x", "y", "")
                .to_string()
                .contains("try again in 40s")
        );
    }
}
