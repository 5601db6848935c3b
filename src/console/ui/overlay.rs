//! What covers the panes: the help (built from the keymap), the servers list,
//! a run's details, and the approval dialog.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::board::short_duration;
use super::theme::{Theme, status_symbol};
use crate::console::app::approval::{ApprovalRequest, DialogLine, dialog_lines};
use crate::console::app::colon::COLON_COMMANDS;
use crate::console::app::details::{DetailsView, RunDetails};
use crate::console::app::keymap::{Action, Scope};
use crate::console::app::layout;
use crate::console::app::update::{App, Overlay};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(overlay) = &app.overlay else {
        return;
    };
    let (title, lines, scroll) = match overlay {
        Overlay::Help => (" Keys ".to_string(), help_lines(app, theme), 0),
        Overlay::Servers => (" Servers ".to_string(), server_lines(app, theme), 0),
        Overlay::Details(view) => details(view, theme),
        Overlay::Approval(request) => {
            let waiting = match app.approvals.len() {
                0 => String::new(),
                n => format!("· {n} more waiting "),
            };
            (
                format!(" Approval needed {waiting}"),
                approval_lines(request, theme),
                app.approvals.scroll,
            )
        }
    };
    // A small terminal gives the dialog all of it: every argument must be readable.
    let popup = if matches!(overlay, Overlay::Approval(_)) {
        layout::approval_popup(area)
    } else {
        centered(area, 90, 90)
    };
    // Never scroll past the last line (the dialog's scroll is kept within
    // its wrapped rows by the model).
    let scroll = if matches!(overlay, Overlay::Approval(_)) {
        scroll
    } else {
        scroll.min(lines.len().saturating_sub(1))
    };
    frame.render_widget(Clear, popup);
    let border = if matches!(overlay, Overlay::Approval(_)) {
        theme.error()
    } else {
        theme.border(true)
    };
    let below = app.approvals.rows_below();
    let footer = match overlay {
        // Rows not yet seen: the way to them comes first, and no `y` is offered.
        Overlay::Approval(_) if below > 0 => {
            format!(" ↓ {below} more row(s): j/PgDn to read on · n refuse ")
        }
        Overlay::Approval(request) if request.session_allowable => {
            " y approve this call · a allow for session · n refuse · j/k scroll ".to_string()
        }
        Overlay::Approval(_) => " y approve this one call · n refuse · j/k scroll ".to_string(),
        Overlay::Details(_) => " t triage · c tool calls · j/k scroll · Esc close ".to_string(),
        _ => " any key closes ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title, theme.bold()))
        .title_bottom(Span::styled(footer, theme.accent()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        popup,
    );
}

fn centered(area: Rect, width_percent: u16, height_percent: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Percentage(height_percent)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Percentage(width_percent)])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn help_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for scope in Scope::ALL {
        lines.push(Line::from(Span::styled(
            scope.name().to_string(),
            theme.heading(),
        )));
        for binding in app.keymap.bindings(scope) {
            let mut keys: Vec<String> = binding.keys.iter().map(ToString::to_string).collect();
            let mut description = binding.description.to_string();
            if binding.action.is_focus() {
                // The pane keys read once, under global: the digit each pane
                // scope binds, then the Alt- form that works while typing.
                if scope != Scope::Global {
                    continue;
                }
                let digits = pane_keys(app, binding.action);
                if !digits.is_empty() {
                    description.push_str(" (Alt- while typing)");
                }
                keys.splice(0..0, digits);
            }
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<18}", keys.join(", ")), theme.accent()),
                Span::raw(description),
            ]));
        }
    }
    lines.push(Line::from(Span::styled("commands", theme.heading())));
    for (command, what) in COLON_COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {command:<30}"), theme.accent()),
            Span::raw((*what).to_string()),
        ]));
    }
    lines
}

