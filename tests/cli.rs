//! The `opsdeck` binary as a user runs it: exit codes, clear errors, a clean
//! stdout in `serve --stdio`, logs in the log file.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{ChildGuard, OPSDECK, pinned_serve_args, tempdir};
use serde_json::{Value, json};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(OPSDECK)
        .args(args)
        .env("OPSDECK_LOG_DIR", tempdir("cli"))
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn public_bind_without_a_token_is_refused_with_exit_2() {
    let (code, _, stderr) = run(&["serve", "--http", "0.0.0.0:0"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("without authentication") && stderr.contains("OPSDECK_HTTP_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    let (code, _, stderr) = run(&["serve", "--scenario", "meteor"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("late-partition") && stderr.contains("schema-drift"),
        "{stderr}"
    );
}

#[test]
fn a_bad_frozen_clock_says_the_accepted_form() {
    let (code, _, stderr) = run(&["serve", "--frozen-clock", "tomorrow"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("RFC 3339"), "{stderr}");
}

#[test]
fn a_short_token_is_refused() {
    let file = tempdir("short").join("t");
    std::fs::write(&file, "abc").unwrap();
    let (code, _, stderr) = run(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--token-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("16 characters"), "{stderr}");
}

#[test]
fn list_scenarios_prints_every_scenario() {
    let (code, stdout, _) = run(&["serve", "--list-scenarios"]);
    assert_eq!(code, 0);
    for name in [
        "expired-secret",
        "late-partition",
        "schema-drift",
        "cluster-oom",
        "risky-plan",
    ] {
        assert!(stdout.contains(name), "{name} missing");
    }
}

#[test]
fn the_console_without_a_terminal_says_what_to_use_instead() {
    // `output()` gives the child pipes, not a terminal.
    let (code, stdout, stderr) = run(&["--frozen-clock", "2026-11-23T03:42:00Z"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing drawn on a pipe: {stdout}");
    assert!(
        stderr.contains("cannot take over the terminal") && stderr.contains("opsdeck ask"),
        "{stderr}"
    );
}

#[test]
fn a_bad_console_config_is_a_usage_error_naming_the_file_and_field() {
    let dir = tempdir("console-config");
    let path = dir.join("config.toml");
    std::fs::write(&path, "[keys.board]\ntriage = \"ctrl-banana\"\n").unwrap();
    let (code, _, stderr) = run(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("config.toml") && stderr.contains("[keys.board]"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--refresh", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--refresh"), "{stderr}");
}

#[test]
fn stdio_speaks_only_protocol_on_stdout_and_logs_to_the_file() {
    let logs = tempdir("stdio-logs");
    let child = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .env("OPSDECK_LOG_DIR", &logs)
        .env("OPSDECK_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut stdin = guard.0.stdin.take().unwrap();
    let stdout = guard.0.stdout.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "list_pipelines", "arguments": {}}}),
    ];
    for m in &messages {
        writeln!(stdin, "{m}").unwrap();
    }
    stdin.flush().unwrap();
    let mut reader = BufReader::new(stdout);
    // Requests are handled concurrently, so answers come back in any order: index by id.
    let mut answers: Vec<Value> = Vec::new();
    while answers.len() < 4 {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server closed stdout early"
        );
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON-RPC ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0");
        answers.push(message);
    }
    let by_id = |id: i64| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id}"))
    };
    assert_eq!(
        by_id(1)["result"]["protocolVersion"],
        "2025-06-18",
        "an older client gets its own version"
    );
    assert_eq!(by_id(2)["result"], json!({}));
    assert!(by_id(3)["result"]["tools"].as_array().unwrap().len() >= 19);
    assert_eq!(by_id(4)["result"]["isError"], false);
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit when stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on EOF");
    let log_text: String = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        log_text.contains("tool call") && log_text.contains("list_pipelines"),
        "logs went to the file: {log_text}"
    );
}

#[test]
fn replay_of_damaged_or_foreign_files_says_what_it_could_read() {
    let dir = tempdir("replay-damaged");
    let not_trace = dir.join("notes.txt");
    std::fs::write(&not_trace, "shopping list\n").unwrap();
    let (code, _, stderr) = run(&["--replay", not_trace.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not an opsdeck trace"), "{stderr}");

    let (code, _, stderr) = run(&["--replay", dir.join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read the trace"), "{stderr}");

    let truncated = dir.join("cut.jsonl");
    std::fs::write(
        &truncated,
        concat!(
            r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:42:00Z","host":"vm","process":"ask","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[]}"#,
            "\n",
            r#"{"seq":1,"at":"2026-11-23T03:42:01Z","type":"agent","event":{"event":"user_message","text":"why?"}}"#,
            "\n",
            r#"{"seq":2,"at":"2026-11-23T03:42:02Z","type":"agent","event":{"event":"text_de"#
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["--replay", truncated.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("you: why?"), "{stdout}");
    assert!(
        stdout.contains("skipped line 3: the last line is cut short"),
        "{stdout}"
    );
    assert!(stderr.contains("1 line(s)"), "{stderr}");

    let (code, stdout, _) = run(&["--replay", truncated.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(document["skipped"][0]["line"], 3);

    let (code, stdout, _) = run(&[
        "--replay",
        truncated.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("# Incident timeline"), "{stdout}");
    assert!(stdout.contains("| asked: why? |"), "{stdout}");
}
