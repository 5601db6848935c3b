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

use serde_json::Value;

use super::process::{ChildGuard, OPSDECK, peer_script, python, tempdir};

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

    /// Everything it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Resident memory in KiB, from /proc (None once it is gone).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
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
    /// Sent by haproxy's health checks (a bearer token, if the replicas want one).
    pub check_headers: Vec<(String, String)>,
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
            wait_ready(replica, &spec.check_headers);
        }
        let (haproxy, port) = start_haproxy(&replicas, &spec.check_headers, &dir);
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

    pub fn stop_haproxy(&mut self) {
        let _ = self.haproxy.0.kill();
        let _ = self.haproxy.0.wait();
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

fn wait_ready(replica: &Replica, headers: &[(String, String)]) {
    let client = http_client();
    let url = format!("http://{}/health/ready", replica.addr);
    let deadline = Instant::now() + STARTUP;
    let mut last = String::new();
    while Instant::now() < deadline {
        let mut request = client.get(&url);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        match request.send() {
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
pub fn haproxy_config(
    port: u16,
    replicas: &[Replica],
    check_headers: &[(String, String)],
) -> String {
    let mut check = String::from(
        "    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1",
    );
    for (name, value) in check_headers {
        check.push_str(&format!(" hdr {name} \"{value}\""));
    }
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
{check}
    http-check expect status 200
    default-server inter 300ms fall 2 rise 1
    http-response set-header {LB_SERVER_HEADER} %s
{servers}"#
    )
}

fn start_haproxy(
    replicas: &[Replica],
    check_headers: &[(String, String)],
    dir: &Path,
) -> (ChildGuard, u16) {
    let config = dir.join("haproxy.cfg");
    for _ in 0..3 {
        let port = free_port();
        std::fs::write(&config, haproxy_config(port, replicas, check_headers)).unwrap();
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

/// A sessions client running in the background: its progress lines as they
/// come, its output at the end. Killed if dropped.
pub struct RunningClient {
    child: ChildGuard,
    progress: std::sync::mpsc::Receiver<String>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    finished_sessions: usize,
}

impl RunningClient {
    pub fn spawn(mut command: Command) -> RunningClient {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the sessions client starts");
        let mut out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut bytes);
            bytes
        });
        let (sender, progress) = std::sync::mpsc::channel();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let all = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                if line.starts_with("session ") {
                    let _ = sender.send(line);
                }
            }
        });
        RunningClient {
            child: ChildGuard(child),
            progress,
            stdout,
            stderr,
            finished_sessions: 0,
        }
    }

    /// Blocks until `count` sessions in all have ended (ok or not).
    pub fn wait_for_sessions(&mut self, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.finished_sessions < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.progress.recv_timeout(left) {
                Ok(_) => self.finished_sessions += 1,
                Err(_) => panic!(
                    "only {} of {count} sessions ended within {limit:?}: {}",
                    self.finished_sessions,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits for the client to end (killing it after `limit`) and returns its report.
    pub fn finish(mut self, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.0.kill();
                panic!(
                    "the sessions client hung past {limit:?}: {}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = self.stdout.join().unwrap();
        assert!(
            status.success(),
            "the sessions client failed ({status:?}): {}\n{}",
            self.stderr.lock().unwrap(),
            String::from_utf8_lossy(&stdout)
        );
        serde_json::from_slice(&stdout).expect("one JSON report")
    }
}

/// Runs the client to its end (at most `limit`) and returns its report.
pub fn run_sessions(command: Command, limit: Duration) -> Value {
    RunningClient::spawn(command).finish(limit)
}

/// Runs created through a [`FakeApi`]'s `createRun`, shared by every replica
/// that reaches it (as Data Factory's own run history is).
#[derive(Clone, Default)]
pub struct CreatedRuns(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl CreatedRuns {
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

/// Ids handed out to new runs, in order (GET routes need fixed paths).
const NEW_RUN_IDS: [&str; 8] = [
    "5e0c0000-0000-4000-8000-000000000001",
    "5e0c0000-0000-4000-8000-000000000002",
    "5e0c0000-0000-4000-8000-000000000003",
    "5e0c0000-0000-4000-8000-000000000004",
    "5e0c0000-0000-4000-8000-000000000005",
    "5e0c0000-0000-4000-8000-000000000006",
    "5e0c0000-0000-4000-8000-000000000007",
    "5e0c0000-0000-4000-8000-000000000008",
];

/// Makes the sales estate's `pipeline` rerunnable with Data Factory's
/// documented run-group behaviour: `createRun?referencePipelineRunId=R&isRecovery=true`
/// makes a run in R's group (`runGroupId`, the first run's id), which
/// `queryPipelineRuns` (filters `PipelineName`, `Status`, `RunGroupId`, the
/// `lastUpdated` window) and `GET pipelineruns/{id}` then list, to every caller.
pub fn serve_reruns_statefully(
    fake: &super::azure::FakeApi,
    pipeline: &str,
    now: &str,
) -> CreatedRuns {
    use super::azure::{Reply, SALES_FACTORY_PATH, filter_runs, fixture};
    use serde_json::json;
    let created = CreatedRuns::default();
    let fixtures = fixture(fake, "runs.json");
    let all_runs = {
        let created = created.clone();
        let fixtures = fixtures.clone();
        move || -> Vec<Value> {
            let mut runs = fixtures["value"].as_array().cloned().unwrap_or_default();
            runs.extend(created.all());
            runs
        }
    };
    let factory = SALES_FACTORY_PATH;
    {
        let all_runs = all_runs.clone();
        fake.route_fn("POST", &format!("{factory}/queryPipelineRuns"), move |r| {
            let groups: Option<Vec<Value>> = r.body["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["operand"] == "RunGroupId")
                .map(|f| f["values"].as_array().cloned().unwrap_or_default());
            let runs: Vec<Value> = filter_runs(&json!({"value": all_runs()}), &r.body)
                .into_iter()
                .filter(|run| {
                    groups
                        .as_ref()
                        .is_none_or(|g| g.contains(&run["runGroupId"]))
                })
                .collect();
            Reply::json(200, json!({"value": runs}))
        });
    }
    for id in NEW_RUN_IDS {
        let created = created.clone();
        fake.route_fn(
            "GET",
            &format!("{factory}/pipelineruns/{id}"),
            move |_| match created.all().into_iter().find(|run| run["runId"] == id) {
                Some(run) => Reply::json(200, run),
                None => {
                    Reply::arm_error(404, "PipelineRunNotFound", &format!("run {id} not found"))
                }
            },
        );
    }
    let pipeline_name = pipeline.to_string();
    let now = now.to_string();
    let store = created.clone();
    fake.route_fn(
        "POST",
        &format!("{factory}/pipelines/{pipeline}/createRun"),
        move |r| {
            let runs = all_runs();
            let reference = r.query_param("referencePipelineRunId");
            let group = match &reference {
                Some(id) => match runs.iter().find(|run| run["runId"] == id.as_str()) {
                    Some(run) if r.query_param("isRecovery").as_deref() == Some("true") => {
                        run["runGroupId"].clone()
                    }
                    Some(_) => Value::Null,
                    None => {
                        return Reply::arm_error(
                            400,
                            "BadRequest",
                            &format!("reference run {id} not found"),
                        );
                    }
                },
                None => Value::Null,
            };
            let mut store = store.0.lock().unwrap();
            let Some(id) = NEW_RUN_IDS.get(store.len()) else {
                return Reply::arm_error(429, "TooManyRunsInTest", "out of test run ids");
            };
            let group = if group.is_null() { json!(id) } else { group };
            store.push(json!({
                "id": format!("{factory}/pipelineruns/{id}"),
                "runId": id,
                "runGroupId": group,
                "isLatest": true,
                "pipelineName": pipeline_name,
                "parameters": {},
                "invokedBy": {"id": "manual", "name": "Manual", "invokedByType": "Manual"},
                "runStart": now,
                "lastUpdated": now,
                "status": "InProgress",
                "message": ""
            }));
            Reply::json(200, json!({"runId": id}))
        },
    );
    created
}
