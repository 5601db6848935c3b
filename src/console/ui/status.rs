//! The two bottom lines: the prompt / hints line (a `:` command or `/` filter
//! being typed, the last command's answer, or the focused pane's keys) and the
//! status bar (servers, agent mode, backend, read-only, tokens, board age).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::console::app::update::{App, Prompt};

pub fn draw_prompt(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match (&app.prompt, &app.flash) {
        (Some(prompt), _) => {
            let (lead, text) = match prompt {
                Prompt::Command(t) => (":", t),
                Prompt::BoardFilter(t) => ("filter runs /", t),
                Prompt::InspectorSearch(t) => ("search /", t),
            };
            Line::from(vec![
                Span::styled(lead.to_string(), theme.accent()),
                Span::raw(text.clone()),
                Span::styled("▌", theme.accent()),
                Span::styled("   Enter ok · Esc cancel", theme.dim()),
            ])
        }
        (None, Some((error, text))) => {
            let style = if *error {
                theme.error()
            } else {
                theme.accent()
            };
            Line::from(Span::styled(text.clone(), style))
        }
        (None, None) => hints(app, theme),
    };
    frame.render_widget(Paragraph::new(super::clip_line(line, area.width)), area);
}

/// The focused scope's keys, from the keymap (so overrides show as they are).
fn hints(app: &App, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    // The pane digits are on the tab bar already.
    for binding in app
        .keymap
        .bindings(app.scope())
        .filter(|b| !b.action.is_focus())
    {
        let Some(key) = binding.keys.first() else {
            continue;
        };
        spans.push(Span::styled(key.to_string(), theme.accent()));
        spans.push(Span::styled(
            format!(" {}  ", binding.description),
            theme.dim(),
        ));
    }
    spans.push(Span::styled("? ", theme.accent()));
    spans.push(Span::styled("all keys", theme.dim()));
    Line::from(spans)
}

pub fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let status = &app.status;
    let mut spans = Vec::new();
    if status.servers.is_empty() {
        spans.push(Span::styled("○ no servers", theme.warn()));
    }
    for server in &status.servers {
        let (symbol, style) = if server.ready {
            ("●", theme.ok())
        } else {
            ("○", theme.error())
        };
        spans.push(Span::styled(format!("{symbol} {}", server.name), style));
        if !server.ready {
            spans.push(Span::styled(format!(" {}", server.detail), theme.dim()));
        }
        spans.push(Span::raw("  "));
    }
    spans.push(Span::styled(
        format!(" {} ", status.agent_mode),
        theme.badge(),
    ));
    spans.push(Span::raw(" "));
    spans.push(Span::styled(format!(" {} ", status.backend), theme.badge()));
    if app.read_only {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(" READ-ONLY ", theme.error()));
    }
    let tokens = status.prompt_tokens + status.completion_tokens;
    if tokens > 0 {
        spans.push(Span::styled(format!("  {tokens} tok"), theme.dim()));
    }
    spans.push(Span::styled(
        format!("  runs {}", super::board::refresh_age(app)),
        if app.board.stale_reason.is_some() {
            theme.warn()
        } else {
            theme.dim()
        },
    ));
    frame.render_widget(
        Paragraph::new(super::clip_line(Line::from(spans), area.width)),
        area,
    );
}