/// The keys the pane scopes bind to a focus action, each once.
fn pane_keys(app: &App, action: Action) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for scope in Scope::ALL.into_iter().filter(|s| *s != Scope::Global) {
        for binding in app.keymap.bindings(scope).filter(|b| b.action == action) {
            for key in &binding.keys {
                let key = key.to_string();
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

fn server_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    if app.status.servers.is_empty() {
        return vec![Line::from("No MCP server is configured.")];
    }
    app.status
        .servers
        .iter()
        .map(|server| {
            let (symbol, style) = if server.ready {
                ("●", theme.ok())
            } else {
                ("○", theme.error())
            };
            Line::from(vec![
                Span::styled(format!("{symbol} {:<16}", server.name), style),
                Span::raw(server.detail.clone()),
            ])
        })
        .collect()
}

fn details(view: &DetailsView, theme: &Theme) -> (String, Vec<Line<'static>>, usize) {
    match view {
        DetailsView::Loading { run_id, pipeline } => (
            format!(" {pipeline} · {run_id} "),
            vec![Line::from(Span::styled(
                "Loading the run's details…",
                theme.dim(),
            ))],
            0,
        ),
        DetailsView::Failed { run_id, reason } => (
            format!(" run {run_id} "),
            vec![
                Line::from(Span::styled(
                    "The details could not be loaded:",
                    theme.error(),
                )),
                Line::from(reason.clone()),
            ],
            0,
        ),
        DetailsView::Loaded { details, scroll } => (
            format!(" {} · {} ", details.run.pipeline, details.run.run_id),
            details_lines(details, theme),
            *scroll,
        ),
    }
}

fn details_lines(details: &RunDetails, theme: &Theme) -> Vec<Line<'static>> {
    let run = &details.run;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} {}", status_symbol(&run.status), run.status.as_str()),
                theme.status(&run.status),
            ),
            Span::styled(
                format!(
                    "  {} · {} · started {} · took {}",
                    run.backend.as_str(),
                    run.environment,
                    run.run_start.map_or("—".into(), |s| s
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string()),
                    run.duration_ms.map_or("—".into(), short_duration),
                ),
                theme.dim(),
            ),
        ]),
        Line::from(Span::styled(
            format!(
                "triggered by {} ({})",
                run.invoked_by.name, run.invoked_by.kind
            ),
            theme.dim(),
        )),
    ];
    if let Some(parent) = &details.parent_run {
        lines.push(Line::from(format!(
            "parent: {} {} ({})",
            parent.pipeline, parent.run_id, parent.status
        )));
    }
    if !run.message.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("error", theme.heading())));
        for text in run.message.lines().take(12) {
            lines.push(Line::from(Span::styled(text.to_string(), theme.error())));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("activities", theme.heading())));
    for activity in &details.activities {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", status_symbol(&activity.status)),
                theme.status(&activity.status),
            ),
            Span::styled(activity.activity_name.clone(), theme.bold()),
            Span::styled(
                format!(
                    "  {} · attempt {} · {}",
                    activity.activity_type,
                    activity.attempt,
                    activity.duration_ms.map_or("—".into(), short_duration)
                ),
                theme.dim(),
            ),
        ]));
        if let Some(error) = &activity.error {
            let first = error.message.lines().next().unwrap_or("").to_string();
            lines.push(Line::from(Span::styled(
                format!("    {}: {first}", error.code),
                theme.error(),
            )));
        }
    }
    if !details.child_runs.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("child runs", theme.heading())));
        for child in &details.child_runs {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} ", status_symbol(&child.status)),
                    theme.status(&child.status),
                ),
                Span::raw(format!("{} {}", child.pipeline, child.run_id)),
            ]));
        }
    }
    lines
}

fn approval_lines(request: &ApprovalRequest, theme: &Theme) -> Vec<Line<'static>> {
    dialog_lines(request)
        .into_iter()
        .map(|line| match line {
            DialogLine::Title { tool, server } => Line::from(vec![
                Span::styled(tool, theme.bold()),
                Span::styled(format!(" on server {server}"), theme.dim()),
            ]),
            DialogLine::Reason(text) | DialogLine::Warning(text) => {
                Line::from(Span::styled(text, theme.warn()))
            }
            DialogLine::Blank => Line::default(),
            DialogLine::Heading(text) => Line::from(Span::styled(text, theme.heading())),
            DialogLine::Target { label, value } => Line::from(vec![
                Span::styled(label, theme.dim()),
                Span::styled(value, theme.bold()),
            ]),
            DialogLine::Code(text) => Line::from(Span::styled(text, theme.code())),
            DialogLine::Plain(text) => Line::from(text),
            DialogLine::Dim(text) => Line::from(Span::styled(text, theme.dim())),
        })
        .collect()
}
