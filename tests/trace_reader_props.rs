//! The trace reader never panics: not on arbitrary bytes, not on arbitrary
//! edits (cut, byte flips, inserted or deleted lines) of a valid trace. It
//! either reads something or says why nothing could be read.

use opsdeck::trace::reader;
use opsdeck::trace::render::text as transcript;
use proptest::prelude::*;

const VALID: &str = concat!(
    r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"console","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[{"name":"opsdeck","tools":[{"name":"triage_run","definition_hash":"00ff","destructive":false}]}]}"#,
    "\n",
    r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"runs_changed","changes":[{"from":null,"run":{"run_id":"r1","pipeline":"p","backend":"sandbox","environment":"prod","status":"Failed","run_start":null,"run_end":null,"duration_ms":null,"invoked_by":{"name":"t","kind":"Manual"},"message":"boom","parameters":{}}}]}"#,
    "\n",
    r#"{"seq":2,"at":"2026-11-23T03:42:02Z","type":"agent","event":{"event":"user_message","text":"why did p fail?"}}"#,
    "\n",
    r#"{"seq":3,"at":"2026-11-23T03:42:03Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-1","server":"opsdeck","tool":"triage_run","duration_ms":12,"is_error":false,"result":{"content":["root cause"]},"truncated":false}}"#,
    "\n",
    r#"{"seq":4,"at":"2026-11-23T03:42:04Z","type":"agent","event":{"event":"text_delta","text":"The secret expired."}}"#,
    "\n",
    r#"{"seq":5,"at":"2026-11-23T03:42:05Z","type":"session_end","reason":"quit"}"#,
    "\n",
);

