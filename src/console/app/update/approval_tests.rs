//! The approval dialog, driven through `update` alone: requests queue, the
//! dialog shows the head, each answer names its call, and the dialog comes
//! before any prompt. (The runtime's part — a map from call id to the waiting
//! runner — is `runtime::approver`.)

use super::tests::{ctrl, key, type_text};
use super::*;
use crate::console::app::calls::CallState;
use serde_json::json;

fn approval(call_id: &str) -> ApprovalRequest {
    ApprovalRequest {
        call_id: call_id.into(),
        tool: "rerun_pipeline".into(),
        server: "opsdeck".into(),
        arguments: json!({"pipeline": "p", "dry_run": false}),
        reason: "changes the estate".into(),
        preview: Ok("would rerun p".into()),
        session_allowable: false,
        hidden: Vec::new(),
    }
}

/// A dialog arrives and stays on screen long enough to take a `y`.
fn request(app: &mut App, request: ApprovalRequest) {
    let effects = update(app, Msg::ApprovalRequested(request));
    arm_all(app, effects);
}

/// The arming waits asked for in `effects` run their course; the other effects.
fn arm_all(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    let mut others = Vec::new();
    for effect in effects {
        match effect {
            Effect::ArmDialog {
                call_id,
                generation,
            } => {
                update(
                    app,
                    Msg::DialogArmed {
                        call_id,
                        generation,
                    },
                );
            }
            other => others.push(other),
        }
    }
    others
}

fn arming(effects: &[Effect]) -> Option<(String, u64)> {
    effects.iter().find_map(|e| match e {
        Effect::ArmDialog {
            call_id,
            generation,
        } => Some((call_id.clone(), *generation)),
        _ => None,
    })
}

fn abandon(call_id: &str) -> Effect {
    Effect::Abandon {
        call_id: call_id.into(),
        reason: "changes the estate".into(),
    }
}

fn decide(call_id: &str, approved: bool) -> Effect {
    Effect::Decide {
        call_id: call_id.into(),
        approved,
        for_session: false,
    }
}

#[test]
fn the_approval_dialog_takes_only_y_or_n() {
    let mut app = App::default();
    request(&mut app, approval("call-1"));
    assert_eq!(app.scope(), Scope::Dialog);
    for other in [
        KeyCode::Tab,
        KeyCode::Char('q'),
        KeyCode::Enter,
        KeyCode::Char('?'),
    ] {
        assert!(update(&mut app, key(other)).is_empty(), "{other:?}");
        assert!(app.overlay.is_some());
    }
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
    assert!(app.overlay.is_none());
    request(&mut app, approval("call-2"));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-2", false)]
    );
    request(&mut app, approval("call-3"));
    assert_eq!(
        update(&mut app, ctrl('c')),
        vec![abandon("call-3"), Effect::Quit],
        "quitting abandons the pending call"
    );
}

#[test]
fn two_calls_get_two_dialogs_and_each_answer_names_its_call() {
    let mut app = App::default();
    request(&mut app, approval("call-1"));
    request(&mut app, approval("call-2"));
    assert_eq!(app.approvals.len(), 1, "the second waits behind the first");
    let effects = update(&mut app, key(KeyCode::Char('n')));
    assert_eq!(effects[0], decide("call-1", false));
    let (armed_call, _) = arming(&effects).unwrap();
    assert_eq!(armed_call, "call-2");
    assert!(
        matches!(&app.overlay, Some(Overlay::Approval(r)) if r.call_id == "call-2"),
        "the second dialog opens"
    );
    let typed = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        !typed.iter().any(|e| matches!(e, Effect::Decide { .. })),
        "a y typed as the second dialog opens does not approve it"
    );
    arm_all(&mut app, typed);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-2", true)]
    );
    assert!(app.overlay.is_none());
    request(&mut app, approval("call-3"));
    request(&mut app, approval("call-4"));
    assert_eq!(
        update(&mut app, ctrl('c')),
        vec![abandon("call-3"), abandon("call-4"), Effect::Quit],
        "quitting abandons every waiting call"
    );
}

