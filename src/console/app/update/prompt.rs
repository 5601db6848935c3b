//! The one-line prompt below the panes: the `:` line and the `/` filters,
//! typed a key at a time, applied on Enter (filters as you type).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, Overlay, Prompt};
use crate::console::app::colon::{self, ColonCommand};

pub(super) fn on_prompt_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = &mut app.prompt else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            // Esc abandons a filter or search as well as the text.
            match prompt {
                Prompt::BoardFilter(_) => app.board.set_name_filter(""),
                Prompt::InspectorSearch(_) => app.inspector.set_search("", &app.calls),
                Prompt::Command(_) => {}
            }
            app.prompt = None;
            Vec::new()
        }
        KeyCode::Enter => {
            let finished = app.prompt.take();
            match finished {
                Some(Prompt::Command(line)) => run_colon_command(app, &line),
                Some(Prompt::InspectorSearch(needle)) => {
                    let rows = app.inspector_rows();
                    if !needle.is_empty() && !app.inspector.find_next(&needle, rows, &app.calls) {
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
            app.inspector.set_search(&needle, &app.calls);
        }
        _ => {}
    }
}

fn run_colon_command(app: &mut App, line: &str) -> Vec<Effect> {
    let command = match colon::parse(line) {
        Ok(command) => command,
        Err(message) => {
            app.flash = Some((true, message));
            return Vec::new();
        }
    };
    match command {
        ColonCommand::Servers => app.overlay = Some(Overlay::Servers),
        ColonCommand::Help => app.overlay = Some(Overlay::Help),
        ColonCommand::Filter(statuses) => {
            let label = if statuses.is_empty() {
                "all runs".to_string()
            } else {
                let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
                format!("only {}", names.join(", "))
            };
            app.board.set_status_filter(statuses);
            app.flash = Some((false, format!("board: {label}")));
        }
        ColonCommand::ReadOnly(setting) => {
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
        ColonCommand::Export(path) => return vec![Effect::Export { path }],
        ColonCommand::Clear => app.chat.clear(),
        ColonCommand::New => return super::new_conversation(app),
        ColonCommand::Refresh => return vec![Effect::RefreshBoard],
        ColonCommand::Quit => {
            app.quitting = true;
            return vec![Effect::Quit];
        }
    }
    Vec::new()
}