#[derive(Debug, Clone)]
enum Edit {
    Cut(usize),
    Flip(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    InsertGarbage(usize, Vec<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..VALID.len()).prop_map(Edit::Cut),
        (0..VALID.len(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (0..6usize).prop_map(Edit::DeleteLine),
        (0..6usize).prop_map(Edit::DuplicateLine),
        (0..6usize, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(i, g)| Edit::InsertGarbage(i, g)),
    ]
}

fn apply(edits: &[Edit]) -> Vec<u8> {
    let mut bytes = VALID.as_bytes().to_vec();
    for edit in edits {
        match edit {
            Edit::Cut(at) => bytes.truncate((*at).min(bytes.len())),
            Edit::Flip(at, b) => {
                if let Some(slot) = bytes.get_mut(*at) {
                    *slot = *b;
                }
            }
            Edit::DeleteLine(n) | Edit::DuplicateLine(n) | Edit::InsertGarbage(n, _) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                if lines.is_empty() {
                    continue;
                }
                let i = n % lines.len();
                match edit {
                    Edit::DeleteLine(_) => {
                        lines.remove(i);
                    }
                    Edit::DuplicateLine(_) => {
                        let line = lines[i].clone();
                        lines.insert(i, line);
                    }
                    Edit::InsertGarbage(_, garbage) => lines.insert(i, garbage.clone()),
                    _ => {}
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        match reader::read(&bytes) {
            Ok(trace) => prop_assert!(trace.header.is_some() || !trace.records.is_empty()),
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn edited_traces_never_panic_and_account_for_every_line(edits in proptest::collection::vec(edit(), 1..6)) {
        let bytes = apply(&edits);
        if let Ok(trace) = reader::read(&bytes) {
            let non_empty = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .count();
            let header = usize::from(trace.header.is_some() || trace.skipped.iter().any(|s| s.reason.contains("header")));
            // Every non-empty line is a header, a record, or skipped with a reason.
            prop_assert!(
                trace.records.len() + trace.skipped.len() + header >= non_empty.saturating_sub(1),
                "lines unaccounted for: {} records, {} skipped, {} non-empty", trace.records.len(), trace.skipped.len(), non_empty
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The streamed transcript is the whole-trace transcript, whatever the
    /// damage and wherever the blocks are cut — or the same refusal.
    #[test]
    fn the_streamed_transcript_matches_the_whole_one(
        edits in proptest::collection::vec(edit(), 0..5),
        block in 1usize..400,
    ) {
        let bytes = apply(&edits);
        let mut streamed = Vec::new();
        let outcome = transcript::stream(bytes.as_slice(), &mut streamed, block);
        match reader::read(&bytes) {
            Ok(trace) => {
                prop_assert_eq!(outcome.map(|s| s.skipped), Ok(trace.skipped.len()));
                prop_assert_eq!(String::from_utf8_lossy(&streamed), transcript::text(&trace));
            }
            Err(reason) => {
                prop_assert_eq!(outcome, Err(reason));
                prop_assert!(streamed.is_empty(), "nothing is printed for an unreadable trace");
            }
        }
    }
}

#[test]
fn the_unedited_trace_reads_whole() {
    let trace = reader::read(VALID.as_bytes()).expect("valid");
    assert!(trace.header.is_some());
    assert_eq!(trace.records.len(), 5);
    assert!(trace.skipped.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Loading from a reader (what `--format markdown|json` do, in bounded
    /// blocks) reads exactly what reading the bytes in memory reads.
    #[test]
    fn loading_in_blocks_matches_reading_in_memory(edits in proptest::collection::vec(edit(), 0..5)) {
        let bytes = apply(&edits);
        match (reader::read(&bytes), reader::load(bytes.as_slice())) {
            (Ok(whole), Ok(loaded)) => {
                prop_assert_eq!(whole.header, loaded.header);
                prop_assert_eq!(whole.records, loaded.records);
                prop_assert_eq!(whole.skipped, loaded.skipped);
                prop_assert_eq!(whole.warnings, loaded.warnings);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "read {:?}, loaded {:?}", a.is_ok(), b.is_ok()),
        }
    }

    /// Whatever text a trace carries, no rendering of it holds a control
    /// character a terminal would act on (C0 but line end and tab, DEL, C1).
    #[test]
    fn no_rendering_of_a_trace_carries_a_terminal_control(
        question in any::<String>(),
        result in any::<String>(),
        kind in any::<String>(),
    ) {
        use opsdeck::trace::render::{Format, render};
        let user = serde_json::json!({"seq": 1, "at": "2026-11-23T03:42:01Z", "type": "agent",
            "event": {"event": "user_message", "text": question}});
        let finished = serde_json::json!({"seq": 2, "at": "2026-11-23T03:42:02Z", "type": "agent",
            "event": {"event": "tool_call_finished", "call_id": result, "server": "s", "tool": "t",
                "duration_ms": 1, "is_error": false, "result": {"content": [result]}, "truncated": false}});
        let unknown = serde_json::json!({"seq": 3, "at": "2026-11-23T03:42:03Z", "type": kind});
        let text = format!("{}{user}\n{finished}\n{unknown}\n", VALID);
        let trace = reader::read(text.as_bytes()).expect("the trace reads");
        let mut streamed = Vec::new();
        transcript::stream(text.as_bytes(), &mut streamed, 64).expect("the trace streams");
        for (format, out) in [
            ("text", transcript::text(&trace)),
            ("stream", String::from_utf8_lossy(&streamed).into_owned()),
            ("markdown", render(&trace, Format::Markdown)),
            ("json", render(&trace, Format::Json)),
        ] {
            let bad: Vec<char> = out
                .chars()
                .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
                .collect();
            prop_assert!(bad.is_empty(), "{} carries {:?}", format, bad);
        }
    }
}

/// Pieces of text met in logs: secrets of each family, their look-alikes, and
/// the characters that surround them.
const PIECES: &[&str] = &[
    "dapi0123456789abcdef0123456789abcdef",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-123456789012-AbCdEfGhIjKl",
    "https://hooks.slack.com/services/T0/B0/XXXXXXXX",
    "-----BEGIN PRIVATE KEY-----",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "-----END PRIVATE KEY-----",
    "DATABRICKS_TOKEN=",
    "export STORAGE_KEY=",
    "password=",
    "AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
    "sig=",
    "Bearer abcdefghijklmnop",
    "[redacted: password]",
    "plain",
    "x",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// However secrets and their surroundings are strung together, redacting
    /// the result again changes nothing, and what the screen gets holds no
    /// terminal control.
    #[test]
    fn redaction_is_idempotent_on_any_mix(
        parts in proptest::collection::vec(
            (0..PIECES.len(), prop::sample::select(vec!["", " ", "\n", ";", "&", "\"", "'", "=", ":", "\u{1b}", "\r"])),
            0..12,
        )
    ) {
        use opsdeck::trace::redact;
        let text: String = parts.iter().map(|(i, sep)| format!("{}{sep}", PIECES[*i])).collect();
        let once = redact::text(&text).into_owned();
        prop_assert_eq!(redact::text(&once).into_owned(), once.clone(), "from {:?}", text);
        let screen = opsdeck::support::terminal::for_screen(&text);
        prop_assert!(!screen.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    }
}
