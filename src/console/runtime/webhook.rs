//! Notifications to a webhook (Teams, Slack, or any URL taking JSON) besides
//! the terminal. The console must never wait on it: [`Webhook::send`] only
//! queues (a bounded queue; when it is full the new notification is dropped
//! and counted), one background task posts, each post has a total deadline,
//! a busy receiver gets at most one retry, and quitting waits a bounded time.
//!
//! The URL is the credential (Slack's and Teams' URLs carry their token), so
//! it is read from the environment only and never written anywhere: logs and
//! errors name it as "the webhook (VARIABLE)".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::{WebhookKind, WebhookSettings};
use crate::support::retry;

/// Longest title and body sent, in characters (after redaction).
const TITLE_CHARS: usize = 200;
const BODY_CHARS: usize = 2_000;
/// Longest URL accepted from the environment.
const MAX_URL_BYTES: usize = 2_048;

/// How patient the sink is; tests shorten these.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Notifications waiting to be posted; more are dropped.
    pub queue: usize,
    /// One post, from connecting to the end of the answer.
    pub post: Duration,
    /// The longest wait before the one retry, whatever `Retry-After` asks.
    pub retry_wait: Duration,
    /// How long quitting waits for notifications still queued.
    pub shutdown: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            queue: 64,
            post: Duration::from_secs(5),
            retry_wait: Duration::from_secs(5),
            shutdown: Duration::from_secs(1),
        }
    }
}

/// Where posts go: the URL, and the name it is known by in logs and errors.
struct Target {
    kind: WebhookKind,
    url: reqwest::Url,
    label: String,
}

struct Note {
    title: String,
    body: String,
    at: DateTime<Utc>,
}

/// A running sink. Dropping it lets the task finish the queue on its own;
/// [`Webhook::shutdown`] bounds that.
pub struct Webhook {
    queue: mpsc::Sender<Note>,
    dropped: Arc<AtomicU64>,
    worker: JoinHandle<()>,
    label: String,
    shutdown_limit: Duration,
}

/// The sink `[webhook]` asks for, with its URL from the environment; `None`
/// when none is configured. Must run inside a Tokio runtime.
pub fn from_settings(
    settings: Option<&WebhookSettings>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Webhook>, String> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let label = label(&settings.url_env);
    let raw = env(&settings.url_env).unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(format!(
            "{label} is configured in config.toml but {} is not set; \
             set it to the webhook's URL, or remove [webhook]",
            settings.url_env
        ));
    }
    let url = parse_url(raw.trim(), &label)?;
    Webhook::start(settings.kind, url, label, Limits::default()).map(Some)
}

/// How the URL is named wherever the URL itself must not appear.
fn label(url_env: &str) -> String {
    format!("the webhook ({url_env})")
}

/// An http(s) URL with a host. Errors never quote it: it is the secret.
fn parse_url(raw: &str, label: &str) -> Result<reqwest::Url, String> {
    if raw.len() > MAX_URL_BYTES {
        return Err(format!(
            "{label}: the URL is longer than {MAX_URL_BYTES} bytes; check the variable"
        ));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|e| format!("{label}: not a URL ({e}); set it to the webhook's https:// URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!(
            "{label}: not an http(s) URL with a host; set it to the webhook's https:// URL"
        ));
    }
    Ok(url)
}

impl Webhook {
    /// Starts the posting task. Must run inside a Tokio runtime.
    pub fn start(
        kind: WebhookKind,
        url: reqwest::Url,
        label: String,
        limits: Limits,
    ) -> Result<Webhook, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(limits.post)
            .timeout(limits.post)
            // A redirect would send the notification somewhere not configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("{label}: cannot build the HTTP client: {}", e.without_url()))?;
        let (queue, inbox) = mpsc::channel(limits.queue.max(1));
        let target = Target { kind, url, label };
        let label = target.label.clone();
        let worker = tokio::spawn(post_all(client, target, limits, inbox));
        Ok(Webhook {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            worker,
            label,
            shutdown_limit: limits.shutdown,
        })
    }

    /// Queues a notification and returns at once; false when the queue was
    /// full (or the task gone) and it was dropped.
    pub fn send(&self, title: &str, body: &str) -> bool {
        let note = Note {
            title: title.to_string(),
            body: body.to_string(),
            at: Utc::now(),
        };
        if self.queue.try_send(note).is_ok() {
            return true;
        }
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // A storm of notifications must not become a storm of log lines.
        if dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "{}: the queue is full (the receiver is slow or down); dropped a notification",
                self.label
            );
        }
        false
    }

    /// Notifications dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lets queued notifications go for at most the shutdown limit, then
    /// abandons the rest: a stuck receiver does not hold the console open.
    pub async fn shutdown(self) {
        let Webhook {
            queue,
            dropped,
            mut worker,
            label,
            shutdown_limit,
        } = self;
        drop(queue);
        if tokio::time::timeout(shutdown_limit, &mut worker)
            .await
            .is_err()
        {
            worker.abort();
            tracing::warn!(
                "{label}: notifications still queued after {shutdown_limit:?} were abandoned"
            );
        }
        let dropped = dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "{label}: notifications dropped this session");
        }
    }
}

