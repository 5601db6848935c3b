//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the console,
//! with no I/O and no clock reads (time arrives in messages). The runtime turns
//! the effects into tasks and their results back into messages.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;
use tui_textarea::TextArea;

use super::approval::{ApprovalQueue, ApprovalRequest};
use super::board::BoardState;
use super::chat::ChatState;
use super::command::{self, Command};
use super::details::DetailsView;
use super::inspector::InspectorState;
use super::keymap::{Action, Keymap, Scope};
use crate::agent::events::AgentEvent;
use crate::model::run::PipelineRun;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Chat,
    Board,
    Inspector,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Chat, Pane::Board, Pane::Inspector];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Chat => "Chat",
            Pane::Board => "Runs",
            Pane::Inspector => "Tool calls",
        }
    }

    fn next(self) -> Pane {
        match self {
            Pane::Chat => Pane::Board,
            Pane::Board => Pane::Inspector,
            Pane::Inspector => Pane::Chat,
        }
    }

    fn previous(self) -> Pane {
        self.next().next()
    }
}

/// A one-line text being typed below the panes (`:` commands, `/` filters).
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
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
    /// `get_run_details` answered (structured content) or failed.
    RunDetailsLoaded {
        run_id: String,
        result: Result<Value, String>,
    },
    /// Something the runtime did that the user should read (export written, copy failed, …).
    Notice { error: bool, text: String },
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
    /// A run turned Failed: ring the terminal bell and notify the desktop.
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
        Msg::Click { column, row } => {
            let screen = ratatui::layout::Rect::new(0, 0, app.size.0, app.size.1);
            let position = ratatui::layout::Position::new(column, row);
            if let Some((pane, _)) =
                crate::console::app::layout::areas(screen, app.focus, app.zoomed)
                    .panes
                    .into_iter()
                    .find(|(_, rect)| rect.contains(position))
            {
                app.focus = pane;
            }
            Vec::new()
        }
        Msg::Resize { width, height } => {
            app.size = (width, height);
            Vec::new()
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
            app.inspector.apply(&event);
            Vec::new()
        }
        Msg::RunsLoaded { runs, at } => app
            .board
            .replace_runs(runs, at)
            .into_iter()
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
        Msg::ApprovalRequested(request) => {
            // One dialog at a time; a second call of the same round waits its turn.
            if matches!(app.overlay, Some(Overlay::Approval(_))) {
                app.approvals.push(request);
                Vec::new()
            } else {
                app.approvals.scroll = 0;
                open_dialog(app, request)
            }
        }
        Msg::DialogArmed {
            call_id,
            generation,
        } => {
            app.approvals.arm(&call_id, generation);
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
    if matches!(app.overlay, Some(Overlay::Approval(_))) {
        return on_dialog_key(app, action);
    }
    if app.prompt.is_some() {
        return on_prompt_key(app, key);
    }
    match &mut app.overlay {
        Some(Overlay::Approval(_)) => return on_dialog_key(app, action),
        Some(Overlay::Details(_)) => return on_details_key(app, action),
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
        Some(Action::Cancel) => return on_escape(app),
        _ => {}
    }
    match scope {
        Scope::Chat => on_chat_key(app, key, action),
        Scope::Transcript => on_transcript_key(app, action),
        Scope::Board => on_board_key(app, action),
        Scope::Inspector => on_inspector_key(app, action),
        Scope::Global | Scope::Details | Scope::Dialog => Vec::new(),
    }
}

