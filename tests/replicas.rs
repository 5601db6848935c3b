//! `opsdeck serve --http --stateless` as interchangeable replicas: three real
//! processes behind a real haproxy (round robin), the official Python SDK's
//! client running whole sessions through it. Requests of one session land on
//! different replicas and the session still works; a replica killed mid-run
//! costs at most the requests it had in flight; nothing hangs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use common::process::pinned_serve_args;
use common::replicas::client::{RunningClient, run_sessions};
use common::replicas::{Fleet, FleetSpec};

const CLIENT_LIMIT: Duration = Duration::from_secs(180);

fn sandbox_fleet() -> Fleet {
    sandbox_fleet_with(&[])
}

fn sandbox_fleet_with(extra: &[&str]) -> Fleet {
    // The same seed and frozen clock on every replica: the same estate.
    let mut serve_args = pinned_serve_args();
    serve_args.remove(0); // "serve": the harness adds it
    serve_args.extend(extra.iter().map(|a| a.to_string()));
    Fleet::start(&FleetSpec {
        replicas: 3,
        serve_args,
        ..FleetSpec::default()
    })
}

fn sessions(report: &Value) -> Vec<Value> {
    report["sessions"].as_array().cloned().unwrap_or_default()
}

fn exchanges(session: &Value) -> Vec<Value> {
    session["exchanges"].as_array().cloned().unwrap_or_default()
}

/// Replica name -> how many HTTP answers it gave, over all sessions.
fn answers_by_replica(sessions: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for exchange in sessions.iter().flat_map(exchanges) {
        if let Some(name) = exchange["replica"].as_str() {
            *counts.entry(name.to_string()).or_default() += 1;
        }
    }
    counts
}

