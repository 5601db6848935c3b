//! The tolerant reader: damaged, endless and over-long input.

use super::*;
use crate::trace::schema::TraceMessage;

const HEADER: &str = r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"ask","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[]}"#;
const USER: &str = r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{"event":"user_message","text":"why?"}}"#;
const END: &str =
    r#"{"seq":2,"at":"2026-11-23T03:42:02Z","type":"session_end","reason":"finished"}"#;

#[test]
fn a_whole_trace_reads_cleanly() {
    let text = format!("{HEADER}\n{USER}\n{END}\n");
    let trace = read(text.as_bytes()).unwrap();
    assert!(trace.header.is_some());
    assert_eq!(trace.records.len(), 2);
    assert!(trace.skipped.is_empty() && trace.warnings.is_empty());
    assert!(matches!(
        trace.records[1].message,
        TraceMessage::SessionEnd { .. }
    ));
}

#[test]
fn a_truncated_last_line_is_skipped_and_named() {
    let text = format!("{HEADER}\n{USER}\n{}", &END[..30]);
    let trace = read(text.as_bytes()).unwrap();
    assert_eq!(trace.records.len(), 1);
    assert_eq!(trace.skipped.len(), 1);
    assert_eq!(trace.skipped[0].line, 3);
    assert!(
        trace.skipped[0].reason.contains("cut short"),
        "{:?}",
        trace.skipped
    );
}

#[test]
fn a_corrupt_middle_line_is_skipped_and_the_rest_read() {
    let text = format!("{HEADER}\n{USER}\n{{garbage\n{{\"seq\":5,\"type\":\"teleport\"}}\n{END}\n");
    let trace = read(text.as_bytes()).unwrap();
    assert_eq!(trace.records.len(), 2);
    let lines: Vec<usize> = trace.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![3, 4]);
    assert!(trace.skipped[0].reason.contains("not valid JSON"));
    assert!(trace.skipped[1].reason.contains("not a record"));
}

#[test]
fn a_future_schema_warns_and_reads_what_it_can() {
    let future = HEADER.replace("\"schema\":1", "\"schema\":7");
    let text = format!(
        "{future}\n{USER}\n{{\"seq\":2,\"at\":\"2026-11-23T03:42:02Z\",\"type\":\"hologram\"}}\n"
    );
    let trace = read(text.as_bytes()).unwrap();
    assert!(
        trace.warnings[0].contains("schema 7"),
        "{:?}",
        trace.warnings
    );
    assert_eq!(trace.records.len(), 1);
    assert_eq!(trace.skipped.len(), 1);
}

#[test]
fn not_a_trace_and_empty_files_are_errors_with_the_reason() {
    assert!(
        read(b"hello world\n")
            .unwrap_err()
            .contains("not an opsdeck trace")
    );
    assert!(
        read(b"{\"name\": \"package.json\"}\n")
            .unwrap_err()
            .contains("not an opsdeck trace")
    );
    assert!(read(b"").unwrap_err().contains("empty"));
    assert!(read(b"\n\n").unwrap_err().contains("empty"));
    assert!(
        read(&[0xff, 0xfe, 0x00])
            .unwrap_err()
            .contains("not an opsdeck trace")
    );
}

