//! Time windows given by people and models ("6h", "2026-11-23T02:00:00Z"), and
//! the clock the estate reads — injectable so tests and replays pin it.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

/// The accepted forms, quoted in every error about a time argument.
pub const TIME_FORMS: &str = "an RFC 3339 instant such as 2026-11-23T02:00:00Z, or a duration back from now such as 30m, 6h, 2d or 1w";

/// Source of "now" for everything that depends on time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that never moves: tests and reproducible demos.
#[derive(Debug)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The longest window any tool accepts (`since` to `until`). Bounds what one
/// call can ask a backend for; the baseline window before it is as long again.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// [`MAX_WINDOW_DAYS`] as a duration (evaluated at compile time).
pub const MAX_WINDOW: Duration = Duration::days(MAX_WINDOW_DAYS);

/// Why a text is not a usable duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// Not of the form `6h`, `30m`, `2d`…
    NotADuration,
    /// Well formed, but longer than any date this server can represent.
    TooLong,
}

/// Parses `6h`, `90m`, `2d`, `1w`, `45s` (optionally with a leading `-` or `last `).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    try_parse_duration(raw).ok()
}

/// [`parse_duration`], saying whether a failure is a typo or an absurd length.
/// Never panics: every step is checked (`"99999999999999999999w"` is `TooLong`).
pub fn try_parse_duration(raw: &str) -> Result<Duration, DurationError> {
    let text = raw
        .trim()
        .trim_start_matches("last")
        .trim()
        .trim_start_matches('-');
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError::NotADuration)?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(DurationError::NotADuration);
    }
    let make: fn(i64) -> Option<Duration> = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::try_seconds,
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::try_minutes,
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::try_hours,
        "d" | "day" | "days" => Duration::try_days,
        "w" | "week" | "weeks" => Duration::try_weeks,
        _ => return Err(DurationError::NotADuration),
    };
    // Only digits are left, so a failed parse means more than i64 holds.
    let n: i64 = digits.parse().map_err(|_| DurationError::TooLong)?;
    make(n).ok_or(DurationError::TooLong)
}

/// Parses an instant: RFC 3339, or a duration meaning "that long before `now`".
pub fn parse_instant(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = raw.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let too_far = || {
        format!(
            "'{}' reaches back further than any date this server handles; windows span at most {MAX_WINDOW_DAYS} days",
            quoted(raw)
        )
    };
    match try_parse_duration(text) {
        Ok(ago) => now.checked_sub_signed(ago).ok_or_else(too_far),
        Err(DurationError::TooLong) => Err(too_far()),
        Err(DurationError::NotADuration) => {
            Err(format!("'{}' is not a time: use {TIME_FORMS}", quoted(raw)))
        }
    }
}

/// A caller's text as an error quotes it: short, whatever was sent.
fn quoted(raw: &str) -> String {
    const MAX_QUOTED_CHARS: usize = 64;
    match raw.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &raw[..cut], raw.len()),
        None => raw.to_string(),
    }
}

/// A half-open window `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl TimeWindow {
    /// Builds a window from optional user arguments; `default_span` back from `now` when `since` is absent.
    /// Refuses an empty window, and one longer than [`MAX_WINDOW_DAYS`].
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now: DateTime<Utc>,
        default_span: Duration,
    ) -> Result<TimeWindow, String> {
        let until = match until {
            Some(raw) => parse_instant(raw, now).map_err(|e| format!("until: {e}"))?,
            None => now,
        };
        let since = match since {
            Some(raw) => parse_instant(raw, now).map_err(|e| format!("since: {e}"))?,
            None => until.checked_sub_signed(default_span).ok_or_else(|| {
                format!(
                    "until ({}) leaves no room for the default window before it; give since too",
                    until.to_rfc3339()
                )
            })?,
        };
        if since >= until {
            return Err(format!(
                "the window is empty: since ({}) is not before until ({}); use {TIME_FORMS}",
                since.to_rfc3339(),
                until.to_rfc3339()
            ));
        }
        let window = TimeWindow { since, until };
        if window.span() > MAX_WINDOW {
            return Err(format!(
                "the window from {} to {} spans {} days; windows span at most {MAX_WINDOW_DAYS} days: narrow since/until (e.g. since=7d)",
                since.to_rfc3339(),
                until.to_rfc3339(),
                window.span().num_days()
            ));
        }
        Ok(window)
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since <= t && t < self.until
    }

    /// How long the window is. (A difference of two instants always fits a
    /// `Duration`, so this cannot overflow.)
    pub fn span(&self) -> Duration {
        self.until.signed_duration_since(self.since)
    }

    /// The window of equal length just before this one (the baseline for "new"
    /// and "spike"), cut at the earliest representable instant.
    pub fn previous(&self) -> TimeWindow {
        TimeWindow {
            since: self
                .since
                .checked_sub_signed(self.span())
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            until: self.since,
        }
    }
}

