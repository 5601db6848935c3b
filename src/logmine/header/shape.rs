//! Learning where a file's header fields sit from its first lines.
//!
//! Every line of one log file is written by the same format string, so its
//! header has the same fields in the same order on every line, while the
//! message after it varies. The learner looks at a bounded sample of first
//! lines and keeps what is stable:
//!
//! 1. the timestamp: the earliest slot (field) that reads as a date and
//!    time on most sample lines (at its start, or after a logfmt `key=`),
//!    in the [`Layout`] that reads most of them;
//! 2. the level: the slot holding a level word on most lines;
//! 3. the tail: up to [`MAX_TAIL`] fields after the later of the two whose
//!    kind ([`SlotClass`]) is the same on nearly every line and which end
//!    in a field that closes a header (a logger name ending in `:`, a
//!    bracket group, a separator); a logger name ends it.
//!
//! The message starts after the tail. Nothing here names a format: HDFS's
//! `081109 203615 148 INFO dfs.DataNode: msg` and glog's
//! `I0301 12:00:00.1  1234 file.go:42] msg` are both found by these rules.
//! Lines that do not fit the learned shape are read by the generic reader,
//! which also reads every line when it reads the whole sample exactly as
//! the shape does (the fast path, unchanged for files it understood).

use chrono::{DateTime, Utc};

use super::clock::{self, Layout};
use super::level::{find_level_within, level_column, level_word, syslog_priority, unwrap_level};
use super::slots::{SlotClass, Slots};
use super::{Header, split_header};
use crate::model::log::LogLevel;

/// Non-blank lines a shape is learned from.
pub const SAMPLE_LINES: usize = 50;
/// Slots searched for a timestamp or a level.
const SCAN_SLOTS: usize = 10;
/// Fields after the timestamp and level that can still be header
/// (RFC 5424 has five: host, app, pid, message id, structured data).
const MAX_TAIL: usize = 5;
/// Share of sample lines a timestamp or level position must hold on.
const FIELD_SHARE: f64 = 0.5;
/// Share of fitting lines a tail field's kind must hold on: a header field
/// is on every line, the first words of messages only on many.
const TAIL_SHARE: f64 = 0.9;
/// Distinct fitting lines needed to learn a tail: in one or two lines
/// every word is "stable", and `ERROR login failed: …` would lose its
/// first words to the header.
const MIN_TAIL_LINES: usize = 3;

/// Where a file's header fields sit; [`HeaderShape::default`] knows nothing
/// and reads every line with [`split_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderShape {
    timestamp: Option<(usize, Layout)>,
    level: Option<usize>,
    tail: [Option<SlotClass>; MAX_TAIL],
    /// The generic reader reads every sample line exactly as the shape
    /// does: it is kept as the fast path, and nothing changes for files it
    /// already understood.
    generic_agrees: bool,
}

