//! The follower as the console runtime starts it: a remediation's answer
//! naming a new run becomes a follow task, whose news reaches the chat.

use super::*;
use crate::console::app::chat::ChatEntry;

fn started_run() -> Msg {
    Msg::Agent(AgentEvent::ToolCallFinished {
        call_id: "c1".into(),
        server: "opsdeck".into(),
        tool: "rerun_pipeline".into(),
        duration_ms: 3,
        is_error: false,
        result: serde_json::json!({"content": [], "structured": {
            "action": "rerun", "dry_run": false, "backend": "sandbox", "environment": "prod",
            "pipeline": "ingest_orders", "new_run_id": "run-42", "steps": []
        }}),
        truncated: false,
    })
}

fn notices(runtime: &Runtime) -> Vec<String> {
    runtime
        .app
        .chat
        .entries
        .iter()
        .filter_map(|e| match e {
            ChatEntry::Notice { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_run_gets_a_follower_and_its_news_reaches_the_chat() {
    let mut runtime = Runtime::new(
        App::default(),
        Theme::default(),
        config::ConsoleConfig::default(),
        None,
        "offline".into(),
    );
    runtime.step(started_run());
    assert!(
        runtime.app.board.pinned_len() == 0,
        "pinned at the first look"
    );
    // No servers in a unit test: the follower says at once why it cannot look.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while runtime.app.following.still_going().count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no news from the follower"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        runtime.drain();
    }
    let said = notices(&runtime);
    assert!(
        said[0].starts_with("following run run-42 of ingest_orders"),
        "{said:?}"
    );
    assert!(
        said[1].starts_with(
            "stopped following run run-42 of ingest_orders: the MCP servers are still starting"
        ),
        "{said:?}"
    );
}
