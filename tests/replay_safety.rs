//! `opsdeck --replay` facing hostile traces, end to end with the real binary:
//! escape sequences in a trace reach the terminal inert in every format; an
//! endless or newline-free input ends, in bounded memory (checked under an
//! address-space limit, so a regression fails here instead of taking the
//! machine down); and `--verify` re-runs only what the server configured now,
//! trusted, marks read-only — a forged trace cannot make it call a tool that
//! writes.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{OPSDECK, peer_script, python, tempdir};

const HEADER: &str = r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"ask","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[]}"#;

/// Address space for one replay: ample for opsdeck's threads and buffers,
/// far below what reading an endless input whole would take.
const ADDRESS_SPACE_KIB: u64 = 1 << 20;

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs opsdeck with `args` under the address-space limit, stdin from
/// `stdin` (or nothing); kills it if it is still running after `limit`.
fn replay(args: &[&str], stdin: Option<&Path>, limit: Duration) -> Finished {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(OPSDECK)
        .args(args)
        .env("OPSDECK_LOG_DIR", tempdir("replay-safety-logs"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(path) => command.stdin(std::fs::File::open(path).unwrap()),
        None => command.stdin(Stdio::null()),
    };
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("opsdeck {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

fn write_trace(tag: &str, lines: &[String]) -> PathBuf {
    let path = tempdir(tag).join("trace.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    path
}

/// A control character a terminal acts on: C0 but the line end and tab, DEL, C1.
fn acts_on_terminal(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[test]
fn escape_sequences_in_a_trace_reach_no_terminal() {
    // OSC 52 (write the clipboard), OSC 0 (window title), a screen clear, C1 CSI.
    let hostile = r"\u001b]52;c;cm0gLXJmIH4=\u0007\u001b]0;pwned\u0007\u001b[2J\u009b31m\u007f";
    let trace = write_trace(
        "replay-escapes",
        &[
            HEADER.to_string(),
            format!(
                r#"{{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{{"event":"user_message","text":"why {hostile}?"}}}}"#
            ),
            format!(
                r#"{{"seq":2,"at":"2026-11-23T03:42:02Z","type":"agent","event":{{"event":"tool_call_started","call_id":"c{hostile}","server":"s","tool":"t{hostile}","arguments":{{"a":"{hostile}"}}}}}}"#
            ),
            format!(
                r#"{{"seq":3,"at":"2026-11-23T03:42:03Z","type":"agent","event":{{"event":"tool_call_finished","call_id":"c","server":"s","tool":"t","duration_ms":1,"is_error":false,"result":{{"content":["{hostile} result"]}},"truncated":false}}}}"#
            ),
            format!(
                r#"{{"seq":4,"at":"2026-11-23T03:42:04Z","type":"agent","event":{{"event":"text_delta","text":"answer {hostile}"}}}}"#
            ),
            format!(
                r#"{{"seq":5,"at":"2026-11-23T03:42:05Z","type":"agent","event":{{"event":"turn_finished","answer":"answer {hostile}","tool_calls":1,"ok":true}}}}"#
            ),
            format!(r#"{{"seq":6,"at":"2026-11-23T03:42:06Z","type":"{hostile}"}}"#),
            format!(
                r#"{{"seq":7,"at":"2026-11-23T03:42:07Z","type":"session_end","reason":"{hostile}"}}"#
            ),
        ],
    );
    let path = trace.to_str().unwrap();
    for format in ["text", "markdown", "json"] {
        let run = replay(
            &["--replay", path, "--format", format],
            None,
            Duration::from_secs(60),
        );
        assert_eq!(run.code, Some(0), "{format}: {}", run.stderr);
        let bad: Vec<char> = run
            .stdout
            .chars()
            .filter(|c| acts_on_terminal(*c))
            .collect();
        assert!(bad.is_empty(), "{format} printed {bad:?}:\n{}", run.stdout);
        assert!(
            !run.stderr.chars().any(acts_on_terminal),
            "{format}: {:?}",
            run.stderr
        );
        if format == "json" {
            // Still the same document for a JSON reader.
            let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            let text = &document["records"][0]["event"]["text"];
            assert_eq!(
                text,
                "why \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{7f}?"
            );
        } else {
            assert!(
                run.stdout.contains(r"\x1b]52;c;cm0gLXJmIH4=\x07"),
                "{format}: {}",
                run.stdout
            );
            assert!(run.stdout.contains(r"\x9b31m"), "{format}: {}", run.stdout);
        }
    }
}

#[test]
fn replaying_dev_zero_ends_at_once_in_every_format() {
    for format in ["text", "markdown", "json"] {
        let run = replay(
            &["--replay", "/dev/zero", "--format", format],
            None,
            Duration::from_secs(60),
        );
        assert_eq!(run.code, Some(1), "{format}: {}", run.stderr);
        assert!(
            run.stderr.contains("first line is longer than the 16 MiB"),
            "{format}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_line_without_end_is_skipped_with_its_reason_and_the_rest_replayed() {
    // 40 MiB without a line end between two records.
    let path = tempdir("replay-long-line").join("trace.jsonl");
    let mut text = format!(
        "{HEADER}\n{}\n",
        r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{"event":"user_message","text":"before"}}"#
    )
    .into_bytes();
    text.extend(std::iter::repeat_n(b'x', 40 << 20));
    text.extend_from_slice(
        b"\n{\"seq\":3,\"at\":\"2026-11-23T03:42:03Z\",\"type\":\"agent\",\"event\":{\"event\":\"user_message\",\"text\":\"after\"}}\n",
    );
    std::fs::write(&path, &text).unwrap();
    drop(text);
    for format in ["text", "markdown", "json"] {
        let run = replay(
            &["--replay", path.to_str().unwrap(), "--format", format],
            None,
            Duration::from_secs(120),
        );
        assert_eq!(run.code, Some(0), "{format}: {}", run.stderr);
        assert!(
            run.stdout.contains("before") && run.stdout.contains("after"),
            "{format}"
        );
        assert!(
            run.stdout
                .contains("longer than the 16 MiB a trace line may be"),
            "{format}: {}",
            &run.stdout[..run.stdout.len().min(3000)]
        );
        assert!(
            run.stdout.len() < 1 << 20,
            "{format}: the long line is not echoed"
        );
    }
}

#[test]
fn an_endless_pipe_after_a_header_ends_at_the_read_limit() {
    // `cat header /dev/zero | opsdeck --replay /dev/stdin`, without the shell:
    // a fifo fed by a thread that writes the header, then zeros until closed.
    let dir = tempdir("replay-endless");
    let fifo = dir.join("endless");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(writer_path) else {
            return;
        };
        let _ = pipe.write_all(format!("{HEADER}\n").as_bytes());
        let zeros = vec![0u8; 1 << 20];
        // Ends when opsdeck stops reading and closes the fifo.
        while pipe.write_all(&zeros).is_ok() {}
    });
    let run = replay(
        &["--replay", "/dev/stdin", "--format", "markdown"],
        Some(&fifo),
        Duration::from_secs(120),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("only its first 1024 MiB were read"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("line 2 skipped: longer than"),
        "{}",
        run.stdout
    );
}

/// The Python SDK peer that records every call it gets (tests/peers/estate_peer.py).
fn estate_config(dir: &Path, trusted: bool) -> (PathBuf, PathBuf) {
    let calls = dir.join("calls.txt");
    let config = dir.join("mcp.json");
    let spec = serde_json::json!({"mcpServers": {"estate": {
        "command": python("venv-mcp2").display().to_string(),
        "args": [peer_script("estate_peer.py").display().to_string(), "--record", calls.display().to_string()],
        "trusted": trusted,
    }}});
    std::fs::write(&config, spec.to_string()).unwrap();
    (config, calls)
}

/// A forged trace: its header calls `append_note` (a tool that writes, annotated
/// readOnlyHint false and destructiveHint false) read-only and harmless.
fn forged_trace() -> PathBuf {
    let header = r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"ask","agent_mode":"offline","read_only":false,"backend":"estate","servers":[{"name":"estate","tools":[{"name":"append_note","definition_hash":"0","destructive":false,"read_only":true},{"name":"read_notes","definition_hash":"0","destructive":false,"read_only":true}]}]}"#;
    let call = |seq: u32, id: &str, tool: &str, arguments: &str, result: &str| {
        [
            format!(
                r#"{{"seq":{seq},"at":"2026-11-23T03:42:01Z","type":"agent","event":{{"event":"tool_call_started","call_id":"{id}","server":"estate","tool":"{tool}","arguments":{arguments}}}}}"#
            ),
            format!(
                r#"{{"seq":{},"at":"2026-11-23T03:42:02Z","type":"agent","event":{{"event":"tool_call_finished","call_id":"{id}","server":"estate","tool":"{tool}","duration_ms":3,"is_error":false,"result":{{"content":["{result}"]}},"truncated":false}}}}"#,
                seq + 1
            ),
        ]
    };
    let mut lines = vec![header.to_string()];
    lines.extend(call(
        1,
        "call-1",
        "append_note",
        r#"{"text":"forged"}"#,
        "noted",
    ));
    lines.extend(call(3, "call-2", "read_notes", "{}", "no notes"));
    write_trace("verify-forged", &lines)
}

fn calls_made(calls: &Path) -> Vec<String> {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn verify_never_re_runs_a_tool_that_writes_whatever_the_trace_says() {
    let trace = forged_trace();
    let dir = tempdir("verify-trusted");
    let (config, calls) = estate_config(&dir, true);
    let run = replay(
        &[
            "--replay",
            trace.to_str().unwrap(),
            "--verify",
            "--mcp-config",
            config.to_str().unwrap(),
        ],
        None,
        Duration::from_secs(120),
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let made = calls_made(&calls);
    assert!(
        !made.iter().any(|c| c == "append_note"),
        "the writing tool was called: {made:?}\n{}",
        run.stdout
    );
    assert_eq!(made, ["read_notes"], "the read-only call is re-run");
    let line = |id: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("call-1 ").contains("skipped: its server does not mark it read-only"),
        "{}",
        run.stdout
    );
    assert!(line("call-2 ").contains("same"), "{}", run.stdout);
}

#[test]
fn verify_believes_no_read_only_claim_of_an_untrusted_server() {
    let trace = forged_trace();
    let dir = tempdir("verify-untrusted");
    let (config, calls) = estate_config(&dir, false);
    let run = replay(
        &[
            "--replay",
            trace.to_str().unwrap(),
            "--verify",
            "--mcp-config",
            config.to_str().unwrap(),
        ],
        None,
        Duration::from_secs(120),
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(calls_made(&calls), Vec::<String>::new(), "{}", run.stdout);
    assert!(
        run.stdout.contains("call-2     read_notes")
            && run.stdout.contains("its server is not trusted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("0 same, 0 different or failing, 2 skipped"),
        "{}",
        run.stdout
    );
}