impl HeaderShape {
    /// Learns the shape from the first [`SAMPLE_LINES`] non-blank `lines`
    /// (the rest are not looked at). `year` completes dates without one.
    pub fn learn<'a>(lines: impl IntoIterator<Item = &'a str>, year: i32) -> HeaderShape {
        let sample: Vec<&str> = lines
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .take(SAMPLE_LINES)
            .collect();
        let mut shape = HeaderShape {
            timestamp: learn_timestamp(&sample, year),
            ..HeaderShape::default()
        };
        shape.level = learn_level(&shape, &sample, year);
        if shape.is_learned() {
            shape.tail = learn_tail(&shape, &sample, year);
            shape.generic_agrees = sample
                .iter()
                .all(|line| shape.fit(line, year) == Some(split_header(line, year)));
        }
        shape
    }

    /// Whether lines are read by the generic reader because it reads the
    /// sample exactly as the learned shape does.
    pub fn uses_generic_reader(&self) -> bool {
        self.generic_agrees || !self.is_learned()
    }

    /// Whether anything was learned (otherwise lines are read generically).
    pub fn is_learned(&self) -> bool {
        self.timestamp.is_some() || self.level.is_some()
    }

    /// Whether the learned shape has a timestamp / a level column.
    pub fn has_timestamp(&self) -> bool {
        self.timestamp.is_some()
    }

    pub fn has_level(&self) -> bool {
        self.level.is_some()
            || self
                .timestamp
                .is_some_and(|(_, layout)| layout == Layout::LetterMonthDay)
    }

    /// Reads `line` with the learned shape, or generically when it does not
    /// fit. No allocation beyond what level parsing does; never panics.
    pub fn split(&self, line: &str, year: i32) -> Header {
        if self.generic_agrees {
            return split_header(line, year);
        }
        self.fit(line, year)
            .unwrap_or_else(|| split_header(line, year))
    }

    /// The header when `line` fits the shape.
    fn fit(&self, line: &str, year: i32) -> Option<Header> {
        let fields = self.fields(line, year)?;
        let end = self
            .tail_end(line, fields.slots.clone())
            .unwrap_or(fields.end);
        let mut message_start = Slots::new(line, end).next_start();
        let mut level = fields.level;
        if level.is_none() && !self.has_level() {
            // No level column: a level set off at the message start
            // (syslog's `sshd[42]: error: bad key`) still counts.
            if let Some((found, after)) = marked_level_at(line, message_start) {
                level = Some(found);
                message_start = Slots::new(line, after).next_start();
            }
        }
        Some(Header {
            timestamp: fields.timestamp,
            level,
            message_start,
        })
    }

    /// Where the learned tail ends on this line: its fields, or, when the
    /// tail ends in a program or logger name (`sshd[42]:`) and this line's
    /// fields before it differ (`syslogd 1.4.1:`), the first such name
    /// within reach. `None` when the line has no such tail: the message then
    /// starts right after the timestamp and level.
    fn tail_end(&self, line: &str, slots: Slots<'_>) -> Option<usize> {
        let tail = self.tail.iter().map_while(|c| *c);
        let mut exact = slots.clone();
        let mut end = None;
        for class in tail.clone() {
            match exact.next() {
                Some((start, slot_end))
                    if line.get(start..slot_end).map(SlotClass::of) == Some(class) =>
                {
                    end = Some(slot_end);
                }
                _ => {
                    end = None;
                    break;
                }
            }
        }
        if end.is_some() || tail.last() != Some(SlotClass::Tag) {
            return end;
        }
        slots
            .take(MAX_TAIL)
            .find(|&(start, end)| line.get(start..end).map(SlotClass::of) == Some(SlotClass::Tag))
            .map(|(_, end)| end)
    }

    /// Reads the timestamp and level slots of `line`, up to the later of them.
    fn fields<'a>(&self, line: &'a str, year: i32) -> Option<Fields<'a>> {
        let ts_slot = self.timestamp.map(|(slot, _)| slot);
        let anchor = ts_slot.max(self.level)?;
        let mut slots = Slots::new(line, 0);
        let mut fields = Fields {
            timestamp: None,
            level: None,
            end: 0,
            slots: Slots::new(line, 0),
        };
        for index in 0..=anchor {
            let (start, mut slot_end) = slots.next()?;
            if let Some((slot, layout)) = self.timestamp
                && slot == index
            {
                let stamp = stamp_in_slot(line, start, slot_end, layout, year)?;
                if stamp.end > slot_end {
                    slots.resume_at(stamp.end);
                    slot_end = slots.pos();
                }
                fields.timestamp = Some(stamp.at);
                fields.level = fields.level.or(stamp.level);
            }
            if self.level == Some(index) {
                fields.level = level_column(line.get(start..slot_end)?)?;
            }
            fields.end = slot_end;
        }
        fields.slots = slots;
        Some(fields)
    }
}

/// What the timestamp and level slots of one line held.
struct Fields<'a> {
    timestamp: Option<DateTime<Utc>>,
    level: Option<LogLevel>,
    /// Offset after the later of the two.
    end: usize,
    /// Positioned after it.
    slots: Slots<'a>,
}