#[test]
fn every_agent_event_round_trips_through_the_fast_reader() {
    use serde_json::json;
    let events = vec![
        AgentEvent::UserMessage { text: "q".into() },
        AgentEvent::AgentMode {
            mode: "offline".into(),
        },
        AgentEvent::TextDelta { text: "t".into() },
        AgentEvent::ToolCallStarted {
            call_id: "c".into(),
            server: "s".into(),
            tool: "t".into(),
            arguments: json!({"a": 1}),
        },
        AgentEvent::ToolCallFinished {
            call_id: "c".into(),
            server: "s".into(),
            tool: "t".into(),
            duration_ms: 3,
            is_error: true,
            result: json!("boom"),
            truncated: true,
        },
        AgentEvent::ApprovalNeeded {
            call_id: "c".into(),
            server: "s".into(),
            tool: "t".into(),
            arguments: json!({}),
            reason: "r".into(),
        },
        AgentEvent::ApprovalDecided {
            call_id: "c".into(),
            approved: false,
            by: "user".into(),
            reason: "r".into(),
        },
        AgentEvent::Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
        },
        AgentEvent::Error {
            message: "m".into(),
        },
        AgentEvent::TurnFinished {
            answer: "a".into(),
            tool_calls: 2,
            ok: true,
        },
    ];
    let mut text = format!("{HEADER}\n");
    let records: Vec<Record> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Record {
            seq: i as u64 + 1,
            at: "2026-11-23T03:42:01Z".parse().unwrap(),
            message: TraceMessage::Agent { event },
        })
        .chain([
            Record {
                seq: 11,
                at: "2026-11-23T03:42:02Z".parse().unwrap(),
                message: TraceMessage::RunsStale {
                    reason: "down".into(),
                },
            },
            Record {
                seq: 12,
                at: "2026-11-23T03:42:02Z".parse().unwrap(),
                message: TraceMessage::Connection {
                    server: "s".into(),
                    ready: true,
                    detail: "ready".into(),
                },
            },
            Record {
                seq: 13,
                at: "2026-11-23T03:42:03Z".parse().unwrap(),
                message: TraceMessage::RunsChanged {
                    removed: vec!["old-run".into()],
                    changes: vec![RunChange {
                        from: None,
                        run: serde_json::from_value(json!({
                            "run_id": "r", "pipeline": "p", "backend": "sandbox",
                            "environment": "prod", "status": "Failed", "run_start": null,
                            "run_end": null, "duration_ms": null,
                            "invoked_by": {"name": "t", "kind": "Manual"},
                            "message": "m", "parameters": {}
                        }))
                        .unwrap(),
                    }],
                },
            },
            Record {
                seq: 14,
                at: "2026-11-23T03:42:04Z".parse().unwrap(),
                message: TraceMessage::RunFollowed {
                    server: "opsdeck".into(),
                    run_id: "r2".into(),
                    pipeline: "p".into(),
                    run: Some(Box::new(
                        serde_json::from_value(json!({
                            "run_id": "r2", "pipeline": "p", "backend": "fabric",
                            "environment": "prod", "status": "InProgress", "run_start": null,
                            "run_end": null, "duration_ms": null,
                            "invoked_by": {"name": "t", "kind": "Manual"},
                            "message": "", "parameters": {}
                        }))
                        .unwrap(),
                    )),
                    reason: None,
                },
            },
            Record {
                seq: 15,
                at: "2026-11-23T03:42:05Z".parse().unwrap(),
                message: TraceMessage::RunFollowed {
                    server: "opsdeck".into(),
                    run_id: "r2".into(),
                    pipeline: "p".into(),
                    run: None,
                    reason: Some("10 looks in a row failed".into()),
                },
            },
        ])
        .collect();
    for record in &records {
        text.push_str(&serde_json::to_string(record).unwrap());
        text.push('\n');
    }
    let trace = read(text.as_bytes()).unwrap();
    assert!(trace.skipped.is_empty(), "{:?}", trace.skipped);
    assert_eq!(trace.records, records);
}

#[test]
fn the_fast_instant_reader_agrees_with_chrono() {
    for text in [
        "2026-11-23T03:42:01Z",
        "2026-11-23T03:42:01.5Z",
        "2026-11-23T03:42:01.123456789Z",
        "2024-02-29T23:59:59.000001Z",
    ] {
        let expected = DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(fast_utc(text.as_bytes()), Some(expected), "{text}");
    }
    for text in [
        "2026-11-23T03:42:01+01:00",
        "2026-13-01T00:00:00Z",
        "2026-11-23 03:42:01Z",
        "2026-11-23T03:42:01.Z",
        "2026-11-23T03:42:01.1234567890Z",
    ] {
        assert_eq!(
            fast_utc(text.as_bytes()),
            None,
            "{text} goes to the general parser"
        );
    }
    let line = r#"{"seq":1,"at":"2026-11-23T04:42:01+01:00","type":"session_end","reason":"quit"}"#;
    let record = parse_record(line.as_bytes()).ok().unwrap();
    assert_eq!(
        record.at,
        DateTime::parse_from_rfc3339("2026-11-23T03:42:01Z")
            .unwrap()
            .with_timezone(&Utc)
    );
}

#[test]
fn a_large_trace_is_read_in_parallel_in_order_with_exact_line_numbers() {
    let mut text = format!("{HEADER}\n");
    let mut corrupt = Vec::new();
    for seq in 1..=60_000u64 {
        if seq % 7_919 == 0 {
            text.push_str("{not json\n");
            corrupt.push(seq as usize + 1);
        } else {
            text.push_str(&format!(
                "{{\"seq\":{seq},\"at\":\"2026-11-23T03:42:01Z\",\"type\":\"agent\",\"event\":{{\"event\":\"text_delta\",\"text\":\"some streamed words\"}}}}\n"
            ));
        }
    }
    assert!(
        text.len() > PARALLEL_FROM,
        "big enough for the parallel path"
    );
    let trace = read(text.as_bytes()).unwrap();
    let lines: Vec<usize> = trace.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, corrupt, "line numbers survive the split");
    assert_eq!(trace.records.len(), 60_000 - corrupt.len());
    assert!(
        trace.records.windows(2).all(|w| w[0].seq < w[1].seq),
        "order kept"
    );
    let cut = &text[..text.len() - 20];
    let trace = read(cut.as_bytes()).unwrap();
    assert!(
        trace
            .skipped
            .last()
            .is_some_and(|s| s.reason.contains("cut short"))
    );
}

