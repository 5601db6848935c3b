//! Fabric's long-running operations (LRO), as the platform API describes
//! them: a call answers 200 with its result, or 202 with `x-ms-operation-id`,
//! `Location` (`…/v1/operations/{id}`) and `Retry-After`; the operation's
//! state (`NotStarted`, `Running`, `Succeeded`, `Failed`, `Undefined`, more may
//! come) is polled with `GET /v1/operations/{id}`, and once `Succeeded` the
//! payload is read from `GET /v1/operations/{id}/result`.
//!
//! The poll goes to our own endpoint, built from the operation's id: a
//! `Location` naming another host would carry the token there. Each wait is
//! the service's `Retry-After`, or [`OperationLimits::default_wait`] when it
//! names none, zero or a moment already past, then held between
//! [`SHORTEST_WAIT`] and [`OperationLimits::longest_wait`]: a service saying
//! "now" on every poll must not be polled back to back until the deadline.
//! The whole operation stops at [`OperationLimits::deadline`].

use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::prose::shown;
use super::settings::{FABRIC_SCOPE, is_guid};
use super::wire::failure_text;
use crate::backends::BackendError;
use crate::backends::http::{Answer, Call, RestClient, RestError, url_with};

/// The shortest wait between two polls, whatever the answer or the limits
/// say: it wins over a `longest_wait` set below it.
pub const SHORTEST_WAIT: Duration = Duration::from_secs(1);

/// How long an operation is waited for.
#[derive(Debug, Clone, Copy)]
pub struct OperationLimits {
    /// The longest single wait, whatever `Retry-After` asks (it may ask for years).
    pub longest_wait: Duration,
    /// The wait when the service names none.
    pub default_wait: Duration,
    /// The whole operation, from the first request to the result.
    pub deadline: Duration,
}

impl Default for OperationLimits {
    fn default() -> OperationLimits {
        OperationLimits {
            longest_wait: Duration::from_secs(30),
            default_wait: Duration::from_secs(2),
            deadline: Duration::from_secs(60),
        }
    }
}

/// Why an operation gave no result.
#[derive(Debug, Clone)]
pub enum OperationError {
    /// A request of it failed (the first call, a poll, the result).
    Request(RestError),
    /// The service says the operation failed, and why.
    Failed { operation: String, reason: String },
    /// Still not finished at the deadline.
    Deadline {
        operation: String,
        waited: Duration,
        last_status: String,
    },
    /// An answer the API does not document (no operation id, an unreadable state).
    Unreadable(String),
}

impl std::fmt::Display for OperationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperationError::Request(e) => write!(f, "{e}"),
            OperationError::Failed { operation, reason } => {
                write!(f, "Fabric operation {operation} failed: {reason}")
            }
            OperationError::Deadline {
                operation,
                waited,
                last_status,
            } => write!(
                f,
                "Fabric operation {operation} was still {last_status} after {:.1}s; opsdeck stopped waiting (it may still finish: ask again later)",
                waited.as_secs_f64()
            ),
            OperationError::Unreadable(m) => f.write_str(m),
        }
    }
}

impl OperationError {
    /// The error in terms of what was asked for (see [`RestError::about`]).
    pub fn about(self, what: &'static str, name: &str, role: &str) -> BackendError {
        match self {
            OperationError::Request(e) => e.about(what, name, role),
            other => BackendError::Unavailable(format!("{what} '{name}': {other}")),
        }
    }

    /// The HTTP status of a failed request, if that is what this is.
    pub fn status(&self) -> Option<u16> {
        match self {
            OperationError::Request(e) => e.status(),
            _ => None,
        }
    }
}

/// Sends `first` (a read: it may be sent again on throttling) and returns
/// its JSON result, waiting for the long-running operation when it answers 202.
pub async fn run_operation(
    client: &RestClient,
    base: &Url,
    first: &Call<'_>,
    limits: &OperationLimits,
) -> Result<Value, OperationError> {
    let started = tokio::time::Instant::now();
    let clock = Deadline {
        started,
        at: started + limits.deadline,
    };
    let answer = clock
        .send(client, first, "(not named yet)", "unanswered")
        .await?;
    if answer.status != 202 {
        return json_of(&answer.text);
    }
    let operation = operation_id(&answer.headers).ok_or_else(|| {
        OperationError::Unreadable(
            "Fabric accepted the request (202) but named no operation to follow (no x-ms-operation-id, no Location ending in /operations/{id})".into(),
        )
    })?;
    let state_url = url_with(base, &["operations", &operation], &[]);
    let mut wait = wait_of(&answer.headers, limits);
    let mut last_status = "NotStarted".to_string();
    loop {
        if tokio::time::Instant::now() + wait > clock.at {
            return Err(OperationError::Deadline {
                operation,
                waited: started.elapsed(),
                last_status,
            });
        }
        tokio::time::sleep(wait).await;
        let poll = Call::get(state_url.clone(), FABRIC_SCOPE);
        let polled = clock.send(client, &poll, &operation, &last_status).await?;
        let state = json_of(&polled.text)?;
        let status = state
            .get("status")
            .and_then(Value::as_str)
            .map(|s| shown(s, 64))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "Undefined".into());
        match status.to_ascii_lowercase().as_str() {
            "succeeded" => break,
            "failed" => {
                let reason = failure_text(state.get("error"));
                return Err(OperationError::Failed {
                    operation,
                    reason: if reason.is_empty() {
                        "no reason given".into()
                    } else {
                        reason
                    },
                });
            }
            // NotStarted, Running, Undefined and states added later: wait on.
            _ => {
                tracing::debug!(%operation, %status, "Fabric operation not finished yet");
                last_status = status;
                wait = wait_of(&polled.headers, limits);
            }
        }
    }
    let result_url = url_with(base, &["operations", &operation, "result"], &[]);
    let fetch = Call::get(result_url, FABRIC_SCOPE);
    let result = clock
        .send(client, &fetch, &operation, "Succeeded, its result unread")
        .await?;
    json_of(&result.text)
}

