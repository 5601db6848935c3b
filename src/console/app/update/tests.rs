use super::*;
use crate::model::run::{BackendKind, InvokedBy, RunStatus};
use serde_json::json;

pub(super) fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub(super) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, key(KeyCode::Char(c)));
    }
}

fn run(id: &str, status: RunStatus) -> PipelineRun {
    PipelineRun {
        run_id: id.into(),
        pipeline: "transform_sales".into(),
        backend: BackendKind::Sandbox,
        environment: "prod".into(),
        status,
        run_start: None,
        run_end: None,
        duration_ms: None,
        invoked_by: InvokedBy {
            name: "t".into(),
            kind: "ScheduleTrigger".into(),
            parent_run_id: None,
            parent_pipeline: None,
        },
        message: "Operation on target CleanSales failed: AnalysisException".into(),
        parameters: Default::default(),
        rerun_of: None,
    }
}

fn board_app(runs: Vec<PipelineRun>) -> App {
    let mut app = App::default();
    update(
        &mut app,
        Msg::RunsLoaded {
            runs,
            at: chrono::Utc::now(),
        },
    );
    app.focus = Pane::Board;
    app
}

fn start_turn(question: &str) -> Vec<Effect> {
    vec![Effect::StartTurn {
        question: question.into(),
        read_only: false,
    }]
}

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    app.focus = Pane::Board;
    update(app, key(KeyCode::Char(':')));
    type_text(app, line);
    update(app, key(KeyCode::Enter))
}

pub(crate) fn finished_call(id: &str, tool: &str, result: Value) -> Msg {
    Msg::Agent(AgentEvent::ToolCallFinished {
        call_id: id.into(),
        server: "opsdeck".into(),
        tool: tool.into(),
        duration_ms: 4,
        is_error: false,
        result,
        truncated: false,
    })
}

#[test]
fn typing_and_enter_start_a_turn_and_clear_the_input() {
    let mut app = App::default();
    type_text(&mut app, "why?");
    assert_eq!(app.input_text(), "why?");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), start_turn("why?"));
    assert!(app.input_text().is_empty());
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "blank input sends nothing"
    );
}

#[test]
fn alt_enter_inserts_a_newline_and_paste_goes_to_the_input() {
    let mut app = App::default();
    type_text(&mut app, "one");
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
    );
    update(&mut app, Msg::Paste("two".into()));
    assert_eq!(app.input_text(), "one\ntwo");
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        start_turn("one\ntwo")
    );
}

#[test]
fn up_and_down_recall_earlier_questions() {
    let mut app = App::default();
    for q in ["first", "second"] {
        type_text(&mut app, q);
        update(&mut app, key(KeyCode::Enter));
        update(
            &mut app,
            Msg::Agent(AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 0,
                ok: true,
            }),
        );
    }
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.input_text(), "second");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.input_text(), "first");
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.input_text(), "second");
}

#[test]
fn a_second_question_while_one_runs_is_held_back_with_a_reason() {
    let mut app = App::default();
    type_text(&mut app, "one");
    update(&mut app, key(KeyCode::Enter));
    type_text(&mut app, "two");
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert_eq!(app.input_text(), "two", "the text is kept, not lost");
    assert!(
        app.flash
            .as_ref()
            .is_some_and(|(_, t)| t.contains("still running"))
    );
}

#[test]
fn esc_cancels_a_turn_then_leaves_the_input_for_reading() {
    let mut app = App::default();
    type_text(&mut app, "why?");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![Effect::CancelTurn]
    );
    assert!(app.typing);
    assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
    assert!(!app.typing, "second Esc: reading mode");
    assert_eq!(app.scope(), Scope::Transcript);
    update(&mut app, key(KeyCode::Char('k')));
    assert!(!app.chat.follow, "k scrolls up and pauses follow");
    update(&mut app, key(KeyCode::Char('G')));
    assert!(app.chat.follow);
    update(&mut app, key(KeyCode::Char('i')));
    assert!(app.typing);
}

