//! The incident timeline for a postmortem.

use std::fmt::Write;

use super::{compact, result_summary};
use crate::agent::events::AgentEvent;
use crate::model::run::RunStatus;
use crate::trace::reader::Trace;
use crate::trace::schema::{Record, TraceMessage};

pub(super) fn markdown(trace: &Trace) -> String {
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
                        format!(": {}", crate::support::text::clip(first, 240))
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
                AgentEvent::ToolsOffered { offered, left_out } if *left_out > 0 => {
                    Some(cell(&crate::agent::offer::describe(offered, *left_out)))
                }
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
            TraceMessage::ConversationReset => {
                Some("new conversation (earlier turns forgotten)".to_string())
            }
            TraceMessage::RunFollowed {
                run_id,
                pipeline,
                run,
                reason,
                ..
            } => match (run, reason) {
                (_, Some(reason)) => Some(format!(
                    "stopped following run {} of {}: {}",
                    cell(run_id),
                    cell(pipeline),
                    cell(reason)
                )),
                (Some(run), None) => Some(format!(
                    "followed run {} of {}: {}",
                    cell(run_id),
                    cell(pipeline),
                    run.status.as_str()
                )),
                (None, None) => None,
            },
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
