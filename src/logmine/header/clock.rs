//! Reading a timestamp at a given byte offset, in one of a few layouts.
//!
//! [`Layout::Text`] is what the generic reader understands on any line:
//! numeric dates (`2026-11-23`, `2026/11/23`, `2005.06.03`, `26/11/23`) or
//! month names (`Nov 23`, `Sun Dec 04`) followed by a clock. The others are
//! only tried at a position a file's first lines showed to hold a timestamp
//! (see `shape`): on a lone line, `081109 203615` or `1117838570` are as
//! likely a count as a time.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::model::log::LogLevel;

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Date then clock, with separators: see the module comment.
    Text,
    /// Digits only: `yymmdd hhmmss`, `yyyymmdd hhmmss`, `yyyymmddThhmmss`.
    Compact,
    /// Seconds (9–10 digits, optional fraction), milliseconds (13),
    /// microseconds (16) or nanoseconds (19) since 1970.
    Epoch,
    /// A one-letter level glued to `mmdd`, then a clock (`I0301 12:00:00.123456`,
    /// glog and klog); the year comes from the caller.
    LetterMonthDay,
    /// Day, month (number or name), four-digit year: `23/11/2026 02:03:04`,
    /// the common log format's `10/Oct/2000:13:55:36 -0700`.
    DayFirst,
    /// Month, day, four-digit year: `11/23/2026 02:03:04`.
    MonthFirst,
}

impl Layout {
    /// In order of preference when two read the same lines equally well.
    pub const ALL: [Layout; 6] = [
        Layout::Text,
        Layout::Compact,
        Layout::Epoch,
        Layout::LetterMonthDay,
        Layout::DayFirst,
        Layout::MonthFirst,
    ];
}

/// A timestamp read from a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    /// Byte offset just past it (and past a closing bracket it opened).
    pub end: usize,
    /// A level written inside the timestamp (glog's leading letter).
    pub level: Option<LogLevel>,
}

/// Epoch readings outside these years are taken for something else (an id,
/// a byte count).
const EPOCH_YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// Reads a timestamp in `layout` starting exactly at byte `start`. `year`
/// completes dates that carry none. Never panics, whatever the input.
pub fn read_at(line: &str, start: usize, layout: Layout, year: i32) -> Option<Stamp> {
    let mut c = Cursor {
        b: line.as_bytes(),
        i: start,
    };
    if start > c.b.len() {
        return None;
    }
    let (at, level) = match layout {
        Layout::Text => (text(&mut c, year)?, None),
        Layout::Compact => (compact(&mut c)?, None),
        Layout::Epoch => (epoch(&mut c)?, None),
        Layout::LetterMonthDay => letter_month_day(&mut c, year)?,
        Layout::DayFirst => (date_and_clock(&mut c, |c| day_month_year(c, false))?, None),
        Layout::MonthFirst => (date_and_clock(&mut c, |c| day_month_year(c, true))?, None),
    };
    Some(Stamp {
        at,
        end: c.i,
        level,
    })
}

/// A byte cursor over the line.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// `min..=max` digits as a number (at most 9, so it fits).
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let max = max.min(9);
        let mut n: u32 = 0;
        while self.i - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            n = n * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(n)
    }

    fn byte(&mut self, allowed: &[u8]) -> Option<u8> {
        let c = self.peek()?;
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

    /// The token ends here (end of line, whitespace, or punctuation that
    /// closes a field).
    fn at_token_end(&self) -> bool {
        self.peek()
            .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b']' | b')' | b',' | b';'))
    }

    /// Runs `f`; rewinds when it fails.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let start = self.i;
        let out = f(self);
        if out.is_none() {
            self.i = start;
        }
        out
    }
}

/// Two-digit years pivot the way POSIX `strptime` does: 69–99 are 19yy,
/// 00–68 are 20yy.
fn full_year(two_digits: u32) -> u32 {
    if two_digits >= 69 {
        1900 + two_digits
    } else {
        2000 + two_digits
    }
}

