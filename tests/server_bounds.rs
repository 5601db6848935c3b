//! One call must not take the server or the machine down: every window and
//! size a caller gives has a maximum, checked with an error that names it;
//! errors quote arguments clipped; every JSON-RPC line over stdio gets an
//! answer; and the real `opsdeck serve` answers the worst calls inside a fixed
//! address-space limit.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use common::process::{OPSDECK, limit_address_space, pinned_serve_args, tempdir};
use common::{Harness, start, text_of};
use opsdeck::server::framing::{MAX_JSON_VALUES, MAX_REQUEST_BYTES};

/// Every tool that takes a `since`/`until` window.
const WINDOWED_TOOLS: &[&str] = &[
    "fetch_logs",
    "summarize_error_logs",
    "list_pipeline_runs",
    "get_failed_tasks_summary",
];

/// A tool call answered within a deadline: a panicking handler never answers.
async fn answer(h: &Harness, tool: &str, args: Value) -> rmcp::model::CallToolResult {
    tokio::time::timeout(Duration::from_secs(60), h.call(tool, args))
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer"))
}

async fn tool_error(h: &Harness, tool: &str, args: Value) -> String {
    let result = answer(h, tool, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} {args}: {}",
        text_of(&result)
    );
    text_of(&result)
}

#[tokio::test]
async fn the_widest_window_at_the_largest_sizes_answers_within_them() {
    let h = start("expired-secret").await;
    let logs = h
        .ok(
            "fetch_logs",
            json!({"since": "90d", "limit": 2000, "level": "TRACE"}),
        )
        .await;
    assert_eq!(
        logs["count"],
        json!(2000),
        "90 days of sandbox logs fill the limit"
    );
    assert_eq!(logs["lines"].as_array().map(Vec::len), Some(2000));
    assert_eq!(logs["truncated"], json!(true));

    let summary = h
        .ok(
            "summarize_error_logs",
            json!({"since": "90d", "level": "TRACE", "top": 100}),
        )
        .await;
    assert!(
        summary["clusters"]
            .as_array()
            .is_some_and(|c| c.len() <= 100)
    );

    let runs = h
        .ok("list_pipeline_runs", json!({"since": "90d", "limit": 500}))
        .await;
    assert!(runs["runs"].as_array().is_some_and(|r| r.len() <= 500));

    h.ok("get_failed_tasks_summary", json!({"since": "90d"}))
        .await;
    h.ok("list_secrets", json!({"expiring_within": "3650d"}))
        .await;
}

#[tokio::test]
async fn sizes_over_their_maximum_are_refused_naming_the_maximum() {
    let h = start("expired-secret").await;
    let cases = [
        ("fetch_logs", json!({"limit": 2001}), "maximum of 2000"),
        (
            "fetch_logs",
            json!({"limit": 4_294_967_296_u64}),
            "from 1 to 2000",
        ),
        ("fetch_logs", json!({"limit": -1}), "from 1 to 2000"),
        (
            "list_pipeline_runs",
            json!({"limit": 501}),
            "maximum of 500",
        ),
        ("summarize_error_logs", json!({"top": 101}), "1 to 100"),
        (
            "summarize_error_logs",
            json!({"top": 1_u64 << 40}),
            "from 1 to 100",
        ),
        (
            "get_pipeline_dependencies",
            json!({"pipeline": "transform_sales", "depth": 11}),
            "1 to 10",
        ),
        ("list_secrets", json!({"expiring_within": "3651d"}), "3650d"),
        (
            "list_secrets",
            json!({"expiring_within": "20000000w"}),
            "3650d",
        ),
        (
            "list_secrets",
            json!({"expiring_within": "99999999999999999999d"}),
            "3650d",
        ),
        (
            "parse_terraform_plan",
            json!({"plan_json": " ".repeat((4 << 20) + 1)}),
            "the most is 4194304",
        ),
    ];
    for (tool, args, words) in cases {
        let err = tool_error(&h, tool, args.clone()).await;
        assert!(
            err.contains(words),
            "{tool} {args}: '{words}' not in: {err}"
        );
    }
}

#[tokio::test]
async fn tool_schemas_document_their_maximums() {
    let h = start("expired-secret").await;
    let tools = h.tools().await;
    let maximum = |tool: &str, parameter: &str| {
        let tool = tools
            .iter()
            .find(|t| t.name == tool)
            .unwrap_or_else(|| panic!("no tool {tool}"));
        tool.input_schema["properties"][parameter]["maximum"].clone()
    };
    assert_eq!(maximum("fetch_logs", "limit"), json!(2000));
    assert_eq!(maximum("summarize_error_logs", "top"), json!(100));
    assert_eq!(maximum("list_pipeline_runs", "limit"), json!(500));
    assert_eq!(maximum("get_pipeline_dependencies", "depth"), json!(10));
}

