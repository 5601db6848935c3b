//! Reads a trace tolerantly: a damaged file (a truncated last line, a corrupt
//! line in the middle, a line over [`MAX_LINE_BYTES`], an unknown future
//! schema) gives what can be read plus the lines skipped and why. Only a file
//! with nothing readable is an error.

use std::borrow::Cow;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::blocks::{self, Limits, MAX_LINE_BYTES};
use super::schema::{Header, Record, RunChange, SCHEMA_VERSION, TraceMessage};
use crate::agent::events::AgentEvent;

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// 1-based line number in the file.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub header: Option<Header>,
    pub records: Vec<Record>,
    pub skipped: Vec<Skipped>,
    /// Things the reader wants the user to know (e.g. a newer schema).
    pub warnings: Vec<String>,
}

/// Just enough of the first line to tell what it is.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    kind: Option<String>,
    schema: Option<u32>,
}

/// The part of a trace before its records: the header (if any), what was
/// skipped or warned about reading it, and where the records begin.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub header: Option<Header>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// Byte offset and 0-based line number of the first record line.
    pub body_offset: usize,
    pub first_index: usize,
}

pub fn head(bytes: &[u8]) -> Result<Head, String> {
    let mut head = Head::default();
    let mut offset = 0;
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let next = (offset + line.len() + 1).min(bytes.len());
        if line.iter().all(u8::is_ascii_whitespace) {
            offset = next;
            continue;
        }
        if blocks::is_long_line(line) {
            return Err(format!(
                "this is not an opsdeck trace: its first line is longer than the {} MiB a trace line may be",
                MAX_LINE_BYTES >> 20
            ));
        }
        match serde_json::from_slice::<Probe>(line) {
            Ok(Probe {
                kind: Some(kind),
                schema,
            }) if kind == "header" => {
                if let Some(version) = schema.filter(|v| *v > SCHEMA_VERSION) {
                    head.warnings.push(format!(
                        "the trace uses schema {version}, newer than the {SCHEMA_VERSION} this opsdeck reads; lines it cannot read are skipped (a newer opsdeck reads them all)"
                    ));
                }
                match serde_json::from_slice::<Header>(line) {
                    Ok(header) => head.header = Some(header),
                    Err(e) => head.skipped.push(Skipped {
                        line: index + 1,
                        reason: format!("the header is incomplete ({e}); replaying without it"),
                    }),
                }
                head.body_offset = next;
                head.first_index = index + 1;
            }
            Ok(_) | Err(_) => {
                if parse_record(line).is_err() {
                    return Err(
                        "this is not an opsdeck trace: its first line is neither a trace header nor a trace record (traces are written by the console and `opsdeck ask`, under ~/.local/state/opsdeck/traces/)".into(),
                    );
                }
                head.warnings
                    .push("the header line is missing; replaying the records without it".into());
                head.body_offset = offset;
                head.first_index = index;
            }
        }
        return Ok(head);
    }
    Err("the file is empty".into())
}

pub fn read(bytes: &[u8]) -> Result<Trace, String> {
    let head = head(bytes)?;
    let results = in_chunks(&bytes[head.body_offset..], head.first_index, parse_chunk);
    let mut trace = Trace {
        header: head.header,
        records: Vec::with_capacity(results.iter().map(|r| r.0.len()).sum()),
        skipped: head.skipped,
        warnings: head.warnings,
    };
    for (mut records, mut skipped) in results {
        trace.records.append(&mut records);
        trace.skipped.append(&mut skipped);
    }
    nothing_read(
        trace.header.is_some() || !trace.records.is_empty(),
        &trace.skipped,
    )?;
    Ok(trace)
}

/// Bytes per block when loading a trace whole: parsed on every core.
const LOAD_BLOCK: usize = 16 << 20;

/// Reads a whole trace from a file or a pipe, within [`Limits::LOAD`]: lines
/// over the length limit are skipped unread, and past the total only a
/// warning says what was left out — `/dev/zero` ends, in bounded memory.
pub fn load<R: Read>(mut input: R) -> Result<Trace, String> {
    load_within(&mut input, LOAD_BLOCK, Limits::LOAD)
}

