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

/// Parses `6h`, `90m`, `2d`, `1w`, `45s` (optionally with a leading `-` or `last `).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let text = raw
        .trim()
        .trim_start_matches("last")
        .trim()
        .trim_start_matches('-');
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let duration = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::try_seconds(n)?,
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::try_minutes(n)?,
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::try_hours(n)?,
        "d" | "day" | "days" => Duration::try_days(n)?,
        "w" | "week" | "weeks" => Duration::try_weeks(n)?,
        _ => return None,
    };
    Some(duration)
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
    if let Some(ago) = parse_duration(text) {
        return now
            .checked_sub_signed(ago)
            .ok_or_else(|| format!("'{raw}' reaches too far back"));
    }
    Err(format!("'{raw}' is not a time: use {TIME_FORMS}"))
}

/// A half-open window `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl TimeWindow {
    /// Builds a window from optional user arguments; `default_span` back from `now` when `since` is absent.
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
            None => until - default_span,
        };
        if since >= until {
            return Err(format!(
                "the window is empty: since ({}) is not before until ({}); use {TIME_FORMS}",
                since.to_rfc3339(),
                until.to_rfc3339()
            ));
        }
        Ok(TimeWindow { since, until })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since <= t && t < self.until
    }

    pub fn span(&self) -> Duration {
        self.until - self.since
    }

    /// The window of equal length just before this one (the baseline for "new" and "spike").
    pub fn previous(&self) -> TimeWindow {
        TimeWindow {
            since: self.since - self.span(),
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
    fn default_window_spans_back_from_now() {
        let w = TimeWindow::parse(None, None, now(), Duration::hours(24)).unwrap();
        assert_eq!(w.span(), Duration::hours(24));
        assert_eq!(w.previous().until, w.since);
    }
}