/// Esc, in order: cancel the running turn; leave the inspector's open call;
/// stop typing in the chat; leave the zoom.
fn on_escape(app: &mut App) -> Vec<Effect> {
    if app.chat.cancel_turn() {
        app.inspector.cancel_running();
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

fn on_dialog_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
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
        Some(Action::Up) => return app.approvals.scroll_by(-1),
        Some(Action::Down) => return app.approvals.scroll_by(1),
        Some(Action::PageUp) => return app.approvals.scroll_by(-10),
        Some(Action::PageDown) => return app.approvals.scroll_by(10),
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
    app.overlay = None;
    let mut effects = vec![Effect::Decide {
        call_id,
        approved,
        for_session,
    }];
    if let Some(next) = app.approvals.pop() {
        effects.extend(open_dialog(app, next));
    }
    effects
}

/// Shows a dialog; it takes an answer only once it has been on screen a moment.
fn open_dialog(app: &mut App, request: ApprovalRequest) -> Vec<Effect> {
    let call_id = request.call_id.clone();
    let generation = app.approvals.start_arming(&call_id);
    app.overlay = Some(Overlay::Approval(request));
    vec![Effect::ArmDialog {
        call_id,
        generation,
    }]
}

/// The console is going: the open dialog and every one waiting behind it are
/// abandoned — refused, and recorded as nobody's decision.
pub fn abandon_dialogs(app: &mut App) -> Vec<Effect> {
    let mut requests = Vec::new();
    if matches!(app.overlay, Some(Overlay::Approval(_)))
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

fn on_details_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let Some(Overlay::Details(view)) = &mut app.overlay else {
        return Vec::new();
    };
    match action {
        Some(Action::Up) => view.scroll(-1),
        Some(Action::Down) => view.scroll(1),
        Some(Action::PageUp) => view.scroll(-10),
        Some(Action::PageDown) => view.scroll(10),
        Some(Action::Cancel) => app.overlay = None,
        Some(Action::Quit) => {
            app.quitting = true;
            return vec![Effect::Quit];
        }
        Some(Action::Triage) => {
            let (run_id, pipeline) = match view {
                DetailsView::Loaded { details, .. } => {
                    (details.run.run_id.clone(), details.run.pipeline.clone())
                }
                DetailsView::Loading { run_id, pipeline } => (run_id.clone(), pipeline.clone()),
                DetailsView::Failed { run_id, .. } => (run_id.clone(), String::new()),
            };
            app.overlay = None;
            return triage(app, &run_id, &pipeline);
        }
        Some(Action::ShowCalls) => {
            let run_id = view.run_id().to_string();
            app.overlay = None;
            show_calls(app, &run_id);
        }
        _ => {}
    }
    Vec::new()
}

fn triage(app: &mut App, run_id: &str, pipeline: &str) -> Vec<Effect> {
    let question = if pipeline.is_empty() {
        format!("Why did run {run_id} fail?")
    } else {
        format!("Why did run {run_id} of {pipeline} fail?")
    };
    app.focus = Pane::Chat;
    app.typing = true;
    app.ask(&question)
}

fn show_calls(app: &mut App, run_id: &str) {
    if app.inspector.select_call_touching(run_id) {
        app.focus = Pane::Inspector;
    } else {
        app.flash = Some((false, format!("no tool call has touched run {run_id} yet")));
    }
}

fn on_prompt_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = &mut app.prompt else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            // Esc abandons a filter or search as well as the text.
            match prompt {
                Prompt::BoardFilter(_) => app.board.set_name_filter(""),
                Prompt::InspectorSearch(_) => app.inspector.set_search(""),
                Prompt::Command(_) => {}
            }
            app.prompt = None;
            Vec::new()
        }
        KeyCode::Enter => {
            let finished = app.prompt.take();
            match finished {
                Some(Prompt::Command(line)) => run_command(app, &line),
                Some(Prompt::InspectorSearch(needle)) => {
                    if !needle.is_empty() && !app.inspector.find_next(&needle, app.inspector_rows())
                    {
                        app.flash = Some((false, format!("'{needle}' not found")));
                    }
                    Vec::new()
                }
                _ => Vec::new(),
            }
        }
        KeyCode::Backspace => {
            let text = prompt.text_mut();
            if text.pop().is_none() && matches!(prompt, Prompt::Command(_)) {
                app.prompt = None;
            }
            live_filter(app);
            Vec::new()
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            prompt.text_mut().push(c);
            live_filter(app);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Filters apply as you type, so the board narrows with each key.
fn live_filter(app: &mut App) {
    match &app.prompt {
        Some(Prompt::BoardFilter(needle)) => {
            let needle = needle.clone();
            app.board.set_name_filter(&needle);
        }
        Some(Prompt::InspectorSearch(needle)) if !app.inspector.is_open() => {
            let needle = needle.clone();
            app.inspector.set_search(&needle);
        }
        _ => {}
    }
}

fn run_command(app: &mut App, line: &str) -> Vec<Effect> {
    let command = match command::parse(line) {
        Ok(command) => command,
        Err(message) => {
            app.flash = Some((true, message));
            return Vec::new();
        }
    };
    match command {
        Command::Servers => app.overlay = Some(Overlay::Servers),
        Command::Help => app.overlay = Some(Overlay::Help),
        Command::Filter(statuses) => {
            let label = if statuses.is_empty() {
                "all runs".to_string()
            } else {
                let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
                format!("only {}", names.join(", "))
            };
            app.board.set_status_filter(statuses);
            app.flash = Some((false, format!("board: {label}")));
        }
        Command::ReadOnly(setting) => {
            app.read_only = setting.unwrap_or(!app.read_only);
            // Tightening counts at once, the running turn included; loosening
            // waits for the next question.
            if app.read_only {
                app.flash = Some((
                    false,
                    "read-only: remediation is refused from now on, the running question included"
                        .into(),
                ));
                return vec![Effect::ReadOnlyNow];
            }
            app.flash = Some((
                false,
                "read-only off: remediation asks for approval from the next question on".into(),
            ));
        }
        Command::Export(path) => return vec![Effect::Export { path }],
        Command::Clear => app.chat.clear(),
        Command::Refresh => return vec![Effect::RefreshBoard],
        Command::Quit => {
            app.quitting = true;
            return vec![Effect::Quit];
        }
    }
    Vec::new()
}

fn on_chat_key(app: &mut App, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    let single_line = app.input.lines().len() <= 1;
    match action {
        Some(Action::Send) => {
            let text = app.input_text();
            if text.trim().is_empty() {
                return Vec::new();
            }
            let effects = app.ask(&text);
            if !effects.is_empty() {
                app.set_input("");
            }
            effects
        }
        Some(Action::Newline) => {
            app.input.insert_newline();
            Vec::new()
        }
        // Up/Down recall questions on a one-line input and move the cursor in a longer one.
        Some(Action::HistoryPrevious) if single_line => {
            if let Some(text) = app.chat.history_previous().map(str::to_string) {
                app.set_input(&text);
            }
            Vec::new()
        }
        Some(Action::HistoryNext) if single_line => {
            if let Some(text) = app.chat.history_next().map(str::to_string) {
                app.set_input(&text);
            }
            Vec::new()
        }
        Some(Action::PageUp) => {
            app.chat.scroll_up(app.chat_rows());
            Vec::new()
        }
        Some(Action::PageDown) => {
            app.chat.scroll_down(app.chat_rows());
            Vec::new()
        }
        _ => {
            app.input.input(key);
            Vec::new()
        }
    }
}

fn on_transcript_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let page = app.chat_rows();
    match action {
        Some(Action::Type) => app.typing = true,
        Some(Action::Up) => app.chat.scroll_up(1),
        Some(Action::Down) => app.chat.scroll_down(1),
        Some(Action::PageUp) => app.chat.scroll_up(page),
        Some(Action::PageDown) => app.chat.scroll_down(page),
        Some(Action::Top) => app.chat.scroll_to_top(),
        Some(Action::Bottom) => app.chat.scroll_to_bottom(),
        _ => {}
    }
    Vec::new()
}