/// A timestamp at the start of the slot `start..end`, or after its key
/// (logfmt's `time=2024-03-01T12:00:00Z`, `ts="2024-03-01 12:00:00"`).
fn stamp_in_slot(
    line: &str,
    start: usize,
    end: usize,
    layout: Layout,
    year: i32,
) -> Option<clock::Stamp> {
    if let Some(stamp) = clock::read_at(line, start, layout, year) {
        return Some(stamp);
    }
    let slot = line.get(start..end)?;
    let (key, value) = slot.split_once('=')?;
    let is_key = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'));
    if !is_key {
        return None;
    }
    let quote = usize::from(value.starts_with('"'));
    clock::read_at(line, start + key.len() + 1 + quote, layout, year)
}

/// A level word in brackets or followed by `:` at `at` (`error:`, `[WARN]`).
fn marked_level_at(line: &str, at: usize) -> Option<(LogLevel, usize)> {
    let (level, end) = find_level_within(line, at, 1)?;
    let token = line.get(at..end)?;
    let (_, marked) = unwrap_level(token);
    marked.then_some((level, end))
}

/// The most frequent key and its count; ties go to the smallest key.
fn most_common<K: Ord + Copy>(keys: impl IntoIterator<Item = K>) -> Option<(K, usize)> {
    let mut counted: Vec<(K, usize)> = Vec::new();
    for key in keys {
        match counted.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counted.push((key, 1)),
        }
    }
    counted.sort_by_key(|&(k, _)| k);
    counted
        .into_iter()
        .fold(None, |best: Option<(K, usize)>, (k, n)| match best {
            Some((_, best_n)) if best_n >= n => best,
            _ => Some((k, n)),
        })
}

/// Whether `count` of `total` is at least `share` (and not zero).
fn holds(count: usize, total: usize, share: f64) -> bool {
    count > 0 && count as f64 >= share * total as f64
}

/// The earliest slot that reads as a timestamp on most lines, with the
/// layout that reads most of them there (`03/04/2024` is either day or
/// month first; `13/04/2024` on another line settles it). When nothing in
/// the sample settles it, the separator's convention does ([`unsettled`]).
fn learn_timestamp(sample: &[&str], year: i32) -> Option<(usize, Layout)> {
    let (slot, layout, counts) = best_timestamp_slot(sample, year)?;
    Some((slot, unsettled(sample, slot, layout, &counts, year)))
}

/// How many sample lines each (slot, layout rank) reads.
type StampCounts = Vec<((usize, usize), usize)>;

/// Day-first and month-first read every line alike (no day above 12 in the
/// sample): the reading follows the separator's convention — `03/04/2024`
/// is month first (the US form, and what `/` means in the logs that write a
/// year last), `03.04.2024` and `03-04-2024` day first (the European forms).
/// A guess either way, but a stated one, not an accident of order.
fn unsettled(
    sample: &[&str],
    slot: usize,
    layout: Layout,
    counts: &StampCounts,
    year: i32,
) -> Layout {
    if !matches!(layout, Layout::DayFirst | Layout::MonthFirst) {
        return layout;
    }
    let count = |l: Layout| {
        let rank = Layout::ALL.iter().position(|&x| x == l);
        counts
            .iter()
            .find(|(key, _)| Some(*key) == rank.map(|r| (slot, r)))
            .map_or(0, |(_, n)| *n)
    };
    if count(Layout::DayFirst) != count(Layout::MonthFirst) {
        return layout;
    }
    let separator = sample.iter().find_map(|line| {
        let (start, end) = Slots::new(line, 0).nth(slot)?;
        stamp_in_slot(line, start, end, layout, year)?;
        let text = line.get(start..end)?;
        text.bytes().find(|b| matches!(b, b'/' | b'.' | b'-'))
    });
    if separator == Some(b'/') {
        Layout::MonthFirst
    } else {
        Layout::DayFirst
    }
}

