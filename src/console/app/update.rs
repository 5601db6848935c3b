//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the console,
//! with no I/O and no clock reads (time arrives in messages). The runtime turns
//! the effects into tasks and their results back into messages.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;
use tui_textarea::TextArea;

use super::approval::{ApprovalQueue, ApprovalRequest};
use super::board::BoardState;
use super::calls::ToolCalls;
use super::chat::ChatState;
use super::details::DetailsView;
use super::follow::{FollowNews, FollowTarget, Following};
use super::inspector::InspectorState;
use super::keymap::{Action, Keymap, Scope};
use crate::agent::events::AgentEvent;
use crate::model::run::PipelineRun;

mod dialog;
mod follow;
mod panes;
mod prompt;
use super::layout;
pub use super::pane::Pane;
pub use dialog::abandon_dialogs;

impl Pane {
    /// The pane a focus key names (`1`/`2`/`3` as the tab bar numbers them).
    fn focused_by(action: Action) -> Option<Pane> {
        match action {
            Action::FocusChat => Some(Pane::Chat),
            Action::FocusBoard => Some(Pane::Board),
            Action::FocusInspector => Some(Pane::Inspector),
            _ => None,
        }
    }
}

/// A one-line text being typed below the panes (`:` commands, `/` filters).
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// The `:` line (see [`super::colon`]).
    Command(String),
    BoardFilter(String),
    InspectorSearch(String),
}

impl Prompt {
    fn text_mut(&mut self) -> &mut String {
        match self {
            Prompt::Command(t) | Prompt::BoardFilter(t) | Prompt::InspectorSearch(t) => t,
        }
    }
}

/// What covers the panes, if anything; keys go to it first.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    Servers,
    Details(DetailsView),
    Approval(ApprovalRequest),
}

/// A server as the status bar and `:servers` show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatus {
    pub name: String,
    pub ready: bool,
    /// "ready · 20 tools", "reconnecting (attempt 3): connection refused", …
    pub detail: String,
}

/// Everything the status bar shows that is not pane state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusInfo {
    pub servers: Vec<ServerStatus>,
    /// The model's name, or "offline".
    pub agent_mode: String,
    /// "sandbox", "azure", … — where the data comes from.
    pub backend: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Where every message comes from, one variant per source kind.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key the user pressed.
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    /// The mouse wheel (only with `--mouse`).
    Scroll { up: bool },
    /// A mouse click (only with `--mouse`): focuses the pane under it.
    Click { column: u16, row: u16 },
    /// The terminal changed size.
    Resize { width: u16, height: u16 },
    /// The clock moved (board ages, refresh timers).
    Tick(DateTime<Utc>),
    /// Something the agent did during a turn.
    Agent(AgentEvent),
    /// A question the user asked, as a trace has it: it goes into the chat as
    /// a question typed and sent does, without starting a turn.
    Asked { question: String },
    /// A board refresh returned runs.
    RunsLoaded {
        runs: Vec<PipelineRun>,
        at: DateTime<Utc>,
    },
    /// A board refresh failed; the old runs stay, marked stale.
    RunsFailed { reason: String },
    /// The servers' connection states changed.
    Servers(Vec<ServerStatus>),
    /// A destructive call waits for the user's decision.
    ApprovalRequested(ApprovalRequest),
    /// The dialog of this call has been on screen, untouched, long enough to
    /// take an answer (`generation` names the wait; a restarted one wins).
    DialogArmed { call_id: String, generation: u64 },
    /// The answer given in a dialog reached no waiting call (its turn had ended).
    DecisionUndelivered { call_id: String },
    /// `get_run_details` answered (structured content) or failed.
    RunDetailsLoaded {
        run_id: String,
        result: Result<Value, String>,
    },
    /// Something the runtime did that the user should read (export written, copy failed, …).
    Notice { error: bool, text: String },
    /// News of a run opsdeck started and follows.
    Followed {
        target: FollowTarget,
        news: FollowNews,
    },
}

