//! Finding the timestamp and level at the start of a raw log line.
//!
//! Files handed to `opsdeck logs summarize` come from anywhere: Python
//! logging, log4j, Spark, Airflow task logs, syslog, HDFS, glog. Two readers,
//! neither a list of formats:
//!
//! * [`split_header`] reads any single line generically: an optional
//!   bracket, a date and time in one of the common layouts, then a level
//!   word among the next few tokens. What follows the level (or the
//!   timestamp, when there is no level) is the message the miner sees.
//! * [`HeaderShape`] learns from a file's first lines where its timestamp,
//!   level and logger sit (`yymmdd hhmmss`, epoch seconds, a level column
//!   after a node name…) and reads every line that way, falling back to
//!   [`split_header`] for lines that do not fit.

mod clock;
mod level;
mod shape;
mod slots;

use chrono::{DateTime, Utc};

use crate::model::log::LogLevel;
use clock::Layout;
use level::find_level;

pub use shape::{HeaderShape, SAMPLE_LINES};

/// What the start of a line says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub timestamp: Option<DateTime<Utc>>,
    pub level: Option<LogLevel>,
    /// Byte offset where the message starts.
    pub message_start: usize,
}

/// Reads the header of `line`. `year` completes dates that have none
/// (syslog's `Nov 23 02:03:04`). Times without a zone are taken as UTC.
pub fn split_header(line: &str, year: i32) -> Header {
    let (timestamp, after_ts) = match clock::read_at(line, 0, Layout::Text, year) {
        Some(stamp) => (Some(stamp.at), stamp.end),
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

#[cfg(test)]
mod tests;