fn load_within<R: Read>(input: &mut R, block: usize, limits: Limits) -> Result<Trace, String> {
    let mut trace = Trace::default();
    let mut held: Vec<u8> = Vec::new();
    // The index of the next block's first line, once the head is read.
    let mut next_line: Option<usize> = None;
    let mut unreadable = None;
    let capped = blocks::read_blocks(input, block, limits, |bytes, last| {
        let (bytes, body, first_index) = match next_line {
            Some(line) => (bytes, 0, line),
            None => {
                held.extend_from_slice(&bytes);
                match head(&held) {
                    Ok(head) => {
                        trace.header = head.header;
                        trace.skipped = head.skipped;
                        trace.warnings = head.warnings;
                        (
                            std::mem::take(&mut held),
                            head.body_offset,
                            head.first_index,
                        )
                    }
                    Err(_) if !last && held.iter().all(u8::is_ascii_whitespace) => {
                        if held.len() <= blocks::MAX_LEADING_BYTES {
                            return true;
                        }
                        unreadable = Some(blocks::no_beginning());
                        return false;
                    }
                    Err(why) => {
                        unreadable = Some(why);
                        return false;
                    }
                }
            }
        };
        let body = &bytes[body..];
        for (mut records, mut skipped) in in_chunks(body, first_index, parse_chunk) {
            trace.records.append(&mut records);
            trace.skipped.append(&mut skipped);
        }
        next_line = Some(first_index + memchr::memchr_iter(b'\n', body).count());
        true
    })
    .map_err(|e| format!("reading the trace failed: {e}"))?;
    if let Some(why) = unreadable {
        return Err(why);
    }
    if capped {
        trace.warnings.push(blocks::capped_warning(limits));
    }
    nothing_read(
        trace.header.is_some() || !trace.records.is_empty(),
        &trace.skipped,
    )?;
    Ok(trace)
}

/// The error for a trace of which nothing could be read, naming the first reason.
pub fn nothing_read(anything: bool, skipped: &[Skipped]) -> Result<(), String> {
    if anything {
        return Ok(());
    }
    let why = skipped.first().map_or_else(
        || "no line could be read".to_string(),
        |s| format!("line {}: {}", s.line, s.reason),
    );
    Err(format!("nothing in the trace could be read ({why})"))
}

/// A record as it lies in the file: flat, so serde reads it in one pass (the
/// `#[serde(flatten)]` of [`Record`] would buffer every line first).
#[derive(Deserialize)]
struct FlatRecord<'a> {
    seq: u64,
    #[serde(deserialize_with = "instant")]
    at: DateTime<Utc>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    event: Option<FlatEvent<'a>>,
    changes: Option<Vec<RunChange>>,
    removed: Option<Vec<String>>,
    reason: Option<String>,
    server: Option<String>,
    ready: Option<bool>,
    detail: Option<String>,
    run_id: Option<String>,
    pipeline: Option<String>,
    run: Option<Box<crate::model::run::PipelineRun>>,
}

/// The recorder writes `2026-11-23T03:42:01.123456789Z`; reading that shape by
/// hand is several times faster than a general RFC 3339 parse, which remains
/// the fallback for any other form.
fn instant<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text: Cow<'de, str> = Deserialize::deserialize(deserializer)?;
    if let Some(at) = fast_utc(text.as_bytes()) {
        return Ok(at);
    }
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

