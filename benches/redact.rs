//! Redaction speed: `redact::text` over tool-result-like text with no secret
//! (the common case: one screening pass, the text borrowed back) and with a
//! secret of each family every few lines (screened once, then rewritten by the
//! rules that matched), next to the floor of reading every byte once (the
//! anchor), `redact::value` over a page of runs as the board fetches it, and a
//! `StreamRedactor` taking the text in model-sized deltas.
//!
//! Run: `cargo bench --bench redact`. `OPSDECK_BENCH_MB` sets the text size.

mod common;
use common::median;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Instant;

use opsdeck::trace::redact;

const CLEAN_LINE: &str = "2026-11-23 03:42:01 INFO Operation on target CopyClickstream failed: ErrorCode=2200, rows read 1843, run 738623db-2602-48ac-a0af-12376af50b3e of ingest_web_events (attempt 2)\n";

const SECRETS: &[&str] = &[
    "DATABRICKS_TOKEN=dapi0123456789abcdef0123456789abcdef\n",
    "conn AccountName=st;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4;EndpointSuffix=core.windows.net\n",
    "url https://st.blob.core.windows.net/c/f?sv=2022&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D\n",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuYp2bDm0\n-----END RSA PRIVATE KEY-----\n",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "Authorization: Bearer ya29.a0AfH6SMBx3kT9opaqueTokenValue1234567890\n",
];

fn text(bytes: usize, with_secrets: bool) -> String {
    let mut out = String::with_capacity(bytes + 256);
    let mut line = 0;
    while out.len() < bytes {
        if with_secrets && line % 20 == 19 {
            out.push_str(SECRETS[(line / 20) % SECRETS.len()]);
        } else {
            out.push_str(CLEAN_LINE);
        }
        line += 1;
    }
    out
}

fn board_page() -> serde_json::Value {
    let mut runs = Vec::new();
    for i in 0..500 {
        runs.push(serde_json::json!({
            "run_id": format!("run-{i}"), "pipeline": "copy_sales", "status": "Failed",
            "message": "Operation on target CopyToLake failed: ErrorCode=2200",
            "parameters": {"window_start": "2026-11-23T00:00:00Z", "rows": i, "source": "Server=tcp:sql;User ID=etl;Encrypt=True"}
        }));
    }
    serde_json::json!({ "runs": runs })
}

fn time<T>(mut work: impl FnMut() -> T) -> (f64, f64, f64) {
    let mut samples = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        std::hint::black_box(work());
        samples.push(started.elapsed().as_secs_f64());
    }
    median(samples)
}

fn main() {
    let mb: usize = std::env::var("OPSDECK_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let clean = text(mb << 20, false);
    let dirty = text(mb << 20, true);
    assert!(matches!(redact::text(&clean), Cow::Borrowed(_)));
    assert!(!redact::text(&dirty).contains("dapi0123456789abcdef"));
    let page = board_page();
    let mut report = String::new();
    let _ = writeln!(report, "redaction benchmark — {mb} MiB of log text");
    let _ = writeln!(
        report,
        "  {:<48} {:>8} {:>16} {:>9}",
        "(7 runs, seconds)", "median", "range", "MB/s"
    );
    let mut row = |label: &str, (m, lo, hi): (f64, f64, f64), bytes: usize| {
        let _ = writeln!(
            report,
            "  {label:<48} {m:>8.4} {lo:>7.4}–{hi:.4} {:>9.0}",
            bytes as f64 / 1e6 / m
        );
    };
    row(
        "anchor: count line ends (every byte once)",
        time(|| memchr::memchr_iter(b'\n', clean.as_bytes()).count()),
        clean.len(),
    );
    row(
        "text: no secret (screen once, borrow)",
        time(|| redact::text(&clean).len()),
        clean.len(),
    );
    row(
        "text: a secret every 20 lines",
        time(|| redact::text(&dirty).len()),
        dirty.len(),
    );
    // Streamed answers are far smaller than a tool result; a tenth of the text
    // in 16-byte deltas, as a model sends them.
    let answer = &dirty[..dirty.len() / 10];
    let answer = &answer[..=answer.rfind('\n').unwrap_or(0)];
    row(
        "stream: a secret every 20 lines, 16-byte deltas",
        time(|| {
            let mut stream = redact::StreamRedactor::new();
            let mut shown = 0;
            for piece in answer.as_bytes().chunks(16) {
                shown += stream.push(std::str::from_utf8(piece).unwrap_or("")).len();
            }
            shown + stream.finish().len()
        }),
        answer.len(),
    );
    let page_bytes = page.to_string().len();
    row(
        "value: a board page of 500 runs",
        time(|| redact::value(&page)),
        page_bytes,
    );
    print!("{report}");
}