#[tokio::test]
async fn errors_quote_a_ten_megabyte_argument_clipped() {
    let h = start("expired-secret").await;
    let huge = "x".repeat(10 << 20);
    let spaced = "ab ".repeat((10 << 20) / 3);
    let cases = [
        ("fetch_logs", json!({"since": huge})),
        ("fetch_logs", json!({"until": spaced})),
        ("fetch_logs", json!({"level": huge})),
        ("get_pipeline_status", json!({"pipeline": huge})),
        ("list_pipeline_runs", json!({"continuation_token": huge})),
        ("list_pipeline_runs", json!({"status": huge})),
        ("get_resource_health", json!({"resource": huge})),
        ("parse_terraform_plan", json!({"plan": huge})),
        ("get_secret_usage", json!({"secret": huge})),
        ("list_secrets", json!({"expiring_within": huge})),
        ("get_run_details", json!({"run_id": huge})),
        ("fetch_logs", json!({huge.clone(): 1})),
        (huge.as_str(), json!({})),
    ];
    for (tool, args) in cases {
        let result = answer(&h, tool, args).await;
        let text = text_of(&result);
        assert_eq!(
            result.is_error,
            Some(true),
            "{}",
            &text[..200.min(text.len())]
        );
        assert!(
            text.len() < 8_000,
            "{}: an error of {} bytes echoes the argument",
            &tool[..20.min(tool.len())],
            text.len()
        );
    }
}

/// `opsdeck serve` over real stdio, under [`ADDRESS_SPACE_LIMIT`].
struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
}

/// The address-space limit the worst calls must be answered within. A 2-thread
/// runtime answering them peaks near 80 MiB resident and 200–260 MiB of address
/// space (thread stacks and allocator arenas are reserved, not used); it fails
/// to start below ~160 MiB. Building every day of a 100000-week window took
/// 24 GB, and 10000 weeks 5 GiB, so either would die here.
const ADDRESS_SPACE_LIMIT: u64 = 512 << 20;

impl Serve {
    fn start() -> Serve {
        let mut command = Command::new(OPSDECK);
        command
            .args(pinned_serve_args())
            .env("OPSDECK_LOG_DIR", tempdir("bounds-logs"))
            // The address space a process reserves grows with its threads and
            // malloc arenas: pin both so the limit means the same on any machine.
            .env("TOKIO_WORKER_THREADS", "2")
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        limit_address_space(&mut command, ADDRESS_SPACE_LIMIT);
        let mut child = command.spawn().expect("opsdeck serve starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut serve = Serve {
            child,
            stdin,
            lines,
        };
        serve.send_json(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "server_bounds", "version": "1"}}}),
        );
        let reply = serve.reply_to(&json!(0));
        assert!(reply.get("result").is_some(), "initialize: {reply}");
        serve.send_json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        serve
    }

    fn send_line(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).expect("server reads stdin");
        stdin.write_all(b"\n").expect("server reads stdin");
        stdin.flush().expect("server reads stdin");
    }

    fn send_json(&mut self, message: Value) {
        self.send_line(message.to_string().as_bytes());
    }

    fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.send_json(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}));
        self.reply_to(&json!(id))
    }

    /// The next answer with this id (null for errors that could not name one).
    fn reply_to(&mut self, id: &Value) -> Value {
        loop {
            let line = match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no answer to id {id} within 60 s")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!("opsdeck serve closed stdout before answering id {id}: {status:?}")
                }
            };
            if line.get("id") == Some(id) {
                return line;
            }
        }
    }

    /// Closes stdin and waits for a clean exit.
    fn finish(mut self) {
        drop(self.stdin.take());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "opsdeck serve exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("opsdeck serve did not exit when stdin closed");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(not(target_os = "linux"))]
fn limit_address_space(_command: &mut Command, _bytes: u64) {}

fn error_code(reply: &Value) -> i64 {
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not a JSON-RPC error: {reply}"))
}

fn is_tool_error(reply: &Value) -> bool {
    reply["result"]["isError"] == json!(true)
}

/// Through the real server (under the address-space limit, so that a
/// regression that builds such a window dies there, not on this machine).
#[test]
fn every_window_over_the_maximum_is_refused_naming_the_maximum() {
    let mut serve = Serve::start();
    let mut id = 0;
    for tool in WINDOWED_TOOLS {
        for args in [
            json!({"since": "100000w"}),
            json!({"since": "7000000w"}),
            json!({"since": "99999999999999999999w"}),
            json!({"since": "91d"}),
            json!({"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}),
            json!({"since": "1000000w", "until": "999000w"}),
        ] {
            id += 1;
            let reply = serve.call(id, tool, args.clone());
            assert!(is_tool_error(&reply), "{tool} {args}: {reply}");
            let text = reply["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default();
            assert!(
                text.contains("at most 90 days"),
                "{tool} {args}: the maximum is not named in: {text}"
            );
        }
    }
    serve.finish();
}

#[test]
fn tools_call_with_non_object_arguments_is_invalid_params() {
    let mut serve = Serve::start();
    for (id, arguments) in [(1, json!("oops")), (2, json!([1, 2])), (3, json!(7))] {
        serve.send_json(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "fetch_logs", "arguments": arguments}}));
        let reply = serve.reply_to(&json!(id));
        assert_eq!(error_code(&reply), -32602, "{reply}");
    }
    serve.send_json(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": "fetch_logs"}),
    );
    assert_eq!(error_code(&serve.reply_to(&json!(4))), -32602);
    serve.finish();
}

#[test]
fn an_unparsable_line_gets_a_parse_error_with_a_null_id() {
    let mut serve = Serve::start();
    for garbage in ["this is not json", "{\"jsonrpc\": \"2.0\", \"id\": 5,", "}"] {
        serve.send_line(garbage.as_bytes());
        let reply = serve.reply_to(&Value::Null);
        assert_eq!(error_code(&reply), -32700, "{garbage}: {reply}");
    }
    // The session goes on.
    let reply = serve.call(6, "list_pipelines", json!({}));
    assert!(reply["result"]["content"].is_array(), "{reply}");
    serve.finish();
}

#[test]
fn a_line_over_the_size_cap_is_answered_not_dropped() {
    let mut serve = Serve::start();
    let filler = "x".repeat(MAX_REQUEST_BYTES + 1);
    // Most clients write the id first; the TypeScript SDK writes it last.
    let id_first = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "fetch_logs", "arguments": {"contains": filler}}});
    serve.send_json(id_first);
    let reply = serve.reply_to(&json!(7));
    assert_eq!(error_code(&reply), -32600, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&MAX_REQUEST_BYTES.to_string())),
        "{reply}"
    );
    let id_last = format!(
        r#"{{"method":"tools/call","params":{{"name":"fetch_logs","arguments":{{"contains":"{filler}"}}}},"jsonrpc":"2.0","id":"last"}}"#
    );
    serve.send_line(id_last.as_bytes());
    assert_eq!(error_code(&serve.reply_to(&json!("last"))), -32600);
    let no_id = format!(r#"{{"params":{{"contains":"{filler}"}}}}"#);
    serve.send_line(no_id.as_bytes());
    assert_eq!(error_code(&serve.reply_to(&Value::Null)), -32600);
    // A message of too many values is refused before anything builds them.
    let zeros = vec![0; MAX_JSON_VALUES + 1];
    serve.send_json(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "fetch_logs", "arguments": {"contains": zeros}}}));
    assert_eq!(error_code(&serve.reply_to(&json!(8))), -32600);
    let reply = serve.call(9, "fetch_logs", json!({"limit": 3}));
    assert_eq!(
        reply["result"]["structuredContent"]["count"],
        json!(3),
        "{reply}"
    );
    serve.finish();
}

