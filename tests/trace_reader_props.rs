//! The trace reader never panics: not on arbitrary bytes, not on arbitrary
//! edits (cut, byte flips, inserted or deleted lines) of a valid trace. It
//! either reads something or says why nothing could be read.

use opsdeck::trace::{reader, transcript};
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
