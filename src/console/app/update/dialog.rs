//! The approval dialog in the model: requests queue, the dialog shows the
//! head, and `y`/`n` decides that call — the effect names its call id, and the
//! store records the person's answer as theirs. The dialog comes before any
//! prompt or overlay: while it is open, keys, pastes and clicks are its own.

use super::{Action, App, Effect, Overlay};
use crate::agent::events::AgentEvent;
use crate::agent::runner::BY_USER;
use crate::console::app::approval::ApprovalRequest;

pub(super) fn is_open(app: &App) -> bool {
    matches!(app.overlay, Some(Overlay::Approval(_)))
}

/// A call asks for a person. One dialog at a time: a second call of the same
/// round waits its turn. A request for a call that can no longer run (its turn
/// was cancelled while the request was on its way) never opens. (The runtime
/// also drops a request nothing waits for any more.)
pub(super) fn requested(app: &mut App, request: ApprovalRequest) -> Vec<Effect> {
    if app.approvals.is_withdrawn(&request.call_id) {
        return Vec::new();
    }
    if is_open(app) {
        app.approvals.push(request);
        return Vec::new();
    }
    app.approvals.scroll = 0;
    open(app, request)
}

/// Shows a dialog; it takes an answer only once it has been on screen a
/// moment, and every row of it has been.
fn open(app: &mut App, request: ApprovalRequest) -> Vec<Effect> {
    let call_id = request.call_id.clone();
    let generation = app.approvals.start_arming(&call_id);
    app.approvals.showing_new();
    app.overlay = Some(Overlay::Approval(request));
    measure(app);
    vec![Effect::ArmDialog {
        call_id,
        generation,
    }]
}

/// Input that was not meant for the dialog (a paste): it decides nothing, and
/// a dialog not yet armed waits for quiet again.
pub(super) fn interrupted(app: &mut App) -> Vec<Effect> {
    let Some(Overlay::Approval(request)) = &app.overlay else {
        return Vec::new();
    };
    let call_id = request.call_id.clone();
    if app.approvals.is_armed(&call_id) {
        return Vec::new();
    }
    let generation = app.approvals.start_arming(&call_id);
    vec![Effect::ArmDialog {
        call_id,
        generation,
    }]
}

/// The terminal changed size: what the dialog shows moved (it may only now
/// be drawn at all), so it takes no approval until it has been on screen,
/// unchanged, a moment again. Refusing needs no wait.
pub(super) fn resized(app: &mut App) -> Vec<Effect> {
    let Some(Overlay::Approval(request)) = &app.overlay else {
        return Vec::new();
    };
    let call_id = request.call_id.clone();
    measure(app);
    let generation = if app.approvals.is_armed(&call_id) {
        app.approvals.hold_approval()
    } else {
        app.approvals.start_arming(&call_id)
    };
    vec![Effect::ArmDialog {
        call_id,
        generation,
    }]
}

/// The wait for quiet ran its course. (While the terminal is too small to
/// draw the dialog, `y` is refused; enlarging it is a resize, which starts
/// the wait again, so a dialog is always seen before it is approved.)
pub(super) fn armed(app: &mut App, call_id: &str, generation: u64) {
    app.approvals.arm(call_id, generation);
}