/// The task: posts each queued notification in turn until the queue closes.
async fn post_all(
    client: reqwest::Client,
    target: Target,
    limits: Limits,
    mut inbox: mpsc::Receiver<Note>,
) {
    while let Some(note) = inbox.recv().await {
        let body = payload(target.kind, &note);
        match deliver(&client, &target, &body, &limits).await {
            Ok(()) => tracing::debug!("{}: notification delivered", target.label),
            Err(reason) => tracing::warn!("{reason}"),
        }
    }
}

/// One post, and one retry if the receiver says it is busy (429, 5xx).
async fn deliver(
    client: &reqwest::Client,
    target: &Target,
    body: &Value,
    limits: &Limits,
) -> Result<(), String> {
    match post(client, target, body, limits).await? {
        Outcome::Delivered => Ok(()),
        Outcome::Refused(status) => Err(format!(
            "{}: the receiver refused the notification ({status}); not retried",
            target.label
        )),
        Outcome::Busy(status, asked) => {
            let wait = asked
                .unwrap_or_else(|| retry::backoff(Duration::from_millis(500), 0, limits.retry_wait))
                .min(limits.retry_wait);
            tracing::info!(
                "{}: the receiver is busy ({status}); retrying once in {wait:?}",
                target.label
            );
            tokio::time::sleep(wait).await;
            match post(client, target, body, limits).await? {
                Outcome::Delivered => Ok(()),
                Outcome::Refused(status) | Outcome::Busy(status, _) => Err(format!(
                    "{}: the receiver answered {status} twice; the notification was dropped",
                    target.label
                )),
            }
        }
    }
}

enum Outcome {
    Delivered,
    Refused(StatusCode),
    Busy(StatusCode, Option<Duration>),
}

async fn post(
    client: &reqwest::Client,
    target: &Target,
    body: &Value,
    limits: &Limits,
) -> Result<Outcome, String> {
    let request = client.post(target.url.clone()).json(body).send();
    // The client's own timeout covers the request; this one also bounds
    // anything it does not (and the answer's body is never read).
    let response = match tokio::time::timeout(limits.post, request).await {
        Err(_) => {
            return Err(format!(
                "{}: no answer within {:?}",
                target.label, limits.post
            ));
        }
        Ok(Err(e)) => return Err(describe(target, e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    Ok(if status.is_success() {
        Outcome::Delivered
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Outcome::Busy(status, retry::retry_after(response.headers(), Utc::now()))
    } else {
        Outcome::Refused(status)
    })
}

/// A transport error without the URL reqwest would quote in it.
fn describe(target: &Target, error: reqwest::Error) -> String {
    let error = error.without_url();
    let what = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        // Nothing in the chain should quote the URL; if something does, it goes.
        let text = text.replace(target.url.as_str(), "(the URL)");
        crate::support::terminal::for_screen(&text).into_owned()
    };
    format!("{}: {what}; the notification was dropped", target.label)
}

/// Text from runs on its way out: secrets redacted, control characters made
/// visible, and clipped (redaction first, so a cut cannot expose a secret).
fn clean(text: &str, max_chars: usize) -> String {
    crate::support::text::clip(&crate::support::terminal::for_screen(text), max_chars)
}

/// The JSON each kind of receiver expects.
fn payload(kind: WebhookKind, note: &Note) -> Value {
    let title = clean(&note.title, TITLE_CHARS);
    let body = clean(&note.body, BODY_CHARS);
    match kind {
        // Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as an
        // entity; its docs ask for these three escaped in `text`.
        WebhookKind::Slack => json!({
            "text": format!("*{}*\n{}", slack_escape(&title), slack_escape(&body)),
        }),
        // Microsoft's documented shape for an Adaptive Card to an incoming webhook.
        WebhookKind::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true},
                        {"type": "TextBlock", "text": body, "wrap": true},
                    ],
                },
            }],
        }),
        WebhookKind::Json => json!({
            "source": "opsdeck",
            "title": title,
            "body": body,
            "at": note.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    }
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