fn ymd(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// The generic layout; see the module comment.
fn text(c: &mut Cursor<'_>, year: i32) -> Option<DateTime<Utc>> {
    date_and_clock(c, |c| match c.attempt(numeric_date) {
        Some(date) => Some((date, false)),
        None => Some((c.attempt(|c| month_name_date(c, year))?, true)),
    })
}

/// An optional bracket, the date `date` reads (and whether its year may
/// follow the clock), a separator, the clock, a zone.
fn date_and_clock(
    c: &mut Cursor<'_>,
    date: impl FnOnce(&mut Cursor<'_>) -> Option<(NaiveDate, bool)>,
) -> Option<DateTime<Utc>> {
    let bracket = c.byte(b"[(").is_some();
    let (mut date, named) = date(c)?;
    // `2026-11-23T02:03:04`, `2026-11-23 02:03:04`, Airflow's `2026-11-23, 02:03:04`,
    // `2005-06-03-15.42.50`, `2024/03/01-12:00:00`, `2017-05-16_13:53:08`,
    // the common log format's `10/Oct/2000:13:55:36`.
    if c.byte(b",").is_some() {
        c.skip_spaces();
    } else if c.byte(b"T-_:").is_none() {
        if c.peek() != Some(b' ') {
            return None;
        }
        c.skip_spaces();
    }
    let time = clock_time(c)?;
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
    let at = with_zone(c, NaiveDateTime::new(date, time))?;
    if bracket {
        c.skip_spaces();
        c.byte(b"])");
    }
    Some(at)
}

/// `2026-11-23`, `2026/11/23`, `2005.06.03`, `26/11/23` (Spark's two-digit year).
fn numeric_date(c: &mut Cursor<'_>) -> Option<NaiveDate> {
    let first_start = c.i;
    let y = c.digits(2, 4)?;
    let year = match c.i - first_start {
        2 => full_year(y),
        4 => y,
        _ => return None,
    };
    let sep = c.byte(b"-/.")?;
    let m = c.digits(1, 2)?;
    c.byte(&[sep])?;
    let d = c.digits(1, 2)?;
    ymd(year, m, d)
}

/// `23/11/2026`, `23.11.2026`, `10/Oct/2000`; month first when `month_first`.
fn day_month_year(c: &mut Cursor<'_>, month_first: bool) -> Option<(NaiveDate, bool)> {
    let a = c.digits(1, 2)?;
    let sep = c.byte(b"/.-")?;
    let b = match month_name(c) {
        Some(month) if !month_first => month,
        Some(_) => return None,
        None => c.digits(1, 2)?,
    };
    c.byte(&[sep])?;
    let start = c.i;
    let y = c.digits(4, 4)?;
    if c.i - start != 4 || c.peek().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let (month, day) = if month_first { (a, b) } else { (b, a) };
    Some((ymd(y, month, day)?, false))
}

/// `Jan` … `Dec` as 1 … 12.
fn month_name(c: &mut Cursor<'_>) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let rest = c.b.get(c.i..)?;
    let month = MONTHS.iter().position(|m| rest.starts_with(m))?;
    c.i += 3;
    u32::try_from(month + 1).ok()
}

/// Syslog's `Nov 23` (the year comes from `year`), perhaps after a weekday
/// (`Sun Dec 04`).
fn month_name_date(c: &mut Cursor<'_>, year: i32) -> Option<NaiveDate> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let rest = c.b.get(c.i..)?;
    if rest.len() > 4 && DAYS.iter().any(|d| rest.starts_with(d)) && rest[3] == b' ' {
        c.i += 4;
    }
    let month = month_name(c)?;
    if c.peek() != Some(b' ') {
        return None;
    }
    c.skip_spaces();
    let day = c.digits(1, 2)?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// `02:03:04` or `15.42.50`, with an optional `.123` / `,123` fraction.
fn clock_time(c: &mut Cursor<'_>) -> Option<NaiveTime> {
    let start = c.i;
    let h = c.digits(1, 2)?;
    let sep = c.byte(b":.")?;
    // `3.14.15` after a date is more likely a version than a time.
    if sep == b'.' && c.i - start != 3 {
        return None;
    }
    let m = c.digits(2, 2)?;
    c.byte(&[sep])?;
    let s = c.digits(2, 2)?;
    let nanos = fraction(c)?;
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}

/// An optional `.123` / `,123456` after seconds, as nanoseconds.
fn fraction(c: &mut Cursor<'_>) -> Option<u32> {
    let at = c.i;
    if c.byte(b".,").is_none() {
        return Some(0);
    }
    let start = c.i;
    let Some(digits) = c.digits(1, 9) else {
        // A full stop or comma after the time belongs to the text.
        c.i = at;
        return Some(0);
    };
    // Finer digits than nanoseconds are read and dropped.
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
    }
    let len = u32::try_from((c.i - start).min(9)).ok()?;
    Some(digits * 10u32.pow(9 - len))
}

/// Applies a zone written after the time (`Z`, `+01:00`, `-0500`, ` UTC`);
/// none means UTC.
fn with_zone(c: &mut Cursor<'_>, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone(c) {
        Some(offset) => Some(offset.from_local_datetime(&naive).single()?.to_utc()),
        None => Some(naive.and_utc()),
    }
}

fn zone(c: &mut Cursor<'_>) -> Option<FixedOffset> {
    if c.byte(b"Z").is_some() {
        return FixedOffset::east_opt(0);
    }
    if c.b.get(c.i..).is_some_and(|rest| rest.starts_with(b" UTC")) {
        c.i += 4;
        return FixedOffset::east_opt(0);
    }
    c.attempt(|c| {
        // `… 13:55:36 -0700` (common log format): only a whole `±hhmm` token.
        let spaced = c.byte(b" ").is_some();
        let sign = c.byte(b"+-")?;
        let h = i32::try_from(c.digits(2, 2)?).ok()?;
        c.byte(b":");
        let m = i32::try_from(c.digits(2, 2)?).ok()?;
        if spaced && !c.at_token_end() {
            return None;
        }
        let secs = (h * 60 + m) * 60;
        FixedOffset::east_opt(if sign == b'-' { -secs } else { secs })
    })
}

/// `081109 203615`, `20240301 120000.5`, `20240301T120000Z`.
fn compact(c: &mut Cursor<'_>) -> Option<DateTime<Utc>> {
    let start = c.i;
    let date_digits = c.digits(6, 8)?;
    let date = match c.i - start {
        6 => ymd(
            full_year(date_digits / 10_000),
            date_digits / 100 % 100,
            date_digits % 100,
        )?,
        8 => ymd(
            date_digits / 10_000,
            date_digits / 100 % 100,
            date_digits % 100,
        )?,
        _ => return None,
    };
    if c.byte(b"T").is_none() {
        if c.peek() != Some(b' ') {
            return None;
        }
        c.skip_spaces();
    }
    let time_start = c.i;
    let hms = c.digits(6, 6)?;
    if c.i - time_start != 6 || c.peek().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = fraction(c)?;
    let time = NaiveTime::from_hms_nano_opt(hms / 10_000, hms / 100 % 100, hms % 100, nanos)?;
    let at = with_zone(c, NaiveDateTime::new(date, time))?;
    c.at_token_end().then_some(at)
}

/// Seconds, milliseconds, microseconds or nanoseconds since 1970, told
/// apart by their digit count.
fn epoch(c: &mut Cursor<'_>) -> Option<DateTime<Utc>> {
    let start = c.i;
    let mut value: i64 = 0;
    while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
        if c.i - start >= 19 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        c.i += 1;
    }
    let (secs, nanos) = match c.i - start {
        9 | 10 => (value, fraction(c)?),
        13 => (
            value / 1_000,
            u32::try_from(value % 1_000).ok()? * 1_000_000,
        ),
        16 => (
            value / 1_000_000,
            u32::try_from(value % 1_000_000).ok()? * 1_000,
        ),
        19 => (
            value / 1_000_000_000,
            u32::try_from(value % 1_000_000_000).ok()?,
        ),
        _ => return None,
    };
    let at = DateTime::from_timestamp(secs, nanos)?;
    (c.at_token_end() && EPOCH_YEARS.contains(&at.year())).then_some(at)
}

/// glog's `I0301 12:00:00.123456`: level letter, month, day, clock.
fn letter_month_day(c: &mut Cursor<'_>, year: i32) -> Option<(DateTime<Utc>, Option<LogLevel>)> {
    let letter = c.peek().filter(u8::is_ascii_uppercase)?;
    let level = LogLevel::parse(char::from(letter).encode_utf8(&mut [0; 4]))?;
    c.i += 1;
    let start = c.i;
    let md = c.digits(4, 4)?;
    if c.i - start != 4 || c.peek() != Some(b' ') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, md / 100, md % 100)?;
    c.skip_spaces();
    let time = clock_time(c)?;
    let at = with_zone(c, NaiveDateTime::new(date, time))?;
    Some((at, Some(level)))
}
