//! Reads a trace tolerantly: a damaged file (a truncated last line, a corrupt
//! line in the middle, an unknown future schema) gives what can be read plus
//! the lines skipped and why. Only a file with nothing readable is an error.

use serde::Deserialize;

use super::schema::{Header, Record, SCHEMA_VERSION};

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

pub fn read(bytes: &[u8]) -> Result<Trace, String> {
    let mut trace = Trace::default();
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    // The header: the first non-empty line.
    let mut first_record_line = None;
    while let Some((index, line)) = lines.peek().copied() {
        if line.iter().all(u8::is_ascii_whitespace) {
            lines.next();
            continue;
        }
        match serde_json::from_slice::<Probe>(line) {
            Ok(Probe {
                kind: Some(kind),
                schema,
            }) if kind == "header" => {
                lines.next();
                if let Some(version) = schema.filter(|v| *v > SCHEMA_VERSION) {
                    trace.warnings.push(format!(
                        "the trace uses schema {version}, newer than the {SCHEMA_VERSION} this opsdeck reads; lines it cannot read are skipped (a newer opsdeck reads them all)"
                    ));
                }
                match serde_json::from_slice::<Header>(line) {
                    Ok(header) => trace.header = Some(header),
                    Err(e) => trace.skipped.push(Skipped {
                        line: index + 1,
                        reason: format!("the header is incomplete ({e}); replaying without it"),
                    }),
                }
            }
            Ok(_) | Err(_) => {
                if serde_json::from_slice::<Record>(line).is_err() {
                    return Err(
                        "this is not an opsdeck trace: its first line is neither a trace header nor a trace record (traces are written by the console and `opsdeck ask`, under ~/.local/state/opsdeck/traces/)".into(),
                    );
                }
                trace
                    .warnings
                    .push("the header line is missing; replaying the records without it".into());
            }
        }
        first_record_line = Some(index);
        break;
    }
    if first_record_line.is_none() {
        return Err("the file is empty".into());
    }
    let total_lines = bytes.split(|b| *b == b'\n').count();
    for (index, line) in lines {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => trace.records.push(record),
            Err(e) => {
                let last = index + 1 >= total_lines.saturating_sub(1) && !bytes.ends_with(b"\n");
                let reason = if last && e.is_eof() {
                    "the last line is cut short (the session was still writing, or the file was truncated)".to_string()
                } else if e.is_syntax() || e.is_eof() {
                    format!("not valid JSON ({e})")
                } else {
                    format!("not a record this opsdeck knows ({e})")
                };
                trace.skipped.push(Skipped {
                    line: index + 1,
                    reason,
                });
            }
        }
    }
    if trace.header.is_none() && trace.records.is_empty() {
        let why = trace.skipped.first().map_or_else(
            || "no line could be read".to_string(),
            |s| format!("line {}: {}", s.line, s.reason),
        );
        return Err(format!("nothing in the trace could be read ({why})"));
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
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
        let text =
            format!("{HEADER}\n{USER}\n{{garbage\n{{\"seq\":5,\"type\":\"teleport\"}}\n{END}\n");
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
    fn records_without_a_header_still_replay() {
        let text = format!("{USER}\n{END}\n");
        let trace = read(text.as_bytes()).unwrap();
        assert!(trace.header.is_none());
        assert_eq!(trace.records.len(), 2);
        assert!(trace.warnings[0].contains("header line is missing"));
    }
}
