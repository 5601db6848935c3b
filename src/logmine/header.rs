//! Finding the timestamp and level at the start of a raw log line.
//!
//! Files handed to `opsdeck logs summarize` come from anywhere: Python
//! logging, log4j, Spark, Airflow task logs, syslog. Rather than one regex per
//! format, the header is read generically: an optional bracket, a date and
//! time in one of the common layouts, then a level word among the next few
//! tokens. What follows the level (or the timestamp, when there is no level)
//! is the message the miner sees.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::model::log::LogLevel;

/// What the start of a line says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub timestamp: Option<DateTime<Utc>>,
    pub level: Option<LogLevel>,
    /// Byte offset where the message starts.
    pub message_start: usize,
}

/// Tokens after the timestamp searched for a level (`- name - ERROR - msg`
/// puts it fourth).
const LEVEL_SEARCH_TOKENS: usize = 5;

/// Reads the header of `line`. `year` completes dates that have none
/// (syslog's `Nov 23 02:03:04`). Times without a zone are taken as UTC.
pub fn split_header(line: &str, year: i32) -> Header {
    let (timestamp, after_ts) = match leading_timestamp(line, year) {
        Some((ts, end)) => (Some(ts), end),
        None => (None, 0),
    };
    let (level, message_start) = match find_level(line, after_ts) {
        Some((level, end)) => (Some(level), end),
        None => (None, after_ts),
    };
    let rest = &line[message_start..];
    let trimmed = rest.trim_start_matches([' ', '\t', '-', ':', '|']);
    Header {
        timestamp,
        level,
        message_start: message_start + (rest.len() - trimmed.len()),
    }
}

/// A level word among the first tokens from `from`; returns it and the
/// offset just past its token.
fn find_level(line: &str, from: usize) -> Option<(LogLevel, usize)> {
    let base = line.as_ptr() as usize;
    for token in line[from..]
        .split_ascii_whitespace()
        .take(LEVEL_SEARCH_TOKENS)
    {
        // `token` is a sub-slice of `line`, so pointer difference is its offset.
        let end = token.as_ptr() as usize - base + token.len();
        let word = token
            .trim_start_matches(['[', '(', '<'])
            .trim_end_matches([']', ')', '>', ':', ',']);
        let (word, marked) = match word
            .strip_prefix("level=")
            .or_else(|| word.strip_prefix("lvl="))
        {
            Some(value) => (value, true),
            // `[error]`, `error:`: lower case counts only when set off like this.
            None => (word, word.len() < token.len()),
        };
        if let Some(level) = level_word(word, marked) {
            return Some((level, end));
        }
    }
    None
}

/// Full level names only, in upper case, or in lower case when `marked`
/// (bracketed, `error:`, `level=error`): single letters, capitalised words
/// and bare lower-case words (`connection error while…`) occur in messages
/// too often.
fn level_word(word: &str, marked: bool) -> Option<LogLevel> {
    let upper = word.bytes().all(|b| b.is_ascii_uppercase());
    let lower = marked && word.bytes().all(|b| b.is_ascii_lowercase());
    if word.len() < 3 || !(upper || lower) {
        return None;
    }
    LogLevel::parse(word)
}

/// A byte cursor over the line's start.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// Exactly `min..=max` digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut n: u32 = 0;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            n = n * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(n)
    }

    fn byte(&mut self, allowed: &[u8]) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if allowed.contains(&c) {
            self.i += 1;
            Some(c)
        } else {
            None
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
}

/// The timestamp the line starts with and the offset after it (and after a
/// closing bracket).
fn leading_timestamp(line: &str, year: i32) -> Option<(DateTime<Utc>, usize)> {
    let mut c = Cursor {
        b: line.as_bytes(),
        i: 0,
    };
    let bracket = c.byte(b"[(").is_some();
    let numeric = numeric_date(&mut c);
    let named = numeric.is_none();
    let mut date = match numeric {
        Some(date) => date,
        None => month_name_date(&mut c, year)?,
    };
    // `2026-11-23T02:03:04`, `2026-11-23 02:03:04`, Airflow's `2026-11-23, 02:03:04`.
    c.byte(b",");
    if c.byte(b"T").is_none() {
        c.skip_spaces();
    }
    let time = clock_time(&mut c)?;
    if named {
        // Apache's `Sun Dec 04 04:47:44 2005` puts the year after the time.
        let mut after = Cursor { b: c.b, i: c.i };
        if after.byte(b" ").is_some()
            && let Some(y) = after.digits(4, 4)
            && !after.peek().is_some_and(|b| b.is_ascii_digit())
            && let Some(with_year) = i32::try_from(y).ok().and_then(|y| date.with_year(y))
        {
            date = with_year;
            c.i = after.i;
        }
    }
    let offset = zone(&mut c);
    let naive = NaiveDateTime::new(date, time);
    let utc = match offset {
        Some(offset) => offset.from_local_datetime(&naive).single()?.to_utc(),
        None => naive.and_utc(),
    };
    if bracket {
        c.skip_spaces();
        c.byte(b"])");
    }
    Some((utc, c.i))
}

