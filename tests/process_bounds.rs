//! The real binary against callers and servers that flood it, each run inside
//! a fixed address-space limit so that a regression fails the test instead of
//! taking the machine down: `serve --http` under 400 `initialize` POSTs, and
//! `opsdeck ask` against a server with endless 50,000-tool pages, and against
//! one that floods stderr and `list_changed` notifications (what reaches the
//! log: how much, and never a key or a token).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::process::{
    OPSDECK, limit_address_space, peer_script, pinned_serve_args, python, tempdir,
};
use serde_json::json;

/// Enough for a 2-thread runtime (see tests/server_bounds.rs); far less than
/// the gigabytes each of these floods took before its cap.
const ADDRESS_SPACE_LIMIT: u64 = 512 << 20;

/// An opsdeck command inside the address-space limit, threads and arenas pinned.
fn bounded_opsdeck(log_dir: &Path) -> Command {
    let mut command = Command::new(OPSDECK);
    command
        .env("OPSDECK_LOG_DIR", log_dir)
        .env("XDG_STATE_HOME", tempdir("bounds-state"))
        .env("TOKIO_WORKER_THREADS", "2")
        .env("MALLOC_ARENA_MAX", "2")
        .env_remove("OPSDECK_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT");
    limit_address_space(&mut command, ADDRESS_SPACE_LIMIT);
    command
}

/// Kills the child when dropped, whatever the test did.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for the child at most `limit`; its output. Past the limit it is killed.
fn finish_within(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("still running after {limit:?}");
        }
    }
}

fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib << 10
}

/// `opsdeck serve --http 127.0.0.1:0` in the limit; the child and its base URL.
fn start_http_serve() -> (Guard, String) {
    let mut command = bounded_opsdeck(&tempdir("http-bounds-logs"));
    command
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("opsdeck serve starts");
    let stderr = child.stderr.take().unwrap();
    let guard = Guard(child);
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
            let base = url.trim_end_matches("/mcp").to_string();
            std::thread::spawn(move || for _ in lines {});
            return (guard, base);
        }
    }
    panic!("opsdeck serve did not report its address");
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// `count` initialize POSTs from 4 threads; the status of each.
fn initialize_many(base: &str, count: usize) -> Vec<u16> {
    let per_thread = count / 4;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{base}/mcp");
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                (0..per_thread)
                    .map(|_| {
                        let answer = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .header("accept", "application/json, text/event-stream")
                            .body(INIT)
                            .send()
                            .unwrap();
                        let status = answer.status().as_u16();
                        let _ = answer.bytes();
                        status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

#[test]
fn four_hundred_initialize_posts_open_256_sessions_and_memory_stays_flat() {
    let (mut serve, base) = start_http_serve();
    let pid = serve.0.id();
    let first = initialize_many(&base, 256);
    assert!(first.iter().all(|s| *s == 200), "{first:?}");
    let after_limit = resident_bytes(pid);
    let more = initialize_many(&base, 144);
    assert!(
        more.iter().all(|s| *s == 503),
        "past 256 sessions every initialize is refused: {more:?}"
    );
    let after_flood = resident_bytes(pid);
    assert!(
        after_flood < after_limit + (16 << 20),
        "refused sessions still cost memory: {after_limit} then {after_flood} bytes"
    );
    assert!(after_flood < 256 << 20, "{after_flood} bytes resident");
    let live = reqwest::blocking::get(format!("{base}/health/live")).unwrap();
    assert_eq!(live.status(), 200);
    assert!(serve.0.try_wait().unwrap().is_none(), "serve died");
}

/// An mcpServers file with one server: tests/peers/flooding_server.py and `flags`.
fn flooding_config(dir: &Path, flags: &[&str]) -> PathBuf {
    let mut args = vec![peer_script("flooding_server.py").display().to_string()];
    args.extend(flags.iter().map(|f| f.to_string()));
    let config = json!({"mcpServers": {"flooder": {
        "command": python("venv-mcp2").display().to_string(),
        "args": args,
        "initTimeoutSeconds": 30,
    }}});
    let path = dir.join("mcp.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn ask(config: &Path, log_dir: &Path) -> Output {
    let child = bounded_opsdeck(log_dir)
        .arg("ask")
        .arg("--mcp-config")
        .arg(config)
        .arg("--no-trace")
        .arg("why did transform_sales fail?")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_within(child, Duration::from_secs(90))
}

#[test]
fn endless_pages_of_fifty_thousand_tools_are_refused_inside_the_limit() {
    let dir = tempdir("endless-huge-pages");
    let config = flooding_config(
        &dir,
        &["--pages", "endless", "--per-page", "50000", "--same-names"],
    );
    let started = Instant::now();
    let output = ask(&config, &dir.join("logs"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no MCP server is reachable")
            && stderr.contains(
                "tools/list returned more than 2000 tools; opsdeck refuses servers that large"
            ),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// What the reviewer's server wrote to stderr: a private key, a Databricks
/// token across byte 2048 of a line, and an AWS secret.
const STDERR_SECRETS: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAstderrkeybody0123456789abcdef\nZZZsecondlineofkey\n-----END RSA PRIVATE KEY-----\n";

fn long_line_with_token() -> String {
    format!(
        "{} dapi0123456789abcdef0123456789abcdef tail\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "x".repeat(2040)
    )
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_flooding_server_leaves_a_small_private_log_without_its_secrets() {
    let dir = tempdir("flooding-log");
    let secrets = dir.join("stderr.txt");
    std::fs::write(
        &secrets,
        format!("{STDERR_SECRETS}{}", long_line_with_token()),
    )
    .unwrap();
    // A log directory and file left world-readable by an older version.
    let log_dir = dir.join("logs");
    std::fs::create_dir(&log_dir).unwrap();
    std::fs::set_permissions(&log_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let old = log_dir.join("opsdeck-ask.2020-01-01.log");
    std::fs::write(&old, "old\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = flooding_config(
        &dir,
        &[
            "--stderr-file",
            &secrets.display().to_string(),
            "--stderr-flood",
            "100000",
            "--flood-list-changed",
            "--first-list-delay",
            "3",
        ],
    );
    let started = Instant::now();
    let output = ask(&config, &log_dir);
    let ran_for = started.elapsed().as_secs() + 1;

    let mut log = String::new();
    for entry in std::fs::read_dir(&log_dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode_of(&path), 0o600, "{}", path.display());
        log.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    assert_eq!(mode_of(&log_dir), 0o700);
    let context = || {
        format!(
            "{} bytes of log; stderr: {}",
            log.len(),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    assert!(log.len() < 1 << 20, "{}", context());
    assert!(
        !log.contains("received notification"),
        "rmcp logs each notification at info"
    );
    for secret in [
        "MIIEowIBAAKCAQEA",
        "ZZZsecondlineofkey",
        "dapi0123",
        "0123456789abcdef tail",
        "wJalrXUtnFEMI",
    ] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
    assert!(
        log.contains("stderr: [a private key block was withheld from the log]"),
        "{}",
        context()
    );
    let stderr_lines = log.lines().filter(|l| l.contains("stderr: ")).count() as u64;
    assert!(
        stderr_lines <= 100 * ran_for + 10,
        "{stderr_lines} stderr lines in {ran_for} s"
    );
    assert!(
        log.contains("more stderr lines dropped (at most 100 a second are logged)"),
        "{}",
        context()
    );
}