#[test]
fn q_types_in_the_chat_but_quits_elsewhere() {
    let mut app = App::default();
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    assert_eq!(app.input_text(), "q");
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Board);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('q'))),
        vec![Effect::Quit]
    );
    let mut app = App::default();
    assert_eq!(update(&mut app, ctrl('c')), vec![Effect::Quit]);
    assert!(app.quitting);
}

#[test]
fn a_run_turning_failed_raises_a_notification_once() {
    let mut app = App::default();
    let at = chrono::Utc::now();
    let load = |app: &mut App, status| {
        update(
            app,
            Msg::RunsLoaded {
                runs: vec![run("r1", status)],
                at,
            },
        )
    };
    assert!(load(&mut app, RunStatus::InProgress).is_empty());
    let effects = load(&mut app, RunStatus::Failed);
    assert!(
        matches!(&effects[..], [Effect::Notify { title, body }] if title == "transform_sales failed" && body.contains("AnalysisException"))
    );
    assert!(load(&mut app, RunStatus::Failed).is_empty());
}

#[test]
fn triage_from_the_board_asks_in_the_chat() {
    let mut app = board_app(vec![run("r9", RunStatus::Failed)]);
    let effects = update(&mut app, key(KeyCode::Char('t')));
    assert_eq!(
        effects,
        start_turn("Why did run r9 of transform_sales fail?")
    );
    assert_eq!(app.focus, Pane::Chat);
    assert!(
        matches!(app.chat.entries.last(), Some(crate::console::app::chat::ChatEntry::User(q)) if q.contains("r9"))
    );
}

#[test]
fn enter_on_a_run_opens_its_details_and_t_triages_from_there() {
    let mut app = board_app(vec![run("r9", RunStatus::Failed)]);
    let effects = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::LoadRunDetails {
            run_id: "r9".into()
        }]
    );
    assert!(matches!(
        &app.overlay,
        Some(Overlay::Details(DetailsView::Loading { .. }))
    ));
    // An answer for another run (a details view closed meanwhile) is ignored.
    update(
        &mut app,
        Msg::RunDetailsLoaded {
            run_id: "other".into(),
            result: Err("x".into()),
        },
    );
    assert!(matches!(
        &app.overlay,
        Some(Overlay::Details(DetailsView::Loading { .. }))
    ));
    let details = json!({"run": serde_json::to_value(run("r9", RunStatus::Failed)).unwrap(), "activities": []});
    update(
        &mut app,
        Msg::RunDetailsLoaded {
            run_id: "r9".into(),
            result: Ok(details),
        },
    );
    assert!(matches!(
        &app.overlay,
        Some(Overlay::Details(DetailsView::Loaded { .. }))
    ));
    assert!(
        update(&mut app, key(KeyCode::Tab)).is_empty(),
        "panes do not move under the overlay"
    );
    assert_eq!(app.focus, Pane::Board);
    let effects = update(&mut app, key(KeyCode::Char('t')));
    assert_eq!(
        effects,
        start_turn("Why did run r9 of transform_sales fail?")
    );
    assert!(app.overlay.is_none());
}

#[test]
fn details_esc_closes_and_c_jumps_to_the_calls_that_touched_the_run() {
    let mut app = board_app(vec![run("r9", RunStatus::Failed)]);
    update(
        &mut app,
        finished_call(
            "call-1",
            "get_run_details",
            json!({"content": ["run r9 failed"]}),
        ),
    );
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.is_none());
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(app.focus, Pane::Inspector);
    assert_eq!(
        app.inspector
            .selected_call(&app.calls)
            .map(|c| c.call_id.as_str()),
        Some("call-1")
    );
}

#[test]
fn readonly_command_applies_to_the_next_question() {
    let mut app = App::default();
    assert_eq!(
        command(&mut app, "readonly"),
        vec![Effect::ReadOnlyNow],
        "tightening reaches the running turn at once"
    );
    assert!(app.read_only);
    app.focus = Pane::Chat;
    type_text(&mut app, "rerun it");
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![Effect::StartTurn {
            question: "rerun it".into(),
            read_only: true
        }]
    );
    command(&mut app, "readonly off");
    assert!(!app.read_only);
}

