//! What `opsdeck serve` settles before it answers anything: the audit log is
//! the owner's alone and never in the shared temporary directory (no place
//! for it stops the start), and opening remediation to callers without a
//! token is said loudly, at start and in `/health/ready`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::process::{ChildGuard, OPSDECK, pinned_serve_args, tempdir};

/// Starts `opsdeck serve --http 127.0.0.1:0 …` with `env` and returns it, its
/// MCP URL and the stderr lines printed before the URL.
fn start(
    extra: &[&str],
    env: &[(&str, &str)],
    remove: &[&str],
) -> (ChildGuard, String, Vec<String>) {
    let mut command = Command::new(OPSDECK);
    command
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    for name in remove {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("opsdeck starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let guard = ChildGuard(child);
    let mut reader = BufReader::new(stderr);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut before = Vec::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
            let url = url.to_string();
            std::thread::spawn(move || for _ in reader.lines() {});
            return (guard, url, before);
        }
        before.push(line.trim().to_string());
    }
    panic!("opsdeck did not report its HTTP address; stderr: {before:?}");
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unauthenticated_remediation_flag_is_announced_at_start_and_in_ready() {
    let logs = tempdir("flag-logs");
    let (_server, url, stderr) = start(
        &["--http-allow-unauthenticated-remediation"],
        &[("OPSDECK_LOG_DIR", logs.to_str().unwrap())],
        &["OPSDECK_HTTP_TOKEN"],
    );
    assert!(
        stderr.iter().any(
            |l| l.contains("WARNING") && l.contains("--http-allow-unauthenticated-remediation")
        ),
        "{stderr:?}"
    );
    let ready: Value = reqwest::get(url.replace("/mcp", "/health/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["remediation"]["unauthenticated"], true, "{ready}");
}

#[test]
fn the_flag_needs_http() {
    let output = Command::new(OPSDECK)
        .args(["serve", "--http-allow-unauthenticated-remediation"])
        .env("OPSDECK_LOG_DIR", tempdir("flag-stdio"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--http"));
}

#[test]
fn with_no_place_for_the_audit_log_serve_refuses_to_start() {
    let output = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("OPSDECK_LOG_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("audit log") && stderr.contains("OPSDECK_LOG_DIR"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "stdout belongs to MCP");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_opened_owner_only_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let logs = tempdir("audit-logs");
    // An audit log left world-readable by an earlier version is narrowed.
    let audit = logs.join("audit.jsonl");
    std::fs::write(&audit, "").unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_server, _, _) = start(&[], &[("OPSDECK_LOG_DIR", logs.to_str().unwrap())], &[]);
    assert_eq!(mode_of(&audit), 0o600);

    // Without any state directory, an audit_log named by the policy is used,
    // created owner-only in a directory made owner-only.
    let dir = tempdir("audit-policy");
    let named = dir.join("private/audit.jsonl");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("[remediation]\naudit_log = \"{}\"\n", named.display()),
    )
    .unwrap();
    let (_server, _, _) = start(
        &["--policy", policy.to_str().unwrap()],
        &[],
        &["HOME", "XDG_STATE_HOME", "OPSDECK_LOG_DIR"],
    );
    assert_eq!(mode_of(&named), 0o600);
    assert_eq!(mode_of(&dir.join("private")), 0o700);
}

/// `--http-max-sessions` caps the sessions one server holds: past it, 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cap_is_a_flag() {
    let logs = common::process::tempdir("session-cap");
    let logs = logs.display().to_string();
    let (_server, url, _) = start(
        &["--http-max-sessions", "2"],
        &[("OPSDECK_LOG_DIR", logs.as_str())],
        &[],
    );
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let answer = client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init)
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 503]);
    let refused = Command::new(OPSDECK)
        .args(["serve", "--http", "127.0.0.1:0", "--http-max-sessions", "0"])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "out of range is a usage error"
    );
}
