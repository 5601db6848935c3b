//! Round-trip latency of `opsdeck serve --stdio` against the official Python MCP
//! SDK's server, side by side in one run: `ping`, `tools/list`,
//! `tools/call list_pipeline_runs`, plus spawn-to-initialized time and RSS.
//!
//! Run: `cargo bench --bench stdio_latency` (needs `scripts/peers/setup.sh` once).
//! `OPSDECK_BENCH_ITERS` sets the requests per measurement (default 2000).
//!
//! The client is a minimal blocking JSON-RPC loop over the child's pipes, so the
//! figures are the servers' cost plus two pipe hops, the same for both servers.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");

struct Server {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(name: &'static str, program: &str, args: &[&str]) -> Result<Server, String> {
        let log_dir = std::env::temp_dir().join("opsdeck-bench-logs");
        let mut child = Command::new(program)
            .args(args)
            .env("OPSDECK_LOG_DIR", &log_dir)
            .env("OPSDECK_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {name} ({program}): {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Server {
            name,
            child,
            stdin,
            stdout,
            next_id: 1,
        })
    }

    fn send(&mut self, message: &Value) -> Result<(), String> {
        let mut line = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .map_err(|e| format!("{}: write failed: {e}", self.name))?;
        self.stdin
            .flush()
            .map_err(|e| format!("{}: flush failed: {e}", self.name))
    }

    /// Sends a request and reads lines until its response arrives.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| format!("{}: read failed: {e}", self.name))?;
            if read == 0 {
                return Err(format!("{} closed stdout during {method}", self.name));
            }
            let message: Value = serde_json::from_str(&line)
                .map_err(|e| format!("{}: not JSON ({e}): {line}", self.name))?;
            if message.get("id") == Some(&json!(id)) {
                if let Some(error) = message.get("error") {
                    return Err(format!(
                        "{} answered {method} with an error: {error}",
                        self.name
                    ));
                }
                return Ok(message);
            }
        }
    }

    fn initialize(&mut self) -> Result<(), String> {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        )?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    /// Resident set size and its peak, in KiB, from /proc.
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

struct Stats {
    median: Duration,
    p99: Duration,
    mean: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len().max(1);
    let at = |q: f64| samples[((n as f64 - 1.0) * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
        mean: samples.iter().sum::<Duration>() / n as u32,
        min: samples[0],
        max: samples[n - 1],
    }
}

fn measure(
    server: &mut Server,
    method: &str,
    params: &Value,
    iterations: usize,
) -> Result<Stats, String> {
    for _ in 0..(iterations / 10).max(20) {
        server.request(method, params.clone())?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        server.request(method, params.clone())?;
        samples.push(started.elapsed());
    }
    Ok(stats(samples))
}

fn spawn_to_initialized(
    name: &'static str,
    program: &str,
    args: &[&str],
    runs: usize,
) -> Result<Stats, String> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut server = Server::spawn(name, program, args)?;
        server.initialize()?;
        samples.push(started.elapsed());
    }
    Ok(stats(samples))
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn row(label: &str, s: &Stats) {
    println!(
        "  {label:<42} median {:>9} µs   p99 {:>9} µs   mean {:>9} µs   min {:>8} µs   max {:>9} µs",
        us(s.median),
        us(s.p99),
        us(s.mean),
        us(s.min),
        us(s.max)
    );
}

fn python_server() -> Result<(String, String), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/peers/venv-mcp2/bin/python");
    if !python.exists() {
        return Err(format!(
            "{} is missing: run scripts/peers/setup.sh first",
            python.display()
        ));
    }
    Ok((
        python.display().to_string(),
        root.join("tests/peers/ping_server.py")
            .display()
            .to_string(),
    ))
}

