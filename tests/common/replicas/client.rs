//! The Python SDK sessions client (tests/peers/replica_sessions.py) run in the
//! background, with deadlines on every wait.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::super::process::ChildGuard;

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

    /// How many sessions have ended so far (without waiting).
    pub fn ended(&mut self) -> usize {
        while self.progress.try_recv().is_ok() {
            self.finished_sessions += 1;
        }
        self.finished_sessions
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