/// What the runtime should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    StartTurn {
        question: String,
        read_only: bool,
    },
    /// Drop the running turn (its HTTP stream and pending tool calls go with it).
    CancelTurn,
    /// Forget the conversation: the next question starts a new one.
    NewConversation,
    RefreshBoard,
    LoadRunDetails {
        run_id: String,
    },
    /// The user's answer to the approval dialog about one call.
    Decide {
        call_id: String,
        approved: bool,
        /// Allow this (untrusted server's) tool for the rest of the session.
        for_session: bool,
    },
    /// The console quits with this call's dialog open or waiting: refuse it,
    /// recorded as cancelled, not as anyone's answer.
    Abandon {
        call_id: String,
        reason: String,
    },
    /// Read-only mode from now on: the running turn's next calls are refused too.
    ReadOnlyNow,
    /// Send [`Msg::DialogArmed`] for this call and wait after the arming delay.
    ArmDialog {
        call_id: String,
        generation: u64,
    },
    /// Put text on the clipboard (OSC 52) and in a file.
    Copy {
        label: String,
        text: String,
    },
    /// Write the session to a file (default name when none given).
    Export {
        path: Option<String>,
    },
    /// Poll this run (on the server that started it) until it ends.
    Follow(FollowTarget),
    /// A run turned Failed, or a followed run ended: ring the terminal bell,
    /// notify the desktop (and the webhook, when one is set).
    Notify {
        title: String,
        body: String,
    },
    Quit,
}

#[derive(Debug, Clone)]
pub struct App {
    pub focus: Pane,
    pub zoomed: bool,
    pub overlay: Option<Overlay>,
    pub prompt: Option<Prompt>,
    /// The chat has the input (true) or is being read with vim keys (false).
    pub typing: bool,
    pub chat: ChatState,
    pub board: BoardState,
    /// The runs opsdeck started, followed to their end.
    pub following: Following,
    /// Every tool call of the session by call id, read by the inspector (and
    /// the chat's call lines).
    pub calls: ToolCalls,
    pub inspector: InspectorState,
    /// Approval dialogs waiting behind the open one, in the order they came.
    pub approvals: ApprovalQueue,
    pub keymap: Keymap,
    /// The question being typed.
    pub input: TextArea<'static>,
    pub read_only: bool,
    pub status: StatusInfo,
    /// The last command's answer or error, shown in the status line until the next key.
    pub flash: Option<(bool, String)>,
    pub now: Option<DateTime<Utc>>,
    pub size: (u16, u16),
    pub quitting: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            focus: Pane::Chat,
            zoomed: false,
            overlay: None,
            prompt: None,
            typing: true,
            chat: ChatState::default(),
            board: BoardState::default(),
            following: Following::default(),
            calls: ToolCalls::default(),
            inspector: InspectorState::default(),
            approvals: ApprovalQueue::default(),
            keymap: Keymap::default(),
            input: new_input(""),
            read_only: false,
            status: StatusInfo {
                agent_mode: "offline".into(),
                backend: "sandbox".into(),
                ..StatusInfo::default()
            },
            flash: None,
            now: None,
            size: (80, 24),
            quitting: false,
        }
    }
}

fn new_input(text: &str) -> TextArea<'static> {
    let mut input = TextArea::new(text.lines().map(str::to_string).collect());
    input.set_cursor_line_style(ratatui::style::Style::default());
    input.set_placeholder_text("Ask about a failure… (Enter sends, Alt-Enter new line)");
    input.move_cursor(tui_textarea::CursorMove::Bottom);
    input.move_cursor(tui_textarea::CursorMove::End);
    input
}

