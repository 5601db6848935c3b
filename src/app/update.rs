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
            if let Some((pane, _)) = crate::ui::layout::areas(screen, app.focus, app.zoomed)
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
    crate::server::reply::clip(text.lines().next().unwrap_or(""), 160)
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
    if approved && crate::ui::layout::too_small(screen) {
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
        crate::ui::layout::rows_of(self, Pane::Chat).max(1)
    }

    fn board_rows(&self) -> usize {
        crate::ui::layout::rows_of(self, Pane::Board).max(1)
    }

    fn inspector_rows(&self) -> usize {
        crate::ui::layout::rows_of(self, Pane::Inspector).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run::{BackendKind, InvokedBy, RunStatus};
    use serde_json::json;

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn type_text(app: &mut App, text: &str) {
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

    fn finished_call(id: &str, tool: &str, result: Value) -> Msg {
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
            matches!(app.chat.entries.last(), Some(crate::app::chat::ChatEntry::User(q)) if q.contains("r9"))
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
            app.inspector.selected_call().map(|c| c.call_id.as_str()),
            Some("call-1")
        );
    }

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
        update(
            &mut app,
            Msg::Resize {
                width: 80,
                height: 24,
            },
        );
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
        assert!(
            matches!(&app.flash, Some((true, text)) if text.contains("unknown command :bogus"))
        );
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
}
