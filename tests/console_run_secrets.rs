//! Runs of a careless estate (a third-party Python SDK server whose run
//! parameters, messages and activity errors carry a password, a storage
//! account key and a SAS signature) reach neither the console's screen, nor
//! its trace, nor its desktop notifications unredacted.

mod common;

use std::time::Duration;

use common::process::{peer_script, python, tempdir};
use opsdeck::agent::policy::SharedPolicy;
use opsdeck::console::app::capture::Capture;
use opsdeck::console::app::details::DetailsView;
use opsdeck::console::app::update::Msg;
use opsdeck::console::runtime::config::Notification;
use opsdeck::console::runtime::{notify, tasks};
use opsdeck::mcp::McpHost;
use opsdeck::trace::redact::Clean;

/// The secrets the peer plants (tests/peers/estate_peer.py).
const SECRETS: &[&str] = &[
    "Sup3r$ecretPw!",
    "Zm9vYmFyYmF6cXV4",
    "c2lnbmF0dXJlLW9mLXRoZS1zYXM",
];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// The peer, untrusted; the board may read it because its entry allows the
/// two read tools the console calls on its own.
async fn estate() -> McpHost {
    estate_allowing(
        &["list_pipeline_runs", "get_run_details"],
        &tempdir("estate-secrets"),
    )
    .await
}

async fn estate_allowing(always_allow: &[&str], dir: &std::path::Path) -> McpHost {
    let config = dir.join("mcp.json");
    let spec = serde_json::json!({"mcpServers": {"estate": {
        "command": python("venv-mcp2").display().to_string(),
        "args": [peer_script("estate_peer.py").display().to_string(), "--record", dir.join("calls.txt").display().to_string()],
        "alwaysAllow": always_allow,
    }}});
    std::fs::write(&config, spec.to_string()).unwrap();
    let specs = opsdeck::config::servers::load_file(&config).unwrap();
    McpHost::start(specs, Duration::from_secs(30)).await
}

/// The board and run details ask nobody, so they never call an untrusted
/// server's tools that its entry does not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_never_calls_an_untrusted_server_unasked() {
    let dir = tempdir("estate-untrusted");
    let host = estate_allowing(&[], &dir).await;
    assert!(!host.catalog().await.is_empty(), "{:?}", host.states());
    let runs = tasks::fetch_runs(&host, &SharedPolicy::default())
        .await
        .unwrap_err();
    assert!(
        runs.contains("not trusted") && runs.contains("alwaysAllow"),
        "{runs}"
    );
    let details = tasks::fetch_run_details(&host, &SharedPolicy::default(), "run-1")
        .await
        .unwrap_err();
    assert!(details.contains("not trusted"), "{details}");
    let calls = std::fs::read_to_string(dir.join("calls.txt")).unwrap_or_default();
    assert!(calls.trim().is_empty(), "the peer was called: {calls}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_runs_details_trace_and_notifications_carry_no_secret() {
    let host = estate().await;
    let runs = tokio::time::timeout(
        Duration::from_secs(30),
        tasks::fetch_runs(&host, &SharedPolicy::default()),
    )
    .await
    .expect("the board answers in time")
    .expect("the board loads");
    assert_eq!(runs.len(), 2);
    let board = serde_json::to_string(&runs).unwrap();
    assert_clean("the board", &board);
    assert!(board.contains("[redacted: "), "{board}");
    // What was not secret is still there.
    assert_eq!(runs[0].parameters["rows"], 100);
    assert_eq!(runs[0].run_id, "run-1");

    // The runs as the console records them: board changes into the trace.
    let mut capture = Capture::default();
    let messages = capture.messages(&Msg::RunsLoaded {
        runs: runs.clone(),
        at: chrono::Utc::now(),
    });
    assert!(!messages.is_empty());
    for message in messages {
        let line = serde_json::to_string(&Clean::new(message).into_inner()).unwrap();
        assert_clean("the trace", &line);
    }

    // Enter on the board: the run-details view.
    let details = tokio::time::timeout(
        Duration::from_secs(30),
        tasks::fetch_run_details(&host, &SharedPolicy::default(), "run-1"),
    )
    .await
    .expect("details answer in time");
    let fetched = details.clone().expect("details load");
    assert_clean("the fetched details", &fetched.to_string());
    let view = DetailsView::from_result("run-1", details);
    assert!(matches!(view, DetailsView::Loaded { .. }), "{view:?}");
    assert_clean("the details view", &format!("{view:?}"));

    // The desktop notification of the failed run: its first message line.
    let body = runs[0].message.lines().next().unwrap_or_default();
    let bytes = notify::notification(
        &[Notification::Osc9, Notification::Osc777],
        "copy_sales failed",
        body,
    );
    assert_clean("the notification", &String::from_utf8_lossy(&bytes));
    host.shutdown().await;
}

/// The notification is safe whoever made its body: a raw, unredacted first
/// line straight from a server is redacted and cannot end the sequence.
#[test]
fn a_notification_from_raw_run_text_is_redacted_and_inert() {
    let raw = "Copy failed: AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cQ==; password=Sup3r$ecretPw! \
               sig=c2lnbmF0dXJlLW9mLXRoZS1zYXM%3D\u{7}\u{1b}]52;c;aGk=\u{7}";
    for kind in [Notification::Osc9, Notification::Osc777] {
        let bytes = notify::notification(&[kind], "copy_sales failed", raw);
        let text = String::from_utf8(bytes).unwrap();
        assert_clean("the notification", &text);
        assert_eq!(text.matches('\u{1b}').count(), 1, "{text:?}");
        assert_eq!(text.matches('\u{7}').count(), 1, "{text:?}");
    }
}
