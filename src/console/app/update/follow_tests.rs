//! Following the runs opsdeck starts, as the console model sees it.

use super::tests::finished_call;
use super::*;
use crate::console::app::chat::ChatEntry;
use crate::model::run::RunStatus;
use serde_json::json;

pub(crate) fn rerun_result(dry_run: bool, new_run: &str) -> Value {
    json!({"content": ["started"], "structured": {
        "action": "rerun", "dry_run": dry_run, "backend": "fabric",
        "environment": "Sales", "pipeline": "LoadSales",
        "target_run_id": "old-run", "new_run_id": new_run, "steps": ["Started run"]
    }})
}

fn target(id: &str) -> FollowTarget {
    FollowTarget {
        server: "opsdeck".into(),
        run_id: id.into(),
        pipeline: "LoadSales".into(),
        in_place: false,
    }
}

pub(crate) fn look(id: &str, status: RunStatus, message: &str) -> Msg {
    let run = serde_json::from_value(json!({
        "run_id": id, "pipeline": "LoadSales", "backend": "fabric", "environment": "Sales",
        "status": status.as_str(), "duration_ms": 185_000,
        "invoked_by": {"name": "opsdeck", "kind": "Manual"}, "message": message
    }))
    .unwrap();
    Msg::Followed {
        target: target(id),
        news: FollowNews::Run(run),
    }
}

pub(crate) fn notices(app: &App) -> Vec<(bool, String)> {
    app.chat
        .entries
        .iter()
        .filter_map(|e| match e {
            ChatEntry::Notice { error, text } => Some((*error, text.clone())),
            _ => None,
        })
        .collect()
}

fn notify(effects: &[Effect]) -> Option<(String, String)> {
    effects.iter().find_map(|e| match e {
        Effect::Notify { title, body } => Some((title.clone(), body.clone())),
        _ => None,
    })
}

#[test]
fn a_started_run_is_followed_pinned_and_its_success_told_once() {
    let mut app = App::default();
    let effects = update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-7")),
    );
    assert_eq!(effects, vec![Effect::Follow(target("job-7"))]);
    assert!(
        notices(&app)[0]
            .1
            .starts_with("following run job-7 of LoadSales")
    );
    // The same answer again (a replay) starts nothing new.
    assert!(
        update(
            &mut app,
            finished_call("c1", "rerun_pipeline", rerun_result(false, "job-7"))
        )
        .is_empty()
    );

    assert!(update(&mut app, look("job-7", RunStatus::InProgress, "")).is_empty());
    assert!(app.board.is_pinned("job-7"));
    assert_eq!(app.board.visible().next().unwrap().run_id, "job-7");

    let effects = update(&mut app, look("job-7", RunStatus::Succeeded, ""));
    let (title, body) = notify(&effects).expect("a success is notified too");
    assert_eq!(title, "LoadSales succeeded");
    assert!(
        body.contains("job-7") && body.contains("after 3m 05s"),
        "{body}"
    );
    let (error, text) = notices(&app).last().cloned().unwrap();
    assert!(!error);
    assert_eq!(
        text,
        "run job-7 of LoadSales (Sales) succeeded after 3m 05s"
    );
    assert!(
        update(&mut app, look("job-7", RunStatus::Succeeded, "")).is_empty(),
        "told once"
    );
}

