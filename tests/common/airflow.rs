//! A real Apache Airflow (2.10.5 or 3.1.3 from PyPI, installed by
//! scripts/peers/setup.sh) running on this machine on SQLite with the DAGs of
//! tests/peers/airflow/dags: Airflow 2 with the sequential executor and the v1
//! REST API behind basic auth; Airflow 3 with the local executor and the v2
//! REST API behind the simple auth manager's JWTs. Every Airflow process runs
//! in its own process group, stopped (with every task process it started) when
//! the guard is dropped, whatever the test did. (Airflow renames its
//! processes, `airflow api_server -- host:…`, so only the group finds them all.)

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::process::{peers_dir, tempdir};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "opsdeck-test";

/// Which Airflow: the REST API, the venv and the processes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Airflow 2.10.5: REST API v1, basic auth, webserver + scheduler.
    Airflow2,
    /// Airflow 3.1.3: REST API v2, JWT from `POST /auth/token`, api-server +
    /// scheduler + dag-processor.
    Airflow3,
}

impl Release {
    fn venv(self) -> &'static str {
        match self {
            Release::Airflow2 => "venv-airflow",
            Release::Airflow3 => "venv-airflow3",
        }
    }

    /// The REST API's path prefix.
    pub fn api(self) -> &'static str {
        match self {
            Release::Airflow2 => "/api/v1",
            Release::Airflow3 => "/api/v2",
        }
    }

    fn server_log(self) -> &'static str {
        match self {
            Release::Airflow2 => "webserver.log",
            Release::Airflow3 => "api-server.log",
        }
    }
}