#[test]
fn commands_filter_clear_export_and_report_mistakes() {
    let mut app = board_app(vec![
        run("a", RunStatus::Failed),
        run("b", RunStatus::Succeeded),
    ]);
    command(&mut app, "filter failed");
    assert_eq!(app.board.visible_len(), 1);
    command(&mut app, "filter all");
    assert_eq!(app.board.visible_len(), 2);
    assert_eq!(
        command(&mut app, "export /tmp/x.jsonl"),
        vec![Effect::Export {
            path: Some("/tmp/x.jsonl".into())
        }]
    );
    assert_eq!(command(&mut app, "refresh"), vec![Effect::RefreshBoard]);
    app.chat.notice(false, "hello");
    command(&mut app, "clear");
    assert!(app.chat.entries.is_empty());
    command(&mut app, "servers");
    assert_eq!(app.overlay, Some(Overlay::Servers));
    update(&mut app, key(KeyCode::Char('x')));
    assert!(app.overlay.is_none(), "any key closes it");
    command(&mut app, "bogus");
    assert!(matches!(&app.flash, Some((true, text)) if text.contains("unknown command :bogus")));
}

#[test]
fn slash_filters_the_board_as_you_type_and_esc_drops_the_filter() {
    let mut app = board_app(vec![run("a", RunStatus::Failed)]);
    update(&mut app, key(KeyCode::Char('/')));
    type_text(&mut app, "nomatch");
    assert_eq!(app.board.visible_len(), 0);
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.board.visible_len(), 1);
    update(&mut app, key(KeyCode::Char('/')));
    type_text(&mut app, "SALES");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.board.name_filter(), "SALES");
    assert_eq!(app.board.visible_len(), 1);
    assert!(app.prompt.is_none());
}

#[test]
fn the_inspector_opens_a_call_and_copies_it() {
    let mut app = App::default();
    update(
        &mut app,
        finished_call(
            "call-1",
            "list_pipeline_runs",
            json!({"content": ["3 runs"], "structured": {"runs": [1, 2, 3]}}),
        ),
    );
    app.focus = Pane::Inspector;
    update(&mut app, key(KeyCode::Enter));
    assert!(app.inspector.is_open());
    let effects = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        matches!(&effects[..], [Effect::Copy { label, text }] if label.contains("call-1") && text.contains("3 runs"))
    );
    update(&mut app, key(KeyCode::Esc));
    assert!(!app.inspector.is_open());
}

#[test]
fn help_opens_from_a_pane_and_any_key_closes_it() {
    let mut app = App {
        focus: Pane::Board,
        ..App::default()
    };
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(app.overlay, Some(Overlay::Help));
    assert!(
        update(&mut app, key(KeyCode::Char('q'))).is_empty(),
        "the key only closes help"
    );
    assert!(app.overlay.is_none());
    let mut app = App::default();
    update(&mut app, key(KeyCode::Char('?')));
    assert!(app.overlay.is_none(), "? is text while typing");
    update(&mut app, key(KeyCode::F(1)));
    assert_eq!(app.overlay, Some(Overlay::Help));
}

#[test]
fn agent_events_reach_chat_inspector_and_status() {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Agent(AgentEvent::AgentMode {
            mode: "gpt-4o".into(),
        }),
    );
    update(
        &mut app,
        Msg::Agent(AgentEvent::Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
        }),
    );
    update(
        &mut app,
        Msg::Agent(AgentEvent::TextDelta {
            text: "hello".into(),
        }),
    );
    assert_eq!(app.status.agent_mode, "gpt-4o");
    assert_eq!(app.status.prompt_tokens + app.status.completion_tokens, 120);
    assert_eq!(app.chat.entries.len(), 1);
    update(
        &mut app,
        Msg::RunsFailed {
            reason: "server down".into(),
        },
    );
    assert_eq!(app.board.stale_reason.as_deref(), Some("server down"));
}