#[test]
fn a_failure_is_told_with_its_reason_redacted_and_a_dry_run_is_not_followed() {
    let mut app = App::default();
    assert!(
        update(
            &mut app,
            finished_call("c0", "rerun_pipeline", rerun_result(true, "job-x"))
        )
        .is_empty()
    );
    update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-8")),
    );
    let effects = update(
        &mut app,
        look(
            "job-8",
            RunStatus::Failed,
            "Copy failed: AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFy\u{1b}[2J\nsecond line",
        ),
    );
    let (title, body) = notify(&effects).unwrap();
    assert_eq!(title, "LoadSales failed");
    let (error, text) = notices(&app).last().cloned().unwrap();
    assert!(error, "a failure is an error line");
    for shown in [&body, &text] {
        assert!(!shown.contains("Zm9vYmFy"), "{shown}");
        assert!(!shown.contains("second line"), "one line: {shown}");
    }
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn news_of_another_run_or_an_unfollowed_one_changes_nothing() {
    let mut app = App::default();
    update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-9")),
    );
    // A server answering with a different run is not believed about this one.
    let mut wrong = look("other", RunStatus::Failed, "");
    if let Msg::Followed { target: t, .. } = &mut wrong {
        t.run_id = "job-9".into();
    }
    assert!(update(&mut app, wrong).is_empty());
    assert!(!app.board.is_pinned("other"));
    assert!(update(&mut app, look("never-started", RunStatus::Failed, "")).is_empty());
    assert!(!app.board.is_pinned("never-started"));
}

#[test]
fn giving_up_is_told_and_notified() {
    let mut app = App::default();
    update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-1")),
    );
    let effects = update(
        &mut app,
        Msg::Followed {
            target: target("job-1"),
            news: FollowNews::GaveUp(
                "10 looks in a row failed; the last: connection refused".into(),
            ),
        },
    );
    assert_eq!(notify(&effects).unwrap().0, "LoadSales not followed");
    let (error, text) = notices(&app).last().cloned().unwrap();
    assert!(error && text.contains("connection refused"), "{text}");
    assert_eq!(app.following.still_going().count(), 0);
}

#[test]
fn after_giving_up_the_run_is_unpinned_and_the_board_alerts_on_it_again() {
    let mut app = App::default();
    update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-2")),
    );
    update(&mut app, look("job-2", RunStatus::InProgress, ""));
    let run = |status: RunStatus| match look("job-2", status, "boom") {
        Msg::Followed {
            news: FollowNews::Run(run),
            ..
        } => *run,
        _ => unreachable!(),
    };
    let at = chrono::Utc::now();
    // While followed, a refresh that sees it fail leaves the telling to the follower.
    update(
        &mut app,
        Msg::RunsLoaded {
            runs: vec![run(RunStatus::InProgress)],
            at,
        },
    );
    let effects = update(
        &mut app,
        Msg::RunsLoaded {
            runs: vec![run(RunStatus::Failed)],
            at,
        },
    );
    assert!(notify(&effects).is_none(), "{effects:?}");
    update(
        &mut app,
        Msg::Followed {
            target: target("job-2"),
            news: FollowNews::GaveUp("gone".into()),
        },
    );
    assert!(!app.board.is_pinned("job-2"));
    // Not followed any more: the board tells its next failure.
    update(
        &mut app,
        Msg::RunsLoaded {
            runs: vec![run(RunStatus::InProgress)],
            at,
        },
    );
    let effects = update(
        &mut app,
        Msg::RunsLoaded {
            runs: vec![run(RunStatus::Failed)],
            at,
        },
    );
    assert_eq!(notify(&effects).unwrap().0, "LoadSales failed");
}

#[test]
fn a_run_restarted_in_place_after_its_end_is_followed_again() {
    let mut app = App::default();
    update(
        &mut app,
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-3")),
    );
    assert!(notify(&update(&mut app, look("job-3", RunStatus::Failed, "x"))).is_some());
    // Cleared again: the same run id comes back.
    let effects = update(
        &mut app,
        finished_call("c2", "rerun_pipeline", rerun_result(false, "job-3")),
    );
    assert_eq!(effects, vec![Effect::Follow(target("job-3"))]);
    update(&mut app, look("job-3", RunStatus::InProgress, ""));
    let effects = update(&mut app, look("job-3", RunStatus::Succeeded, ""));
    assert_eq!(
        notify(&effects).unwrap().0,
        "LoadSales succeeded",
        "told again"
    );
}