impl App {
    /// The text typed in the chat input.
    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }

    /// The key scope in force: overlays first, then the focused pane.
    pub fn scope(&self) -> Scope {
        match &self.overlay {
            Some(Overlay::Approval(_)) => Scope::Dialog,
            Some(Overlay::Details(_)) => Scope::Details,
            _ => match self.focus {
                Pane::Chat if self.typing => Scope::Chat,
                Pane::Chat => Scope::Transcript,
                Pane::Board => Scope::Board,
                Pane::Inspector => Scope::Inspector,
            },
        }
    }

    fn set_input(&mut self, text: &str) {
        self.input = new_input(text);
    }

    fn ask(&mut self, question: &str) -> Vec<Effect> {
        match self.chat.submit(question) {
            Some(question) => vec![Effect::StartTurn {
                question,
                read_only: self.read_only,
            }],
            None => {
                self.flash = Some((
                    true,
                    "a turn is still running: wait, or Esc to cancel it".into(),
                ));
                Vec::new()
            }
        }
    }
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => {
            app.flash = None;
            on_key(app, key)
        }
        // Text meant for something else: the dialog takes no answer from it,
        // and the wait before it does starts again.
        Msg::Paste(_) if dialog::is_open(app) => dialog::interrupted(app),
        Msg::Paste(text) => {
            if app.focus == Pane::Chat && app.overlay.is_none() && app.prompt.is_none() {
                app.typing = true;
                app.input.insert_str(text);
            } else if let Some(prompt) = &mut app.prompt {
                prompt
                    .text_mut()
                    .push_str(text.lines().next().unwrap_or(""));
            }
            Vec::new()
        }
        Msg::Scroll { up } => {
            if app.overlay.is_none() {
                let delta: isize = if up { -3 } else { 3 };
                match app.focus {
                    Pane::Chat if up => app.chat.scroll_up(3),
                    Pane::Chat => app.chat.scroll_down(3),
                    Pane::Board => app.board.move_selection(delta),
                    Pane::Inspector => {
                        let rows = app.inspector_rows();
                        app.inspector.move_cursor(delta, rows);
                    }
                }
            }
            Vec::new()
        }
        // Nothing under the dialog moves while it is open.
        Msg::Click { .. } if dialog::is_open(app) => Vec::new(),
        Msg::Click { column, row } => {
            let screen = ratatui::layout::Rect::new(0, 0, app.size.0, app.size.1);
            let position = ratatui::layout::Position::new(column, row);
            if let Some((pane, _)) = layout::areas(screen, app.focus, app.zoomed)
                .panes
                .into_iter()
                .find(|(_, rect)| rect.contains(position))
            {
                app.focus = pane;
            }
            Vec::new()
        }
        Msg::Resize { width, height } => {
            let changed = app.size != (width, height);
            app.size = (width, height);
            if changed {
                dialog::resized(app)
            } else {
                Vec::new()
            }
        }
        Msg::Tick(now) => {
            app.now = Some(now);
            Vec::new()
        }
        Msg::Agent(event) => {
            match &event {
                AgentEvent::AgentMode { mode } => app.status.agent_mode = mode.clone(),
                AgentEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    app.status.prompt_tokens += u64::from(*prompt_tokens);
                    app.status.completion_tokens += u64::from(*completion_tokens);
                }
                AgentEvent::TurnFinished { .. } => {
                    // Dialogs left open by a turn that ended are moot.
                    if matches!(app.overlay, Some(Overlay::Approval(_))) {
                        app.overlay = None;
                    }
                    app.approvals.clear();
                }
                _ => {}
            }
            app.chat.apply(&event);
            app.inspector.note_offer(&event);
            if app.calls.apply(&event) {
                app.inspector.calls_changed(&app.calls);
            }
            follow::on_agent_event(app, &event)
        }
        Msg::Followed { target, news } => follow::on_news(app, target, news),
        Msg::Asked { question } => {
            // A question while a turn still runs means that turn was cancelled
            // (a trace records no Esc): end it as Esc did, then ask.
            if app.chat.turn_active {
                cancel_turn(app);
            }
            // The question as Enter would have put it; the turn it started is in the trace.
            let _ = app.chat.submit(&question);
            Vec::new()
        }
        Msg::RunsLoaded { runs, at } => app
            .board
            .replace_runs(runs, at)
            .into_iter()
            // A followed run's end is told by its follower, not here as well.
            .filter(|run| !app.following.is_going(&run.run_id))
            .map(|run| Effect::Notify {
                title: format!("{} failed", run.pipeline),
                body: format!(
                    "run {} ({}): {}",
                    run.run_id,
                    run.environment,
                    first_line(&run.message)
                ),
            })
            .collect(),
        Msg::RunsFailed { reason } => {
            app.board.refresh_failed(reason);
            Vec::new()
        }
        Msg::Servers(servers) => {
            app.status.servers = servers;
            Vec::new()
        }
        Msg::ApprovalRequested(request) => dialog::requested(app, request),
        Msg::DialogArmed {
            call_id,
            generation,
        } => {
            dialog::armed(app, &call_id, generation);
            Vec::new()
        }
        Msg::DecisionUndelivered { call_id } => {
            if app.calls.undelivered(&call_id) {
                app.inspector.calls_changed(&app.calls);
            }
            Vec::new()
        }
        Msg::RunDetailsLoaded { run_id, result } => {
            // Only the details still open want the answer.
            if let Some(Overlay::Details(view)) = &app.overlay
                && view.run_id() == run_id
            {
                app.overlay = Some(Overlay::Details(DetailsView::from_result(&run_id, result)));
            }
            Vec::new()
        }
        Msg::Notice { error, text } => {
            app.flash = Some((error, text.clone()));
            app.chat.notice(error, text);
            Vec::new()
        }
    }
}