fn on_board_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let page = app.board_rows() as isize;
    match action {
        Some(Action::Up) => app.board.move_selection(-1),
        Some(Action::Down) => app.board.move_selection(1),
        Some(Action::PageUp) => app.board.move_selection(-page),
        Some(Action::PageDown) => app.board.move_selection(page),
        Some(Action::Top) => app.board.select_first(),
        Some(Action::Bottom) => app.board.select_last(),
        Some(Action::Sort) => app.board.cycle_sort(),
        Some(Action::NextFailed) => app.board.jump_to_failed(true),
        Some(Action::PreviousFailed) => app.board.jump_to_failed(false),
        Some(Action::Filter) => {
            app.prompt = Some(Prompt::BoardFilter(app.board.name_filter().to_string()));
        }
        Some(Action::Open) => {
            if let Some(run) = app.board.selected_run() {
                let run_id = run.run_id.clone();
                app.overlay = Some(Overlay::Details(DetailsView::Loading {
                    run_id: run_id.clone(),
                    pipeline: run.pipeline.clone(),
                }));
                return vec![Effect::LoadRunDetails { run_id }];
            }
        }
        Some(Action::ShowCalls) => {
            if let Some(run_id) = app.board.selected_run().map(|r| r.run_id.clone()) {
                show_calls(app, &run_id);
            }
        }
        Some(Action::Triage) => {
            if let Some(run) = app.board.selected_run() {
                let (run_id, pipeline) = (run.run_id.clone(), run.pipeline.clone());
                return triage(app, &run_id, &pipeline);
            }
        }
        _ => {}
    }
    Vec::new()
}

fn on_inspector_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let rows = app.inspector_rows();
    let inspector = &mut app.inspector;
    match action {
        Some(Action::Up) => inspector.move_cursor(-1, rows),
        Some(Action::Down) => inspector.move_cursor(1, rows),
        Some(Action::PageUp) => inspector.move_cursor(-(rows as isize), rows),
        Some(Action::PageDown) => inspector.move_cursor(rows as isize, rows),
        Some(Action::Top) => inspector.top(),
        Some(Action::Bottom) => inspector.bottom(rows),
        Some(Action::Open) => inspector.open(),
        Some(Action::ToggleFold) => inspector.toggle_fold(),
        Some(Action::Filter) => {
            app.prompt = Some(Prompt::InspectorSearch(if inspector.is_open() {
                String::new()
            } else {
                inspector.search().to_string()
            }));
        }
        Some(Action::FindNext) => {
            let needle = inspector.last_find().to_string();
            if !needle.is_empty() && !inspector.find_next(&needle, rows) {
                app.flash = Some((false, format!("'{needle}' not found")));
            }
        }
        Some(Action::Copy) => {
            if let Some((label, text)) = inspector.copy_text() {
                return vec![Effect::Copy { label, text }];
            }
        }
        _ => {}
    }
    Vec::new()
}

impl App {
    fn chat_rows(&self) -> usize {
        crate::console::app::layout::rows_of(self, Pane::Chat).max(1)
    }

    fn board_rows(&self) -> usize {
        crate::console::app::layout::rows_of(self, Pane::Board).max(1)
    }

    fn inspector_rows(&self) -> usize {
        crate::console::app::layout::rows_of(self, Pane::Inspector).max(1)
    }
}

#[cfg(test)]
mod tests;
