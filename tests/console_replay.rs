//! Replaying a console session reproduces its final state: a session is driven
//! through `update` with real sandbox data (board refreshes with status
//! changes, a question, tool calls, streamed answer, a server going down), its
//! messages captured as the console captures them and written as a trace file;
//! the file is read back and restored into a fresh console, and both are drawn
//! on TestBackend — the screens must be the same, cell for cell.

mod common;

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::agent::events::AgentEvent;
use opsdeck::console::app::capture::{self, Capture};
use opsdeck::console::app::update::{App, Msg, Pane, ServerStatus, update};
use opsdeck::console::ui::theme::Theme;
use opsdeck::model::run::{PipelineRun, RunStatus};
use opsdeck::trace::reader;
use opsdeck::trace::schema::Record;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| opsdeck::console::ui::draw(f, app, &Theme::default()))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    buffer
        .content
        .iter()
        .map(|c| format!("{}{:?}{:?}{:?}", c.symbol(), c.fg, c.bg, c.modifier))
        .collect()
}

/// The screen as plain lines, for the failure message.
fn screen_text(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| opsdeck::console::ui::draw(f, app, &Theme::default()))
        .expect("draw");
    terminal.backend().to_string()
}

#[tokio::test]
async fn a_replayed_console_session_draws_the_same_screen() {
    let harness = common::start("expired-secret").await;
    let start = common::pinned();
    let mut messages: Vec<(chrono::DateTime<chrono::Utc>, Msg)> = Vec::new();
    // Four board refreshes, ten minutes apart: runs start, finish and fail.
    for step in 0..4 {
        let at = start + Duration::minutes(10 * step);
        if step > 0 {
            harness.clock.advance(Duration::minutes(10));
        }
        let runs: Vec<PipelineRun> = harness
            .runs(json!({"since": "24h"}))
            .await
            .into_iter()
            .map(|r| serde_json::from_value(r).expect("run"))
            .collect();
        messages.push((at, Msg::RunsLoaded { runs, at }));
    }
    let at = start + Duration::minutes(31);
    let ready = |ready: bool, detail: &str| {
        Msg::Servers(vec![ServerStatus {
            name: "opsdeck".into(),
            ready,
            detail: detail.into(),
        }])
    };
    messages.insert(0, (start, ready(true, "ready · 20 tools")));
    let failed = harness.latest_failed("ingest_web_events").await;
    let run_id = failed["run_id"].as_str().expect("run id").to_string();
    let triage = harness.call("triage_run", json!({"run_id": run_id})).await;
    let result = json!({
        "content": triage.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>(),
        "structured": triage.structured_content,
    });
    for event in [
        AgentEvent::UserMessage {
            text: "why did ingest_web_events fail?".into(),
        },
        AgentEvent::AgentMode {
            mode: "offline".into(),
        },
        AgentEvent::ToolCallStarted {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "triage_run".into(),
            arguments: json!({"run_id": run_id}),
        },
        AgentEvent::ToolCallFinished {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "triage_run".into(),
            duration_ms: 16,
            is_error: false,
            result,
            truncated: false,
        },
        AgentEvent::TextDelta {
            text: "## Root cause\n\nThe secret **adls-sp-client-secret** ".into(),
        },
        AgentEvent::TextDelta {
            text: "expired.\n\n- 11 pipelines blocked\n".into(),
        },
        AgentEvent::TurnFinished {
            answer: "The secret expired.".into(),
            tool_calls: 1,
            ok: true,
        },
    ] {
        messages.push((at, Msg::Agent(event)));
    }
    messages.push((at, ready(false, "down: connection refused (retry 1 in 1s)")));
    messages.push((
        at,
        Msg::RunsFailed {
            reason: "opsdeck: connection refused".into(),
        },
    ));

    // The live session, and what the console's capture makes of it.
    let mut live = App::default();
    let mut capture = Capture::default();
    let mut records = Vec::new();
    for (at, msg) in messages {
        update(&mut live, Msg::Tick(at));
        for message in capture.messages(&msg) {
            records.push(Record {
                seq: records.len() as u64 + 1,
                at,
                message,
            });
        }
        if let Msg::Agent(AgentEvent::UserMessage { text }) = &msg {
            // The live console: the question typed and sent with Enter (the
            // turn reports it); the replay gets it as `Msg::Asked`.
            for c in text.chars() {
                update(&mut live, key(KeyCode::Char(c)));
            }
            update(&mut live, key(KeyCode::Enter));
            continue;
        }
        update(&mut live, msg);
    }
    assert!(live.board.total() > 0 && live.board.stale_reason.is_some());

    // Through a real file and the real reader.
    let path = common::process::tempdir("console-replay").join("trace.jsonl");
    let mut text = String::new();
    for record in &records {
        text.push_str(&serde_json::to_string(record).expect("record"));
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write");
    let trace = reader::read(&std::fs::read(&path).expect("read")).expect("a trace");
    assert!(trace.skipped.is_empty(), "{:?}", trace.skipped);
    let mut replayed = App::default();
    capture::restore(&trace, &mut replayed);

    for (width, height) in [(200, 50), (120, 40), (80, 24)] {
        for pane in [Pane::Chat, Pane::Board, Pane::Inspector] {
            for app in [&mut live, &mut replayed] {
                app.focus = pane;
                update(app, Msg::Resize { width, height });
            }
            let (a, b) = (draw(&live, width, height), draw(&replayed, width, height));
            if a != b {
                panic!(
                    "{width}×{height}, {pane:?}: the replayed screen differs from the live one\nlive:\n{}\nreplayed:\n{}",
                    screen_text(&live, width, height),
                    screen_text(&replayed, width, height)
                );
            }
        }
    }
    assert_eq!(replayed.board.total(), live.board.total());
    assert_eq!(replayed.chat.entries, live.chat.entries);
    assert!(
        live.board.visible().any(|r| r.status == RunStatus::Failed),
        "the session saw failures"
    );
}