pub struct RealAirflow {
    pub url: String,
    pub home: PathBuf,
    pub release: Release,
    processes: Vec<Child>,
    http: reqwest::blocking::Client,
    /// Airflow 3's access token, fetched when first needed.
    token: Mutex<Option<String>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RealAirflow {
    /// Airflow 2.10.5.
    pub fn start() -> RealAirflow {
        RealAirflow::start_release(Release::Airflow2)
    }

    pub fn start_release(release: Release) -> RealAirflow {
        let bin = peers_dir().join(release.venv()).join("bin");
        assert!(
            bin.join("airflow").exists(),
            "Airflow is not installed in {}: run scripts/peers/setup.sh (the README's test command does)",
            bin.display()
        );
        let home = tempdir("airflow");
        let port = free_port();
        let dags = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/airflow/dags");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env: Vec<(String, String)> = [
            ("AIRFLOW_HOME", home.display().to_string()),
            ("PATH", path),
            ("AIRFLOW__CORE__DAGS_FOLDER", dags.display().to_string()),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
            ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False".into()),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{}/airflow.db", home.display()),
            ),
            (
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                free_port().to_string(),
            ),
            ("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let specific: Vec<(&str, String)> = match release {
            Release::Airflow2 => vec![
                ("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor".into()),
                (
                    "AIRFLOW__API__AUTH_BACKENDS",
                    "airflow.api.auth.backend.basic_auth".into(),
                ),
                ("AIRFLOW__WEBSERVER__WEB_SERVER_HOST", "127.0.0.1".into()),
                ("AIRFLOW__WEBSERVER__WEB_SERVER_PORT", port.to_string()),
                ("AIRFLOW__WEBSERVER__WORKERS", "1".into()),
                (
                    "AIRFLOW__WEBSERVER__SECRET_KEY",
                    "opsdeck-test-secret".into(),
                ),
                ("AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL", "5".into()),
                ("AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL", "5".into()),
            ],
            Release::Airflow3 => {
                let passwords = home.join("passwords.json");
                std::fs::write(&passwords, json!({ USER: PASSWORD }).to_string())
                    .expect("the passwords file");
                vec![
                    ("AIRFLOW__CORE__EXECUTOR", "LocalExecutor".into()),
                    ("AIRFLOW__CORE__PARALLELISM", "2".into()),
                    (
                        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                        format!("{USER}:admin"),
                    ),
                    (
                        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
                        passwords.display().to_string(),
                    ),
                    ("AIRFLOW__API__HOST", "127.0.0.1".into()),
                    ("AIRFLOW__API__PORT", port.to_string()),
                    ("AIRFLOW__API__WORKERS", "1".into()),
                    (
                        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                        format!("http://127.0.0.1:{port}/execution/"),
                    ),
                    (
                        "AIRFLOW__API_AUTH__JWT_SECRET",
                        "opsdeck-test-jwt-secret-0123456789abcdef0123456789abcdef".into(),
                    ),
                    // Without an issuer Airflow 3.1 signs `iss: []`, which PyJWT refuses.
                    ("AIRFLOW__API_AUTH__JWT_ISSUER", "opsdeck-test".into()),
                    ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "5".into()),
                    (
                        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
                        "5".into(),
                    ),
                ]
            }
        };
        env.extend(specific.into_iter().map(|(k, v)| (k.to_string(), v)));
        let airflow = |args: &[&str], log: &str| {
            let mut command = Command::new(bin.join("airflow"));
            command
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(home.join(log)).expect("log file"))
                .stderr(std::fs::File::create(home.join(format!("{log}.err"))).expect("log file"));
            command
        };
        let mut setup: Vec<(&[&str], &str)> = vec![(&["db", "migrate"], "migrate.log")];
        if release == Release::Airflow2 {
            setup.push((
                &[
                    "users",
                    "create",
                    "-u",
                    USER,
                    "-p",
                    PASSWORD,
                    "-r",
                    "Admin",
                    "-f",
                    "On",
                    "-l",
                    "Call",
                    "-e",
                    "oncall@example.com",
                ],
                "users.log",
            ));
        }
        for (args, log) in setup {
            let status = airflow(args, log).status().expect("airflow runs");
            assert!(
                status.success(),
                "airflow {args:?} failed; see {}",
                home.join(log).display()
            );
        }
        let services: &[(&[&str], &str)] = match release {
            Release::Airflow2 => &[
                (&["webserver"], "webserver.log"),
                (&["scheduler"], "scheduler.log"),
            ],
            Release::Airflow3 => &[
                (&["api-server"], "api-server.log"),
                (&["scheduler"], "scheduler.log"),
                (&["dag-processor"], "dag-processor.log"),
            ],
        };
        let mut processes = Vec::new();
        for (args, log) in services {
            use std::os::unix::process::CommandExt;
            let mut command = airflow(args, log);
            command.process_group(0);
            processes.push(command.spawn().expect("airflow starts"));
        }
        let airflow = RealAirflow {
            url: format!("http://127.0.0.1:{port}"),
            home,
            release,
            processes,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            token: Mutex::new(None),
        };
        let dag = format!("{}/dags/nightly_orders", release.api());
        airflow.wait_until(
            "the webserver serves the test DAG",
            Duration::from_secs(180),
            |a| a.get(&dag).is_some_and(|d| d["dag_id"] == "nightly_orders"),
        );
        airflow
    }

    /// A request signed as the test user: basic auth on Airflow 2, a JWT on 3.
    fn signed(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match self.release {
            Release::Airflow2 => request.basic_auth(USER, Some(PASSWORD)),
            Release::Airflow3 => match self.token() {
                Some(token) => request.bearer_auth(token),
                None => request,
            },
        }
    }

    fn token(&self) -> Option<String> {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if cached.is_none() {
            *cached = self
                .http
                .post(format!("{}/auth/token", self.url))
                .json(&json!({"username": USER, "password": PASSWORD}))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.json::<Value>().ok())
                .and_then(|b| b["access_token"].as_str().map(str::to_string));
        }
        cached.clone()
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.signed(self.http.get(format!("{}{path}", self.url)))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.json().ok())
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body)
    }

    pub fn patch(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PATCH, path, body)
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .signed(
                self.http
                    .request(method.clone(), format!("{}{path}", self.url)),
            )
            .json(&body)
            .send()
            .expect("airflow answers");
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        response.json().expect("json")
    }

    /// Starts a DAG run with the given id and waits until it has finished.
    pub fn run_to_completion(&self, dag: &str, run_id: &str) -> Value {
        self.trigger(dag, run_id);
        self.wait_for_end(dag, run_id)
    }

    /// Starts a DAG run with the given id.
    pub fn trigger(&self, dag: &str, run_id: &str) {
        let mut body =
            json!({"dag_run_id": run_id, "conf": {"window_end": "2026-11-23T02:00:00Z"}});
        if self.release == Release::Airflow3 {
            // Required (nullable) in API v2: a manual run with no data interval.
            body["logical_date"] = Value::Null;
        }
        self.post(&format!("{}/dags/{dag}/dagRuns", self.release.api()), body);
    }

    pub fn wait_for_end(&self, dag: &str, run_id: &str) -> Value {
        let path = format!("{}/dags/{dag}/dagRuns/{run_id}", self.release.api());
        self.wait_until("the DAG run finishes", Duration::from_secs(180), |a| {
            a.get(&path)
                .is_some_and(|r| r["state"] == "failed" || r["state"] == "success")
        });
        self.get(&path).expect("the run")
    }

    pub fn task(&self, dag: &str, run_id: &str, task: &str) -> Value {
        self.get(&format!(
            "{}/dags/{dag}/dagRuns/{run_id}/taskInstances/{task}",
            self.release.api()
        ))
        .expect("the task instance")
    }

    pub fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&RealAirflow) -> bool) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let tail = |name: &str| {
            std::fs::read_to_string(self.home.join(name))
                .map(|t| t.lines().rev().take(15).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default()
        };
        panic!(
            "timed out waiting until {what}; scheduler log (last lines, newest first):\n{}\n{}:\n{}\n{}",
            tail("scheduler.log"),
            self.release.server_log(),
            tail(self.release.server_log()),
            tail(&format!("{}.err", self.release.server_log()))
        );
    }
}

/// Signals a whole process group. The `--` matters: without it procps' `kill`
/// may read `-PGID` as an option and signal something else entirely.
fn signal_group(signal: &str, pgid: u32) {
    if pgid <= 1 {
        return;
    }
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

impl Drop for RealAirflow {
    fn drop(&mut self) {
        for child in &mut self.processes {
            // The whole group: gunicorn workers, the scheduler's task processes.
            signal_group("TERM", child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.processes {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            signal_group("KILL", child.id());
            let _ = child.wait();
        }
    }
}