/// `2026-11-23`, `2026/11/23`, `26/11/23` (Spark's two-digit year).
fn numeric_date(c: &mut Cursor<'_>) -> Option<NaiveDate> {
    let start = c.i;
    let parsed = (|| {
        let first_start = c.i;
        let y = c.digits(2, 4)?;
        let year_len = c.i - first_start;
        if year_len == 3 {
            return None;
        }
        let sep = c.byte(b"-/")?;
        let m = c.digits(1, 2)?;
        c.byte(&[sep])?;
        let d = c.digits(1, 2)?;
        let year = if year_len == 2 { 2000 + y } else { y };
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, m, d)
    })();
    if parsed.is_none() {
        c.i = start;
    }
    parsed
}

/// Syslog's `Nov 23` (the year comes from `year`), perhaps after a weekday
/// (`Sun Dec 04`).
fn month_name_date(c: &mut Cursor<'_>, year: i32) -> Option<NaiveDate> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let start = c.i;
    let rest = &c.b[c.i..];
    if rest.len() > 4 && DAYS.iter().any(|d| rest.starts_with(d)) && rest[3] == b' ' {
        c.i += 4;
    }
    let rest = &c.b[c.i..];
    let Some(month) = MONTHS.iter().position(|m| rest.starts_with(m)) else {
        c.i = start;
        return None;
    };
    c.i += 3;
    c.skip_spaces();
    let day = c.digits(1, 2);
    let date = day.and_then(|d| NaiveDate::from_ymd_opt(year, u32::try_from(month + 1).ok()?, d));
    if date.is_none() {
        c.i = start;
    }
    date
}

/// `02:03:04`, with an optional `.123` / `,123` fraction.
fn clock_time(c: &mut Cursor<'_>) -> Option<NaiveTime> {
    let h = c.digits(1, 2)?;
    c.byte(b":")?;
    let m = c.digits(2, 2)?;
    c.byte(b":")?;
    let s = c.digits(2, 2)?;
    let mut nanos = 0;
    if c.byte(b".,").is_some() {
        let start = c.i;
        let fraction = c.digits(1, 9)?;
        let len = u32::try_from(c.i - start).ok()?;
        nanos = fraction * 10u32.pow(9 - len);
    }
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}

/// `Z`, `+01:00`, `-0500`, ` UTC`; `None` (meaning UTC) when absent.
fn zone(c: &mut Cursor<'_>) -> Option<FixedOffset> {
    if c.byte(b"Z").is_some() {
        return FixedOffset::east_opt(0);
    }
    if c.b[c.i..].starts_with(b" UTC") {
        c.i += 4;
        return FixedOffset::east_opt(0);
    }
    let start = c.i;
    let sign = c.byte(b"+-")?;
    let parsed = (|| {
        let h = i32::try_from(c.digits(2, 2)?).ok()?;
        c.byte(b":");
        let m = i32::try_from(c.digits(2, 2)?).ok()?;
        let secs = (h * 60 + m) * 60;
        FixedOffset::east_opt(if sign == b'-' { -secs } else { secs })
    })();
    if parsed.is_none() {
        c.i = start;
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).ok()?.to_utc())
    }

    fn check(line: &str, ts: Option<&str>, level: Option<LogLevel>, message: &str) {
        let h = split_header(line, 2026);
        assert_eq!(h.timestamp, ts.and_then(at), "timestamp of {line:?}");
        assert_eq!(h.level, level, "level of {line:?}");
        assert_eq!(&line[h.message_start..], message, "message of {line:?}");
    }

    #[test]
    fn reads_the_common_layouts() {
        use LogLevel::*;
        check(
            "2026-11-23T02:03:04.5Z ERROR Connection to db:5432 timed out",
            Some("2026-11-23T02:03:04.5Z"),
            Some(Error),
            "Connection to db:5432 timed out",
        );
        check(
            "2026-11-23 02:03:04,123 - etl.load - WARNING - retrying",
            Some("2026-11-23T02:03:04.123Z"),
            Some(Warn),
            "retrying",
        );
        check(
            "[2026-11-23, 02:03:04 UTC] {taskinstance.py:1234} ERROR - Task failed",
            Some("2026-11-23T02:03:04Z"),
            Some(Error),
            "Task failed",
        );
        check(
            "17/06/09 20:10:40 INFO executor.Backend: Registered",
            Some("2017-06-09T20:10:40Z"),
            Some(Info),
            "executor.Backend: Registered",
        );
        check(
            "Nov 23 02:03:04 host sshd[42]: error: bad key",
            Some("2026-11-23T02:03:04Z"),
            Some(Error),
            "bad key",
        );
        check(
            "2026-11-23T03:03:04+01:00 level=error msg=boom",
            Some("2026-11-23T02:03:04Z"),
            Some(Error),
            "msg=boom",
        );
        check(
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child",
            Some("2005-12-04T04:47:44Z"),
            Some(Error),
            "mod_jk child",
        );
    }

    #[test]
    fn lines_without_a_header_keep_their_text() {
        check("ERROR: disk full", None, Some(LogLevel::Error), "disk full");
        check("just a message", None, None, "just a message");
        check(
            "  at com.Foo.bar(Foo.java:42)",
            None,
            None,
            "at com.Foo.bar(Foo.java:42)",
        );
        check("12345 rows copied", None, None, "12345 rows copied");
        check(
            "2026-13-45 99:99:99 bad date",
            None,
            None,
            "2026-13-45 99:99:99 bad date",
        );
        check("", None, None, "");
        check(
            "Error handling is fine",
            None,
            None,
            "Error handling is fine",
        );
        check(
            "2026-11-23 02:03:04 connection error while reading",
            Some("2026-11-23T02:03:04Z"),
            None,
            "connection error while reading",
        );
    }
}
