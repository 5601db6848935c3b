//! Shared test harness: a sandbox estate on a pinned seed and clock, served by
//! the real `OpsdeckServer` and reached through a real rmcp client over an
//! in-memory duplex pipe.
#![allow(dead_code)]

pub mod airflow;
pub mod azure;
pub mod issuer;
pub mod openai_mock;
pub mod process;
pub mod replicas;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use opsdeck::backends::Backends;
use opsdeck::backends::sandbox::{Sandbox, SandboxOptions};
use opsdeck::model::time::{Clock, SharedClock};
use opsdeck::server::OpsdeckServer;

/// The instant every test pins the sandbox clock to (42 minutes past the hour).
pub const PINNED: &str = "2026-11-23T03:42:00Z";

pub fn pinned() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(PINNED)
        .unwrap()
        .with_timezone(&Utc)
}

/// A clock tests can move forward.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(t)))
    }
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub fn sandbox_backends(scenario: &str, seed: u64, clock: SharedClock) -> (Arc<Sandbox>, Backends) {
    let options = SandboxOptions {
        scenario: Some(scenario.to_string()),
        seed,
        ..SandboxOptions::default()
    };
    let sandbox = Arc::new(Sandbox::new(options, clock.clone()).expect("sandbox loads"));
    let backends = Backends {
        label: format!("sandbox/{scenario}"),
        pipelines: vec![sandbox.clone()],
        secrets: vec![sandbox.clone()],
        infra: vec![sandbox.clone()],
        logs: vec![sandbox.clone()],
        changes: vec![sandbox.clone()],
        clock,
    };
    (sandbox, backends)
}

/// A connected client and the clock behind its server.
pub struct Harness {
    pub tools: ToolClient,
    pub clock: Arc<TestClock>,
    pub sandbox: Arc<Sandbox>,
}

impl std::ops::Deref for Harness {
    type Target = ToolClient;
    fn deref(&self) -> &ToolClient {
        &self.tools
    }
}

/// A real rmcp client connected to an `OpsdeckServer` over an in-memory pipe.
pub struct ToolClient {
    pub client: RunningService<RoleClient, ()>,
}

/// Serves `backends` in-process and connects a client to them.
pub async fn connect(backends: Backends, read_only: bool) -> ToolClient {
    connect_server(OpsdeckServer::new(backends, read_only)).await
}

/// Serves a configured server in-process and connects a client to it.
pub async fn connect_server(server: OpsdeckServer) -> ToolClient {
    let (server_io, client_io) = tokio::io::duplex(4 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ToolClient {
        client: ().serve(client_io).await.expect("client connects"),
    }
}

pub async fn start(scenario: &str) -> Harness {
    start_with(scenario, 7, false).await
}

pub async fn start_with(scenario: &str, seed: u64, read_only: bool) -> Harness {
    let clock = TestClock::at(pinned());
    let (sandbox, backends) = sandbox_backends(scenario, seed, clock.clone());
    Harness {
        tools: connect(backends, read_only).await,
        clock,
        sandbox,
    }
}

impl ToolClient {
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(map) = args else {
            panic!("arguments must be an object")
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
            .await
            .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args).await;
        assert_eq!(
            result.is_error,
            Some(false),
            "{tool} returned an error: {}",
            text_of(&result)
        );
        result
            .structured_content
            .clone()
            .expect("structured content")
    }

    /// Calls a tool that must fail with a tool error; returns its text.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} should have failed: {}",
            text_of(&result)
        );
        assert!(
            result.structured_content.is_none(),
            "errors carry no structured content"
        );
        text_of(&result)
    }

    pub async fn tools(&self) -> Vec<Tool> {
        self.client.list_all_tools().await.expect("tools/list")
    }

    /// Runs of the last 24 hours, newest first.
    pub async fn runs(&self, args: Value) -> Vec<Value> {
        let mut args = args;
        if args.get("limit").is_none() {
            args["limit"] = json!(500);
        }
        self.ok("list_pipeline_runs", args).await["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The newest failed run of a pipeline.
    pub async fn latest_failed(&self, pipeline: &str) -> Value {
        let runs = self
            .runs(json!({"pipeline": pipeline, "status": "Failed"}))
            .await;
        runs.first()
            .cloned()
            .unwrap_or_else(|| panic!("{pipeline} has no failed run"))
    }
}

impl Harness {
    /// Moves the clock on until some run is in progress; returns that run.
    pub async fn wait_for_running(&self) -> Value {
        for _ in 0..240 {
            if let Some(run) = self
                .runs(json!({"since": "3h"}))
                .await
                .into_iter()
                .find(|r| r["status"] == "InProgress")
            {
                return run;
            }
            self.clock.advance(Duration::seconds(15));
        }
        panic!("nothing started running within an hour of sandbox time");
    }
}

pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `../shared/fixtures/vendor` from the crate root (or any ancestor that has it).
pub fn vendor_dir() -> std::path::PathBuf {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/fixtures/vendor");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "shared/fixtures/vendor not found above the crate"
        );
    }
}
