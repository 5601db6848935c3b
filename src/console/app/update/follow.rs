//! Following the runs opsdeck starts: a remediation that started a run makes
//! the runtime poll it; its news pins it on the board; its end is told in the
//! chat and notified, success or not.

use super::{App, Effect, first_line};
use crate::agent::events::AgentEvent;
use crate::console::app::follow::{
    Ending, FollowNews, FollowTarget, MAX_FOLLOWED, Started, started_run,
};
use crate::model::run::{PipelineRun, RunStatus};
use crate::support::{redact, terminal};

/// Server text for a chat line: secrets out, control characters shown, one line.
fn shown(text: &str) -> String {
    first_line(&terminal::for_screen(&redact::text(text)))
}

/// A tool call that started a run: follow it.
pub(super) fn on_agent_event(app: &mut App, event: &AgentEvent) -> Vec<Effect> {
    let Some(target) = started_run(event) else {
        return Vec::new();
    };
    let run = shown(&target.run_id);
    let pipeline = shown(&target.pipeline);
    match app.following.start(target.clone()) {
        Started::Already => Vec::new(),
        Started::Full => {
            app.chat.notice(
                true,
                format!(
                    "run {run} of {pipeline} is not followed: {MAX_FOLLOWED} started runs are \
                     still going; watch it on the board"
                ),
            );
            Vec::new()
        }
        Started::New { dropped } => {
            if let Some(old) = dropped {
                app.board.unpin(&old);
            }
            app.chat.notice(
                false,
                format!(
                    "following run {run} of {pipeline}: pinned on the board; you will be told \
                     when it ends"
                ),
            );
            vec![Effect::Follow(target)]
        }
    }
}

/// News from the follower: the board shows it; an end is told once.
pub(super) fn on_news(app: &mut App, target: FollowTarget, news: FollowNews) -> Vec<Effect> {
    if !app.following.is_followed(&target.run_id) {
        return Vec::new();
    }
    if let FollowNews::Run(run) = &news {
        // A server answering about another run is not believed about this one.
        if run.run_id != target.run_id {
            return Vec::new();
        }
        app.board.pin(run.as_ref().clone());
    }
    match app.following.report(&target.run_id, news) {
        Some(Ending::Ended(run)) => ended(app, &run),
        Some(Ending::GaveUp { target, reason }) => {
            // Not followed any more: the board shows it (and alerts on it) as any other run.
            app.board.unpin(&target.run_id);
            let text = format!(
                "stopped following run {} of {}: {}; look at it on the board or ask",
                shown(&target.run_id),
                shown(&target.pipeline),
                shown(&reason)
            );
            app.chat.notice(true, text);
            vec![Effect::Notify {
                title: format!("{} not followed", shown(&target.pipeline)),
                body: format!("run {}: {}", shown(&target.run_id), shown(&reason)),
            }]
        }
        None => Vec::new(),
    }
}

fn ended(app: &mut App, run: &PipelineRun) -> Vec<Effect> {
    let outcome = match run.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "was cancelled",
        RunStatus::Skipped => "was skipped",
        _ => "ended",
    };
    let took = run
        .duration_ms
        .map(|ms| format!(" after {}", took(ms)))
        .unwrap_or_default();
    let why = if run.status == RunStatus::Succeeded || run.message.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", shown(&run.message))
    };
    app.chat.notice(
        run.status != RunStatus::Succeeded,
        format!(
            "run {} of {} ({}) {outcome}{took}{why}",
            shown(&run.run_id),
            shown(&run.pipeline),
            shown(&run.environment)
        ),
    );
    // The notification's text is made safe here too, not only where it is written.
    vec![Effect::Notify {
        title: format!("{} {outcome}", shown(&run.pipeline)),
        body: format!(
            "run {} ({}){took}{why}",
            shown(&run.run_id),
            shown(&run.environment)
        ),
    }]
}

/// "42s", "3m 05s", "2h 10m": how long a run took, for a chat line.
fn took(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}
