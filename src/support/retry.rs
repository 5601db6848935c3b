//! Retry timing, once for the whole crate: how long to back off before the next
//! attempt ([`backoff`]), and how long a server asked us to wait
//! ([`retry_after`]). The REST client, the LLM agent and the MCP host's
//! reconnects all use these two.
//!
//! No jitter: every caller is one process making a handful of retries to a
//! service that tells it how long to wait when it is busy (`Retry-After`), so
//! there is no herd of clients to spread out, and a fixed schedule keeps the
//! "retrying in 2.0s" the user reads true and the tests exact. If opsdeck ever
//! runs as a fleet against one service, this is the one place to add it.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::HeaderMap;

/// The longest wait a `Retry-After` is read as: a larger number (or a date
/// years away) means "not soon", and no caller waits that long anyway.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait before retry number `retry` (0 for the first retry): `first`,
/// doubled for each retry before it, never more than `cap`. Saturates instead
/// of overflowing, whatever `retry` is.
pub fn backoff(first: Duration, retry: u32, cap: Duration) -> Duration {
    let mut wait = first.min(cap);
    // At most ~95 doublings take 1 ns past any cap, so this loop is short
    // however large `retry` is.
    for _ in 0..retry {
        if wait.is_zero() || wait >= cap {
            break;
        }
        wait = wait.saturating_mul(2).min(cap);
    }
    wait
}

/// How long an answer's headers ask the client to wait, as of `now`; `None`
/// when they do not say (or say it unreadably), so the caller's own backoff
/// applies.
///
/// Read in this order, the first readable one winning: `retry-after-ms`
/// (OpenAI, Azure OpenAI) and `x-ms-retry-after-ms` (Azure) in milliseconds,
/// the more precise; then `Retry-After` (RFC 9110) as delay-seconds or as an
/// HTTP-date. A date in the past is no wait; anything longer than
/// [`MAX_RETRY_AFTER`] is that.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("retry-after-ms")
        .and_then(milliseconds)
        .or_else(|| text("x-ms-retry-after-ms").and_then(milliseconds))
        .or_else(|| text("retry-after").and_then(|v| retry_after_value(v, now)))
}

/// A `Retry-After` value: delay-seconds (a decimal fraction is accepted too,
/// as some proxies send one) or an HTTP-date, as of `now`.
pub fn retry_after_value(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Some(wait) = seconds(value) {
        return Some(wait);
    }
    let at = http_date(value)?;
    // A date already past means "now"; `to_std` refuses negative spans.
    let wait = at.signed_duration_since(now).to_std().unwrap_or_default();
    Some(wait.min(MAX_RETRY_AFTER))
}

/// `digits` milliseconds; more digits than fit are the ceiling.
fn milliseconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wait = value
        .parse::<u64>()
        .map_or(MAX_RETRY_AFTER, Duration::from_millis);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// `digits` or `digits.digits` seconds. Nothing else (signs, exponents,
