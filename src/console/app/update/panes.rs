//! Keys for each pane (chat input, the chat being read, the board, the
//! inspector) and the run-details overlay, once the dialog, any prompt and
//! the global keys have had theirs.

use crossterm::event::KeyEvent;

use super::{App, Effect, Overlay, Pane, Prompt};
use crate::console::app::details::DetailsView;
use crate::console::app::keymap::Action;

pub(super) fn on_details_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
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
    if app.inspector.select_call_touching(run_id, &app.calls) {
        app.focus = Pane::Inspector;
    } else {
        app.flash = Some((false, format!("no tool call has touched run {run_id} yet")));
    }
}

pub(super) fn on_chat_key(app: &mut App, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
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

pub(super) fn on_transcript_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
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

pub(super) fn on_board_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
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

pub(super) fn on_inspector_key(app: &mut App, action: Option<Action>) -> Vec<Effect> {
    let rows = app.inspector_rows();
    let (inspector, calls) = (&mut app.inspector, &app.calls);
    match action {
        Some(Action::Up) => inspector.move_cursor(-1, rows),
        Some(Action::Down) => inspector.move_cursor(1, rows),
        Some(Action::PageUp) => inspector.move_cursor(-(rows as isize), rows),
        Some(Action::PageDown) => inspector.move_cursor(rows as isize, rows),
        Some(Action::Top) => inspector.top(),
        Some(Action::Bottom) => inspector.bottom(rows),
        Some(Action::Open) => inspector.open(calls),
        Some(Action::ToggleFold) => inspector.toggle_fold(calls),
        Some(Action::Filter) => {
            app.prompt = Some(Prompt::InspectorSearch(if inspector.is_open() {
                String::new()
            } else {
                inspector.search().to_string()
            }));
        }
        Some(Action::FindNext) => {
            let needle = inspector.last_find().to_string();
            if !needle.is_empty() && !inspector.find_next(&needle, rows, calls) {
                app.flash = Some((false, format!("'{needle}' not found")));
            }
        }
        Some(Action::Copy) => {
            if let Some((label, text)) = inspector.copy_text(calls) {
                return vec![Effect::Copy { label, text }];
            }
        }
        _ => {}
    }
    Vec::new()
}