#[test]
fn zoom_mouse_and_resize_move_focus_and_layout() {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: 200,
            height: 50,
        },
    );
    update(&mut app, ctrl('z'));
    assert!(app.zoomed);
    update(&mut app, ctrl('z'));
    // In the wide layout the board is on the right, top.
    update(
        &mut app,
        Msg::Click {
            column: 150,
            row: 5,
        },
    );
    assert_eq!(app.focus, Pane::Board);
    update(
        &mut app,
        Msg::Click {
            column: 150,
            row: 45,
        },
    );
    assert_eq!(app.focus, Pane::Inspector);
}

#[test]
fn digits_focus_the_panes_as_the_tab_bar_numbers_them_but_type_in_the_input() {
    let mut app = App::default();
    type_text(&mut app, "run 2");
    assert_eq!(
        app.input_text(),
        "run 2",
        "a digit typed in the chat is text"
    );
    assert_eq!(app.focus, Pane::Chat);
    let alt = |c| Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT));
    update(&mut app, alt('3'));
    assert_eq!(app.focus, Pane::Inspector, "Alt-3 works from the input");
    update(&mut app, key(KeyCode::Char('2')));
    assert_eq!(app.focus, Pane::Board);
    update(&mut app, key(KeyCode::Char('1')));
    assert_eq!(app.focus, Pane::Chat);
    assert_eq!(app.input_text(), "run 2", "the question is still there");
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char('3')));
    assert_eq!(app.focus, Pane::Inspector, "from the chat being read too");
}

#[test]
fn a_replayed_question_goes_through_update_like_a_live_one() {
    let mut live = App::default();
    type_text(&mut live, "why did ingest fail?");
    assert_eq!(
        update(&mut live, key(KeyCode::Enter)),
        start_turn("why did ingest fail?")
    );
    let mut replayed = App::default();
    assert!(
        update(
            &mut replayed,
            Msg::Asked {
                question: "why did ingest fail?".into()
            }
        )
        .is_empty(),
        "a replayed question starts no turn"
    );
    assert_eq!(replayed.chat.entries, live.chat.entries);
    assert!(replayed.chat.turn_active && live.chat.turn_active);
    // Both recall it as the last question.
    for app in [&mut live, &mut replayed] {
        update(
            app,
            Msg::Agent(AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 0,
                ok: true,
            }),
        );
        update(app, key(KeyCode::Up));
        assert_eq!(app.input_text(), "why did ingest fail?");
    }
}

/// A trace records no Esc: a question that comes while the replayed turn
/// still runs ends that turn as Esc did, so the screen matches the live one
/// (the next question is shown, its answer is its own, the calls are over).
#[test]
fn a_replayed_question_after_a_cancelled_turn_is_asked_like_the_live_one() {
    let mut live = App::default();
    let mut replayed = App::default();
    let call = AgentEvent::ToolCallStarted {
        call_id: "call-1".into(),
        server: "opsdeck".into(),
        tool: "triage_run".into(),
        arguments: serde_json::json!({}),
    };
    type_text(&mut live, "first?");
    update(&mut live, key(KeyCode::Enter));
    update(&mut live, Msg::Agent(call.clone()));
    update(&mut live, key(KeyCode::Esc));
    type_text(&mut live, "second?");
    update(&mut live, key(KeyCode::Enter));

    update(
        &mut replayed,
        Msg::Asked {
            question: "first?".into(),
        },
    );
    update(&mut replayed, Msg::Agent(call));
    update(
        &mut replayed,
        Msg::Asked {
            question: "second?".into(),
        },
    );

    assert_eq!(replayed.chat.entries, live.chat.entries);
    assert!(replayed.chat.turn_active);
    let state = |app: &App| app.calls.get("call-1").map(|c| c.state.clone());
    assert_eq!(state(&replayed), state(&live));
}
