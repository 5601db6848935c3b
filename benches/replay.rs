//! Replay speed: a 1,000,000-record trace streamed as a transcript (what
//! `--replay FILE` does) and read whole (what `--format markdown|json` need),
//! next to the floor of parsing the same lines as untyped JSON on one core
//! (the anchor), plus the real binary end to end (`opsdeck --replay FILE >
//! /dev/null`).
//!
//! Run: `cargo bench --bench replay`. `OPSDECK_BENCH_RECORDS` sets the size.

mod common;
use common::median;

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use opsdeck::trace::reader;
use opsdeck::trace::render::text as transcript;

const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");

/// A console session's mix: mostly streamed text and board changes, tool calls,
/// questions and answers.
fn trace(records: usize) -> String {
    let mut out = String::with_capacity(records * 220);
    out.push_str(r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"console","agent_mode":"gpt-4.1-mini","read_only":false,"backend":"sandbox","servers":[]}"#);
    out.push('\n');
    for seq in 1..=records {
        let at = format!(
            "2026-11-23T{:02}:{:02}:{:02}.{:03}Z",
            3 + seq / 3_600_000 % 20,
            seq / 60_000 % 60,
            seq / 1000 % 60,
            seq % 1000
        );
        let _ = match seq % 10 {
            0 => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"agent","event":{{"event":"user_message","text":"why did ingest_web_events fail at 03:30?"}}}}"#
            ),
            1 | 2 => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"agent","event":{{"event":"tool_call_started","call_id":"call-{seq}","server":"opsdeck","tool":"get_run_details","arguments":{{"run_id":"ab084a5f-34a8-4f78-8a3b-{seq:012}"}}}}}}"#
            ),
            3 | 4 => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"agent","event":{{"event":"tool_call_finished","call_id":"call-{seq}","server":"opsdeck","tool":"get_run_details","duration_ms":14,"is_error":false,"result":{{"content":["ingest_web_events run failed: Key Vault secret expired"]}},"truncated":false}}}}"#
            ),
            5 => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"runs_changed","changes":[{{"from":"InProgress","run":{{"run_id":"r{seq}","pipeline":"ingest_web_events","backend":"sandbox","environment":"prod","status":"Failed","run_start":"{at}","run_end":null,"duration_ms":61000,"invoked_by":{{"name":"tr","kind":"ScheduleTrigger"}},"message":"Operation on target CopyClickstream failed","parameters":{{}}}}}}]}}"#
            ),
            9 => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"agent","event":{{"event":"turn_finished","answer":"The secret expired.","tool_calls":2,"ok":true}}}}"#
            ),
            _ => writeln!(
                out,
                r#"{{"seq":{seq},"at":"{at}","type":"agent","event":{{"event":"text_delta","text":"The service principal secret expired, so every copy fails. "}}}}"#
            ),
        };
    }
    out
}

fn main() {
    let records: usize = std::env::var("OPSDECK_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let text = trace(records);
    println!(
        "replay benchmark — {records} records, {:.0} MB",
        text.len() as f64 / 1e6
    );
    let (mut anchor, mut read, mut stream) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let mut parsed = 0usize;
        for line in text.as_bytes().split(|b| *b == b'\n') {
            if serde_json::from_slice::<serde_json::Value>(line).is_ok() {
                parsed += 1;
            }
        }
        anchor.push(started.elapsed().as_secs_f64());
        std::hint::black_box(parsed);

        let started = Instant::now();
        let Ok(trace) = reader::read(text.as_bytes()) else {
            panic!("the generated trace reads");
        };
        read.push(started.elapsed().as_secs_f64());
        assert_eq!(trace.records.len(), records);
        drop(trace);
        let started = Instant::now();
        let Ok(streamed) =
            transcript::stream(text.as_bytes(), &mut std::io::sink(), transcript::BLOCK)
        else {
            panic!("the generated trace streams");
        };
        stream.push(started.elapsed().as_secs_f64());
        assert_eq!(streamed.skipped, 0);
    }
    let (a, a_lo, a_hi) = median(anchor);
    let (r, r_lo, r_hi) = median(read);
    let (t, t_lo, t_hi) = median(stream);
    println!(
        "  {:<44} {:>8} {:>16}",
        "(5 runs, seconds)", "median", "range"
    );
    println!(
        "  {:<44} {a:>8.3} {a_lo:>7.3}–{a_hi:.3}",
        "anchor: parse every line as serde_json::Value"
    );
    println!(
        "  {:<44} {r:>8.3} {r_lo:>7.3}–{r_hi:.3}",
        "read whole (typed, every core; markdown/json)"
    );
    println!(
        "  {:<44} {t:>8.3} {t_lo:>7.3}–{t_hi:.3}",
        "stream the transcript (read+render+write)"
    );
    println!(
        "  read ÷ anchor {:.2}×, stream ÷ anchor {:.2}×; streamed transcript per 500,000 records: {:.3} s",
        r / a,
        t / a,
        t * 500_000.0 / records as f64
    );

    let path =
        std::env::temp_dir().join(format!("opsdeck-replay-bench-{}.jsonl", std::process::id()));
    if std::fs::write(&path, &text).is_ok() {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let status = Command::new(OPSDECK)
                .arg("--replay")
                .arg(&path)
                .env(
                    "OPSDECK_LOG_DIR",
                    std::env::temp_dir().join("opsdeck-bench-logs"),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if status.is_ok_and(|s| s.success()) {
                runs.push(started.elapsed().as_secs_f64());
            }
        }
        let _ = std::fs::remove_file(&path);
        if !runs.is_empty() {
            let (m, lo, hi) = median(runs);
            println!(
                "  opsdeck --replay FILE > /dev/null: median {m:.3} s ({lo:.3}–{hi:.3}), {:.3} s per 500,000 records",
                m * 500_000.0 / records as f64
            );
        }
    }
}