fn small(total: u64) -> Limits {
    Limits { line: 256, total }
}

#[test]
fn loading_skips_an_over_long_line_with_its_reason_and_reads_on() {
    let long = "x".repeat(10_000);
    let text = format!("{HEADER}\n{USER}\n{long}\n{END}\n");
    for block in [64, 300] {
        let trace = load_within(&mut text.as_bytes(), block, small(1 << 20)).unwrap();
        assert_eq!(trace.records.len(), 2, "block {block}");
        assert_eq!(trace.skipped.len(), 1, "block {block}: {:?}", trace.skipped);
        assert_eq!(trace.skipped[0].line, 3);
        assert!(
            trace.skipped[0].reason.contains("16 MiB"),
            "{:?}",
            trace.skipped
        );
    }
}

#[test]
fn loading_an_endless_input_stops_at_the_total_with_a_warning() {
    // A header, then zeros for ever: no line end, no end of file.
    let input = format!("{HEADER}\n{USER}\n").into_bytes();
    let mut endless = std::io::Read::chain(&input[..], std::io::repeat(0));
    let trace = load_within(&mut endless, 128, small(64 << 10)).unwrap();
    assert!(trace.header.is_some());
    assert_eq!(trace.records.len(), 1);
    assert!(
        trace
            .skipped
            .iter()
            .any(|s| s.line == 3 && s.reason.contains("skipped without reading")),
        "{:?}",
        trace.skipped
    );
    assert!(
        trace.warnings.iter().any(|w| w.contains("only its first")),
        "{:?}",
        trace.warnings
    );
    // Nothing but zeros: not a trace, said at once.
    let why = load_within(&mut std::io::repeat(0), 128, small(64 << 10)).unwrap_err();
    assert!(why.contains("longer than"), "{why}");
}

#[test]
fn loading_agrees_with_reading_in_memory() {
    let text = format!("\n\n{HEADER}\n{USER}\n{{garbage\n{END}\n{}", &END[..20]);
    let whole = read(text.as_bytes()).unwrap();
    for block in [1, 7, 100, 1 << 20] {
        let loaded = load_within(&mut text.as_bytes(), block, Limits::LOAD).unwrap();
        assert_eq!(loaded.records, whole.records, "block {block}");
        assert_eq!(loaded.skipped, whole.skipped, "block {block}");
        assert_eq!(loaded.warnings, whole.warnings, "block {block}");
    }
    assert_eq!(
        load(&b"not a trace\n"[..]).unwrap_err(),
        read(b"not a trace\n").unwrap_err()
    );
}

#[test]
fn records_without_a_header_still_replay() {
    let text = format!("{USER}\n{END}\n");
    let trace = read(text.as_bytes()).unwrap();
    assert!(trace.header.is_none());
    assert_eq!(trace.records.len(), 2);
    assert!(trace.warnings[0].contains("header line is missing"));
}

#[test]
fn the_tools_offered_event_reads_back_and_old_traces_still_read() {
    let record = Record {
        seq: 1,
        at: "2026-11-23T03:42:01Z".parse().unwrap(),
        message: TraceMessage::Agent {
            event: AgentEvent::ToolsOffered {
                offered: vec!["triage_run".into(), "azure_vm_list".into()],
                left_out: 86,
            },
        },
    };
    let line = serde_json::to_string(&record).unwrap();
    assert!(line.contains(r#""event":"tools_offered""#), "{line}");
    let trace = read(format!("{HEADER}\n{line}\n{USER}\n{END}\n").as_bytes()).unwrap();
    assert!(trace.skipped.is_empty(), "{:?}", trace.skipped);
    assert_eq!(trace.records[0], record);
    // A trace written before the event existed reads as it did.
    let old = read(format!("{HEADER}\n{USER}\n{END}\n").as_bytes()).unwrap();
    assert_eq!(old.records.len(), 2);
    // Without its names the event is a damaged line, named, not a guess.
    let bare = r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{"event":"tools_offered","left_out":3}}"#;
    let trace = read(format!("{HEADER}\n{bare}\n{END}\n").as_bytes()).unwrap();
    assert_eq!(trace.skipped.len(), 1);
    assert!(
        trace.skipped[0].reason.contains("offered"),
        "{:?}",
        trace.skipped
    );
}
