//! A trace as something to read: a transcript (`text`), an incident timeline
//! for a postmortem (`markdown`), or the records as JSON. Pure formatting of
//! what was recorded — it never calls a tool and needs no server or terminal.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::reader::{self, Trace};
use super::schema::{Record, TraceMessage};
use crate::agent::events::AgentEvent;
use crate::model::run::RunStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

pub fn render(trace: &Trace, format: Format) -> String {
    match format {
        Format::Text => text(trace),
        Format::Markdown => markdown(trace),
        Format::Json => json(trace),
    }
}

fn start_of(trace: &Trace) -> Option<DateTime<Utc>> {
    trace
        .header
        .as_ref()
        .map(|h| h.started_at)
        .or_else(|| trace.records.first().map(|r| r.at))
}

fn offset(start: Option<DateTime<Utc>>, at: DateTime<Utc>) -> String {
    let ms = start.map_or(0, |s| (at - s).num_milliseconds());
    let sign = if ms < 0 { "-" } else { "+" };
    let ms = ms.abs();
    format!("{sign}{}.{:03}s", ms / 1000, ms % 1000)
}

/// The first line of a tool result: its first text part, else its JSON.
fn result_summary(result: &Value) -> String {
    let text = match result {
        Value::String(s) => s.clone(),
        other => match other
            .get("content")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        {
            Some(Value::String(s)) => s.clone(),
            _ => other.to_string(),
        },
    };
    crate::server::reply::clip(text.lines().next().unwrap_or(""), 200)
}

fn compact(value: &Value) -> String {
    crate::server::reply::clip(&value.to_string(), 300)
}

fn header_lines(trace: &Trace, out: &mut String) {
    match &trace.header {
        Some(h) => {
            let scenario = h
                .scenario
                .as_deref()
                .map_or(String::new(), |s| format!(" ({s})"));
            let _ = writeln!(
                out,
                "opsdeck trace · {} · {} · host {} · agent {} · {}{}{}",
                h.process,
                h.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                h.host,
                h.agent_mode,
                h.backend,
                scenario,
                if h.read_only { " · read-only" } else { "" }
            );
            for server in &h.servers {
                let _ = writeln!(out, "server {}: {} tools", server.name, server.tools.len());
            }
        }
        None => {
            let _ = writeln!(out, "opsdeck trace (no header)");
        }
    }
}

fn footer_lines(trace: &Trace, out: &mut String) {
    for warning in &trace.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for skipped in &trace.skipped {
        let _ = writeln!(out, "skipped line {}: {}", skipped.line, skipped.reason);
    }
}

fn text(trace: &Trace) -> String {
    let mut out = String::new();
    header_lines(trace, &mut out);
    let answering = text_records(&trace.records, start_of(trace), false, &mut out);
    if answering {
        out.push('\n');
    }
    footer_lines(trace, &mut out);
    out
}

/// The transcript lines of some records; `answering` says whether the record
/// before them was streamed text. Returns the same for the last record.
fn text_records(
    records: &[Record],
    start: Option<DateTime<Utc>>,
    mut answering: bool,
    out: &mut String,
) -> bool {
    for record in records {
        let at = offset(start, record.at);
        match &record.message {
            TraceMessage::Agent { event } => {
                let streamed = matches!(event, AgentEvent::TextDelta { .. });
                if answering && !streamed {
                    out.push('\n');
                }
                if streamed && !answering {
                    let _ = writeln!(out, "{at}  answer:");
                }
                answering = streamed;
                agent_line(out, &at, event);
            }
            other => {
                if answering {
                    out.push('\n');
                    answering = false;
                }
                other_line(out, &at, other);
            }
        }
    }
    answering
}

/// The transcript of a trace file, parsed and written on every core: each chunk
/// of lines is read and rendered by the thread that holds it, so no more than
/// a chunk's records are alive at once. The same text as `render(.., Text)`.
pub fn text_from_bytes(bytes: &[u8]) -> Result<(Vec<String>, usize), String> {
    let head = reader::head(bytes)?;
    let body = &bytes[head.body_offset..];
    let first_record = body
        .split(|b| *b == b'\n')
        .find_map(|line| reader::parse_chunk(line, 0, false).0.pop());
    let start = head
        .header
        .as_ref()
        .map(|h| h.started_at)
        .or(first_record.as_ref().map(|r| r.at));
    let body_start = body.as_ptr() as usize;
    let pieces = reader::in_chunks(body, head.first_index, |chunk, first, cut| {
        // Whether the record just before this chunk was streamed text.
        let before = &body[..(chunk.as_ptr() as usize).saturating_sub(body_start)];
        let answering = before
            .split(|b| *b == b'\n')
            .rev()
            .find_map(|line| reader::parse_chunk(line, 0, false).0.pop())
            .is_some_and(|r| {
                matches!(
                    r.message,
                    TraceMessage::Agent {
                        event: AgentEvent::TextDelta { .. }
                    }
                )
            });
        let (records, skipped) = reader::parse_chunk(chunk, first, cut);
        let mut out = String::with_capacity(chunk.len() / 2);
        let answering = text_records(&records, start, answering, &mut out);
        (out, answering, !records.is_empty(), skipped)
    });
    let mut anything = head.header.is_some();
    let mut skipped = head.skipped.clone();
    let mut texts = Vec::with_capacity(pieces.len() + 2);
    let mut trailing_answer = false;
    let mut header_text = String::new();
    let partial = Trace {
        header: head.header.clone(),
        ..Trace::default()
    };
    header_lines(&partial, &mut header_text);
    texts.push(header_text);
    for (text, answering, had_records, mut chunk_skipped) in pieces {
        anything |= had_records;
        trailing_answer = if had_records {
            answering
        } else {
            trailing_answer
        };
        texts.push(text);
        skipped.append(&mut chunk_skipped);
    }
    reader::nothing_read(anything, &skipped)?;
    let mut footer = String::new();
    if trailing_answer {
        footer.push('\n');
    }
    let tail = Trace {
        skipped,
        warnings: head.warnings,
        ..Trace::default()
    };
    footer_lines(&tail, &mut footer);
    texts.push(footer);
    Ok((texts, tail.skipped.len()))
}