pub(super) fn on_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let Some(Overlay::Approval(request)) = &app.overlay else {
        return Vec::new();
    };
    let call_id = request.call_id.clone();
    // Until the dialog has been on screen untouched for a moment, every key is
    // taken for typing that was meant for the chat: it decides nothing and
    // starts the wait again.
    if !app.approvals.is_armed(&call_id) {
        let generation = app.approvals.start_arming(&call_id);
        if matches!(
            action,
            Some(Action::Approve | Action::AllowForSession | Action::Refuse)
        ) {
            app.flash = Some((
                true,
                "the dialog just opened: read it, then answer (keys pressed meanwhile count for nothing)"
                    .into(),
            ));
        }
        return vec![Effect::ArmDialog {
            call_id,
            generation,
        }];
    }
    if app.approvals.approval_held()
        && matches!(action, Some(Action::Approve | Action::AllowForSession))
    {
        let generation = app.approvals.hold_approval();
        app.flash = Some((
            true,
            "the dialog was just redrawn: read it, then approve (n refuses at once)".into(),
        ));
        return vec![Effect::ArmDialog {
            call_id,
            generation,
        }];
    }
    if !matches!(action, Some(Action::AllowForSession)) {
        app.approvals.forget_session_confirmation();
    }
    let (approved, for_session) = match action {
        Some(Action::Approve) => (true, false),
        Some(Action::AllowForSession) if request.session_allowable => {
            if !app.approvals.confirm_session(&call_id) {
                app.flash = Some((
                    true,
                    format!(
                        "press a again to run {} of server '{}' without asking for the rest of the session (y approves only this call)",
                        request.tool, request.server
                    ),
                ));
                return Vec::new();
            }
            (true, true)
        }
        Some(Action::AllowForSession) => {
            app.flash = Some((
                true,
                "allow-for-session is only for an untrusted server's tool; y approves this one call"
                    .into(),
            ));
            return Vec::new();
        }
        Some(Action::Refuse) => (false, false),
        Some(Action::Up) => return scroll(app, -1),
        Some(Action::Down) => return scroll(app, 1),
        Some(Action::PageUp) => return scroll(app, -10),
        Some(Action::PageDown) => return scroll(app, 10),
        // Nothing else proceeds until the user answers.
        _ => return Vec::new(),
    };
    // What is not on screen cannot be approved: below the console's minimum
    // size the dialog is not drawn.
    let screen = ratatui::layout::Rect::new(0, 0, app.size.0, app.size.1);
    if approved && crate::console::app::layout::too_small(screen) {
        app.flash = Some((
            true,
            "the terminal is too small to show the approval dialog: enlarge it to approve (n refuses)"
                .into(),
        ));
        return Vec::new();
    }
    // What was never on screen cannot be approved: a long call is read to its end first.
    if approved && !app.approvals.seen_all() {
        app.flash = Some((
            true,
            format!(
                "read the whole call before approving: {} more row(s) below (j or PgDn; n refuses)",
                app.approvals.rows_below()
            ),
        ));
        return Vec::new();
    }
    let reason = request.reason.clone();
    app.overlay = None;
    // The answer is the person's, on record at once; the runner's report of
    // it, when it comes, is the same decision.
    if app.calls.apply(&AgentEvent::ApprovalDecided {
        call_id: call_id.clone(),
        approved,
        by: BY_USER.into(),
        reason,
    }) {
        app.inspector.calls_changed(&app.calls);
    }
    let mut effects = vec![Effect::Decide {
        call_id,
        approved,
        for_session,
    }];
    if let Some(next) = app.approvals.pop() {
        effects.extend(open(app, next));
    }
    effects
}

/// The console is going: the open dialog and every one waiting behind it are
/// abandoned — refused, and recorded as nobody's decision.
pub fn abandon_dialogs(app: &mut App) -> Vec<Effect> {
    let mut requests = Vec::new();
    if is_open(app)
        && let Some(Overlay::Approval(request)) = app.overlay.take()
    {
        requests.push(request);
    }
    while let Some(request) = app.approvals.pop() {
        requests.push(request);
    }
    requests
        .into_iter()
        .map(|request| Effect::Abandon {
            call_id: request.call_id,
            reason: request.reason,
        })
        .collect()
}

/// Scrolls the open dialog within its rows.
fn scroll(app: &mut App, delta: isize) -> Vec<Effect> {
    app.approvals.scroll_by::<Effect>(delta);
    measure(app);
    Vec::new()
}

/// Counts the open dialog's rows for the screen it is on.
fn measure(app: &mut App) {
    let Some(Overlay::Approval(request)) = &app.overlay else {
        return;
    };
    let (width, height) = crate::console::app::layout::approval_text_area(app.size);
    let rows = crate::console::app::approval::dialog_rows(request, width);
    app.approvals.measured(rows, usize::from(height));
}
