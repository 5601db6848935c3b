//! A real Apache Airflow (2.10.5 from PyPI, installed by scripts/peers/setup.sh)
//! running standalone on this machine: SQLite, the sequential executor, the
//! REST API with basic auth, and the DAGs of tests/peers/airflow/dags. The
//! webserver and the scheduler run in their own process groups, stopped (with
//! every task process they started) when the guard is dropped, whatever the
//! test did.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::process::{peers_dir, tempdir};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "opsdeck-test";

pub struct RealAirflow {
    pub url: String,
    pub home: PathBuf,
    processes: Vec<Child>,
    http: reqwest::blocking::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RealAirflow {
    pub fn start() -> RealAirflow {
        let bin = peers_dir().join("venv-airflow/bin");
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
        let env: Vec<(String, String)> = [
            ("AIRFLOW_HOME", home.display().to_string()),
            ("PATH", path),
            ("AIRFLOW__CORE__DAGS_FOLDER", dags.display().to_string()),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
            ("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor".into()),
            ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False".into()),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{}/airflow.db", home.display()),
            ),
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
            (
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                free_port().to_string(),
            ),
            ("AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL", "5".into()),
            ("AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL", "5".into()),
            ("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
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
        for (args, log) in [
            (&["db", "migrate"][..], "migrate.log"),
            (
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
                ][..],
                "users.log",
            ),
        ] {
            let status = airflow(args, log).status().expect("airflow runs");
            assert!(
                status.success(),
                "airflow {args:?} failed; see {}",
                home.join(log).display()
            );
        }
        let mut processes = Vec::new();
        for (args, log) in [
            (&["webserver"][..], "webserver.log"),
            (&["scheduler"][..], "scheduler.log"),
        ] {
            use std::os::unix::process::CommandExt;
            let mut command = airflow(args, log);
            command.process_group(0);
            processes.push(command.spawn().expect("airflow starts"));
        }
        let airflow = RealAirflow {
            url: format!("http://127.0.0.1:{port}"),
            home,
            processes,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        };
        airflow.wait_until(
            "the webserver serves the test DAG",
            Duration::from_secs(120),
            |a| {
                a.get("/api/v1/dags/nightly_orders")
                    .is_some_and(|d| d["dag_id"] == "nightly_orders")
            },
        );
        airflow
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.http
            .get(format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.json().ok())
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
            .expect("airflow answers");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response.json().expect("json")
    }

    /// Starts a DAG run with the given id and waits until it has finished.
    pub fn run_to_completion(&self, dag: &str, run_id: &str) -> Value {
        self.post(
            &format!("/api/v1/dags/{dag}/dagRuns"),
            json!({"dag_run_id": run_id, "conf": {"window_end": "2026-11-23T02:00:00Z"}}),
        );
        self.wait_for_end(dag, run_id)
    }

    pub fn wait_for_end(&self, dag: &str, run_id: &str) -> Value {
        let path = format!("/api/v1/dags/{dag}/dagRuns/{run_id}");
        self.wait_until("the DAG run finishes", Duration::from_secs(180), |a| {
            a.get(&path)
                .is_some_and(|r| r["state"] == "failed" || r["state"] == "success")
        });
        self.get(&path).expect("the run")
    }

    pub fn task(&self, dag: &str, run_id: &str, task: &str) -> Value {
        self.get(&format!(
            "/api/v1/dags/{dag}/dagRuns/{run_id}/taskInstances/{task}"
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
            "timed out waiting until {what}; scheduler log (last lines, newest first):\n{}\nwebserver:\n{}",
            tail("scheduler.log"),
            tail("webserver.log.err")
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
