//! `opsdeck serve --http` as a container runs it: logs and the audit as JSON
//! lines on stdout with no HOME at all, readiness from a background snapshot
//! (starting, then naming the failing backend, never calling the cloud per
//! probe), and SIGTERM draining: ready turns 503, a call in flight completes,
//! the port closes, and a stuck call cannot hold the process past its grace.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};

use common::azure::{
    FAILED_RUN, FakeApi, Reply, SALES_FACTORY_PATH, fake_az_dir, fixture, path_with,
    sales_config_file,
};
use common::process::{ChildGuard, OPSDECK, pinned_serve_args, tempdir};

/// Spawns `command` and returns it with its MCP URL, read from stderr (which
/// is then drained in the background).
fn spawn_with_url(mut command: Command) -> (ChildGuard, String) {
    command.stdin(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("opsdeck starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let guard = ChildGuard(child);
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
            let url = url.to_string();
            std::thread::spawn(move || for _ in reader.lines() {});
            return (guard, url);
        }
        line.clear();
    }
    panic!("opsdeck did not report its HTTP address; last stderr line: {line}");
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits up to `limit` for the child to exit; its exit code and how long it took.
fn wait_exit(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("opsdeck was still running {limit:?} after SIGTERM");
}

async fn ready(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url.replace("/mcp", "/health/ready"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_audit_are_json_lines_on_stdout_without_home() {
    let mut command = Command::new(OPSDECK);
    command
        .args(pinned_serve_args())
        .args(["--http", "127.0.0.1:0", "--stateless"])
        .args(["--log-format", "json", "--log-output", "stdout"])
        .args(["--audit-log", "stdout", "--drain-delay-seconds", "0"])
        .arg("--http-allow-unauthenticated-remediation")
        // A distroless container: no HOME, no XDG directories, no log directory.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped());
    let (mut server, url) = spawn_with_url(command);
    let mut stdout = server.0.stdout.take().unwrap();
    let collected = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });

    let rerun = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "rerun_pipeline",
        "arguments": {"pipeline": "ingest_crm_customers", "dry_run": false,
                      "approved_by": "oncall@example.com"}}});
    let answer: Value = reqwest::Client::new()
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&rerun)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["result"]["isError"], false, "{answer}");

    terminate(&server.0);
    let (code, _) = wait_exit(&mut server.0, Duration::from_secs(15));
    assert_eq!(code, Some(0), "a drained shutdown exits 0");
    let text = collected.join().unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let message = |needle: &str| {
        lines.iter().any(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle))
        })
    };
    assert!(message("serving MCP over HTTP"), "{text}");
    assert!(message("shutting down"), "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() || l["record"].is_string())
    );
    let audit: Vec<&Value> = lines
        .iter()
        .filter(|l| l["record"] == "opsdeck.audit")
        .collect();
    assert_eq!(audit.len(), 1, "{text}");
    assert_eq!(audit[0]["tool"], "rerun_pipeline");
    assert_eq!(audit[0]["dry_run"], false);
    assert_eq!(audit[0]["who"]["approved_by"], "oncall@example.com");
}

