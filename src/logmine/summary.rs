//! Summarising raw log files: the engine behind `opsdeck logs summarize`.
//!
//! One streaming pass over any number of readers: lines are read with a cap
//! on their length (a file with no newlines cannot exhaust memory), decoded
//! leniently, joined into events (tracebacks stay whole), their header read
//! for time and level, filtered, and mined. Memory is bounded by the miner's
//! template cap whatever the input size.
//!
//! Each source's header shape ([`HeaderShape`]) is learned from its first
//! events: those are held back (at most [`SAMPLE_LINES`] of them and
//! [`MAX_HELD_BYTES`]) until the shape is known, then read with it like
//! every later event.

use std::io::{self, BufRead};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::hash::MixMap;
use super::header::{HeaderShape, SAMPLE_LINES};
use super::{Cluster, ClusterId, EventAssembler, MinerConfig, TemplateMiner};
use crate::model::log::LogLevel;

/// Bytes of one physical line that are kept; the rest of the line is
/// skipped (and counted) — log payload dumps carry their meaning up front.
pub const MAX_READ_LINE_BYTES: usize = 64 * 1024;

/// Bytes of events held back while a source's header shape is learned;
/// past this the shape is learned from what is held.
pub const MAX_HELD_BYTES: usize = 1024 * 1024;

/// Which events to mine.
#[derive(Debug, Clone, Default)]
pub struct SummaryFilter {
    /// Keep events at or above this level (events without a level are left out).
    pub min_level: Option<LogLevel>,
    /// Keep events at or after this instant (undated events are left out).
    pub since: Option<DateTime<Utc>>,
    /// Keep events before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// What happened to the input, so nothing is left out silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SummaryCounts {
    /// Physical lines read.
    pub lines: u64,
    /// Lines longer than the cap, kept only up to it.
    pub long_lines: u64,
    /// Events (a traceback with its message is one).
    pub events: u64,
    /// Events mined into templates.
    pub mined: u64,
    /// Left out by the level filter: below it, or with no level to compare.
    pub below_level: u64,
    pub without_level: u64,
    /// Left out by the time window: outside it, or with no timestamp.
    pub outside_window: u64,
    pub without_timestamp: u64,
    /// Events whose header had a timestamp / a level (before filtering).
    pub with_timestamp: u64,
    pub with_level: u64,
}

/// One template with the highest level seen among its events.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LevelledCluster {
    #[serde(flatten)]
    pub cluster: Cluster,
    pub level: Option<LogLevel>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    pub counts: SummaryCounts,
    /// Templates dropped to keep memory bounded (their events are counted in `mined`).
    pub evicted_templates: u64,
    /// The earliest and latest timestamps among mined events.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Most frequent first; among equals the most severe.
    pub clusters: Vec<LevelledCluster>,
}

/// Streaming summariser; feed it readers, then [`finish`](Self::finish).
pub struct LogSummarizer {
    filter: SummaryFilter,
    /// Completes syslog dates, which carry no year.
    year: i32,
    assembler: EventAssembler,
    miner: TemplateMiner,
    levels: MixMap<u64, LogLevel>,
    counts: SummaryCounts,
    /// The current source's header shape; `None` while it is being learned.
    shape: Option<HeaderShape>,
    /// Events held back while the shape is learned, and their bytes.
    held: Vec<String>,
    held_bytes: usize,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
}

impl LogSummarizer {
    pub fn new(filter: SummaryFilter, config: MinerConfig, year: i32) -> Self {
        LogSummarizer {
            filter,
            year,
            assembler: EventAssembler::new(),
            miner: TemplateMiner::new(config),
            levels: MixMap::default(),
            counts: SummaryCounts::default(),
            shape: None,
            held: Vec::new(),
            held_bytes: 0,
            first_seen: None,
            last_seen: None,
        }
    }