#[test]
fn an_open_prompt_does_not_take_the_dialogs_keys() {
    let mut app = App::default();
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char(':')));
    assert!(app.prompt.is_some());
    request(&mut app, approval("call-1"));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-1", false)]
    );
    assert_eq!(
        app.prompt,
        Some(Prompt::Command(String::new())),
        "the n was not typed into the prompt"
    );
}

#[test]
fn a_dialog_too_small_to_draw_cannot_be_approved() {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: 30,
            height: 8,
        },
    );
    request(&mut app, approval("call-1"));
    assert!(update(&mut app, key(KeyCode::Char('y'))).is_empty());
    assert!(
        app.flash
            .as_ref()
            .is_some_and(|(_, t)| t.contains("too small"))
    );
    // Enlarged, the dialog is drawn anew: it is approved once it has been seen.
    let effects = update(
        &mut app,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    arm_all(&mut app, effects);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
    update(
        &mut app,
        Msg::Resize {
            width: 30,
            height: 8,
        },
    );
    request(&mut app, approval("call-2"));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-2", false)],
        "refusing needs no screen"
    );
}

#[test]
fn allow_for_session_is_offered_only_for_untrusted_tools() {
    let mut app = App::default();
    request(&mut app, approval("call-1"));
    assert!(update(&mut app, key(KeyCode::Char('a'))).is_empty());
    assert!(app.overlay.is_some());
    update(&mut app, key(KeyCode::Char('n')));
    let untrusted = ApprovalRequest {
        session_allowable: true,
        ..approval("call-2")
    };
    request(&mut app, untrusted);
    assert!(
        update(&mut app, key(KeyCode::Char('a'))).is_empty(),
        "asks to confirm"
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Char('a'))),
        vec![Effect::Decide {
            call_id: "call-2".into(),
            approved: true,
            for_session: true
        }]
    );
}

#[test]
fn keys_typed_as_the_dialog_opens_decide_nothing_until_it_is_left_alone() {
    let mut app = App::default();
    let opened = update(&mut app, Msg::ApprovalRequested(approval("call-1")));
    let (_, first_wait) = arming(&opened).unwrap();
    // Typing that was meant for the chat: each key restarts the wait.
    let mut last = first_wait;
    for c in "what about yesterday".chars() {
        let effects = update(&mut app, key(KeyCode::Char(c)));
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Decide { .. })),
            "{c}"
        );
        let (_, wait) = arming(&effects).unwrap();
        assert_ne!(wait, last, "the wait restarts");
        last = wait;
    }
    assert!(app.overlay.is_some());
    // The first wait's timer firing late arms nothing.
    update(
        &mut app,
        Msg::DialogArmed {
            call_id: "call-1".into(),
            generation: first_wait,
        },
    );
    assert!(
        !update(&mut app, key(KeyCode::Char('y')))
            .iter()
            .any(|e| matches!(e, Effect::Decide { .. }))
    );
    // Left alone for the whole wait: now it answers.
    let effects = update(&mut app, key(KeyCode::Char('k')));
    arm_all(&mut app, effects);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
}

#[test]
fn allowing_a_tool_for_the_session_takes_a_second_a() {
    let mut app = App::default();
    let untrusted = ApprovalRequest {
        session_allowable: true,
        ..approval("call-1")
    };
    request(&mut app, untrusted);
    assert!(update(&mut app, key(KeyCode::Char('a'))).is_empty());
    assert!(
        app.flash
            .as_ref()
            .is_some_and(|(_, t)| t.contains("press a again"))
    );
    // Anything else in between starts over.
    update(&mut app, key(KeyCode::Char('j')));
    assert!(update(&mut app, key(KeyCode::Char('a'))).is_empty());
    assert_eq!(
        update(&mut app, key(KeyCode::Char('a'))),
        vec![Effect::Decide {
            call_id: "call-1".into(),
            approved: true,
            for_session: true
        }]
    );
}