fn run() -> Result<(), String> {
    let iterations: usize = std::env::var("OPSDECK_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let opsdeck_args = [
        "serve",
        "--scenario",
        "expired-secret",
        "--frozen-clock",
        "2026-11-23T03:42:00Z",
    ];
    let (python, script) = python_server()?;
    let python_args = [script.as_str()];
    println!(
        "stdio round trips, {iterations} requests per row after warm-up; machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let ops_spawn = spawn_to_initialized("opsdeck", OPSDECK, &opsdeck_args, 30)?;
    let py_spawn = spawn_to_initialized("python-sdk", &python, &python_args, 10)?;

    let mut ops = Server::spawn("opsdeck", OPSDECK, &opsdeck_args)?;
    ops.initialize()?;
    let mut py = Server::spawn("python-sdk", &python, &python_args)?;
    py.initialize()?;

    let call = |limit: Option<u32>| match limit {
        Some(l) => json!({"name": "list_pipeline_runs", "arguments": {"limit": l}}),
        None => json!({"name": "list_pipeline_runs", "arguments": {}}),
    };
    let ops_ping = measure(&mut ops, "ping", &json!({}), iterations)?;
    let py_ping = measure(&mut py, "ping", &json!({}), iterations)?;
    let ops_list = measure(&mut ops, "tools/list", &json!({}), iterations)?;
    let py_list = measure(&mut py, "tools/list", &json!({}), iterations / 4)?;
    let ops_call3 = measure(&mut ops, "tools/call", &call(Some(3)), iterations)?;
    let ops_call50 = measure(&mut ops, "tools/call", &call(None), iterations / 4)?;
    let py_call = measure(&mut py, "tools/call", &call(None), iterations / 4)?;
    let (ops_rss, ops_peak) = ops.rss_kib();
    let (py_rss, py_peak) = py.rss_kib();

    println!("\nopsdeck serve --stdio (release build)");
    row("ping", &ops_ping);
    let tool_count = ops.request("tools/list", json!({}))?["result"]["tools"]
        .as_array()
        .map_or(0, Vec::len);
    row(&format!("tools/list ({tool_count} tools)"), &ops_list);
    row("tools/call list_pipeline_runs limit=3", &ops_call3);
    row("tools/call list_pipeline_runs (50 runs)", &ops_call50);
    row("spawn → initialized (30 spawns)", &ops_spawn);
    println!(
        "  RSS {:.1} MiB (peak {:.1} MiB)",
        ops_rss as f64 / 1024.0,
        ops_peak as f64 / 1024.0
    );

    println!("\nPython MCP SDK 2.x server (tests/peers/ping_server.py)");
    row("ping", &py_ping);
    row("tools/list (1 tool)", &py_list);
    row("tools/call list_pipeline_runs (3 fixed runs)", &py_call);
    row("spawn → initialized (10 spawns)", &py_spawn);
    println!(
        "  RSS {:.1} MiB (peak {:.1} MiB)",
        py_rss as f64 / 1024.0,
        py_peak as f64 / 1024.0
    );

    let ratio = py_ping.median.as_secs_f64() / ops_ping.median.as_secs_f64();
    println!(
        "\nping median: opsdeck {} µs vs Python {} µs → {ratio:.1}x faster",
        us(ops_ping.median),
        us(py_ping.median)
    );
    println!(
        "targets: ping median ≤ 50 µs [{}], ≥ 20x Python [{}], RSS ≤ 15 MiB [{}], spawn → initialized ≤ 20 ms [{}]",
        verdict(ops_ping.median <= Duration::from_micros(50)),
        verdict(ratio >= 20.0),
        verdict(ops_peak <= 15 * 1024),
        verdict(ops_spawn.median <= Duration::from_millis(20)),
    );
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: keep that cheap.
    if !std::env::args().any(|a| a == "--bench") {
        println!("stdio_latency: run with `cargo bench --bench stdio_latency`");
        return;
    }
    if let Err(error) = run() {
        eprintln!("stdio_latency: {error}");
        std::process::exit(1);
    }
}