fn first_line(text: &str) -> String {
    crate::support::text::clip(text.lines().next().unwrap_or(""), 160)
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        app.quitting = true;
        // Quitting with dialogs open abandons their calls rather than leaving them hanging.
        let mut effects: Vec<Effect> = abandon_dialogs(app);
        effects.push(Effect::Quit);
        return effects;
    }
    let scope = app.scope();
    let action = app.keymap.action(scope, &key);
    // The dialog comes before any prompt being typed: its y/n are never text.
    if dialog::is_open(app) {
        return dialog::on_key(app, action);
    }
    if app.prompt.is_some() {
        return prompt::on_prompt_key(app, key);
    }
    match &mut app.overlay {
        Some(Overlay::Approval(_)) => return dialog::on_key(app, action),
        Some(Overlay::Details(_)) => return panes::on_details_key(app, action),
        Some(Overlay::Help | Overlay::Servers) => {
            // Any key closes the overlay; it does nothing else.
            app.overlay = None;
            return Vec::new();
        }
        None => {}
    }
    match action {
        Some(Action::Quit) => {
            app.quitting = true;
            return vec![Effect::Quit];
        }
        // `?` is a character while typing a question; F1 still opens help.
        Some(Action::Help) if !(scope == Scope::Chat && key.code == KeyCode::Char('?')) => {
            app.overlay = Some(Overlay::Help);
            return Vec::new();
        }
        Some(Action::CommandLine) => {
            app.prompt = Some(Prompt::Command(String::new()));
            return Vec::new();
        }
        Some(Action::NextPane) => {
            app.focus = app.focus.next();
            return Vec::new();
        }
        Some(Action::PreviousPane) => {
            app.focus = app.focus.previous();
            return Vec::new();
        }
        Some(Action::ZoomPane) => {
            app.zoomed = !app.zoomed;
            return Vec::new();
        }
        Some(Action::NewConversation) => return new_conversation(app),
        Some(action) if action.is_focus() => {
            if let Some(pane) = Pane::focused_by(action) {
                app.focus = pane;
            }
            return Vec::new();
        }
        Some(Action::Cancel) => return on_escape(app),
        _ => {}
    }
    match scope {
        Scope::Chat => panes::on_chat_key(app, key, action),
        Scope::Transcript => panes::on_transcript_key(app, action),
        Scope::Board => panes::on_board_key(app, action),
        Scope::Inspector => panes::on_inspector_key(app, action),
        Scope::Global | Scope::Details | Scope::Dialog => Vec::new(),
    }
}

/// Esc, in order: cancel the running turn; leave the inspector's open call;
/// stop typing in the chat; leave the zoom.
/// Ends the running turn in the model: its calls will never finish, and a
/// dialog it asked for that is still on its way must not open. False when no
/// turn was running.
fn cancel_turn(app: &mut App) -> bool {
    if !app.chat.cancel_turn() {
        return false;
    }
    for call_id in app.calls.cancel_running() {
        app.approvals.withdraw(call_id);
    }
    app.inspector.calls_changed(&app.calls);
    true
}

/// `:new` or its key: a running turn is cancelled first, and the chat says
/// where the new conversation begins (the lines above stay to be read).
pub(super) fn new_conversation(app: &mut App) -> Vec<Effect> {
    let mut effects = Vec::new();
    if cancel_turn(app) {
        effects.push(Effect::CancelTurn);
    }
    app.chat.notice(
        false,
        "new conversation: the questions above are no longer sent to the model",
    );
    effects.push(Effect::NewConversation);
    effects
}

fn on_escape(app: &mut App) -> Vec<Effect> {
    if cancel_turn(app) {
        return vec![Effect::CancelTurn];
    }
    if app.focus == Pane::Inspector && app.inspector.close() {
        return Vec::new();
    }
    if app.focus == Pane::Chat && app.typing {
        app.typing = false;
        return Vec::new();
    }
    app.zoomed = false;
    Vec::new()
}

impl App {
    /// Lines of the chat input box: the text's lines, at least 1 and at most 4.
    pub fn input_height(&self) -> u16 {
        layout::input_height(self.input.lines().len())
    }

    /// The scrollable rows a pane shows (for paging), at least 1.
    fn rows_of(&self, pane: Pane) -> usize {
        let lines = self.input.lines().len();
        layout::rows_of(self.size, self.focus, self.zoomed, lines, pane).max(1)
    }

    fn chat_rows(&self) -> usize {
        self.rows_of(Pane::Chat)
    }

    fn board_rows(&self) -> usize {
        self.rows_of(Pane::Board)
    }

    fn inspector_rows(&self) -> usize {
        self.rows_of(Pane::Inspector)
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
pub(crate) mod follow_tests;

#[cfg(test)]
mod approval_tests;