/// The operation's deadline, which holds for each request too: one may
/// otherwise hang until its own timeout.
struct Deadline {
    started: tokio::time::Instant,
    at: tokio::time::Instant,
}

impl Deadline {
    async fn send(
        &self,
        client: &RestClient,
        call: &Call<'_>,
        operation: &str,
        last_status: &str,
    ) -> Result<Answer, OperationError> {
        match tokio::time::timeout_at(self.at, client.send_for_answer(call, "application/json"))
            .await
        {
            Ok(answer) => answer.map_err(OperationError::Request),
            Err(_) => Err(OperationError::Deadline {
                operation: operation.to_string(),
                waited: self.started.elapsed(),
                last_status: last_status.to_string(),
            }),
        }
    }
}

/// The operation's id: `x-ms-operation-id`, else the id a `Location` ends
/// with after `/operations/`; only a GUID is taken (it goes into our URL).
fn operation_id(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(id) = header("x-ms-operation-id")
        .map(str::trim)
        .filter(|id| is_guid(id))
    {
        return Some(id.to_string());
    }
    let location = Url::parse(header("location")?).ok()?;
    let segments: Vec<&str> = location.path_segments()?.collect();
    let at = segments.iter().rposition(|s| *s == "operations")?;
    let id = segments.get(at + 1)?;
    is_guid(id).then(|| id.to_string())
}

/// The wait the answer asks for, clamped to the limits: none, zero or a date
/// already past is the default wait; never less than [`SHORTEST_WAIT`].
fn wait_of(headers: &HeaderMap, limits: &OperationLimits) -> Duration {
    let asked = crate::support::retry::retry_after(headers, chrono::Utc::now())
        .filter(|wait| !wait.is_zero())
        .unwrap_or(limits.default_wait);
    asked.min(limits.longest_wait).max(SHORTEST_WAIT)
}

fn json_of(text: &str) -> Result<Value, OperationError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| OperationError::Unreadable(format!("Fabric's answer is not JSON ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    const OP: &str = "431e8d7b-4a95-4c02-8ccd-6faef5ba1bd7";

    #[test]
    fn the_operation_is_named_by_its_header_or_its_location_and_only_as_a_guid() {
        assert_eq!(
            operation_id(&headers(&[("x-ms-operation-id", OP)])).as_deref(),
            Some(OP)
        );
        let location = format!("https://api.fabric.microsoft.com/v1/operations/{OP}");
        assert_eq!(
            operation_id(&headers(&[("location", &location)])).as_deref(),
            Some(OP)
        );
        let hostile = "https://evil.example/v1/operations/..%2F..%2Fworkspaces";
        assert_eq!(operation_id(&headers(&[("location", hostile)])), None);
        assert_eq!(
            operation_id(&headers(&[("x-ms-operation-id", "../../x")])),
            None
        );
        assert_eq!(operation_id(&HeaderMap::new()), None);
    }

    #[test]
    fn waits_honour_retry_after_within_bounds() {
        let limits = OperationLimits::default();
        assert_eq!(
            wait_of(&headers(&[("retry-after", "7")]), &limits),
            Duration::from_secs(7)
        );
        assert_eq!(
            wait_of(&headers(&[("retry-after", "1000000000000")]), &limits),
            limits.longest_wait
        );
        assert_eq!(wait_of(&HeaderMap::new(), &limits), limits.default_wait);
        assert_eq!(
            wait_of(&headers(&[("retry-after", "soon")]), &limits),
            limits.default_wait
        );
    }

    #[test]
    fn now_or_a_past_date_is_the_default_wait_and_no_wait_is_below_the_floor() {
        let limits = OperationLimits::default();
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        for now in ["0", "0.0", past] {
            assert_eq!(
                wait_of(&headers(&[("retry-after", now)]), &limits),
                limits.default_wait,
                "{now}"
            );
        }
        assert_eq!(
            wait_of(&headers(&[("retry-after-ms", "10")]), &limits),
            SHORTEST_WAIT
        );
        let eager = OperationLimits {
            longest_wait: Duration::from_millis(200),
            default_wait: Duration::ZERO,
            deadline: Duration::from_secs(3),
        };
        for asked in [headers(&[("retry-after", "0")]), HeaderMap::new()] {
            assert_eq!(wait_of(&asked, &eager), SHORTEST_WAIT);
        }
    }
}
