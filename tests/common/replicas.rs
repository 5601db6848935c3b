//! Replicas of the real `opsdeck serve --http --stateless` behind a real
//! haproxy (`balance roundrobin`, health-checked on `/health/ready`), and the
//! official Python SDK's client running whole sessions through it
//! (tests/peers/replica_sessions.py). Used by tests/replicas.rs and
//! benches/http_replicas.rs.
//!
//! Every wait has a deadline; every child process dies with its guard.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{ChildGuard, OPSDECK, peer_script, python, tempdir};

pub mod adf_history;
pub mod client;

/// The response header haproxy adds: which of its servers answered.
pub const LB_SERVER_HEADER: &str = "x-lb-server";
/// Longest wait for a replica or haproxy to come up.
const STARTUP: Duration = Duration::from_secs(30);

/// One `opsdeck serve --stateless` process.
pub struct Replica {
    /// Its `--replica-name`, also its haproxy server name.
    pub name: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub pid: u32,
    /// Where its stdout goes (the audit trail, with `--audit-log stdout`).
    stdout: PathBuf,
    child: Option<ChildGuard>,
}

impl Replica {
    /// SIGKILL: no drain, no goodbye (a node lost, an OOM kill).
    pub fn kill(&mut self) {
        if let Some(mut guard) = self.child.take() {
            let _ = guard.0.kill();
            let _ = guard.0.wait();
        }
    }

    /// SIGTERM, as Kubernetes stops a pod: the replica drains, then exits.
    /// Returns once it has exited (killing it after `limit`).
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let mut guard = self.child.take().expect("the replica is running");
        let pid = i32::try_from(self.pid).expect("a pid fits i32");
        kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM sent");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = guard.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} still running {limit:?} after SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Resident and peak resident memory in KiB, from /proc (None once it is gone).
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        // A reaped child's pid may already belong to another process.
        if !self.is_running() {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// What every replica is started with.
#[derive(Clone, Default)]
pub struct FleetSpec {
    pub replicas: usize,
    /// Arguments after `serve` (backend, policy, token file…); the harness adds
    /// `--http 127.0.0.1:0 --stateless --replica-name rN`.
    pub serve_args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The replicas and the load balancer in front of them.
pub struct Fleet {
    pub replicas: Vec<Replica>,
    /// `http://127.0.0.1:PORT/mcp` on haproxy.
    pub url: String,
    pub dir: PathBuf,
    haproxy: ChildGuard,
}

impl Fleet {
    pub fn start(spec: &FleetSpec) -> Fleet {
        assert!((1..=16).contains(&spec.replicas), "1..=16 replicas");
        let dir = tempdir("replicas");
        let replicas: Vec<Replica> = (0..spec.replicas)
            .map(|i| start_replica(&format!("r{i}"), spec, &dir))
            .collect();
        for replica in &replicas {
            wait_ready(replica);
        }
        let (haproxy, port) = start_haproxy(&replicas, &dir);
        let fleet = Fleet {
            replicas,
            url: format!("http://127.0.0.1:{port}/mcp"),
            dir,
            haproxy,
        };
        fleet.wait_all_in_rotation();
        fleet
    }

    pub fn replica(&mut self, name: &str) -> &mut Replica {
        self.replicas
            .iter_mut()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no replica {name}"))
    }

    /// Until haproxy has sent a health probe's worth of requests to each live replica.
    fn wait_all_in_rotation(&self) {
        let client = http_client();
        let live = self.url.replace("/mcp", "/health/live");
        let want: Vec<&str> = self
            .replicas
            .iter()
            .filter(|r| r.is_running())
            .map(|r| r.name.as_str())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let deadline = Instant::now() + STARTUP;
        while seen.len() < want.len() {
            assert!(
                Instant::now() < deadline,
                "haproxy did not route to every replica within {STARTUP:?} (saw {seen:?}); its log: {}",
                self.haproxy_log()
            );
            if let Ok(response) = client.get(&live).send()
                && response.status().is_success()
                && let Some(server) = response.headers().get(LB_SERVER_HEADER)
            {
                seen.insert(server.to_str().unwrap_or("").to_string());
            } else {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    pub fn haproxy_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }

    /// The Python SDK sessions' client, pointed at the load balancer.
    pub fn sessions(&self, sessions: usize, concurrency: usize, timeout_secs: u32) -> Command {
        let mut command = Command::new(python("venv-mcp2"));
        command
            .arg(peer_script("replica_sessions.py"))
            .args(["--url", &self.url])
            .args(["--sessions", &sessions.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--timeout", &timeout_secs.to_string()])
            .args(["--server-header", LB_SERVER_HEADER])
            .stdin(Stdio::null());
        command
    }
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn start_replica(name: &str, spec: &FleetSpec, dir: &Path) -> Replica {
    let mut command = Command::new(OPSDECK);
    command
        .arg("serve")
        .args(&spec.serve_args)
        .args([
            "--http",
            "127.0.0.1:0",
            "--stateless",
            "--replica-name",
            name,
        ])
        .env("OPSDECK_LOG_DIR", dir.join(format!("logs-{name}")))
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout_path(dir, name)).unwrap())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("opsdeck starts");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr piped");
    let guard = ChildGuard(child);
    // Read the address on a thread, so a replica that never prints one cannot hang us.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut seen = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
                let _ = sender.send(Ok(url.to_string()));
                // Keep draining, so the replica never blocks on a full pipe.
                for _ in reader.lines() {}
                return;
            }
            seen.push(line.trim().to_string());
            line.clear();
        }
        let _ = sender.send(Err(seen.join("\n")));
    });
    let url = match receiver.recv_timeout(STARTUP) {
        Ok(Ok(url)) => url,
        Ok(Err(stderr)) => panic!("replica {name} exited before serving:\n{stderr}"),
        Err(_) => panic!("replica {name} did not report its address within {STARTUP:?}"),
    };
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    Replica {
        name: name.to_string(),
        addr,
        pid,
        stdout: stdout_path(dir, name),
        child: Some(guard),
    }
}

fn stdout_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("stdout-{name}.log"))
}