/// The earliest slot holding a timestamp on most lines, the layout reading
/// most there, and the counts behind the choice.
fn best_timestamp_slot(sample: &[&str], year: i32) -> Option<(usize, Layout, StampCounts)> {
    let mut counts: Vec<((usize, usize), usize)> = Vec::new();
    for line in sample {
        for (slot, (start, end)) in Slots::new(line, 0).take(SCAN_SLOTS).enumerate() {
            for (rank, layout) in Layout::ALL.iter().enumerate() {
                if stamp_in_slot(line, start, end, *layout, year).is_some() {
                    match counts.iter_mut().find(|(k, _)| *k == (slot, rank)) {
                        Some((_, n)) => *n += 1,
                        None => counts.push(((slot, rank), 1)),
                    }
                }
            }
        }
    }
    let ((slot, rank), _) = counts
        .iter()
        .copied()
        .filter(|&(_, n)| holds(n, sample.len(), FIELD_SHARE))
        .min_by_key(|&((slot, rank), n)| (slot, std::cmp::Reverse(n), rank))?;
    Some((slot, Layout::ALL[rank], counts))
}

/// The slot holding a level word on most lines that have the timestamp.
fn learn_level(shape: &HeaderShape, sample: &[&str], year: i32) -> Option<usize> {
    let mut fitting = 0;
    let mut found = Vec::new();
    for line in sample {
        if let Some((fits, level_slot)) = level_slot_of(shape, line, year)
            && fits
        {
            fitting += 1;
            found.extend(level_slot);
        }
    }
    let (slot, n) = most_common(found)?;
    holds(n, fitting, FIELD_SHARE).then_some(slot)
}

/// Whether `line` has the shape's timestamp, and the first slot holding a
/// level word.
fn level_slot_of(shape: &HeaderShape, line: &str, year: i32) -> Option<(bool, Option<usize>)> {
    let mut slots = Slots::new(line, 0);
    let mut ts_seen = shape.timestamp.is_none();
    let mut level = None;
    for index in 0..SCAN_SLOTS {
        let Some((start, end)) = slots.next() else {
            break;
        };
        if let Some((slot, layout)) = shape.timestamp
            && slot == index
        {
            let stamp = stamp_in_slot(line, start, end, layout, year)?;
            slots.resume_at(stamp.end);
            ts_seen = true;
            continue;
        }
        let token = line.get(start..end)?;
        let (word, marked) = unwrap_level(token);
        if level.is_none()
            && (level_word(word, marked).is_some() || syslog_priority(token).is_some())
        {
            level = Some(index);
        }
    }
    Some((ts_seen, level))
}

/// The header fields after the timestamp and level; see the module comment.
fn learn_tail(shape: &HeaderShape, sample: &[&str], year: i32) -> [Option<SlotClass>; MAX_TAIL] {
    let mut rows: Vec<[Option<SlotClass>; MAX_TAIL]> = Vec::new();
    for line in sample {
        let Some(mut fields) = shape.fields(line, year) else {
            continue;
        };
        let mut row = [None; MAX_TAIL];
        for (cell, (start, end)) in row.iter_mut().zip(fields.slots.by_ref()) {
            *cell = line.get(start..end).map(SlotClass::of);
        }
        rows.push(row);
    }
    let mut distinct: Vec<&str> = sample.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if rows.len() < MIN_TAIL_LINES || distinct.len() < MIN_TAIL_LINES {
        return [None; MAX_TAIL];
    }
    let mut tail = [None; MAX_TAIL];
    let mut length = 0;
    for position in 0..MAX_TAIL {
        let Some((Some(class), n)) = most_common(rows.iter().map(|row| row[position])) else {
            break;
        };
        if !holds(n, rows.len(), TAIL_SHARE) {
            break;
        }
        tail[position] = Some(class);
        if class.closes_header() {
            length = position + 1;
        }
        // A logger or program name ending in `:` is the header's last field.
        if class == SlotClass::Tag {
            break;
        }
    }
    tail[length..].fill(None);
    tail
}
