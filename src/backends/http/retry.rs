//! When a failed read is sent again: the policy, and the wait before each
//! retry (the server's `Retry-After` when it gives one, else our backoff).
//! Actions are never retried; that is decided in the client.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::RestError;
use crate::support::retry::backoff;

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

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0 first) of a read that
    /// failed with `error`, or `None` to give up. Our own backoff never grows
    /// past `max_wait`, the longest the policy is willing to wait.
    pub(super) fn wait_before_retry(&self, error: &RestError, retry: u32) -> Option<Duration> {
        if retry >= self.retries {
            return None;
        }
        let backoff = backoff(self.base_delay, retry, self.max_wait);
        match error {
            RestError::Status {
                status: 429 | 500 | 502 | 503 | 504,
                retry_after,
                ..
            } => {
                let wait = retry_after.unwrap_or(backoff);
                (wait <= self.max_wait).then_some(wait)
            }
            RestError::Transport { .. } => Some(backoff),
            _ => None,
        }
    }
}

/// How long an answer asks us to wait, as of now (see
/// [`crate::support::retry::retry_after`] for the headers read).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    crate::support::retry::retry_after(headers, chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Before the shared parser the REST client read only `x-ms-retry-after-ms`
    /// in milliseconds; Azure OpenAI and others send `retry-after-ms`.
    #[test]
    fn retry_after_reads_retry_after_ms_first() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        headers.insert("x-ms-retry-after-ms", "1500".parse().unwrap());
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut alone = HeaderMap::new();
        alone.insert("retry-after-ms", "40".parse().unwrap());
        assert_eq!(retry_after(&alone), Some(Duration::from_millis(40)));
    }

    fn status(code: u16, retry_after: Option<Duration>) -> RestError {
        RestError::Status {
            service: "Azure",
            status: code,
            code: String::new(),
            message: String::new(),
            retry_after,
        }
    }

    fn transport() -> RestError {
        RestError::Transport {
            service: "Azure",
            message: "reset".into(),
            maybe_sent: true,
        }
    }

    #[test]
    fn reads_back_off_doubling_and_honour_retry_after_within_max_wait() {
        let policy = RetryPolicy::default();
        let waits: Vec<_> = (0..4)
            .map(|retry| policy.wait_before_retry(&transport(), retry))
            .collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(waits, [ms(500), ms(1_000), ms(2_000), None]);
        assert_eq!(policy.wait_before_retry(&status(503, None), 1), ms(1_000));
        let asked = Some(Duration::from_secs(12));
        assert_eq!(policy.wait_before_retry(&status(429, asked), 0), asked);
        let too_long = Some(Duration::from_secs(31));
        assert_eq!(policy.wait_before_retry(&status(429, too_long), 0), None);
        assert_eq!(policy.wait_before_retry(&status(404, None), 0), None);
        assert_eq!(policy.wait_before_retry(&status(501, None), 0), None);
    }

    #[test]
    fn a_generous_policy_never_backs_off_past_max_wait() {
        let policy = RetryPolicy {
            retries: u32::MAX,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
        };
        for retry in [3, 40, 1_000] {
            assert_eq!(
                policy.wait_before_retry(&transport(), retry),
                Some(Duration::from_secs(5))
            );
            assert_eq!(
                policy.wait_before_retry(&status(500, None), retry),
                Some(Duration::from_secs(5))
            );
        }
    }
}
