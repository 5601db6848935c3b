//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the console,
//! with no I/O and no clock reads (time arrives in messages). The runtime turns
//! the effects into tasks and their results back into messages.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::board::BoardState;
use super::chat::ChatState;
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
    fn scope(self) -> Scope {
        match self {
            Pane::Chat => Scope::Chat,
            Pane::Board => Scope::Board,
            Pane::Inspector => Scope::Inspector,
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

/// Where every message comes from, one variant per source kind.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key the user pressed.
    Key(KeyEvent),
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
}

/// What the runtime should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    StartTurn {
        question: String,
    },
    /// Drop the running turn (its HTTP stream and pending tool calls go with it).
    CancelTurn,
    RefreshBoard,
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
    pub help_open: bool,
    pub chat: ChatState,
    pub board: BoardState,
    pub inspector: InspectorState,
    pub keymap: Keymap,
    /// The line being typed in the chat.
    pub input: String,
    pub now: Option<DateTime<Utc>>,
    pub quitting: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            focus: Pane::Chat,
            zoomed: false,
            help_open: false,
            chat: ChatState::default(),
            board: BoardState::default(),
            inspector: InspectorState::default(),
            keymap: Keymap::default(),
            input: String::new(),
            now: None,
            quitting: false,
        }
    }
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Tick(now) => {
            app.now = Some(now);
            Vec::new()
        }
        Msg::Agent(event) => {
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
    }
}