#[test]
fn logs_on_stdout_are_refused_where_stdout_carries_mcp() {
    for via_env in [false, true] {
        let mut command = Command::new(OPSDECK);
        command
            .args(pinned_serve_args())
            .env("OPSDECK_LOG_DIR", tempdir("stdio-stdout"));
        if via_env {
            command.env("OPSDECK_LOG_OUTPUT", "stdout");
        } else {
            command.args(["--log-output", "stdout"]);
        }
        let output = command.stdin(Stdio::null()).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--log-output stdout cannot be used with the stdio transport"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "stdout belongs to MCP");
    }
    // The audit cannot go there either.
    let output = Command::new(OPSDECK)
        .args(pinned_serve_args())
        .args(["--audit-log", "stdout"])
        .env("OPSDECK_LOG_DIR", tempdir("stdio-stdout"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

/// An Azure config for the sales estate with room for slow answers.
fn patient_config(fake: &FakeApi, dir: &std::path::Path) -> std::path::PathBuf {
    let path = sales_config_file(fake, dir);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("request_timeout_secs = 5", "request_timeout_secs = 60");
    assert!(text.contains("request_timeout_secs = 60"));
    std::fs::write(&path, text).unwrap();
    path
}

fn adf_server(fake: &FakeApi, tag: &str, extra: &[&str], token: Option<&str>) -> Command {
    let dir = tempdir(tag);
    let config = patient_config(fake, &dir);
    let mut command = Command::new(OPSDECK);
    command
        .args(["serve", "--backend", "adf", "--http", "127.0.0.1:0"])
        .args(["--azure-config", config.to_str().unwrap()])
        .args(extra)
        .env("PATH", path_with(&fake_az_dir()))
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .env_remove("OPSDECK_HTTP_TOKEN")
        .stdout(Stdio::null());
    if let Some(token) = token {
        command.env("OPSDECK_HTTP_TOKEN", token);
    }
    command
}

fn factory_looks(fake: &FakeApi) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.eq_ignore_ascii_case(SALES_FACTORY_PATH))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_starts_then_names_the_failing_backend_and_probes_never_reach_the_cloud() {
    const TOKEN: &str = "probe-test-token-0123456789";
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    // The factory answers only after the health check has given up on it.
    let factory = fixture(&fake, "factory.json");
    fake.route(
        "GET",
        SALES_FACTORY_PATH,
        None,
        vec![Reply::json(200, factory.clone()).after(Duration::from_secs(30))],
    );
    let (_server, url) = spawn_with_url(adf_server(&fake, "ready-starting", &[], Some(TOKEN)));

    assert_eq!(
        ready(&url, None).await,
        (503, json!({"status": "starting"})),
        "before the first look"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let failing = loop {
        let (status, body) = ready(&url, None).await;
        if body["status"] != "starting" {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "still starting: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Anyone learns which backend fails, by kind and environment, and nothing more.
    assert_eq!(
        failing,
        (503, json!({"status": "not ready", "failing": ["adf/prod"]}))
    );
    let (status, detailed) = ready(&url, Some(TOKEN)).await;
    assert_eq!(status, 503);
    assert_eq!(detailed["failing"], json!(["adf/prod"]));
    assert!(
        detailed["backends"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{detailed}"
    );

    // The factory recovers: the next background look makes the server ready.
    fake.route(
        "GET",
        SALES_FACTORY_PATH,
        None,
        vec![Reply::json(200, factory)],
    );
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let (status, body) = ready(&url, None).await;
        if status == 200 {
            assert_eq!(body, json!({"status": "ready"}));
            break;
        }
        assert!(Instant::now() < deadline, "never ready again: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Probes read the snapshot: fifty of them cost Azure at most the one
    // background look that may fall between them.
    let before = factory_looks(&fake);
    for _ in 0..50 {
        assert_eq!(ready(&url, None).await.0, 200);
    }
    assert!(
        factory_looks(&fake) <= before + 1,
        "{} looks for 50 probes",
        factory_looks(&fake) - before
    );
}

/// Makes `get_run_details` of the failed run take `delay` (Azure answers slowly).
fn slow_run_details(fake: &FakeApi, delay: Duration) {
    let runs = fixture(fake, "runs.json");
    let run = runs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runId"] == FAILED_RUN)
        .unwrap()
        .clone();
    fake.route(
        "GET",
        &format!("{SALES_FACTORY_PATH}/pipelineruns/{FAILED_RUN}"),
        None,
        vec![Reply::json(200, run).after(delay)],
    );
}

async fn wait_for_request(fake: &FakeApi, path_part: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.requests_to(path_part).is_empty() {
        assert!(Instant::now() < deadline, "{path_part} was never asked for");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn run_details_call() -> CallToolRequestParams {
    CallToolRequestParams::new("get_run_details")
        .with_arguments(json!({"run_id": FAILED_RUN}).as_object().unwrap().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_call_in_flight_then_closes_the_port_and_exits_zero() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    slow_run_details(&fake, Duration::from_secs(5));
    let extra = [
        "--drain-delay-seconds",
        "2",
        "--shutdown-grace-seconds",
        "20",
    ];
    let (mut server, url) = spawn_with_url(adf_server(&fake, "drain", &extra, None));
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let client = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await.unwrap();
    let call = tokio::spawn(async move {
        let result = client.call_tool(run_details_call()).await;
        (result, Instant::now())
    });
    wait_for_request(&fake, &format!("pipelineruns/{FAILED_RUN}")).await;

    let signalled = Instant::now();
    terminate(&server.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still serving during the drain delay, but no longer ready.
    assert_eq!(
        ready(&url, None).await,
        (503, json!({"status": "draining"}))
    );
    let live = reqwest::get(url.replace("/mcp", "/health/live"))
        .await
        .unwrap();
    assert_eq!(
        live.status(),
        200,
        "requests are still served while draining"
    );

    // After the drain delay the port is closed to new connections…
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "a new connection after the drain is refused"
    );
    // …while the call in flight is answered in full.
    let (result, answered) = call.await.unwrap();
    let result = result.expect("the call in flight completes");
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(
        result.structured_content.unwrap()["failed_activities"][0],
        "CopyOrders"
    );
    assert!(answered.duration_since(signalled) >= Duration::from_secs(2));
    let (code, _) = tokio::task::spawn_blocking(move || {
        let waited = wait_exit(&mut server.0, Duration::from_secs(15));
        drop(server);
        waited
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_call_cannot_hold_the_process_past_its_grace() {
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    slow_run_details(&fake, Duration::from_secs(120));
    let extra = [
        "--drain-delay-seconds",
        "1",
        "--shutdown-grace-seconds",
        "2",
        "--stateless",
    ];
    let (mut server, url) = spawn_with_url(adf_server(&fake, "stuck", &extra, None));
    let call = tokio::spawn(async move {
        reqwest::Client::new()
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "get_run_details",
                                     "arguments": {"run_id": FAILED_RUN}}}))
            .send()
            .await
    });
    wait_for_request(&fake, &format!("pipelineruns/{FAILED_RUN}")).await;
    terminate(&server.0);
    let (code, took) = tokio::task::spawn_blocking(move || {
        let waited = wait_exit(&mut server.0, Duration::from_secs(20));
        drop(server);
        waited
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "a shutdown past its grace still exits 0");
    // Drain 1 s + grace 2 s + closing 2 s + the runtime's 2 s, with room for a loaded machine.
    assert!(took < Duration::from_secs(12), "took {took:?}");
    // The stuck caller got an answer or a closed connection, never a hang.
    let outcome = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the caller is not left hanging")
        .unwrap();
    if let Ok(response) = outcome {
        let body = response.text().await.unwrap_or_default();
        assert!(
            !body.contains("CopyOrders"),
            "a cancelled call is not answered as a success: {body}"
        );
    }
}

async fn post_mcp(url: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn rerun_for_real() -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "rerun_pipeline",
        "arguments": {"pipeline": "ingest_crm_customers", "dry_run": false}}})
}

/// Sign-in configured the way a Kubernetes Deployment does it (environment
/// variables), on a public bind, stateless: callers need their own token,
/// readers cannot remediate, and the audit names the person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_from_the_environment_guards_a_public_stateless_server() {
    use common::issuer::{AUDIENCE, Issuer};
    let issuer = Issuer::start();
    let dir = tempdir("signin-serve");
    let audit = dir.join("audit.jsonl");
    let mut command = Command::new(OPSDECK);
    command
        .args(pinned_serve_args())
        .args(["--http", "0.0.0.0:0", "--stateless"])
        .args(["--audit-log", audit.to_str().unwrap()])
        .env("OPSDECK_OAUTH_ISSUER", &issuer.url)
        .env("OPSDECK_OAUTH_AUDIENCE", AUDIENCE)
        // Off loopback the public resource URL must be given, not taken from Host.
        .env("OPSDECK_OAUTH_RESOURCE", "https://opsdeck.example.com/mcp")
        .env_remove("OPSDECK_HTTP_TOKEN")
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .stdout(Stdio::null());
    let (_server, url) = spawn_with_url(command);
    let url = url.replace("0.0.0.0", "127.0.0.1");
    let status = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "get_pipeline_status", "arguments": {"pipeline": "ingest_crm_customers"}}});

    let anonymous = post_mcp(&url, None, status.clone()).await;
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("resource_metadata=") && challenge.contains("opsdeck.read"),
        "{challenge}"
    );
    let metadata: Value =
        reqwest::get(url.replace("/mcp", "/.well-known/oauth-protected-resource"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        metadata["authorization_servers"],
        json!([issuer.url]),
        "{metadata}"
    );

    let reader = issuer.mint(issuer.claims("alice", "opsdeck.read")).await;
    let read: Value = post_mcp(&url, Some(&reader), status)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["result"]["isError"], false, "{read}");
    let refused = post_mcp(&url, Some(&reader), rerun_for_real()).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    let operator = issuer
        .mint(issuer.claims("carol", "opsdeck.read opsdeck.remediate"))
        .await;
    let done: Value = post_mcp(&url, Some(&operator), rerun_for_real())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["result"]["isError"], false, "{done}");
    let line = std::fs::read_to_string(&audit).unwrap();
    let record: Value = serde_json::from_str(line.lines().next_back().unwrap()).unwrap();
    assert_eq!(record["who"]["subject"], "oid-carol", "{record}");
    assert_eq!(record["who"]["issuer"], issuer.url, "{record}");

    // Readiness details are for signed-in callers only.
    assert_eq!(ready(&url, None).await, (200, json!({"status": "ready"})));
    let (_, detailed) = ready(&url, Some(&reader)).await;
    assert!(detailed["backends"].is_array(), "{detailed}");
    assert!(
        detailed["remediation"]["real"]
            .as_str()
            .unwrap()
            .contains("signed-in"),
        "{detailed}"
    );
}

#[test]
fn sign_in_settings_are_checked_before_serving() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = Command::new(OPSDECK);
        command
            .args(pinned_serve_args())
            .args(args)
            .env_remove("OPSDECK_HTTP_TOKEN")
            .env("OPSDECK_LOG_DIR", tempdir("signin-flags"))
            .stdin(Stdio::null());
        for (name, value) in envs {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let issuer = [
        "--oauth-issuer",
        "https://login.example.com/tenant/v2.0",
        "--oauth-audience",
        "api://opsdeck",
    ];
    // A shared token and sign-in at once: which one counts would be a guess.
    let (code, stderr) = run(
        &[&["--http", "127.0.0.1:0"][..], &issuer[..]].concat(),
        &[("OPSDECK_HTTP_TOKEN", "a-shared-token-of-24-chars")],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("choose one"), "{stderr}");
    // Stdio has no callers to sign in.
    let (code, stderr) = run(&issuer, &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--oauth-issuer"), "{stderr}");
    // An audience without an issuer is a half-made set-up.
    let (code, stderr) = run(
        &["--http", "127.0.0.1:0", "--oauth-audience", "api://x"],
        &[],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--oauth-issuer"), "{stderr}");
    // A plain-http issuer off this machine is refused by T1's settings check.
    let (code, stderr) = run(
        &[
            "--http",
            "127.0.0.1:0",
            "--oauth-issuer",
            "http://login.example.com/t",
            "--oauth-audience",
            "api://opsdeck",
        ],
        &[],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--oauth-issuer"), "{stderr}");
}