fn needed(call_id: &str, table: &str) -> Msg {
    Msg::Agent(AgentEvent::ApprovalNeeded {
        call_id: call_id.into(),
        server: "opsdeck".into(),
        tool: "rerun_pipeline".into(),
        arguments: json!({"pipeline": table, "dry_run": false}),
        reason: "changes the estate".into(),
    })
}

fn open_dialog_call(app: &App) -> Option<&str> {
    match &app.overlay {
        Some(Overlay::Approval(request)) => Some(request.call_id.as_str()),
        _ => None,
    }
}

#[test]
fn two_approvals_of_one_round_queue_and_are_decided_one_by_one_by_call_id() {
    let mut app = App::default();
    type_text(&mut app, "rerun both");
    update(&mut app, key(KeyCode::Enter));
    // One model round asks for two calls: both wait, the first one's dialog is on top.
    update(&mut app, needed("call-1", "a"));
    update(&mut app, needed("call-2", "b"));
    request(&mut app, approval("call-1"));
    request(&mut app, approval("call-2"));
    assert_eq!(open_dialog_call(&app), Some("call-1"));
    assert_eq!(app.approvals.len(), 1, "call-2 waits behind it");

    let first = update(&mut app, key(KeyCode::Char('y')));
    assert_eq!(first[0], decide("call-1", true));
    assert_eq!(
        open_dialog_call(&app),
        Some("call-2"),
        "the queue's head opens"
    );
    assert!(app.approvals.is_empty());
    arm_all(&mut app, first);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-2", false)]
    );
    assert!(app.overlay.is_none());

    // The store has both answers, each the person's, before the runner reports them.
    let state = |app: &App, id: &str| app.calls.get(id).map(|c| c.state.clone());
    assert_eq!(state(&app, "call-1"), Some(CallState::Running));
    assert_eq!(state(&app, "call-2"), Some(CallState::Failed));
    assert_eq!(
        app.calls.get("call-2").and_then(|c| c.refused_by()),
        Some("user")
    );
    assert_eq!(app.calls.get("call-1").and_then(|c| c.refused_by()), None);
    // The runner's own reports of the same answers change nothing.
    for (id, approved) in [("call-1", true), ("call-2", false)] {
        update(
            &mut app,
            Msg::Agent(AgentEvent::ApprovalDecided {
                call_id: id.into(),
                approved,
                by: "user".into(),
                reason: "changes the estate".into(),
            }),
        );
    }
    assert_eq!(
        app.calls.get("call-2").and_then(|c| c.approval.as_deref()),
        Some("needs approval: changes the estate — refused by user")
    );
    assert_eq!(app.calls.len(), 2);
}

#[test]
fn a_dialog_pre_empts_an_open_prompt_and_hands_it_back() {
    let mut app = App {
        focus: Pane::Board,
        ..App::default()
    };
    update(&mut app, key(KeyCode::Char('/')));
    type_text(&mut app, "sal");
    assert_eq!(app.prompt, Some(Prompt::BoardFilter("sal".into())));
    // The dialog opens over the half-typed filter; the typing that goes on is not its answer.
    let opened = update(&mut app, Msg::ApprovalRequested(approval("call-1")));
    assert_eq!(app.scope(), Scope::Dialog);
    let typed = update(&mut app, key(KeyCode::Char('e')));
    assert!(
        !typed.iter().any(|e| matches!(e, Effect::Decide { .. })),
        "{typed:?}"
    );
    assert_ne!(arming(&typed), arming(&opened), "the wait restarts");
    // Nor does a paste reach the prompt under the dialog: it restarts the wait too.
    let pasted = update(&mut app, Msg::Paste("y".into()));
    assert!(arming(&pasted).is_some());
    assert_eq!(
        app.prompt,
        Some(Prompt::BoardFilter("sal".into())),
        "nothing typed or pasted reached the prompt"
    );
    arm_all(&mut app, pasted);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-1", false)]
    );
    // The prompt comes back as it was, and takes the keys again.
    assert!(app.overlay.is_none());
    type_text(&mut app, "es");
    assert_eq!(app.prompt, Some(Prompt::BoardFilter("sales".into())));
    assert_eq!(app.board.name_filter(), "sales");
}