fn first_line(text: &str) -> String {
    crate::server::reply::clip(text.lines().next().unwrap_or(""), 160)
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let action = app.keymap.action(app.focus.scope(), &key);
    if app.help_open {
        // Any key closes the help overlay; it does nothing else.
        app.help_open = false;
        return Vec::new();
    }
    match action {
        Some(Action::Quit) => {
            app.quitting = true;
            return vec![Effect::Quit];
        }
        Some(Action::Help) if app.focus != Pane::Chat || key.code != KeyCode::Char('?') => {
            app.help_open = true;
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
        Some(Action::Cancel) => {
            if app.chat.cancel_turn() {
                return vec![Effect::CancelTurn];
            }
            app.zoomed = false;
            return Vec::new();
        }
        _ => {}
    }
    match app.focus {
        Pane::Chat => on_chat_key(app, key, action),
        Pane::Board => on_board_key(app, action),
        Pane::Inspector => Vec::new(),
    }
}

fn on_chat_key(app: &mut App, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    match action {
        Some(Action::Send) => match app.chat.submit(&app.input) {
            Some(question) => {
                app.input.clear();
                vec![Effect::StartTurn { question }]
            }
            None => Vec::new(),
        },
        Some(Action::Newline) => {
            app.input.push('\n');
            Vec::new()
        }
        Some(Action::HistoryPrevious) => {
            if let Some(text) = app.chat.history_previous() {
                app.input = text.to_string();
            }
            Vec::new()
        }
        Some(Action::HistoryNext) => {
            if let Some(text) = app.chat.history_next() {
                app.input = text.to_string();
            }
            Vec::new()
        }
        Some(Action::PageUp) => {
            app.chat.scroll_up(10);
            Vec::new()
        }
        Some(Action::PageDown) => {
            app.chat.scroll_down(10);
            Vec::new()
        }
        _ => {
            match key.code {
                KeyCode::Char(c)
                    if !key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                {
                    app.input.push(c)
                }
                KeyCode::Backspace => {
                    app.input.pop();
                }
                _ => {}
            }
            Vec::new()
        }
    }
}

fn on_board_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    match action {
        Some(Action::Up) => app.board.move_selection(-1),
        Some(Action::Down) => app.board.move_selection(1),
        Some(Action::PageUp) => app.board.move_selection(-10),
        Some(Action::PageDown) => app.board.move_selection(10),
        Some(Action::Top) => app.board.select_first(),
        Some(Action::Bottom) => app.board.select_last(),
        Some(Action::Sort) => app.board.sort = app.board.sort.next(),
        Some(Action::NextFailed) => app.board.jump_to_failed(true),
        Some(Action::PreviousFailed) => app.board.jump_to_failed(false),
        Some(Action::Triage) => {
            let Some(run) = app.board.selected_run() else {
                return Vec::new();
            };
            let question = format!("Why did run {} of {} fail?", run.run_id, run.pipeline);
            if let Some(question) = app.chat.submit(&question) {
                app.focus = Pane::Chat;
                return vec![Effect::StartTurn { question }];
            }
        }
        _ => {}
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run::{BackendKind, InvokedBy, RunStatus};

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
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

    #[test]
    fn typing_and_enter_start_a_turn_and_clear_the_input() {
        let mut app = App::default();
        type_text(&mut app, "why?");
        assert_eq!(app.input, "why?");
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effects,
            vec![Effect::StartTurn {
                question: "why?".into()
            }]
        );
        assert!(app.input.is_empty());
    }

    #[test]
    fn esc_during_a_turn_cancels_it() {
        let mut app = App::default();
        type_text(&mut app, "why?");
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            update(&mut app, key(KeyCode::Esc)),
            vec![Effect::CancelTurn]
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Esc)),
            Vec::new(),
            "nothing left to cancel"
        );
    }

    #[test]
    fn q_types_in_the_chat_but_quits_from_the_board() {
        let mut app = App::default();
        assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
        assert_eq!(app.input, "q");
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.focus, Pane::Board);
        assert_eq!(
            update(&mut app, key(KeyCode::Char('q'))),
            vec![Effect::Quit]
        );
    }

    #[test]
    fn a_run_turning_failed_raises_a_notification_once() {
        let mut app = App::default();
        let at = chrono::Utc::now();
        assert!(
            update(
                &mut app,
                Msg::RunsLoaded {
                    runs: vec![run("r1", RunStatus::InProgress)],
                    at
                }
            )
            .is_empty()
        );
        let effects = update(
            &mut app,
            Msg::RunsLoaded {
                runs: vec![run("r1", RunStatus::Failed)],
                at,
            },
        );
        assert!(
            matches!(&effects[..], [Effect::Notify { title, body }] if title == "transform_sales failed" && body.contains("AnalysisException"))
        );
        assert!(
            update(
                &mut app,
                Msg::RunsLoaded {
                    runs: vec![run("r1", RunStatus::Failed)],
                    at
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn triage_from_the_board_asks_in_the_chat() {
        let mut app = App::default();
        update(
            &mut app,
            Msg::RunsLoaded {
                runs: vec![run("r9", RunStatus::Failed)],
                at: chrono::Utc::now(),
            },
        );
        app.focus = Pane::Board;
        let effects = update(&mut app, key(KeyCode::Char('t')));
        assert_eq!(
            effects,
            vec![Effect::StartTurn {
                question: "Why did run r9 of transform_sales fail?".into()
            }]
        );
        assert_eq!(app.focus, Pane::Chat);
    }

    #[test]
    fn help_opens_from_a_pane_and_any_key_closes_it() {
        let mut app = App {
            focus: Pane::Board,
            ..App::default()
        };
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.help_open);
        assert!(
            update(&mut app, key(KeyCode::Char('q'))).is_empty(),
            "the key only closes help"
        );
        assert!(!app.help_open);
    }

    #[test]
    fn agent_events_reach_the_chat_and_a_failed_refresh_marks_the_board_stale() {
        let mut app = App::default();
        update(
            &mut app,
            Msg::Agent(AgentEvent::TextDelta {
                text: "hello".into(),
            }),
        );
        assert_eq!(app.chat.entries.len(), 1);
        update(
            &mut app,
            Msg::RunsFailed {
                reason: "server down".into(),
            },
        );
        assert_eq!(app.board.stale_reason.as_deref(), Some("server down"));
    }
}