fn fast_utc(b: &[u8]) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDate, NaiveTime};
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b.last() != Some(&b'Z')
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if !digits.is_empty() && digits.len() <= 9 => {
            let value = number(20..20 + digits.len())?;
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let time =
        NaiveTime::from_hms_nano_opt(number(11..13)?, number(14..16)?, number(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// An agent event as it lies in the file, flat for the same reason: serde's
/// internally tagged enums buffer the whole object before choosing a variant.
#[derive(Deserialize)]
struct FlatEvent<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    text: Option<String>,
    mode: Option<String>,
    call_id: Option<String>,
    server: Option<String>,
    tool: Option<String>,
    arguments: Option<serde_json::Value>,
    duration_ms: Option<u64>,
    is_error: Option<bool>,
    result: Option<serde_json::Value>,
    truncated: Option<bool>,
    reason: Option<String>,
    approved: Option<bool>,
    by: Option<String>,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    offered: Option<Vec<String>>,
    left_out: Option<usize>,
    message: Option<String>,
    answer: Option<String>,
    tool_calls: Option<u32>,
    ok: Option<bool>,
}

impl FlatEvent<'_> {
    fn into_event(self) -> Result<AgentEvent, LineError> {
        let kind = self.event;
        let need = |field: &str| LineError::Shape(format!("a '{kind}' event without '{field}'"));
        macro_rules! field {
            ($name:ident) => {
                self.$name.ok_or_else(|| need(stringify!($name)))?
            };
        }
        Ok(match kind.as_ref() {
            "user_message" => AgentEvent::UserMessage { text: field!(text) },
            "agent_mode" => AgentEvent::AgentMode { mode: field!(mode) },
            "text_delta" => AgentEvent::TextDelta { text: field!(text) },
            "tool_call_started" => AgentEvent::ToolCallStarted {
                call_id: field!(call_id),
                server: field!(server),
                tool: field!(tool),
                arguments: self.arguments.unwrap_or_default(),
            },
            "tool_call_finished" => AgentEvent::ToolCallFinished {
                call_id: field!(call_id),
                server: field!(server),
                tool: field!(tool),
                duration_ms: field!(duration_ms),
                is_error: field!(is_error),
                result: self.result.unwrap_or_default(),
                truncated: self.truncated.unwrap_or(false),
            },
            "approval_needed" => AgentEvent::ApprovalNeeded {
                call_id: field!(call_id),
                server: field!(server),
                tool: field!(tool),
                arguments: self.arguments.unwrap_or_default(),
                reason: field!(reason),
            },
            "approval_decided" => AgentEvent::ApprovalDecided {
                call_id: field!(call_id),
                approved: field!(approved),
                by: field!(by),
                reason: self.reason.unwrap_or_default(),
            },
            "tools_offered" => AgentEvent::ToolsOffered {
                offered: field!(offered),
                left_out: self.left_out.unwrap_or(0),
            },
            "usage" => AgentEvent::Usage {
                prompt_tokens: field!(prompt_tokens),
                completion_tokens: field!(completion_tokens),
            },
            "error" => AgentEvent::Error {
                message: field!(message),
            },
            "turn_finished" => AgentEvent::TurnFinished {
                answer: self.answer.unwrap_or_default(),
                tool_calls: self.tool_calls.unwrap_or(0),
                ok: field!(ok),
            },
            other => return Err(LineError::Shape(format!("unknown agent event '{other}'"))),
        })
    }
}

/// Why a line is not a record, with serde's error when there is one.
enum LineError {
    Json(serde_json::Error),
    Shape(String),
}

fn parse_record(line: &[u8]) -> Result<Record, LineError> {
    let flat: FlatRecord = serde_json::from_slice(line).map_err(LineError::Json)?;
    let missing =
        |field: &str| LineError::Shape(format!("a '{}' record without '{field}'", flat.kind));
    let message = match flat.kind.as_ref() {
        "agent" => TraceMessage::Agent {
            event: flat.event.ok_or_else(|| missing("event"))?.into_event()?,
        },
        "runs_changed" => TraceMessage::RunsChanged {
            changes: flat.changes.ok_or_else(|| missing("changes"))?,
            removed: flat.removed.unwrap_or_default(),
        },
        "runs_stale" => TraceMessage::RunsStale {
            reason: flat.reason.ok_or_else(|| missing("reason"))?,
        },
        "connection" => TraceMessage::Connection {
            server: flat.server.ok_or_else(|| missing("server"))?,
            ready: flat.ready.unwrap_or(false),
            detail: flat.detail.unwrap_or_default(),
        },
        "conversation_reset" => TraceMessage::ConversationReset,
        "run_followed" => TraceMessage::RunFollowed {
            server: flat.server.ok_or_else(|| missing("server"))?,
            run_id: flat.run_id.ok_or_else(|| missing("run_id"))?,
            pipeline: flat.pipeline.unwrap_or_default(),
            run: flat.run,
            reason: flat.reason,
        },
        "session_end" => TraceMessage::SessionEnd {
            reason: flat.reason.ok_or_else(|| missing("reason"))?,
        },
        other => return Err(LineError::Shape(format!("unknown record type '{other}'"))),
    };
    Ok(Record {
        seq: flat.seq,
        at: flat.at,
        message,
    })
}

/// Inputs larger than this are parsed on every core, in order-preserving chunks.
const PARALLEL_FROM: usize = 4 << 20;

/// Runs `work` over the record lines of `bytes` (whose first line is line
/// `first_index`, 0-based), on every core for large inputs, in order-preserving
/// chunks cut at line boundaries. `work` gets a chunk, its first line index,
/// and whether the chunk ends in a line cut short.
pub fn in_chunks<T, F>(bytes: &[u8], first_index: usize, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(&[u8], usize, bool) -> T + Sync,
{
    let truncated_tail = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if bytes.len() < PARALLEL_FROM || workers < 2 {
        return vec![work(bytes, first_index, truncated_tail)];
    }
    // Cut at newlines near equal sizes, counting lines to keep numbering exact.
    let mut chunks: Vec<(&[u8], usize)> = Vec::with_capacity(workers);
    let mut start = 0;
    let mut line = first_index;
    for part in 1..=workers {
        let mut end = if part == workers {
            bytes.len()
        } else {
            bytes.len() * part / workers
        };
        while end < bytes.len() && bytes[end - 1] != b'\n' {
            end += 1;
        }
        if end <= start {
            continue;
        }
        chunks.push((&bytes[start..end], line));
        line += memchr::memchr_iter(b'\n', &bytes[start..end]).count();
        start = end;
    }
    let last = chunks.len().saturating_sub(1);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(i, (chunk, first))| {
                scope.spawn(move || work(chunk, *first, i == last && truncated_tail))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Parses one chunk of record lines: the records, and the lines skipped with why.
pub fn parse_chunk(
    bytes: &[u8],
    first_index: usize,
    truncated_tail: bool,
) -> (Vec<Record>, Vec<Skipped>) {
    // Sized once: growing a vector of records would copy them all each time.
    let mut records = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
    let mut skipped = Vec::new();
    for (offset, line, ended) in lines(bytes) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if blocks::is_long_line(line) {
            skipped.push(Skipped {
                line: first_index + offset + 1,
                reason: blocks::long_line_reason(),
            });
            continue;
        }
        match parse_record(line) {
            Ok(record) => records.push(record),
            Err(error) => {
                let reason = match error {
                    LineError::Json(e) if !ended && truncated_tail && e.is_eof() => {
                        "the last line is cut short (the session was still writing, or the file was truncated)".to_string()
                    }
                    LineError::Json(e) if e.is_syntax() || e.is_eof() => format!("not valid JSON ({e})"),
                    LineError::Json(e) => format!("not a record this opsdeck knows ({e})"),
                    LineError::Shape(why) => format!("not a record this opsdeck knows ({why})"),
                };
                skipped.push(Skipped {
                    line: first_index + offset + 1,
                    reason,
                });
            }
        }
    }
    (records, skipped)
}

/// The first readable record among some lines.
pub fn first_record(bytes: &[u8]) -> Option<Record> {
    lines(bytes).find_map(|(_, line, _)| parse_record(line).ok())
}

/// The lines of `bytes` with their 0-based index and whether a line end
/// closes them (only a final, cut-short line lacks one).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut rest = bytes;
    let mut index = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, ended) = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                (line, true)
            }
            None => (std::mem::take(&mut rest), false),
        };
        index += 1;
        Some((index - 1, line, ended))
    })
}

#[cfg(test)]
mod tests;