/// `inf`) is a delay: a negative one is not in the grammar, and treating it
/// as "now" would retry with no pause at all.
fn seconds(value: &str) -> Option<Duration> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    // Huge but well-formed numbers parse to a huge (or infinite) float, which
    // `try_from_secs_f64` refuses: the ceiling, not a panic.
    let wait = value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(MAX_RETRY_AFTER);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP-date (RFC 9110 §5.6.7): the IMF-fixdate servers must send
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), and the two obsolete forms recipients
/// must still read, RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`). Always UTC.
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    // chrono reads a two-digit year as 1969–2068, close enough to RFC 9110's
    // "no more than 50 years ahead" for a form nobody should still send.
    const OBSOLETE: [&str; 2] = ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"];
    OBSOLETE
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("1994-11-06T08:49:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_cap() {
        let first = Duration::from_millis(500);
        let cap = Duration::from_secs(30);
        let waits: Vec<u64> = (0..8)
            .map(|retry| backoff(first, retry, cap).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
    }

    #[test]
    fn backoff_saturates_for_any_attempt_and_any_first_wait() {
        let cap = Duration::from_secs(30);
        for retry in [31, 32, 33, 63, 64, 1_000, u32::MAX] {
            assert_eq!(backoff(Duration::from_millis(1), retry, cap), cap);
        }
        // Exact doublings as far as they go, then the largest Duration, not a wrap.
        assert_eq!(
            backoff(Duration::from_nanos(1), 40, Duration::MAX),
            Duration::from_nanos(1 << 40)
        );
        assert_eq!(
            backoff(Duration::from_nanos(1), u32::MAX, Duration::MAX),
            Duration::MAX
        );
        assert_eq!(
            backoff(Duration::MAX, 3, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(backoff(Duration::ZERO, u32::MAX, cap), Duration::ZERO);
        assert_eq!(
            backoff(Duration::from_secs(1), 0, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn delay_seconds_whole_and_fractional() {
        assert_eq!(retry_after_value("7", now()), secs(7));
        assert_eq!(retry_after_value(" 0 ", now()), secs(0));
        assert_eq!(
            retry_after_value("1.5", now()),
            Some(Duration::from_millis(1_500))
        );
        assert_eq!(retry_after_value("007", now()), secs(7));
    }

    #[test]
    fn http_dates_in_all_three_forms_count_from_now() {
        // `now()` is 08:49:00 on that day; each form names 08:49:37.
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(retry_after_value(date, now()), secs(37), "{date}");
        }
    }

    #[test]
    fn past_dates_are_no_wait_and_far_ones_the_ceiling() {
        for past in [
            "Sat, 05 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:48:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            assert_eq!(retry_after_value(past, now()), Some(Duration::ZERO));
        }
        assert_eq!(
            retry_after_value("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_value("Fri, 31 Dec 9999 23:59:59 GMT", now()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn absurd_numbers_are_the_ceiling_never_a_panic() {
        let huge = "9".repeat(400);
        for value in [
            "18446744073709551616",
            "99999999999999999999999",
            huge.as_str(),
            "86401",
        ] {
            assert_eq!(
                retry_after_value(value, now()),
                Some(MAX_RETRY_AFTER),
                "{value}"
            );
            assert_eq!(
                retry_after_value(&format!("{value}.5"), now()),
                Some(MAX_RETRY_AFTER)
            );
        }
        for value in ["18446744073709551616", huge.as_str(), "86400001"] {
            assert_eq!(milliseconds(value), Some(MAX_RETRY_AFTER), "{value}");
        }
    }

    #[test]
    fn garbage_is_none() {
        for value in [
            "",
            " ",
            "soon",
            "-5",
            "+5",
            "1e3",
            "inf",
            "NaN",
            "1.",
            ".5",
            "1.2.3",
            "5 s",
            "Sun, 06 Nov 1994",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "2015-10-21T07:28:00Z",
        ] {
            assert_eq!(retry_after_value(value, now()), None, "{value:?}");
        }
        for value in ["", "-1", "1.5", "250ms", "0x10"] {
            assert_eq!(milliseconds(value), None, "{value:?}");
        }
    }

    #[test]
    fn each_header_alone() {
        let at = now();
        assert_eq!(retry_after(&headers(&[("retry-after", "7")]), at), secs(7));
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                at
            ),
            secs(37)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250")]), at),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ms-retry-after-ms", "1500")]), at),
            Some(Duration::from_millis(1_500))
        );
        assert_eq!(retry_after(&HeaderMap::new(), at), None);
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "7")]), at),
            None
        );
    }

    #[test]
    fn milliseconds_win_and_an_unreadable_header_gives_way_to_the_next() {
        let at = now();
        let all = headers(&[
            ("retry-after", "7"),
            ("x-ms-retry-after-ms", "1500"),
            ("retry-after-ms", "250"),
        ]);
        assert_eq!(retry_after(&all, at), Some(Duration::from_millis(250)));
        let azure = headers(&[("retry-after", "7"), ("x-ms-retry-after-ms", "1500")]);
        assert_eq!(retry_after(&azure, at), Some(Duration::from_millis(1_500)));
        let broken_ms = headers(&[
            ("retry-after-ms", "soon"),
            ("x-ms-retry-after-ms", "-3"),
            ("retry-after", "7"),
        ]);
        assert_eq!(retry_after(&broken_ms, at), secs(7));
        let nothing_readable = headers(&[("retry-after-ms", "x"), ("retry-after", "later")]);
        assert_eq!(retry_after(&nothing_readable, at), None);
    }

    #[test]
    fn a_header_that_is_not_text_is_unreadable() {
        let mut map = HeaderMap::new();
        map.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_bytes(b"\xff7").unwrap(),
        );
        assert_eq!(retry_after(&map, now()), None);
    }
}