#[test]
fn the_worst_calls_are_answered_inside_a_fixed_address_space() {
    let mut serve = Serve::start();
    let refused = [
        (
            "fetch_logs",
            json!({"since": "100000w", "limit": 2000, "level": "TRACE"}),
        ),
        ("fetch_logs", json!({"since": "10000w", "limit": 2000})),
        (
            "summarize_error_logs",
            json!({"since": "7000000w", "level": "TRACE", "top": 100}),
        ),
        (
            "list_pipeline_runs",
            json!({"since": "100000w", "limit": 500}),
        ),
        ("get_failed_tasks_summary", json!({"since": "100000w"})),
        ("list_secrets", json!({"expiring_within": "20000000w"})),
    ];
    let mut id = 100;
    for (tool, args) in refused {
        id += 1;
        let reply = serve.call(id, tool, args.clone());
        assert!(is_tool_error(&reply), "{tool} {args}: {reply}");
    }
    let bounded = [
        (
            "fetch_logs",
            json!({"since": "90d", "limit": 2000, "level": "TRACE"}),
        ),
        (
            "summarize_error_logs",
            json!({"since": "90d", "level": "TRACE", "top": 100}),
        ),
        ("list_pipeline_runs", json!({"since": "90d", "limit": 500})),
        ("get_failed_tasks_summary", json!({"since": "90d"})),
        ("triage_run", json!({"pipeline": "ingest_crm_customers"})),
        (
            "get_pipeline_dependencies",
            json!({"pipeline": "transform_sales", "depth": 10}),
        ),
        (
            "fetch_logs",
            json!({"contains": "y".repeat(MAX_REQUEST_BYTES - 1024)}),
        ),
    ];
    for (tool, args) in bounded {
        id += 1;
        let reply = serve.call(id, tool, args);
        let shown: String = reply.to_string().chars().take(300).collect();
        assert!(
            reply["result"]["content"].is_array() && !is_tool_error(&reply),
            "{tool}: {shown}"
        );
    }
    let lines = serve.call(id + 1, "fetch_logs", json!({"since": "90d", "limit": 2000}));
    assert_eq!(lines["result"]["structuredContent"]["count"], json!(2000));
    // Over the line cap, and over the value budget: answered, never buffered whole.
    serve
        .send_line(format!(r#"{{"id":1,"x":"{}"}}"#, "z".repeat(MAX_REQUEST_BYTES * 2)).as_bytes());
    assert_eq!(error_code(&serve.reply_to(&json!(1))), -32600);
    assert!(
        serve.child.try_wait().expect("wait").is_none(),
        "opsdeck serve died"
    );
    serve.finish();
}
