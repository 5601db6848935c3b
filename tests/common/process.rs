//! Running the real `opsdeck` binary and third-party peers as child processes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");

/// Arguments that pin the sandbox so answers are reproducible.
pub fn pinned_serve_args() -> Vec<String> {
    [
        "serve",
        "--scenario",
        "expired-secret",
        "--seed",
        "7",
        "--frozen-clock",
        super::PINNED,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A child process killed when dropped, whatever the test did.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `opsdeck serve --http 127.0.0.1:0 …` and returns it with its MCP URL.
pub fn start_http_server(extra: &[&str]) -> (ChildGuard, String) {
    let log_dir = tempdir("http-logs");
    let mut command = Command::new(OPSDECK);
    command
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0"])
        .args(extra)
        .env("OPSDECK_LOG_DIR", &log_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("opsdeck starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let guard = ChildGuard(child);
    let mut reader = BufReader::new(stderr);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
            let url = url.to_string();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return (guard, url);
        }
    }
    panic!("opsdeck did not report its HTTP address; last stderr line: {line}");
}

pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-test-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// `target/peers`, installed by `scripts/peers/setup.sh` (the README's test command runs it).
pub fn peers_dir() -> PathBuf {
    let dir = std::env::var_os("OPSDECK_PEERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers"));
    assert!(
        dir.join("venv-mcp2/bin/python").exists()
            && dir.join("venv-mcp1/bin/python").exists()
            && dir.join("node/node_modules").exists(),
        "third-party MCP peers are not installed in {}: run scripts/peers/setup.sh (the README's test command does)",
        dir.display()
    );
    dir
}

pub fn python(venv: &str) -> PathBuf {
    peers_dir().join(venv).join("bin/python")
}

pub fn peer_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// The official Python SDK's client (tests/peers/mcp_client.py) from `venv`;
/// add `--call TOOL ARGS` and the target.
pub fn python_mcp_client(venv: &str, timeout_secs: u32) -> Command {
    let mut command = Command::new(python(venv));
    command
        .arg(peer_script("mcp_client.py"))
        .args(["--timeout", &timeout_secs.to_string()]);
    command
}

/// The one JSON report the Python client prints; its output when it failed.
pub fn client_report(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

/// Sets RLIMIT_AS in the child before it runs, so a regression that allocates
/// without bound fails the test instead of exhausting the machine. (`prlimit
/// --as` crashes on some kernels; the system call itself works everywhere on Linux.)
pub fn limit_address_space(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    #[repr(C)]
    struct RLimit {
        current: u64,
        maximum: u64,
    }
    unsafe extern "C" {
        fn setrlimit(resource: i32, limit: *const RLimit) -> i32;
    }
    const RLIMIT_AS: i32 = 9;
    let limit = RLimit {
        current: bytes,
        maximum: bytes,
    };
    // SAFETY: between fork and exec only the async-signal-safe setrlimit runs,
    // reading a struct that lives in this (copied) address space.
    unsafe {
        command.pre_exec(move || {
            if setrlimit(RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