fn agent_line(out: &mut String, at: &str, event: &AgentEvent) {
    let _ = match event {
        AgentEvent::UserMessage { text } => writeln!(out, "{at}  you: {text}"),
        AgentEvent::AgentMode { mode } => writeln!(out, "{at}  agent: {mode}"),
        // Streamed text continues on the line, as it arrived.
        AgentEvent::TextDelta { text } => write!(out, "{text}"),
        AgentEvent::ToolCallStarted {
            call_id,
            server,
            tool,
            arguments,
        } => writeln!(
            out,
            "{at}  call {call_id} {tool} on {server} {}",
            compact(arguments)
        ),
        AgentEvent::ToolCallFinished {
            call_id,
            duration_ms,
            is_error,
            result,
            truncated,
            ..
        } => writeln!(
            out,
            "{at}  {} {call_id} in {duration_ms} ms{}: {}",
            if *is_error { "✗" } else { "✓" },
            if *truncated { " (result cut)" } else { "" },
            result_summary(result)
        ),
        AgentEvent::ApprovalNeeded {
            call_id,
            tool,
            reason,
            ..
        } => writeln!(out, "{at}  approval asked for {call_id} {tool}: {reason}"),
        AgentEvent::ApprovalDecided {
            call_id,
            approved,
            by,
            ..
        } => writeln!(
            out,
            "{at}  {call_id} {} by {by}",
            if *approved { "approved" } else { "refused" }
        ),
        AgentEvent::Usage {
            prompt_tokens,
            completion_tokens,
        } => writeln!(
            out,
            "{at}  tokens: {prompt_tokens} prompt, {completion_tokens} completion"
        ),
        AgentEvent::Error { message } => writeln!(out, "{at}  error: {message}"),
        AgentEvent::TurnFinished { tool_calls, ok, .. } => writeln!(
            out,
            "{at}  turn {} ({tool_calls} tool calls)",
            if *ok { "answered" } else { "failed" }
        ),
    };
}

fn other_line(out: &mut String, at: &str, message: &TraceMessage) {
    let _ = match message {
        TraceMessage::RunsChanged { changes, .. } => {
            let failed: Vec<String> = changes
                .iter()
                .filter(|c| c.run.status == RunStatus::Failed)
                .map(|c| format!("{} {}", c.run.pipeline, c.run.run_id))
                .collect();
            let _ = writeln!(out, "{at}  board: {} run(s) new or changed", changes.len());
            if failed.is_empty() {
                Ok(())
            } else {
                writeln!(out, "{at}    failed: {}", failed.join(", "))
            }
        }
        TraceMessage::RunsStale { reason } => writeln!(out, "{at}  board refresh failed: {reason}"),
        TraceMessage::Connection {
            server,
            ready,
            detail,
        } => writeln!(
            out,
            "{at}  server {server} {}: {detail}",
            if *ready { "up" } else { "down" }
        ),
        TraceMessage::SessionEnd { reason } => writeln!(out, "{at}  session end: {reason}"),
        TraceMessage::Agent { .. } => Ok(()),
    };
}