#[test]
fn clicks_do_not_move_focus_under_the_dialog() {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: 200,
            height: 50,
        },
    );
    request(&mut app, approval("call-1"));
    update(
        &mut app,
        Msg::Click {
            column: 150,
            row: 5,
        },
    );
    assert_eq!(app.focus, Pane::Chat);
    assert_eq!(open_dialog_call(&app), Some("call-1"));
}

#[test]
fn a_request_for_a_call_cancelled_with_its_turn_never_opens() {
    let mut app = App::default();
    type_text(&mut app, "rerun it");
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, needed("call-1", "a"));
    // Esc cancels the turn while the dialog's request is still on its way.
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![Effect::CancelTurn]
    );
    assert!(update(&mut app, Msg::ApprovalRequested(approval("call-1"))).is_empty());
    assert!(
        app.overlay.is_none(),
        "no dialog for a call that cannot run"
    );
    // A call the store has not heard of yet (its event still on the way) does open.
    request(&mut app, approval("call-2"));
    assert_eq!(open_dialog_call(&app), Some("call-2"));
}

/// A dialog armed while the terminal was too small to draw it has not been
/// seen: enlarging the terminal starts the wait again, so a `y` typed at once
/// decides nothing.
#[test]
fn a_resize_starts_the_wait_again() {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: 30,
            height: 8,
        },
    );
    request(&mut app, approval("call-1"));
    let effects = update(
        &mut app,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    assert!(arming(&effects).is_some(), "{effects:?}");
    let pressed = update(&mut app, key(KeyCode::Char('y')));
    assert!(
        !pressed.contains(&decide("call-1", true)),
        "approved before the enlarged dialog was seen: {pressed:?}"
    );
    arm_all(&mut app, pressed);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
}

/// An answer that reached no waiting call is not left on record as running.
#[test]
fn an_answer_nobody_heard_leaves_the_call_failed_not_running() {
    let mut app = App::default();
    update(&mut app, needed("call-1", "a"));
    request(&mut app, approval("call-1"));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
    update(
        &mut app,
        Msg::DecisionUndelivered {
            call_id: "call-1".into(),
        },
    );
    let call = app.calls.get("call-1").expect("the call is on record");
    assert_eq!(call.state, crate::console::app::calls::CallState::Failed);
    assert!(call.preview.contains("never ran"), "{}", call.preview);
}

/// A call longer than the screen (a 4 KB query on one line, wrapped) is
/// approved only once its last row has been on screen: the rows below are
/// counted as the dialog wraps them, not as lines of text.
#[test]
fn a_call_longer_than_the_screen_is_read_to_its_end_before_it_is_approved() {
    let mut app = App::default();
    let long = ApprovalRequest {
        arguments: json!({"pipeline": "p", "query": "SELECT x FROM t WHERE ".repeat(200)}),
        ..approval("call-1")
    };
    request(&mut app, long);
    assert!(
        app.approvals.rows_below() > 0,
        "the query wraps past the screen"
    );
    assert!(update(&mut app, key(KeyCode::Char('y'))).is_empty());
    assert!(
        app.flash
            .as_ref()
            .is_some_and(|(_, t)| t.contains("read the whole call")),
        "{:?}",
        app.flash
    );
    let mut pages = 0;
    while app.approvals.rows_below() > 0 {
        update(&mut app, key(KeyCode::PageDown));
        pages += 1;
        assert!(pages < 1_000, "scrolling reaches the end");
    }
    assert!(pages >= 2, "the query took more than one page");
    // Scrolling back up does not unsee it.
    update(&mut app, key(KeyCode::PageUp));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![decide("call-1", true)]
    );
}

/// After a resize only approving waits for the redrawn dialog to be seen:
/// refusing is always safe and is taken at once.
#[test]
fn after_a_resize_n_still_refuses_at_once() {
    let mut app = App::default();
    request(&mut app, approval("call-1"));
    update(
        &mut app,
        Msg::Resize {
            width: 120,
            height: 40,
        },
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Char('n'))),
        vec![decide("call-1", false)]
    );
}
