//! Application log files in the common "timestamp level message" shape
//! (`2026-01-14T00:12:14.000Z INFO  component: message`, or with a space instead
//! of the `T` and a comma before the milliseconds, as log4j and Python write).
//! A line that does not start with a timestamp continues the event before it, so
//! a stack trace stays one event.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::model::log::{LogLevel, LogLine};

/// Every event of a log file, oldest first as written. Text before the first
/// timestamped line cannot be dated and is dropped.
pub fn parse_log_text(source: &str, text: &str) -> Vec<LogLine> {
    let mut events: Vec<LogLine> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        match split_header(line) {
            Some((timestamp, level, message)) => events.push(LogLine {
                timestamp,
                level,
                source: source.to_string(),
                pipeline: None,
                run_id: None,
                activity: None,
                message: message.to_string(),
            }),
            None => {
                if let Some(last) = events.last_mut() {
                    last.message.push('\n');
                    last.message.push_str(line);
                }
            }
        }
    }
    events
}

fn split_header(line: &str) -> Option<(DateTime<Utc>, LogLevel, &str)> {
    let (stamp, rest) = take_timestamp(line)?;
    let rest = rest.trim_start();
    let (first, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let token = first.trim_matches(|c| c == '[' || c == ']' || c == ':');
    match LogLevel::parse(token) {
        Some(level) => Some((stamp, level, after.trim_start())),
        None => Some((stamp, LogLevel::Info, rest)),
    }
}

fn take_timestamp(line: &str) -> Option<(DateTime<Utc>, &str)> {
    let (first, rest) = line.split_once(' ')?;
    if let Ok(t) = DateTime::parse_from_rfc3339(first) {
        return Some((t.with_timezone(&Utc), rest));
    }
    // "2026-01-14 00:12:14,123 LEVEL …": date and time are two tokens.
    let (time, rest) = rest.split_once(' ')?;
    let joined = format!("{first} {}", time.replace(',', "."));
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&joined, format).ok())
        .map(|naive| (naive.and_utc(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_log4j_styles_parse_with_levels() {
        let text = "2026-01-14T00:12:14.000Z INFO  optimize: done\n2026-01-14 00:13:15,250 [WARN] slow\n2026-01-14 00:14:00 no level here\n";
        let events = parse_log_text("app/x", text);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].level, LogLevel::Info);
        assert_eq!(events[0].message, "optimize: done");
        assert_eq!(events[1].level, LogLevel::Warn);
        assert_eq!(
            events[1].timestamp.to_rfc3339(),
            "2026-01-14T00:13:15.250+00:00"
        );
        assert_eq!(events[2].message, "no level here");
    }

    #[test]
    fn a_traceback_stays_one_event() {
        let text = "2026-01-14T17:18:00.000Z ERROR main: failed\nTraceback (most recent call last):\n  File \"a.py\", line 1, in f\nTimeoutError: x\n2026-01-14T17:19:00.000Z INFO next\n";
        let events = parse_log_text("app/x", text);
        assert_eq!(events.len(), 2);
        assert!(events[0].message.ends_with("TimeoutError: x"));
        assert_eq!(events[0].message.lines().count(), 4);
    }

    #[test]
    fn junk_before_the_first_timestamp_and_crlf_are_tolerated() {
        let events = parse_log_text(
            "app/x",
            "garbage\r\n\u{0}\u{1}\r\n2026-01-14T00:00:00Z ERROR boom\r\n",
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message, "boom");
    }
}