fn markdown(trace: &Trace) -> String {
    let mut out = String::from("# Incident timeline\n\n");
    if let Some(h) = &trace.header {
        let _ = writeln!(
            out,
            "Session: {} on {} from {} · agent {} · {}{}\n",
            h.process,
            h.host,
            h.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            h.agent_mode,
            h.backend,
            h.scenario
                .as_deref()
                .map_or(String::new(), |s| format!(" ({s})"))
        );
    }
    let failures: Vec<(&Record, String)> = trace
        .records
        .iter()
        .flat_map(|r| match &r.message {
            TraceMessage::RunsChanged { changes, .. } => changes
                .iter()
                .filter(|c| c.run.status == RunStatus::Failed)
                .map(|c| {
                    let when = c.run.run_start.map_or(String::new(), |s| {
                        format!(" (started {})", s.format("%H:%M:%S"))
                    });
                    let first = c.run.message.lines().next().unwrap_or("");
                    let message = if first.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::server::reply::clip(first, 240))
                    };
                    (
                        r,
                        format!(
                            "**{}** run `{}` failed{when}{message}",
                            c.run.pipeline, c.run.run_id
                        ),
                    )
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    out.push_str("## What failed\n\n");
    if failures.is_empty() {
        out.push_str("No run failure was seen on the board during the session.\n");
    }
    for (record, line) in &failures {
        let _ = writeln!(out, "- {} — {line}", record.at.format("%H:%M:%S"));
    }
    out.push_str("\n## Timeline\n\n| time (UTC) | what |\n|---|---|\n");
    let mut answer = String::new();
    for record in &trace.records {
        let time = record.at.format("%H:%M:%S");
        let row = match &record.message {
            TraceMessage::Agent { event } => match event {
                AgentEvent::UserMessage { text } => Some(format!("asked: {}", cell(text))),
                AgentEvent::ToolCallFinished {
                    tool,
                    duration_ms,
                    is_error,
                    result,
                    ..
                } => Some(format!(
                    "evidence from `{tool}` ({duration_ms} ms{}): {}",
                    if *is_error { ", error" } else { "" },
                    cell(&result_summary(result))
                )),
                AgentEvent::ApprovalNeeded {
                    tool, arguments, ..
                } => Some(format!(
                    "approval asked: `{tool}` {}",
                    cell(&compact(arguments))
                )),
                AgentEvent::ApprovalDecided {
                    call_id,
                    approved,
                    by,
                    ..
                } => Some(format!(
                    "{} {call_id} ({by})",
                    if *approved {
                        "**approved**"
                    } else {
                        "**refused**"
                    }
                )),
                AgentEvent::Error { message } => Some(format!("error: {}", cell(message))),
                AgentEvent::TurnFinished { answer: text, .. } => {
                    answer = text.clone();
                    Some("answered".into())
                }
                _ => None,
            },
            TraceMessage::RunsChanged { changes, .. } => {
                let failed = changes
                    .iter()
                    .filter(|c| c.run.status == RunStatus::Failed)
                    .count();
                (failed > 0).then(|| format!("board: {failed} run(s) turned Failed"))
            }
            TraceMessage::RunsStale { reason } => {
                Some(format!("board refresh failed: {}", cell(reason)))
            }
            TraceMessage::Connection {
                server,
                ready,
                detail,
            } => Some(format!(
                "server {server} {}: {}",
                if *ready { "up" } else { "down" },
                cell(detail)
            )),
            TraceMessage::SessionEnd { reason } => Some(format!("session ended: {}", cell(reason))),
        };
        if let Some(row) = row {
            let _ = writeln!(out, "| {time} | {row} |");
        }
    }
    out.push_str("\n## Final answer\n\n");
    if answer.trim().is_empty() {
        out.push_str("The session recorded no answer.\n");
    } else {
        out.push_str(answer.trim());
        out.push('\n');
    }
    if !trace.skipped.is_empty() || !trace.warnings.is_empty() {
        out.push_str("\n## Notes on the trace\n\n");
        for warning in &trace.warnings {
            let _ = writeln!(out, "- {warning}");
        }
        for skipped in &trace.skipped {
            let _ = writeln!(out, "- line {} skipped: {}", skipped.line, skipped.reason);
        }
    }
    out
}

/// Text for a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

fn json(trace: &Trace) -> String {
    let skipped: Vec<Value> = trace
        .skipped
        .iter()
        .map(|s| serde_json::json!({"line": s.line, "reason": s.reason}))
        .collect();
    let document = serde_json::json!({
        "header": trace.header,
        "records": trace.records,
        "skipped": skipped,
        "warnings": trace.warnings,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(records: usize) -> String {
        let mut text = String::from(
            r#"{"type":"header","schema":1,"opsdeck_version":"0","started_at":"2026-11-23T03:42:00Z","host":"h","process":"console","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[]}"#,
        );
        text.push('\n');
        for seq in 1..=records {
            let line = match seq % 5 {
                0 => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:01Z","type":"agent","event":{{"event":"user_message","text":"q{seq}"}}}}"#
                ),
                1 | 2 => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:02Z","type":"agent","event":{{"event":"text_delta","text":"words {seq} "}}}}"#
                ),
                3 => "{broken".to_string(),
                _ => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:03Z","type":"session_end","reason":"r{seq}"}}"#
                ),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_streamed_transcript_equals_the_whole_one_even_across_chunks() {
        for records in [10, 200_000] {
            let text = sample(records);
            let whole = render(&reader::read(text.as_bytes()).unwrap(), Format::Text);
            let (pieces, skipped) = text_from_bytes(text.as_bytes()).unwrap();
            assert_eq!(pieces.concat(), whole, "{records} records");
            assert_eq!(skipped, records / 5);
            // Cut mid-line: the same again.
            let cut = &text[..text.len() - 7];
            let whole = render(&reader::read(cut.as_bytes()).unwrap(), Format::Text);
            assert_eq!(text_from_bytes(cut.as_bytes()).unwrap().0.concat(), whole);
        }
        assert!(text_from_bytes(b"not a trace").is_err());
    }
}
