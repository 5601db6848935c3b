//! The MCP host against a server that floods it (tests/peers/flooding_server.py,
//! on the official Python SDK): a tool list too long, too large or looping is
//! refused with a state that says which cap, and a flood of `list_changed`
//! notifications costs at most one re-listing a second. Pages here are small,
//! so even a host without the caps stays small; the huge-page case runs the
//! real binary under an address-space limit (tests/process_bounds.rs).

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::{peer_script, python, tempdir};
use opsdeck::mcp::{ConnectionState, McpHost, ServerSpec};

fn flooding_spec(flags: &[&str], init_timeout: Duration) -> ServerSpec {
    let mut args = vec![peer_script("flooding_server.py").display().to_string()];
    args.extend(flags.iter().map(|f| f.to_string()));
    let mut spec = ServerSpec::stdio("flooder", &python("venv-mcp2").display().to_string(), args);
    spec.init_timeout = init_timeout;
    spec
}

async fn first_state_after_connecting(host: &McpHost, limit: Duration) -> ConnectionState {
    let mut state = host.watch_states().remove(0).1;
    tokio::time::timeout(
        limit,
        state.wait_for(|s| !matches!(s, ConnectionState::Connecting)),
    )
    .await
    .unwrap_or_else(|_| panic!("still connecting after {limit:?}"))
    .unwrap()
    .clone()
}

async fn refusal(flags: &[&str]) -> String {
    let host = McpHost::start(
        vec![flooding_spec(flags, Duration::from_secs(10))],
        Duration::ZERO,
    )
    .await;
    let state = first_state_after_connecting(&host, Duration::from_secs(30)).await;
    host.shutdown().await;
    match state {
        ConnectionState::Reconnecting {
            attempt: 1, error, ..
        } => error,
        other => panic!("{flags:?}: not refused: {other:?}"),
    }
}

fn cursors_asked(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_list_that_never_ends_is_refused_after_twenty_pages() {
    let log = tempdir("endless-pages").join("cursors");
    let log_arg = log.display().to_string();
    let error = refusal(&["--pages", "endless", "--list-log", &log_arg]).await;
    assert_eq!(
        error,
        "tools/list did not end after 20 pages; opsdeck refuses servers that long"
    );
    let asked = cursors_asked(&log);
    let expected: Vec<String> = std::iter::once("None".to_string())
        .chain((1..20).map(|n| n.to_string()))
        .collect();
    assert_eq!(asked[..20], expected[..], "{asked:?}");
    // Whatever follows is a new attempt, from the first page.
    assert!(asked.get(20).is_none_or(|c| c == "None"), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_list_that_repeats_its_cursor_is_refused() {
    let error = refusal(&["--pages", "endless", "--cursor", "repeat"]).await;
    assert!(
        error.starts_with("tools/list named the cursor of an earlier page again after 2 pages"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_two_thousand_tools_are_refused() {
    let error = refusal(&["--per-page", "2001"]).await;
    assert_eq!(
        error,
        "tools/list returned more than 2000 tools; opsdeck refuses servers that large"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_definitions_over_eight_mebibytes_are_refused() {
    // 90 tools with 100 KiB descriptions: one page of 9 MiB.
    let error = refusal(&["--per-page", "90", "--description-bytes", "102400"]).await;
    assert_eq!(
        error,
        "tools/list returned more than 8 MiB of tool definitions; opsdeck refuses servers that large"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_within_the_caps_is_listed_whole() {
    let host = McpHost::start(
        vec![flooding_spec(
            &["--pages", "20", "--per-page", "100"],
            Duration::from_secs(30),
        )],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        host.states()[0].1,
        ConnectionState::Ready { tools: 2000 },
        "{:?}",
        host.states()
    );
    let catalog = host.catalog().await;
    assert!(catalog.iter().any(|t| t.tool.name == "p0_t0"));
    assert!(catalog.iter().any(|t| t.tool.name == "p19_t99"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_list_changed_costs_at_most_one_listing_a_second() {
    let log = tempdir("list-changed-flood").join("cursors");
    let log_arg = log.display().to_string();
    let host = McpHost::start(
        vec![flooding_spec(
            &["--flood-list-changed", "--list-log", &log_arg],
            Duration::from_secs(30),
        )],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(host.states()[0].1, ConnectionState::Ready { tools: 10 });
    let listed_when_ready = cursors_asked(&log).len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let listed = cursors_asked(&log).len() - listed_when_ready;
    assert!(
        (2..=5).contains(&listed),
        "{listed} listings in 4 s of a notification flood"
    );
    assert_eq!(host.states()[0].1, ConnectionState::Ready { tools: 10 });
    host.shutdown().await;
}