const READ_CALLS: &[(&str, &str)] = &[
    ("list_pipeline_runs", r#"{"limit": 5, "status": "Failed"}"#),
    (
        "get_pipeline_status",
        r#"{"pipeline": "ingest_crm_customers"}"#,
    ),
];

#[test]
fn sessions_through_the_balancer_spread_over_every_replica_and_agree() {
    let fleet = sandbox_fleet();
    let mut client = fleet.sessions(9, 3, 30);
    for (tool, args) in READ_CALLS {
        client.args(["--call", tool, args]);
    }
    let report = run_sessions(client, CLIENT_LIMIT);
    let sessions = sessions(&report);
    assert_eq!(sessions.len(), 9);
    for session in &sessions {
        assert_eq!(session["ok"], true, "{session:#}");
        for exchange in exchanges(session) {
            assert!(
                exchange["status"].as_u64().is_some_and(|s| s < 300),
                "{exchange}"
            );
            // The replica that answered is the one haproxy picked.
            assert_eq!(exchange["replica"], exchange["server"], "{exchange}");
        }
        for call in session["calls"].as_array().unwrap() {
            assert_eq!(call["is_error"], false, "{call}");
        }
    }
    let counts = answers_by_replica(&sessions);
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        ["r0", "r1", "r2"],
        "every replica answered: {counts:?}"
    );
    let total: usize = counts.values().sum();
    for (name, count) in &counts {
        assert!(
            *count * 3 >= total / 2,
            "round robin: {name} answered {count} of {total}"
        );
    }
    // One session's requests went to several replicas and it never noticed.
    let spread = sessions
        .iter()
        .filter(|s| {
            exchanges(s)
                .iter()
                .filter_map(|e| e["replica"].as_str())
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        })
        .count();
    assert!(spread >= 1, "no session was spread over replicas");
    // Stateless replicas of one estate give the same answers, whoever answers.
    let answers: BTreeSet<String> = sessions
        .iter()
        .map(|s| {
            s["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["structured"].to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(answers.len(), 1, "replicas disagree: {answers:#?}");
    let runs = &sessions[0]["calls"][0]["structured"]["runs"];
    assert_eq!(runs.as_array().map(Vec::len), Some(5), "{runs}");
}

#[test]
fn a_replica_killed_mid_run_costs_at_most_its_requests_in_flight() {
    const SESSIONS: usize = 60;
    const CONCURRENCY: usize = 4;
    let mut fleet = sandbox_fleet();
    let mut command = fleet.sessions(SESSIONS, CONCURRENCY, 30);
    for (tool, args) in READ_CALLS.iter().cycle().take(4) {
        command.args(["--call", tool, args]);
    }
    let mut client = RunningClient::spawn(command);
    client.wait_for_sessions(10, CLIENT_LIMIT);
    fleet.replica("r1").kill();
    let report = client.finish(CLIENT_LIMIT);
    let sessions = sessions(&report);
    assert_eq!(sessions.len(), SESSIONS);

    // Each session has one request in flight at a time, so at most CONCURRENCY
    // requests were on their way to r1 when it died; requests sent after that
    // were refused by the dead port and redispatched, never lost.
    let failed: Vec<&Value> = sessions.iter().filter(|s| s["ok"] != true).collect();
    assert!(
        failed.len() <= CONCURRENCY,
        "{} sessions failed: {failed:#?}\nhaproxy: {}",
        failed.len(),
        fleet.haproxy_log()
    );
    for session in &failed {
        assert!(
            !session["error"].as_str().unwrap_or("").is_empty(),
            "a failure says what failed: {session}"
        );
    }
    let answered_ok = sessions.iter().filter(|s| s["ok"] == true).count();
    assert!(answered_ok >= SESSIONS - CONCURRENCY);
    // r1 was in rotation (it answered before it died) and the run went on without it.
    let counts = answers_by_replica(&sessions);
    assert!(counts.get("r1").is_some_and(|n| *n > 0), "{counts:?}");
    assert!(
        counts.get("r0") > counts.get("r1") && counts.get("r2") > counts.get("r1"),
        "{counts:?}"
    );

    // The survivors keep serving, and haproxy no longer sends anything to r1.
    let mut after = fleet.sessions(6, 2, 30);
    for (tool, args) in READ_CALLS {
        after.args(["--call", tool, args]);
    }
    let after = sessions_of(run_sessions(after, CLIENT_LIMIT));
    assert!(after.iter().all(|s| s["ok"] == true), "{after:#?}");
    let counts = answers_by_replica(&after);
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        ["r0", "r2"],
        "{counts:?}"
    );
}

/// What a rolling update or a scale-in does to a replica: SIGTERM. It turns
/// its readiness to 503 at once, haproxy takes it out of rotation within its
/// check interval, the requests it still gets are served, and it exits in
/// time: no session fails.
#[test]
fn a_replica_stopped_with_sigterm_drains_without_failing_a_session() {
    const SESSIONS: usize = 120;
    let mut fleet = sandbox_fleet_with(&[
        "--drain-delay-seconds",
        "2",
        "--shutdown-grace-seconds",
        "5",
    ]);
    let mut command = fleet.sessions(SESSIONS, 3, 30);
    for (tool, args) in READ_CALLS.iter().cycle().take(4) {
        command.args(["--call", tool, args]);
    }
    let mut client = RunningClient::spawn(command);
    client.wait_for_sessions(6, CLIENT_LIMIT);
    let status = fleet.replica("r1").terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "a drained replica exits cleanly: {status:?}"
    );
    // Sessions ran through the whole drain, not only before it.
    let ended = client.ended();
    assert!(
        ended < SESSIONS,
        "all {ended} sessions ended before r1 exited"
    );
    let sessions = sessions(&client.finish(CLIENT_LIMIT));
    let failed: Vec<&Value> = sessions.iter().filter(|s| s["ok"] != true).collect();
    assert!(
        failed.is_empty(),
        "{} sessions failed: {failed:#?}\nhaproxy: {}",
        failed.len(),
        fleet.haproxy_log()
    );
    let counts = answers_by_replica(&sessions);
    assert!(counts.get("r1").is_some_and(|n| *n > 0), "{counts:?}");
}

fn sessions_of(report: Value) -> Vec<Value> {
    sessions(&report)
}

/// The rerun limit is counted from Data Factory's own run history, so it holds
/// however the reruns are spread: three reruns of one run through three
/// different replicas, two allowed by the policy, the third refused (and
/// audited by the replica that refused it), and Azure saw two createRun calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rerun_limit_holds_across_replicas() {
    use common::azure::{
        FAILED_RUN, FakeApi, SALES_NOW, fake_az_dir, path_with, sales_config_file,
    };
    use common::process::tempdir;
    use common::replicas::adf_history::serve_reruns_statefully;

    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let created = serve_reruns_statefully(&fake, "ingest_orders", SALES_NOW);
    let dir = tempdir("replicas-rerun-limit");
    let config = sales_config_file(&fake, &dir);
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[remediation]\ndefault = \"allowed\"\nmax_reruns_per_run_per_hour = 2\n",
    )
    .unwrap();
    let token = "replica-test-token-3f9c2a";
    let token_file = dir.join("token");
    std::fs::write(&token_file, token).unwrap();
    let az = fake_az_dir();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let spec = FleetSpec {
        replicas: 3,
        serve_args: vec![
            "--backend".into(),
            "adf".into(),
            "--azure-config".into(),
            path(&config),
            "--frozen-clock".into(),
            SALES_NOW.into(),
            "--policy".into(),
            path(&policy),
            "--token-file".into(),
            path(&token_file),
            "--audit-log".into(),
            "stdout".into(),
        ],
        env: vec![("PATH".into(), path_with(&az))],
    };
    let rerun =
        format!(r#"{{"pipeline": "ingest_orders", "run_id": "{FAILED_RUN}", "dry_run": false}}"#);
    let (fleet, report) = tokio::task::spawn_blocking(move || {
        let fleet = Fleet::start(&spec);
        // One session, three calls in a row: round robin sends each to another replica.
        let mut client = fleet.sessions(1, 1, 60);
        client.args(["--header", &format!("Authorization: Bearer {token}")]);
        for _ in 0..3 {
            client.args(["--call", "rerun_pipeline", &rerun]);
        }
        let report = run_sessions(client, CLIENT_LIMIT);
        (fleet, report)
    })
    .await
    .unwrap();

    let session = &sessions(&report)[0];
    assert_eq!(session["ok"], true, "{session:#}");
    let calls = session["calls"].as_array().unwrap();
    let replicas: BTreeSet<&str> = calls.iter().filter_map(|c| c["replica"].as_str()).collect();
    assert_eq!(replicas.len(), 3, "three replicas: {calls:#?}");
    assert_eq!(calls[0]["is_error"], false, "{:#}", calls[0]);
    assert_eq!(calls[1]["is_error"], false, "{:#}", calls[1]);
    assert_eq!(
        calls[2]["is_error"], true,
        "the third rerun is refused: {:#}",
        calls[2]
    );
    let refusal = calls[2]["text"][0].as_str().unwrap();
    assert!(
        refusal.contains("allows 2 rerun(s)") && refusal.contains("2 were made in the last hour"),
        "{refusal}"
    );
    let made = fake.requests_to("/pipelines/ingest_orders/createRun");
    assert_eq!(made.len(), 2, "Azure saw two reruns: {made:#?}");
    assert!(
        made.iter()
            .all(|r| r.query_param("referencePipelineRunId").as_deref() == Some(FAILED_RUN))
    );
    assert_eq!(created.all().len(), 2);

    // The replica that refused audited it, on stdout.
    let refused_by = calls[2]["replica"].as_str().unwrap();
    let audit = fleet
        .replicas
        .iter()
        .find(|r| r.name == refused_by)
        .unwrap()
        .stdout();
    let blocked: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|record| record.to_string().contains("blocked_by_policy"))
        .collect();
    assert_eq!(blocked.len(), 1, "{refused_by} audit: {audit}");
    // No replica sent the MCP token on to Azure.
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.authorization.as_deref().unwrap_or("").contains(token))
    );
}
