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

/// A session resumed from a trace in which a started run was followed to its
/// end: the end is not told again, and it goes into the new session's trace,
/// so resuming that one does not tell it again either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_keeps_the_ends_already_told() {
    let dir = std::env::temp_dir().join(format!("opsdeck-follow-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("old.jsonl");
    let header = serde_json::json!({"type": "header", "schema": 1, "opsdeck_version": "0.1.0",
        "started_at": "2026-12-05T03:00:00Z", "host": "vm", "process": "console",
        "agent_mode": "offline", "read_only": false, "backend": "sandbox", "servers": []});
    let Msg::Agent(finished) = started_run() else {
        unreachable!()
    };
    let run = serde_json::json!({"run_id": "run-42", "pipeline": "ingest_orders",
        "backend": "sandbox", "environment": "prod", "status": "Failed",
        "invoked_by": {"name": "t", "kind": "Manual"}, "message": "boom"});
    let records = [
        serde_json::json!({"seq": 1, "at": "2026-12-05T03:00:01Z", "type": "agent",
            "event": {"event": "user_message", "text": "rerun ingest_orders"}}),
        serde_json::to_value(crate::trace::schema::Record {
            seq: 2,
            at: Utc::now(),
            message: TraceMessage::Agent { event: finished },
        })
        .unwrap(),
        serde_json::json!({"seq": 3, "at": "2026-12-05T03:00:03Z", "type": "agent",
            "event": {"event": "turn_finished", "answer": "Started.", "tool_calls": 1, "ok": true}}),
        serde_json::json!({"seq": 4, "at": "2026-12-05T03:04:00Z", "type": "run_followed",
            "server": "opsdeck", "run_id": "run-42", "pipeline": "ingest_orders", "run": run}),
    ];
    let mut text = format!("{header}\n");
    for record in records {
        text.push_str(&format!("{record}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let resumed = crate::trace::resume::load(&path, 4096).unwrap();
    let mut runtime = Runtime::new(
        App::default(),
        Theme::default(),
        config::ConsoleConfig::default(),
        None,
        "offline".into(),
    );
    runtime.resume(&path, resumed);
    assert_eq!(
        runtime.app.following.still_going().count(),
        0,
        "its end was told in the old session"
    );
    assert!(runtime.app.following.is_followed("run-42"));
    assert_eq!(runtime.carried_follows.len(), 1, "kept for the new trace");
    let said = notices(&runtime);
    assert!(
        said.iter()
            .any(|n| n.starts_with("run run-42 of ingest_orders (prod) failed")),
        "{said:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