fn wait_ready(replica: &Replica) {
    let client = http_client();
    let url = format!("http://{}/health/ready", replica.addr);
    let deadline = Instant::now() + STARTUP;
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get(&url).send() {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => last = format!("{} {}", r.status(), r.text().unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "replica {} not ready within {STARTUP:?}: {last}",
        replica.name
    );
}

/// A port free right now on loopback (haproxy binds it a moment later; a
/// clash makes haproxy exit, which the caller retries).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// haproxy's configuration: round robin over the replicas, a replica out of
/// rotation after two failed readiness checks 300 ms apart, a request whose
/// connection was refused sent to another replica (it never reached the dead
/// one, so this cannot run a call twice), and timeouts everywhere.
fn haproxy_config(port: u16, replicas: &[Replica]) -> String {
    let servers: String = replicas
        .iter()
        .map(|r| format!("    server {} {} check\n", r.name, r.addr))
        .collect();
    format!(
        r#"global
    maxconn 1024

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    # At least the longest tool call (a response may fall back to SSE).
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 5s
    retries 2
    option redispatch 1

frontend mcp
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    # HTTP/1.1 with a Host the replicas accept (they refuse unknown Hosts).
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 300ms fall 2 rise 1
    http-response set-header {LB_SERVER_HEADER} %s
{servers}"#
    )
}

fn start_haproxy(replicas: &[Replica], dir: &Path) -> (ChildGuard, u16) {
    let config = dir.join("haproxy.cfg");
    for _ in 0..3 {
        let port = free_port();
        std::fs::write(&config, haproxy_config(port, replicas)).unwrap();
        let check = Command::new("haproxy")
            .args(["-c", "-q", "-f"])
            .arg(&config)
            .output()
            .expect("haproxy is installed (scripts/peers/setup.sh)");
        assert!(
            check.status.success(),
            "haproxy refuses the config: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("haproxy starts");
        let mut guard = ChildGuard(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = guard.0.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (guard, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = guard.0.kill();
    }
    panic!(
        "haproxy did not start; its log: {}",
        std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default()
    );
}