    /// Reads one source to its end. Events never span two sources, and
    /// each source's header shape is learned from its own first lines.
    pub fn feed(&mut self, mut reader: impl BufRead) -> io::Result<()> {
        self.shape = None;
        let mut buf = Vec::new();
        let read = loop {
            match read_capped_line(&mut reader, &mut buf, MAX_READ_LINE_BYTES) {
                Ok(Some(cut)) => {
                    self.counts.lines += 1;
                    self.counts.long_lines += u64::from(cut);
                    let line = String::from_utf8_lossy(&buf);
                    if let Some(event) = self.assembler.push(&line) {
                        self.take(event);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // What was read before an error is still summarised.
        if let Some(event) = self.assembler.finish() {
            self.take(event);
        }
        self.learn_shape();
        read
    }

    pub fn finish(mut self) -> Summary {
        if let Some(event) = self.assembler.finish() {
            self.take(event);
        }
        self.learn_shape();
        let levels = self.resolved_levels();
        let mut clusters: Vec<LevelledCluster> = self
            .miner
            .clusters()
            .into_iter()
            .map(|cluster| LevelledCluster {
                level: levels.get(&cluster.id).copied(),
                cluster,
            })
            .collect();
        // Most frequent first; among equals the more severe, then the
        // miner's order (earliest seen).
        clusters.sort_by(|a, b| {
            b.cluster
                .count
                .cmp(&a.cluster.count)
                .then_with(|| b.level.cmp(&a.level))
        });
        Summary {
            counts: self.counts,
            evicted_templates: self.miner.evicted_templates(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            clusters,
        }
    }

    /// Holds `event` back while the shape is being learned, else reads it.
    fn take(&mut self, event: String) {
        let Some(shape) = self.shape else {
            self.held_bytes += event.len();
            self.held.push(event);
            if self.held.len() >= SAMPLE_LINES || self.held_bytes >= MAX_HELD_BYTES {
                self.learn_shape();
            }
            return;
        };
        self.event(&shape, &event);
    }

    /// Learns the shape from the held events (if still learning) and reads them.
    fn learn_shape(&mut self) {
        if self.shape.is_some() {
            return;
        }
        let shape = HeaderShape::learn(self.held.iter().map(|e| first_line(e)), self.year);
        self.shape = Some(shape);
        let held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        for event in &held {
            self.event(&shape, event);
        }
    }

    fn event(&mut self, shape: &HeaderShape, event: &str) {
        self.counts.events += 1;
        let header = shape.split(first_line(event), self.year);
        self.counts.with_timestamp += u64::from(header.timestamp.is_some());
        self.counts.with_level += u64::from(header.level.is_some());
        if let Some(min) = self.filter.min_level {
            match header.level {
                None => {
                    self.counts.without_level += 1;
                    return;
                }
                Some(level) if level < min => {
                    self.counts.below_level += 1;
                    return;
                }
                Some(_) => {}
            }
        }
        if self.filter.since.is_some() || self.filter.until.is_some() {
            let Some(ts) = header.timestamp else {
                self.counts.without_timestamp += 1;
                return;
            };
            let after_since = self.filter.since.is_none_or(|s| ts >= s);
            let before_until = self.filter.until.is_none_or(|u| ts < u);
            if !(after_since && before_until) {
                self.counts.outside_window += 1;
                return;
            }
        }
        let message = event.get(header.message_start..).unwrap_or(event);
        let id = self.miner.add(message, header.timestamp);
        if id.is_ignored() {
            return;
        }
        self.counts.mined += 1;
        if let Some(ts) = header.timestamp {
            self.first_seen = Some(self.first_seen.map_or(ts, |t| t.min(ts)));
            self.last_seen = Some(self.last_seen.map_or(ts, |t| t.max(ts)));
        }
        if let Some(level) = header.level {
            self.fold_level(self.miner.resolve(id).0, level);
        }
        self.forget_evicted_levels();
    }

    /// Keeps the highest level seen for template `id`.
    fn fold_level(&mut self, id: u64, level: LogLevel) {
        let seen = self.levels.entry(id).or_insert(level);
        *seen = (*seen).max(level);
    }

    /// The level tallies re-keyed by the template each id now belongs to
    /// (templates merged since a level was recorded keep it), without
    /// those of evicted templates.
    fn resolved_levels(&self) -> MixMap<u64, LogLevel> {
        let mut resolved: MixMap<u64, LogLevel> = MixMap::default();
        for (&id, &level) in &self.levels {
            let into = self.miner.resolve(ClusterId(id));
            if self.miner.contains(into) {
                let seen = resolved.entry(into.0).or_insert(level);
                *seen = (*seen).max(level);
            }
        }
        resolved
    }

    /// Levels of evicted templates are dropped so this map stays as bounded
    /// as the miner.
    fn forget_evicted_levels(&mut self) {
        let cap = self.miner.config().max_templates.max(1) * 2;
        if self.levels.len() > cap {
            self.levels = self.resolved_levels();
        }
    }
}

/// The event's first line (where its header is).
fn first_line(event: &str) -> &str {
    event.split('\n').next().unwrap_or(event)
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `max`
/// bytes and skipping the rest of the line. `None` at end of input; else
/// whether the line was cut.
pub fn read_capped_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut cut = false;
    let mut read_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(read_any.then_some(cut));
        }
        read_any = true;
        let (chunk, found_newline) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len() + usize::from(found_newline);
        reader.consume(used);
        if found_newline {
            return Ok(Some(cut));
        }
    }
}

#[cfg(test)]
mod tests;
