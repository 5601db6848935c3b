//! Esc and `:new` as the console runs them: the key goes through `update`,
//! and the effect it gives reaches the conversation the turns record into.
//! The turn task here records as `agent::turn::run` does and then waits
//! (the servers are not started in a unit test).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::agent::conversation::{CANCELLED_RESULT, TurnEnd};

fn runtime() -> Runtime {
    Runtime::new(
        App::default(),
        Theme::default(),
        config::ConsoleConfig::default(),
        None,
        "offline".into(),
    )
}

fn press(runtime: &mut Runtime, code: KeyCode, modifiers: KeyModifiers) {
    runtime.step(Msg::Key(KeyEvent::new(code, modifiers)));
}

fn type_line(runtime: &mut Runtime, text: &str) {
    for c in text.chars() {
        press(runtime, KeyCode::Char(c), KeyModifiers::NONE);
    }
    press(runtime, KeyCode::Enter, KeyModifiers::NONE);
}

/// A turn task that records a question, two calls and one result, then
/// waits for ever (a stalled stream, a dialog nobody answers); `dropped`
/// hears when the task is aborted.
fn stalled_turn(runtime: &mut Runtime, question: &str) -> tokio::sync::oneshot::Receiver<()> {
    let (alive, dropped) = tokio::sync::oneshot::channel::<()>();
    let (recorded, wait) = std::sync::mpsc::channel();
    let conversation = runtime.conversation.clone();
    let question = question.to_string();
    runtime.turn = Some(tokio::spawn(async move {
        let _alive = alive;
        {
            let mut c = lock(&conversation);
            c.begin(&question);
            c.add_text("Looking. ");
            c.add_calls([
                ("a", "get_pipeline_status", "{}"),
                ("b", "rerun_pipeline", "{}"),
            ]);
            c.set_result("a", "status: Failed");
        }
        let _ = recorded.send(());
        std::future::pending::<()>().await;
    }));
    wait.recv_timeout(Duration::from_secs(10))
        .expect("the turn task recorded its start");
    dropped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_cancels_the_open_turn_of_the_conversation_and_stops_its_task() {
    let mut runtime = runtime();
    type_line(&mut runtime, "fix transform_sales");
    assert!(runtime.app.chat.turn_active, "the question started a turn");
    let dropped = stalled_turn(&mut runtime, "fix transform_sales");
    press(&mut runtime, KeyCode::Esc, KeyModifiers::NONE);
    let stopped = tokio::time::timeout(Duration::from_secs(10), dropped).await;
    assert!(stopped.is_ok(), "the turn task was aborted");
    let conversation = lock(&runtime.conversation).clone();
    let turn = &conversation.turns()[0];
    assert_eq!(turn.end, TurnEnd::Cancelled);
    let results: Vec<Option<&str>> = turn.calls().map(|c| c.result.as_deref()).collect();
    assert_eq!(results, [Some("status: Failed"), Some(CANCELLED_RESULT)]);
    assert_eq!(turn.answer(), "Looking. ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_typed_or_its_key_clears_the_conversation_and_marks_the_trace() {
    let mut runtime = runtime();
    // A finished turn, then `:new` typed on the command line.
    {
        let mut c = lock(&runtime.conversation);
        c.begin("why did transform_sales fail?");
        c.add_text("The secret expired.");
        c.finish(true);
    }
    runtime.app.focus = crate::console::app::pane::Pane::Board;
    runtime.app.typing = false;
    type_line(&mut runtime, ":new");
    assert!(lock(&runtime.conversation).is_empty(), "`:new` cleared it");
    let resets = |runtime: &Runtime| {
        runtime
            .timeline
            .iter()
            .filter(|r| matches!(r.message, TraceMessage::ConversationReset))
            .count()
    };
    assert_eq!(resets(&runtime), 1, "the trace records where it began");
    // Its key while a turn runs: the turn is cancelled and the conversation cleared.
    runtime.app.focus = crate::console::app::pane::Pane::Chat;
    runtime.app.typing = true;
    type_line(&mut runtime, "and downstream?");
    let dropped = stalled_turn(&mut runtime, "and downstream?");
    press(&mut runtime, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(
        tokio::time::timeout(Duration::from_secs(10), dropped)
            .await
            .is_ok(),
        "the running turn was aborted"
    );
    assert!(lock(&runtime.conversation).is_empty());
    assert_eq!(resets(&runtime), 2);
}