/// An instant as services write it (ADF, Airflow, Log Analytics): RFC 3339
/// with up to 7 fractional digits, now and then without an offset (then UTC).
pub fn parse_service_instant(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn relative_durations_count_back_from_now() {
        assert_eq!(
            parse_instant("6h", now()).unwrap(),
            now() - Duration::hours(6)
        );
        assert_eq!(
            parse_instant("last 30m", now()).unwrap(),
            now() - Duration::minutes(30)
        );
        assert_eq!(
            parse_instant("2d", now()).unwrap(),
            now() - Duration::days(2)
        );
    }

    #[test]
    fn rfc3339_instants_are_accepted_in_any_offset() {
        let t = parse_instant("2026-11-23T04:00:00+01:00", now()).unwrap();
        assert_eq!(t, now());
    }

    #[test]
    fn garbage_says_which_forms_are_accepted() {
        let err = parse_instant("yesterday-ish", now()).unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("6h"), "{err}");
    }

    #[test]
    fn inverted_window_is_rejected_with_both_ends() {
        let err =
            TimeWindow::parse(Some("1h"), Some("2h"), now(), Duration::hours(24)).unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn absurd_durations_are_refused_without_panicking() {
        for raw in [
            "7000000w",
            "100000000w",
            "99999999999999999999w",
            "9223372036854775807s",
        ] {
            let err = TimeWindow::parse(Some(raw), None, now(), Duration::hours(6)).unwrap_err();
            assert!(err.contains("90 days"), "{raw}: {err}");
        }
        assert_eq!(
            try_parse_duration("99999999999999999999w"),
            Err(DurationError::TooLong)
        );
        assert_eq!(try_parse_duration("w"), Err(DurationError::NotADuration));
    }

    #[test]
    fn windows_longer_than_the_maximum_name_it() {
        let err = TimeWindow::parse(Some("100000w"), None, now(), Duration::hours(6)).unwrap_err();
        assert!(
            err.contains("spans 700000 days") && err.contains("at most 90 days"),
            "{err}"
        );
        let ok = TimeWindow::parse(Some("90d"), None, now(), Duration::hours(6)).unwrap();
        assert_eq!(ok.span(), MAX_WINDOW);
        let err = TimeWindow::parse(Some("91d"), None, now(), Duration::hours(6)).unwrap_err();
        assert!(err.contains("at most 90 days"), "{err}");
    }

    #[test]
    fn errors_quote_a_huge_argument_clipped() {
        let huge = "x".repeat(1 << 20);
        let err = parse_instant(&huge, now()).unwrap_err();
        assert!(err.len() < 400, "{} bytes", err.len());
        assert!(err.contains("1048576 bytes"), "{err}");
    }

    #[test]
    fn previous_window_stops_at_the_earliest_instant() {
        let w = TimeWindow {
            since: DateTime::<Utc>::MIN_UTC + Duration::days(1),
            until: DateTime::<Utc>::MIN_UTC + Duration::days(3),
        };
        assert_eq!(w.previous().since, DateTime::<Utc>::MIN_UTC);
        assert_eq!(w.previous().until, w.since);
    }

    #[test]
    fn default_window_spans_back_from_now() {
        let w = TimeWindow::parse(None, None, now(), Duration::hours(24)).unwrap();
        assert_eq!(w.span(), Duration::hours(24));
        assert_eq!(w.previous().until, w.since);
    }
}
